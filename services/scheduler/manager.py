"""SchedulerManager (nova/scheduler/manager.py): endpoint 4.5 in front of the driver.

The filtering and weighing live in ``filter_scheduler`` / ``host_manager`` (another part);
this file turns its answer into Selection objects and serves the RPC methods.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from services import exception, messaging
from services.context import target_cell
from services.db import api as db
from services.manager import Manager
from services.objects import ComputeNode, HostMapping, Selection, Service
from tracer.instrument import api as trace

LOG = logging.getLogger(__name__)


def discover_hosts(context: Any) -> list[str]:
    """nova/objects/host_mapping.py ``discover_hosts``: in each cell but cell0, a host
    mapping for every compute node's host that has none yet; returns the hosts mapped.

    Stein selects the nodes with ``mapped < 1`` and sets ``mapped = 1``; bootflow's
    compute nodes have no ``mapped`` column, so "no host mapping yet" is the test.
    """
    added = []
    for cell_uuid in list(db._state["cells"]):
        if cell_uuid == db.CELL0_UUID:
            continue
        for cn in ComputeNode.get_all(target_cell(context, cell_uuid)):
            try:
                HostMapping.get_by_host(context, cn.host)
            except exception.ComputeHostNotFound:
                HostMapping(context, host=cn.host, cell_uuid=cell_uuid).create()
                added.append(cn.host)
    return added


def get_compute_nodes(context: Any) -> list[dict[str, Any]]:
    """Every compute node of every real cell, in the shape HostManager reads."""
    out: list[dict[str, Any]] = []
    for cell_uuid in list(db._state["cells"]):
        if cell_uuid == db.CELL0_UUID:
            continue
        cctx = target_cell(context, cell_uuid)
        services = {s.host: s for s in Service.get_all(cctx) if s.binary == "nova-compute"}
        for cn in ComputeNode.get_all(cctx):
            svc = services.get(cn.host)
            stats = dict(cn.stats or {})
            out.append({
                "uuid": cn.uuid, "host": cn.host,
                "hypervisor_hostname": cn.hypervisor_hostname, "vcpus": cn.vcpus,
                "memory_mb": cn.memory_mb, "local_gb": cn.local_gb,
                "vcpus_used": cn.vcpus_used, "memory_mb_used": cn.memory_mb_used,
                "local_gb_used": cn.local_gb_used, "free_ram_mb": cn.free_ram_mb,
                "free_disk_gb": cn.free_disk_gb, "running_vms": cn.running_vms,
                "hypervisor_type": cn.hypervisor_type, "cpu_info": dict(cn.cpu_info or {}),
                "availability_zone": stats.get("availability_zone", "nova"),
                "disabled": bool(svc.disabled) if svc else True,
                "updated_at": (svc.updated_at or svc.created_at) if svc else cn.updated_at,
                "num_io_ops": int(stats.get("io_workload", 0)), "stats": stats,
                "cell_uuid": cell_uuid,
                "supported_instances": stats.get("supported_instances", []),
                "cpu_allocation_ratio": cn.cpu_allocation_ratio,
                "ram_allocation_ratio": cn.ram_allocation_ratio,
                "disk_allocation_ratio": cn.disk_allocation_ratio,
            })
    return out


class SchedulerManager(Manager):
    """Chooses a host (and alternates) for each instance of a request.

    No start-up work: the host view is read per request from the cell DBs."""

    service_name = "scheduler"
    STEIN_LOCATION = "nova/scheduler/manager.py:SchedulerManager"
    target = messaging.Target(version="4.5")

    def __init__(self, config: Any, host: str | None = None, **_: Any) -> None:
        from services.placement.client import placement_url
        from services.scheduler.filter_scheduler import FilterScheduler
        from services.scheduler.host_manager import HostManager

        self.config = config
        self.host = host
        self.host_manager = HostManager(get_compute_nodes, config=config)
        # placement over HTTP (the placement-api process), or in-process when embedded
        self.driver = FilterScheduler(config, self.host_manager,
                                      placement=placement_url(config))
        self.additional_endpoints: list[Any] = []
        self.instance_info: dict[str, Any] = {}

    def spaced_periodic_tasks(self) -> list[tuple[str, float, Callable[[Any], None]]]:
        """The periodic tasks with a spacing of their own (Service starts a timer each)."""
        return [("_discover_hosts_in_cells",
                 self.config.discover_hosts_in_cells_interval,
                 self._discover_hosts_in_cells)]

    def _discover_hosts_in_cells(self, context: Any) -> None:
        """``[scheduler] discover_hosts_in_cells_interval``: map computes that joined
        since, so the conductor finds their cell when the scheduler picks them."""
        hosts = discover_hosts(context)
        if hosts:
            LOG.info("Discovered %d new hosts: %s", len(hosts), ",".join(hosts))

    @messaging.expected_exceptions(exception.NoValidHost)
    def select_destinations(self, ctxt: Any, request_spec: Any = None,
                            filter_properties: Any = None, spec_obj: Any = None,
                            instance_uuids: list[str] | None = None,
                            return_objects: bool = False,
                            return_alternates: bool = False) -> Any:
        """One list of Selections per instance: [selected, alternate, alternate]."""
        if spec_obj is None:  # a pre-4.3 client sent the legacy dicts
            from services.objects import RequestSpec
            spec_obj = RequestSpec.from_primitives(ctxt, request_spec or {},
                                                   filter_properties or {})
        num = len(instance_uuids or []) or (spec_obj.num_instances or 1)
        # Stein: the manager itself asks placement, then hands the candidates on
        candidates = self.driver.get_allocation_candidates(ctxt, spec_obj)
        with trace.span("FilterScheduler.select_destinations", "INTERNAL",
                        attrs={"code.location": "nova/scheduler/filter_scheduler.py:"
                                                "FilterScheduler.select_destinations",
                               "num_instances": num}) as sp:
            raw = self.driver.select_destinations(ctxt, spec_obj, instance_uuids,
                                                  return_alternates, candidates=candidates)
            sp.set_attr("hosts", [[d["service_host"] for d in alts] for alts in raw])
        selections = [[Selection.from_dict(d) for d in alts] for alts in raw]
        if return_objects:
            return selections if return_alternates else [s[:1] for s in selections]
        return [{"host": s[0].service_host, "nodename": s[0].nodename,
                 "limits": s[0].limits} for s in selections]

    def update_instance_info(self, context: Any, host_name: str, instance_info: Any) -> None:
        """A compute tells every scheduler what it runs now (fanout)."""
        self.instance_info[host_name] = instance_info
        updater = getattr(self.host_manager, "update_instance_info", None)
        if updater is not None:
            updater(context, host_name, instance_info)

    def delete_instance_info(self, context: Any, host_name: str, instance_uuid: str) -> None:
        deleter = getattr(self.host_manager, "delete_instance_info", None)
        if deleter is not None:
            deleter(context, host_name, instance_uuid)

    def sync_instance_info(self, context: Any, host_name: str,
                           instance_uuids: list[str]) -> None:
        pass


