"""Conductor endpoints (nova/conductor/manager.py).

ConductorManager (3.0): executes object methods for services without DB access.
ComputeTaskManager (1.20, ``compute_task``): schedule → create in cell → cast to compute;
NoValidHost buries the instances in cell0; build_instances reschedules to alternates.
"""

from __future__ import annotations

import json
from typing import Any

from services import exception, messaging
from services.compute import rpcapi as compute_rpcapi
from services.context import target_cell
from services.db import api as db
from services.manager import Manager
from services.objects import (
    BuildRequest,
    CellMapping,
    HostMapping,
    Instance,
    InstanceAction,
    InstanceFault,
    InstanceMapping,
    NovaObject,
)
from services.objects.base import obj_class
from services.scheduler.client import query
from tracer.instrument import api as trace


def _loc(cls: Any, method: str) -> dict[str, str]:
    return {"code.location": f"{cls.STEIN_LOCATION}.{method}"}


def _endpoint_failure(exc: BaseException) -> BaseException:
    """The failure itself: an ExpectedException is raised ``from`` it (see
    ``_object_dispatch`` and ``messaging.expected_exceptions``)."""
    if isinstance(exc, messaging.ExpectedException) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


class ConductorManager(Manager):
    """Mission: perform operations (object methods) on behalf of nova-compute."""

    STEIN_LOCATION = "nova/conductor/manager.py:ConductorManager"
    target = messaging.Target(version="3.0")

    def __init__(self, config: Any, host: str | None = None, transport: Any = None,
                 **_: Any) -> None:
        self.config = config
        self.host = host
        self.compute_task_mgr = ComputeTaskManager(config, host, transport)
        self.additional_endpoints: list[Any] = [self.compute_task_mgr]

    def _object_dispatch(self, target: Any, method: str, args: Any, kwargs: Any) -> Any:
        try:
            return getattr(target, method)(*args, **(kwargs or {}))
        except exception.NovaException as exc:
            raise messaging.ExpectedException() from exc

    def object_class_action_versions(self, context: Any, objname: str, objmethod: str,
                                     object_versions: dict[str, str], args: Any,
                                     kwargs: Any) -> Any:
        objclass = obj_class(objname)
        return self._object_dispatch(objclass, objmethod, [context, *(args or [])], kwargs)

    def object_action(self, context: Any, objinst: NovaObject, objmethod: str, args: Any,
                      kwargs: Any) -> tuple[dict[str, Any], Any]:
        """Run the method on the object; send back the changed fields and the result."""
        objinst._context = context
        oldobj = objinst.obj_clone()
        result = self._object_dispatch(objinst, objmethod, args or [], kwargs)
        return objinst.field_updates_since(oldobj), result

    def object_backport_versions(self, context: Any, objinst: NovaObject,
                                 object_versions: dict[str, str]) -> Any:
        return objinst


class ComputeTaskManager:
    """Namespace ``compute_task``: the build and (re)schedule orchestration."""

    STEIN_LOCATION = "nova/conductor/manager.py:ComputeTaskManager"
    target = messaging.Target(namespace="compute_task", version="1.20")

    def __init__(self, config: Any, host: str | None, transport: Any) -> None:
        self.config = config
        self.host = host
        self.compute_rpcapi = compute_rpcapi.ComputeAPI(transport, config)
        self.query_client = query.SchedulerQueryClient(transport, config)
        self._report_client: Any = None

    @property
    def report_client(self) -> Any:
        if self._report_client is None:
            from services.placement import PlacementClient  # another part; see report
            self._report_client = PlacementClient(self.config.placement_database_connection)
        return self._report_client

    # ---- scheduling -----------------------------------------------------------------
    def _schedule_instances(self, context: Any, request_spec: Any,
                            instance_uuids: list[str], return_alternates: bool = False) -> Any:
        with trace.span("_schedule_instances", "INTERNAL",
                        attrs=_loc(self, "_schedule_instances")):
            return self.query_client.select_destinations(
                context, request_spec, instance_uuids, return_objects=True,
                return_alternates=return_alternates)

    def schedule_and_build_instances(self, context: Any, build_requests: list[Any],
                                     request_specs: list[Any], image: Any,
                                     admin_password: Any, injected_files: Any,
                                     requested_networks: Any, block_device_mapping: Any,
                                     tags: Any = None) -> None:
        """One select_destinations for all, then per instance: cell create + cast."""
        request_spec = request_specs[0]
        instance_uuids = [br.instance_uuid for br in build_requests]
        try:
            host_lists = self._schedule_instances(context, request_spec, instance_uuids,
                                                  return_alternates=True)
        except Exception as exc:
            self._bury_in_cell0(context, request_spec, exc, build_requests)
            return
        for build_request, rspec, host_list in zip(build_requests, request_specs, host_lists,
                                                   strict=False):
            # the first Selection is the chosen (claimed) host; the rest are alternates
            host_list = list(host_list)
            host = host_list.pop(0)
            cell_uuid = self._cell_for_host(context, host)
            cctxt = target_cell(context, cell_uuid)
            instance = build_request.instance
            instance._context = cctxt
            with trace.span("create instance in cell", "INTERNAL",
                            attrs={"code.location": f"{self.STEIN_LOCATION}."
                                                    "schedule_and_build_instances",
                                   "instance_uuid": instance.uuid, "cell_uuid": cell_uuid}):
                instance.create()
                mapping = InstanceMapping.get_by_instance_uuid(context, instance.uuid)
                mapping.cell_uuid = cell_uuid
                mapping.save()
                try:
                    build_request.destroy()
                except exception.NotFound:  # deleted while we scheduled: stop here
                    instance.destroy()
                    # Stein: what the scheduler claimed for it goes too
                    self.report_client.delete_allocation_for_instance(instance.uuid)
                    continue
                InstanceAction.action_start(cctxt, instance.uuid, "create", want_result=False)
            filter_props = {"retry": {"num_attempts": 1,
                                      "hosts": [[host.service_host, host.nodename]]},
                            "limits": host.limits or {}, "scheduler_hints": {}}
            self.compute_rpcapi.build_and_run_instance(
                cctxt, instance=instance, host=host.service_host, image=image,
                request_spec=rspec, filter_properties=filter_props,
                admin_password=admin_password, injected_files=injected_files,
                requested_networks=requested_networks, security_groups=["default"],
                block_device_mapping=block_device_mapping, node=host.nodename,
                limits=host.limits, host_list=host_list)

    def _cell_for_host(self, context: Any, selection: Any) -> str:
        if selection.cell_uuid:
            return selection.cell_uuid
        try:
            return HostMapping.get_by_host(context, selection.service_host).cell_uuid
        except exception.ComputeHostNotFound:
            return db.default_cell_uuid()

    def _bury_in_cell0(self, context: Any, request_spec: Any, exc: BaseException,
                       build_requests: list[Any]) -> None:
        """No host: the instances go to cell0 in ERROR with a fault; no compute is asked."""
        cell0 = CellMapping.get_by_uuid(context, db.CELL0_UUID)
        cause = _endpoint_failure(exc)
        with trace.span("_bury_in_cell0", "INTERNAL",
                        attrs={**_loc(self, "_bury_in_cell0"), "cell_uuid": cell0.uuid,
                               "reason": str(cause)}):
            for build_request in build_requests:
                cctxt = target_cell(context, cell0.uuid)
                instance = build_request.instance
                instance._context = cctxt
                instance.vm_state, instance.task_state = "error", None
                instance.create()
                InstanceFault.from_exception(cctxt, instance.uuid, cause).create()
                mapping = InstanceMapping.get_by_instance_uuid(context, instance.uuid)
                mapping.cell_uuid = cell0.uuid
                mapping.save()
                try:
                    build_request.destroy()
                except exception.NotFound:
                    pass

    # ---- reschedule ---------------------------------------------------------------
    def build_instances(self, context: Any, instances: list[Any], image: Any,
                        filter_properties: Any, admin_password: Any, injected_files: Any,
                        requested_networks: Any, security_groups: Any,
                        block_device_mapping: Any, legacy_bdm: bool = True,
                        request_spec: Any = None, host_lists: Any = None) -> None:
        """A compute gave up: try the next alternate (claimed first); none left → ERROR."""
        filter_properties = dict(filter_properties or {})
        retry = dict(filter_properties.get("retry") or {"num_attempts": 0, "hosts": []})
        retry["num_attempts"] = retry.get("num_attempts", 0) + 1
        filter_properties["retry"] = retry
        is_reschedule = host_lists is not None
        try:
            if retry["num_attempts"] > self.config.max_attempts:
                raise exception.MaxRetriesExceeded(
                    reason=f"Exceeded max scheduling attempts {self.config.max_attempts} "
                           f"for instance {instances[0].uuid}.")
            if is_reschedule:
                if not host_lists[0]:
                    raise exception.MaxRetriesExceeded(
                        reason="Exhausted all hosts available for retrying build failures "
                               f"for instance {instances[0].uuid}.")
            else:
                host_lists = self._schedule_instances(
                    context, request_spec, [i.uuid for i in instances], return_alternates=True)
        except Exception as exc:
            cause = _endpoint_failure(exc)
            for instance in instances:
                self._set_vm_state_error(context, instance, cause)
            return
        for instance, host_list in zip(instances, host_lists, strict=False):
            host_list = list(host_list)
            host = host_list.pop(0)
            if is_reschedule:
                host = self._claim_alternate(context, instance, request_spec, host, host_list)
                if host is None:
                    self._set_vm_state_error(context, instance, exception.MaxRetriesExceeded(
                        reason="Exhausted all hosts available for retrying build failures "
                               f"for instance {instance.uuid}."))
                    continue
            retry["hosts"] = [*retry.get("hosts", []), [host.service_host, host.nodename]]
            instance._context = context
            self.compute_rpcapi.build_and_run_instance(
                context, instance=instance, host=host.service_host, image=image,
                request_spec=request_spec, filter_properties=filter_properties,
                admin_password=admin_password, injected_files=injected_files,
                requested_networks=requested_networks, security_groups=security_groups,
                block_device_mapping=block_device_mapping, node=host.nodename,
                limits=host.limits, host_list=host_list)

    def _claim_alternate(self, context: Any, instance: Any, request_spec: Any, host: Any,
                         host_list: list[Any]) -> Any:
        with trace.span("claim_resources alternate", "INTERNAL",
                        attrs={"code.location": "nova/scheduler/utils.py:claim_resources",
                               "instance_uuid": instance.uuid}) as sp:
            while host is not None:
                if not host.allocation_request:
                    sp.set_attr("host", host.service_host)
                    return host
                req = json.loads(host.allocation_request)
                if self.report_client.claim_resources(instance.uuid, req,
                                                      instance.project_id or "",
                                                      instance.user_id or ""):
                    sp.set_attr("host", host.service_host)
                    return host
                host = host_list.pop(0) if host_list else None
            return None

    def _set_vm_state_error(self, context: Any, instance: Any, exc: BaseException) -> None:
        """scheduler_utils.set_vm_state_and_notify: ERROR + fault in the instance's cell."""
        try:
            mapping = InstanceMapping.get_by_instance_uuid(context, instance.uuid)
            cctxt = target_cell(context, mapping.cell_uuid)
        except exception.InstanceNotFound:
            cctxt = context
        inst = Instance.get_by_uuid(cctxt, instance.uuid)
        inst.vm_state, inst.task_state = "error", None
        inst.save()
        InstanceFault.from_exception(cctxt, instance.uuid, exc).create()


__all__ = ["BuildRequest", "ComputeTaskManager", "ConductorManager"]
