"""Conductor endpoints (nova/conductor/manager.py).

ConductorManager (3.0): executes object methods for services without DB access.
ComputeTaskManager (1.20, ``compute_task``): schedule → create in cell → cast to compute;
NoValidHost buries the instances in cell0; build_instances reschedules to alternates.
"""

from __future__ import annotations

import json
from typing import Any

from services import exception, messaging, notifications
from services.compute import rpcapi as compute_rpcapi
from services.context import target_cell
from services.db import api as db
from services.manager import Manager
from services.objects import (
    BuildRequest,
    CellMapping,
    HostMapping,
    InstanceAction,
    InstanceMapping,
    NovaObject,
    RequestSpec,
)
from services.objects.base import obj_class
from services.scheduler import utils as scheduler_utils
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

    service_name = "conductor"
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
        """One select_destinations for all; then two loops, as Stein's: first every
        instance is created in its cell, then each one gets its action, mapping,
        BuildRequest delete and build_and_run_instance cast."""
        instance_uuids = [spec.instance_uuid for spec in request_specs]
        try:
            host_lists = self._schedule_instances(context, request_specs[0], instance_uuids,
                                                  return_alternates=True)
        except Exception as exc:
            self._bury_in_cell0(context, request_specs[0], exc, build_requests)
            return
        host_mapping_cache: dict[str, Any] = {}
        cell_mapping_cache: dict[str, str] = {}
        instances: list[Any] = []
        for build_request, request_spec, host_list in zip(build_requests, request_specs,
                                                          host_lists, strict=False):
            instance = build_request.instance
            host = host_list[0]  # selected and claimed; the rest are alternates
            if host.service_host not in host_mapping_cache:
                try:
                    host_mapping_cache[host.service_host] = HostMapping.get_by_host(
                        context, host.service_host)
                except exception.ComputeHostNotFound as exc:
                    self._bury_in_cell0(context, request_spec, exc, [build_request])
                    instances.append(None)
                    continue
            cell_uuid = host_mapping_cache[host.service_host].cell_uuid or \
                db.default_cell_uuid()
            try:  # one last look: deleted by the user while we scheduled?
                BuildRequest.get_by_instance_uuid(context, instance.uuid)
            except exception.NotFound:
                instances.append(None)
                self.report_client.delete_allocation_for_instance(instance.uuid)
                continue
            instance._context = target_cell(context, cell_uuid)
            with trace.span("create instance in cell", "INTERNAL",
                            attrs={"code.location": f"{self.STEIN_LOCATION}."
                                                    "schedule_and_build_instances",
                                   "instance_uuid": instance.uuid, "cell_uuid": cell_uuid}):
                instance.create()
            instances.append(instance)
            cell_mapping_cache[instance.uuid] = cell_uuid
        for build_request, request_spec, host_list, instance in zip(
                build_requests, request_specs, host_lists, instances, strict=False):
            if instance is None:  # buried in cell0 or deleted before the create
                continue
            cell_uuid = cell_mapping_cache[instance.uuid]
            host_list = list(host_list)
            host = host_list.pop(0)
            filter_props = request_spec.to_legacy_filter_properties_dict()
            scheduler_utils.populate_retry(filter_props, instance.uuid,
                                           self.config.max_attempts)
            scheduler_utils.populate_filter_properties(filter_props, host)
            cctxt = target_cell(context, cell_uuid)
            notifications.send_update_with_states(cctxt, instance, None, "building", None,
                                                  None, service="conductor", host=self.host)
            InstanceAction.action_start(cctxt, instance.uuid, "create", want_result=False)
            mapping = InstanceMapping.get_by_instance_uuid(context, instance.uuid)
            mapping.cell_uuid = cell_uuid
            mapping.save()
            if not self._delete_build_request(build_request, instance):
                continue
            self.compute_rpcapi.build_and_run_instance(
                cctxt, instance=instance, host=host.service_host, image=image,
                request_spec=request_spec, filter_properties=filter_props,
                admin_password=admin_password, injected_files=injected_files,
                requested_networks=requested_networks, security_groups=["default"],
                block_device_mapping=block_device_mapping, node=host.nodename,
                limits=host.limits, host_list=host_list)

    def _delete_build_request(self, build_request: Any, instance: Any) -> bool:
        """False when the BuildRequest is already gone: the user deleted the server
        meanwhile, so the instance just created goes too and nothing is built."""
        try:
            build_request.destroy()
        except exception.NotFound:
            try:
                instance.destroy()
            except exception.InstanceNotFound:
                pass
            return False
        return True

    def _bury_in_cell0(self, context: Any, request_spec: Any, exc: BaseException,
                       build_requests: list[Any]) -> None:
        """No host: each instance is created in cell0 (still BUILDING, as the API left
        it), then set to ERROR with a fault; no compute is asked."""
        cell0 = CellMapping.get_by_uuid(context, db.CELL0_UUID)
        cause = _endpoint_failure(exc)
        with trace.span("_bury_in_cell0", "INTERNAL",
                        attrs={**_loc(self, "_bury_in_cell0"), "cell_uuid": cell0.uuid,
                               "reason": str(cause)}):
            instances = {}
            for build_request in build_requests:
                cctxt = target_cell(context, cell0.uuid)
                instance = build_request.instance
                instance._context = cctxt
                instance.create()
                instances[instance.uuid] = instance
                self._set_vm_state_and_notify(cctxt, instance.uuid, "build_instances",
                                              {"vm_state": "error", "task_state": None},
                                              cause, request_spec)
                try:
                    mapping = InstanceMapping.get_by_instance_uuid(context, instance.uuid)
                    mapping.cell_uuid = cell0.uuid
                    mapping.save()
                except exception.InstanceNotFound:
                    pass
            for build_request in build_requests:
                try:
                    build_request.destroy()
                except exception.NotFound:  # deleted before we finished scheduling
                    instances[build_request.instance_uuid].destroy()

    # ---- reschedule ---------------------------------------------------------------
    def build_instances(self, context: Any, instances: list[Any], image: Any,
                        filter_properties: Any, admin_password: Any, injected_files: Any,
                        requested_networks: Any, security_groups: Any,
                        block_device_mapping: Any, legacy_bdm: bool = True,
                        request_spec: Any = None, host_lists: Any = None) -> None:
        """A compute gave up: the request spec is rebuilt from filter_properties with the
        retry record; try the next alternate (claimed first). Without host_lists (a
        reschedule from a pre-Queens compute) the scheduler is asked again, and its
        RetryFilter drops the hosts already tried. None left → ERROR + one fault."""
        filter_properties = dict(filter_properties or {})
        legacy_request_spec = (request_spec.to_legacy_request_spec_dict()
                               if request_spec is not None else
                               {"num_instances": len(instances),
                                "instance_properties": {"uuid": instances[0].uuid}})
        is_reschedule = host_lists is not None
        try:
            scheduler_utils.populate_retry(filter_properties, instances[0].uuid,
                                           self.config.max_attempts)
            spec_obj = RequestSpec.from_primitives(context, legacy_request_spec,
                                                   filter_properties)
            if is_reschedule:
                if not host_lists[0]:
                    raise exception.MaxRetriesExceeded(
                        reason="Exhausted all hosts available for retrying build failures "
                               f"for instance {instances[0].uuid}.")
            else:
                host_lists = self._schedule_instances(
                    context, spec_obj, [i.uuid for i in instances], return_alternates=True)
        except Exception as exc:
            cause = _endpoint_failure(exc)
            for instance in instances:
                self._set_vm_state_and_notify(context, instance.uuid, "build_instances",
                                              {"vm_state": "error", "task_state": None},
                                              cause, legacy_request_spec)
            return
        for instance, host_list in zip(instances, host_lists, strict=False):
            host_list = list(host_list)
            host = host_list.pop(0)
            if is_reschedule:
                host = self._claim_alternate(context, instance, spec_obj, host, host_list)
                if host is None:
                    self._set_vm_state_and_notify(
                        context, instance.uuid, "build_instances",
                        {"vm_state": "error", "task_state": None},
                        exception.MaxRetriesExceeded(
                            reason="Exhausted all hosts available for retrying build "
                                   f"failures for instance {instance.uuid}."),
                        legacy_request_spec)
                    continue
            local_filter_props = json.loads(json.dumps(filter_properties, default=str))
            scheduler_utils.populate_filter_properties(local_filter_props, host)
            local_reqspec = RequestSpec.from_primitives(context, legacy_request_spec,
                                                        local_filter_props)
            instance._context = context
            self.compute_rpcapi.build_and_run_instance(
                context, instance=instance, host=host.service_host, image=image,
                request_spec=local_reqspec, filter_properties=local_filter_props,
                admin_password=admin_password, injected_files=injected_files,
                requested_networks=requested_networks, security_groups=security_groups,
                block_device_mapping=block_device_mapping, node=host.nodename,
                limits=host.limits, host_list=host_list)

    def _claim_alternate(self, context: Any, instance: Any, spec_obj: Any, host: Any,
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

    def _set_vm_state_and_notify(self, context: Any, instance_uuid: str, method: str,
                                 updates: dict[str, Any], ex: BaseException,
                                 request_spec: Any) -> None:
        """In the instance's cell: ERROR, the one fault, the error notification."""
        try:
            mapping = InstanceMapping.get_by_instance_uuid(context, instance_uuid)
            cctxt = target_cell(context, mapping.cell_uuid) if mapping.cell_uuid \
                else context
        except exception.InstanceNotFound:
            cctxt = context
        scheduler_utils.set_vm_state_and_notify(cctxt, instance_uuid, "compute_task", method,
                                                updates, ex, request_spec, host=self.host)


__all__ = ["BuildRequest", "ComputeTaskManager", "ConductorManager"]
