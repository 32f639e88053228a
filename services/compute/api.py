"""Compute API (nova/compute/api.py): what the REST layer calls.

create: validate → per instance a BuildRequest + RequestSpec + InstanceMapping in the API
database, the instance in BUILD/scheduling → one **cast** schedule_and_build_instances.
The API returns right after the cast; it never waits for the build.
"""

from __future__ import annotations

import threading
import uuid as uuidlib
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from services import exception
from services.compute import rpcapi as compute_rpcapi
from services.conductor import api as conductor_api
from services.context import target_cell
from services.db import api as db
from services.db import models
from services.image import api as image_api
from services.objects import (
    BuildRequest,
    Flavor,
    ImageMeta,
    Instance,
    InstanceAction,
    InstanceFault,
    InstanceMapping,
    RequestSpec,
)
from tracer.instrument import api as trace

STEIN_LOCATION = "nova/compute/api.py:API"

# nova/compute/vm_states.py, task_states.py: who may reboot, and from which task state
ALLOW_SOFT_REBOOT = ("active",)
ALLOW_HARD_REBOOT = ("active", "stopped", "paused", "suspended", "error")
ALLOW_REBOOT_TASK = (None, "rebooting", "reboot_pending", "reboot_started", "resuming",
                     "rebooting_hard", "unpausing", "pausing", "suspending")


def _usage(project_id: str) -> dict[str, int]:
    """nova/quota.py:_instances_cores_ram_count: the project's instances not deleted, in
    every cell, and (bootflow, as the lock above replaces Stein's recheck) those still
    build requests in the API database; cores and ram from each one's flavor."""
    seen: dict[str, tuple[int, int]] = {}
    with db.api_session() as s:
        cells = [c.uuid for c in s.scalars(select(models.CellMapping))]
        for br in s.scalars(select(models.BuildRequest).where(
                models.BuildRequest.project_id == project_id)):
            data = (br.instance or {}).get("nova_object.data", {})
            flavor = (data.get("flavor") or {}).get("nova_object.data", {})
            seen[br.instance_uuid] = (int(flavor.get("vcpus") or 0),
                                      int(flavor.get("memory_mb") or 0))
    for cell in cells:
        try:
            db.cell_engine(cell)
        except KeyError:  # a cell this process has no database for
            continue
        with db.cell_session(SimpleNamespace(cell_uuid=cell)) as s:
            for row in s.scalars(select(models.Instance).where(
                    models.Instance.project_id == project_id, models.Instance.deleted == 0,
                    models.Instance.vm_state != "soft-delete")):
                flavor = (row.flavor or {}).get("nova_object.data", {})
                seen[row.uuid] = (int(row.vcpus or flavor.get("vcpus") or 0),
                                  int(row.memory_mb or flavor.get("memory_mb") or 0))
    return {"instances": len(seen), "cores": sum(c for c, _ in seen.values()),
            "ram": sum(r for _, r in seen.values())}


def available_zones(config: Any) -> set[str]:
    """nova/availability_zones.py:get_availability_zones(get_only_available=True): the
    zones of enabled services in every cell; no aggregates here, so a compute is in
    ``default_availability_zone`` and any other service in ``internal`` (as in Stein)."""
    zones: set[str] = set()
    with db.api_session() as s:
        cells = [c.uuid for c in s.scalars(select(models.CellMapping))]
    for cell in cells:
        try:
            db.cell_engine(cell)
        except KeyError:
            continue
        with db.cell_session(SimpleNamespace(cell_uuid=cell)) as s:
            for binary in s.scalars(select(models.Service.binary).where(
                    models.Service.deleted == 0, models.Service.disabled.is_(False))):
                zones.add(config.default_availability_zone if binary == "nova-compute"
                          else "internal")
    return zones


def check_num_instances_quota(context: Any, config: Any, flavor: Any, min_count: int,
                              max_count: int) -> int:
    """nova/compute/utils.py:check_num_instances_quota: how many of min..max instances
    the project's quota (``quota_instances/cores/ram``, -1 unlimited) still allows;
    fewer than *min_count* is TooManyInstances (403 ``Quota exceeded for instances:
    Requested 11, but already used 0 of 10 instances``)."""
    quotas = {"instances": config.quota_instances, "cores": config.quota_cores,
              "ram": config.quota_ram}
    if all(limit < 0 for limit in quotas.values()):
        return max_count
    per = {"instances": 1, "cores": flavor.vcpus, "ram": flavor.memory_mb}
    usages = _usage(context.project_id)
    headroom = {r: quotas[r] - usages[r] for r in quotas}
    for res in ("cores", "ram"):  # get_headroom: unlimited follows the instances headroom
        if quotas[res] < 0:
            headroom[res] = headroom["instances"] * per[res] if quotas["instances"] >= 0 \
                else max_count * per[res]
    if quotas["instances"] < 0:
        headroom["instances"] = max_count
    allowed = headroom["instances"]
    for res in ("cores", "ram"):
        if per[res]:
            allowed = min(allowed, headroom[res] // per[res])
    if allowed >= max_count:
        return max_count
    if min_count <= allowed:
        return allowed
    requested = {"instances": str(min_count) if min_count == max_count
                 else f"{min_count}-{max_count}",
                 "cores": str(max_count * per["cores"]), "ram": str(max_count * per["ram"])}
    overs = [r for r in ("instances", "cores", "ram")
             if quotas[r] >= 0 and max_count * per[r] > quotas[r] - usages[r]]
    raise exception.TooManyInstances(
        overs=", ".join(overs), req=", ".join(requested[r] for r in overs),
        used=", ".join(str(usages[r]) for r in overs),
        allowed=", ".join(str(quotas[r]) for r in overs))


class API:
    STEIN_LOCATION = STEIN_LOCATION

    def __init__(self, transport: Any, config: Any) -> None:
        self.config = config
        self.compute_task_api = conductor_api.ComputeTaskAPI(transport, config)
        self.compute_rpcapi = compute_rpcapi.ComputeAPI(transport, config)
        self.image_api = image_api.API(config.guest_dir)
        # one quota check + provisioning at a time, so that concurrent requests cannot
        # all pass the check before any of them is counted (Stein rechecks in the
        # conductor instead, CONF.quota.recheck_quota; one nova-api here, so a lock)
        self._quota_lock = threading.Lock()
        self._placement: Any = None

    @property
    def placementclient(self) -> Any:
        """The placement client (opened on first use), for a delete no compute does."""
        if self._placement is None:
            from services.placement.client import PlacementClient, placement_url

            self._placement = PlacementClient(placement_url(self.config))
        return self._placement

    def create(self, context: Any, flavor: Flavor, image_href: str, display_name: str,
               min_count: int = 1, max_count: int = 1, availability_zone: str | None = None,
               scheduler_hints: dict[str, Any] | None = None,
               metadata: dict[str, Any] | None = None) -> list[Instance]:
        with trace.stein_step(STEIN_LOCATION, "create", min_count=min_count, max_count=max_count):
            if availability_zone and availability_zone not in available_zones(self.config):
                # _validate_and_build_base_options: InvalidRequest, a 400
                raise exception.Invalid(
                    message="The requested availability zone is not available")
            # _check_metadata_properties_quota (lengths: the schema checked them)
            limit = self.config.quota_metadata_items
            if metadata and 0 <= limit < len(metadata):
                raise exception.MetadataLimitExceeded(allowed=limit)
            image = self.image_api.show(context, image_href)
            if flavor.memory_mb < (image.get("min_ram") or 0):
                raise exception.Invalid(reason="Flavor's memory is too small for this image")
            with self._quota_lock:
                count = check_num_instances_quota(context, self.config, flavor, min_count,
                                                  max_count)
                instances, build_requests, request_specs = self._provision_instances(
                    context, flavor, image, display_name, count, availability_zone,
                    scheduler_hints or {}, metadata or {})
            with trace.stein_step("nova/conductor/api.py:ComputeTaskAPI",
                                  "schedule_and_build_instances",
                                  num_instances=len(instances)):
                self.compute_task_api.schedule_and_build_instances(
                    context, build_requests=build_requests, request_specs=request_specs,
                    image=image, admin_password=None, injected_files=[],
                    requested_networks=None, block_device_mapping=[], tags=[])
            return instances

    def _provision_instances(self, context: Any, flavor: Flavor, image: dict[str, Any],
                             display_name: str, count: int, availability_zone: str | None,
                             scheduler_hints: dict[str, Any],
                             metadata: dict[str, Any]) -> tuple[list[Any], list[Any], list[Any]]:
        instances, build_requests, specs = [], [], []
        reservation_id = "r-" + uuidlib.uuid4().hex[:8]
        with trace.stein_step(STEIN_LOCATION, "_provision_instances", count=count,
                              reservation_id=reservation_id):
            image_meta = ImageMeta.from_dict(image)
            for index in range(count):
                name = display_name if count == 1 else f"{display_name}-{index + 1}"
                uuid = str(uuidlib.uuid4())
                spec = RequestSpec(context, instance_uuid=uuid, project_id=context.project_id,
                                   user_id=context.user_id, flavor=flavor, image=image_meta,
                                   num_instances=count, availability_zone=availability_zone,
                                   retry=None, instance_group=None, ignore_hosts=[],
                                   force_hosts=[], force_nodes=[],
                                   scheduler_hints=scheduler_hints, is_bfv=False)
                spec.create()
                instance = Instance(context, uuid=uuid, display_name=name,
                                    project_id=context.project_id, user_id=context.user_id,
                                    vm_state="building", task_state="scheduling",
                                    power_state=0, flavor=flavor, image_ref=image["id"],
                                    availability_zone=availability_zone
                                    or self.config.default_availability_zone,
                                    launch_index=index, reservation_id=reservation_id,
                                    metadata=metadata,
                                    system_metadata={"image_name": image["name"]},
                                    deleted=False, host=None, node=None)
                br = BuildRequest(context, instance_uuid=uuid, project_id=context.project_id,
                                  instance=instance)
                br.create()
                InstanceMapping(context, instance_uuid=uuid, project_id=context.project_id,
                                cell_uuid=None).create()
                trace.annotate("instance.state", {
                    "instance_uuid": uuid, "vm_state": "building",
                    "task_state": "scheduling", "host": None, "display_name": name})
                instance.obj_reset_changes()
                instances.append(instance)
                build_requests.append(br)
                specs.append(spec)
        return instances, build_requests, specs

    # ---- reads --------------------------------------------------------------------
    def get(self, context: Any, uuid: str) -> Instance:
        """Build request first (not yet in a cell), else the instance in its cell."""
        try:
            mapping = InstanceMapping.get_by_instance_uuid(context, uuid)
        except exception.InstanceNotFound:
            raise
        if not getattr(context, "is_admin", False) and \
                getattr(mapping, "project_id", None) != context.project_id:
            # project_only (nova/db/sqlalchemy/api.py): another project's server is a 404
            raise exception.InstanceNotFound(instance_id=uuid)
        if mapping.cell_uuid is None:
            try:
                return BuildRequest.get_by_instance_uuid(context, uuid).instance
            except exception.NotFound:
                mapping = InstanceMapping.get_by_instance_uuid(context, uuid)
                if mapping.cell_uuid is None:
                    raise exception.InstanceNotFound(instance_id=uuid) from None
        cctxt = target_cell(context, mapping.cell_uuid)
        inst = Instance.get_by_uuid(cctxt, uuid)
        if inst.vm_state == "error":
            inst._data["fault"] = InstanceFault.get_latest_for_instance(cctxt, uuid)
        return inst

    def get_all(self, context: Any) -> list[Instance]:
        out = []
        for mapping in InstanceMapping.get_by_project_id(context, context.project_id):
            try:
                out.append(self.get(context, mapping.instance_uuid))
            except exception.InstanceNotFound:
                continue
        return out

    def cell_of(self, context: Any, uuid: str) -> str | None:
        return InstanceMapping.get_by_instance_uuid(context, uuid).cell_uuid

    # ---- delete -------------------------------------------------------------------
    def delete(self, context: Any, uuid: str) -> None:
        """Cast terminate_instance to the instance's compute; no host → delete locally."""
        with trace.stein_step(STEIN_LOCATION, "delete", instance_uuid=uuid):
            instance = self.get(context, uuid)
            mapping = InstanceMapping.get_by_instance_uuid(context, uuid)
            if mapping.cell_uuid is None:  # still a build request
                try:
                    BuildRequest.get_by_instance_uuid(context, uuid).destroy()
                except exception.NotFound:
                    pass
                else:
                    # Stein leaves this to the conductor, which frees what the scheduler
                    # claimed when it finds the build request gone; a conductor that died
                    # holding the request never will, so the API does it too.
                    self.placementclient.delete_allocation_for_instance(uuid)
                return
            if not instance.host or mapping.cell_uuid == db.CELL0_UUID:
                # Stein's _local_delete: no compute will, so free the allocation here
                self.placementclient.delete_allocation_for_instance(uuid)
                instance.destroy()
            else:
                instance.task_state = "deleting"
                instance.save()
                self.compute_rpcapi.terminate_instance(target_cell(context, mapping.cell_uuid),
                                                       instance)
            mapping.queued_for_delete = True
            mapping.save()

    # ---- reboot -------------------------------------------------------------------
    def reboot(self, context: Any, instance: Any, reboot_type: str) -> None:
        """SOFT or HARD: check the state, mark the task, record the action, cast."""
        with trace.stein_step(STEIN_LOCATION, "reboot", instance_uuid=instance.uuid,
                              reboot_type=reboot_type):
            if reboot_type == "SOFT":
                self._soft_reboot(context, instance)
            else:
                self._hard_reboot(context, instance)

    @staticmethod
    def _check_instance_state(instance: Any, vm_states: tuple[str, ...],
                              task_states: tuple[str | None, ...], method: str) -> None:
        """@check_instance_state: wrong vm/task state or never launched → 409."""
        for attr, allowed in (("vm_state", vm_states), ("task_state", task_states)):
            if getattr(instance, attr) not in allowed:
                raise exception.InstanceInvalidState(
                    attr=attr, instance_uuid=instance.uuid,
                    state=getattr(instance, attr), method=method)
        if not instance.launched_at:
            raise exception.InstanceInvalidState(
                attr="launched_at", instance_uuid=instance.uuid, state=None, method=method)

    def _soft_reboot(self, context: Any, instance: Any) -> None:
        with trace.stein_step(STEIN_LOCATION, "_soft_reboot"):
            self._check_instance_state(instance, ALLOW_SOFT_REBOOT, (None,), "_soft_reboot")
            instance.task_state = "rebooting"
            instance.save(expected_task_state=[None])
            self._record_action_start(context, instance, "reboot")
            self.compute_rpcapi.reboot_instance(self._cell_context(context, instance),
                                                instance=instance, block_device_info=None,
                                                reboot_type="SOFT")

    def _hard_reboot(self, context: Any, instance: Any) -> None:
        with trace.stein_step(STEIN_LOCATION, "_hard_reboot"):
            self._check_instance_state(instance, ALLOW_HARD_REBOOT, ALLOW_REBOOT_TASK,
                                       "_hard_reboot")
            instance.task_state = "rebooting_hard"
            instance.save(expected_task_state=list(ALLOW_REBOOT_TASK))
            self._record_action_start(context, instance, "reboot")
            self.compute_rpcapi.reboot_instance(self._cell_context(context, instance),
                                                instance=instance, block_device_info=None,
                                                reboot_type="HARD")

    def _cell_context(self, context: Any, instance: Any) -> Any:
        return target_cell(context, self.cell_of(context, instance.uuid))

    def _record_action_start(self, context: Any, instance: Any, action: str) -> None:
        """The instance action the compute's events attach to (os-instance-actions)."""
        InstanceAction.action_start(self._cell_context(context, instance), instance.uuid,
                                    action, want_result=False)
