"""HostManager and HostState (``nova/scheduler/host_manager.py``).

The scheduler's in-memory view of the compute nodes for one request: built fresh from
the compute node records each time (Stein's ``_get_host_states``), then changed by
``consume_from_request`` as instances of a multi-create are placed, so the weighers see
the second instance's host already partly used.

Compute node records are plain dicts (see ``HostState.update_from_compute_node`` for the
keys read). Instances known per host come from compute's fanout
``update_instance_info`` and, optionally, a ``get_instances_by_host`` callable.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from services.scheduler import utils
from services.scheduler.filters import BaseHostFilter, HostFilterHandler, all_filters
from services.scheduler.weights import BaseHostWeigher, HostWeightHandler, all_weighers

ComputeNodes = Callable[[Any], list[dict[str, Any]]]
InstancesByHost = Callable[[Any, str], Iterable[Any]]


def _json(value: Any, default: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return default
    return default if value is None else value


def _uuid_of(instance: Any) -> str:
    if isinstance(instance, str):
        return instance
    if isinstance(instance, Mapping):
        data = instance.get("nova_object.data", instance)
        return data["uuid"]
    return instance.uuid


def _names(value: Any) -> list[str]:
    """An option given as a list or as a comma-separated string."""
    if not value:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [str(v).strip() for v in value if str(v).strip()]


class HostState:
    """Mutable and immutable information tracked for one (host, node)."""

    def __init__(self, host: str, node: str, cell_uuid: str | None) -> None:
        self.host = host
        self.nodename = node
        self.cell_uuid = cell_uuid
        self.uuid: str | None = None
        self.total_usable_ram_mb = 0
        self.total_usable_disk_gb = 0
        self.disk_mb_used = 0
        self.free_ram_mb = 0
        self.free_disk_mb = 0
        self.vcpus_total = 0
        self.vcpus_used = 0
        self.num_instances = 0
        self.num_io_ops = 0
        self.failed_builds = 0
        self.hypervisor_type: str | None = None
        self.hypervisor_version: int | None = None
        self.hypervisor_hostname: str | None = None
        self.cpu_info: dict[str, Any] = {}
        self.supported_instances: list[list[str]] = []
        self.stats: dict[str, Any] = {}
        self.metrics: list[dict[str, Any]] = []
        self.pci_pools: list[dict[str, Any]] = []
        self.availability_zone: str | None = None
        self.service: dict[str, Any] = {}
        self.aggregates: list[Any] = []
        self.instances: dict[str, Any] = {}
        self.limits: dict[str, Any] = {}
        self.cpu_allocation_ratio = 16.0
        self.ram_allocation_ratio = 1.5
        self.disk_allocation_ratio = 1.0
        self.updated: dt.datetime | None = None
        self._lock = threading.Lock()

    def update_from_compute_node(self, compute: Mapping[str, Any], config: Any = None) -> None:
        """Copy what the filters and weighers read from a compute node record.

        Keys: uuid, memory_mb, free_ram_mb, local_gb, local_gb_used, free_disk_gb
        (and disk_available_least when present), vcpus, vcpus_used, hypervisor_type,
        hypervisor_version, hypervisor_hostname, cpu_info, stats, running_vms,
        num_io_ops, supported_instances (or stats["supported_instances"]), metrics,
        pci_device_pools, availability_zone, the allocation ratios (a 0/None ratio
        means the config's), and the service fields disabled, disabled_reason,
        forced_down, updated_at, last_seen_up, created_at.
        """
        self.uuid = compute.get("uuid")
        self.total_usable_ram_mb = int(compute.get("memory_mb") or 0)
        self.free_ram_mb = int(compute.get("free_ram_mb", self.total_usable_ram_mb
                                           - int(compute.get("memory_mb_used") or 0)))
        self.total_usable_disk_gb = int(compute.get("local_gb") or 0)
        used_gb = int(compute.get("local_gb_used") or 0)
        free_gb = compute.get("free_disk_gb")
        free_gb = self.total_usable_disk_gb - used_gb if free_gb is None else int(free_gb)
        least = compute.get("disk_available_least")
        if least is not None:
            free_gb = min(int(least), free_gb)
        self.free_disk_mb = free_gb * 1024
        self.disk_mb_used = used_gb * 1024
        self.vcpus_total = int(compute.get("vcpus") or 0)
        self.vcpus_used = int(compute.get("vcpus_used") or 0)
        self.hypervisor_type = compute.get("hypervisor_type")
        self.hypervisor_version = compute.get("hypervisor_version")
        self.hypervisor_hostname = compute.get("hypervisor_hostname")
        self.cpu_info = _json(compute.get("cpu_info"), {})
        self.stats = dict(_json(compute.get("stats"), {}))
        supported = compute.get("supported_instances") or self.stats.get(
            "supported_instances")
        self.supported_instances = [list(t) for t in _json(supported, [])]
        self.num_instances = int(self.stats.get("num_instances",
                                                compute.get("running_vms") or 0))
        self.num_io_ops = int(compute.get("num_io_ops",
                                          self.stats.get("io_workload", 0)) or 0)
        self.failed_builds = int(self.stats.get("failed_builds", 0))
        self.metrics = list(_json(compute.get("metrics"), []))
        self.pci_pools = list(_json(compute.get("pci_device_pools"), []))
        self.availability_zone = compute.get("availability_zone")
        for kind in ("cpu", "ram", "disk"):
            name = f"{kind}_allocation_ratio"
            setattr(self, name, float(compute.get(name) or utils.conf(config, name)))
        self.service = {key: compute.get(key) for key in (
            "disabled", "disabled_reason", "forced_down", "updated_at", "last_seen_up",
            "created_at")}
        self.updated = compute.get("updated_at")

    def consume_from_request(self, spec_obj: Any) -> None:
        """Take the flavor out of this host's free resources (Stein's name and effect)."""
        flavor = spec_obj.flavor
        with self._lock:
            disk_mb = (int(flavor.root_gb) + int(flavor.ephemeral_gb)) * 1024
            self.free_ram_mb -= int(flavor.memory_mb)
            self.free_disk_mb -= disk_mb
            self.vcpus_used += int(flavor.vcpus)
            self.num_instances += 1
            self.num_io_ops += 1
            self.updated = dt.datetime.now(dt.UTC)

    def __repr__(self) -> str:
        return (f"({self.host}, {self.nodename}) ram: {self.free_ram_mb}MB "
                f"disk: {self.free_disk_mb}MB io_ops: {self.num_io_ops} "
                f"instances: {self.num_instances}")


class HostManager:
    """Builds host states for a request and runs the filters and weighers over them."""

    host_state_cls = HostState

    def __init__(self, get_compute_nodes: ComputeNodes, config: Any = None,
                 get_instances_by_host: InstancesByHost | None = None,
                 cell_uuid: str | None = None) -> None:
        self._get_compute_nodes = get_compute_nodes
        self._get_instances_by_host = get_instances_by_host
        self.default_cell_uuid = cell_uuid
        self._instance_info: dict[str, dict[str, Any]] = {}
        self._info_lock = threading.Lock()
        self.filter_handler = HostFilterHandler()
        self.weight_handler = HostWeightHandler()
        self.config: Any = None
        self.enabled_filters: list[BaseHostFilter] = []
        self.weighers: list[BaseHostWeigher] = []
        self.configure(config)

    def configure(self, config: Any) -> None:
        """(Re)load filters and weighers from *config* (FilterScheduler passes its own)."""
        self.config = config
        self.enabled_filters = self._choose_host_filters(utils.conf(config, "enabled_filters"))
        known = all_weighers()
        wanted = _names(utils.conf(config, "weight_classes"))
        if not wanted or "nova.scheduler.weights.all_weighers" in wanted:
            names = list(known)
        else:
            names = [w.rsplit(".", 1)[-1] for w in wanted]
        missing = [n for n in names if n not in known]
        if missing:
            raise ValueError(f"Unknown weigher(s): {missing}")
        self.weighers = [known[n](config) for n in names]

    def _choose_host_filters(self, names: Iterable[str]) -> list[BaseHostFilter]:
        known = all_filters()
        names = [n.rsplit(".", 1)[-1] for n in _names(names)]
        bad = [n for n in names if n not in known]
        if bad:
            # Stein raises SchedulerHostFilterNotFound at start-up for a wrong name.
            raise ValueError(f"Scheduler Host Filter(s) {', '.join(bad)} could not be found.")
        return [known[n](self.config) for n in names]

    # -- host states --------------------------------------------------------------

    def get_host_states_by_uuids(self, context: Any, compute_uuids: list[str] | None,
                                 spec_obj: Any) -> list[HostState]:
        """Fresh host states for the given compute node uuids (None: every node)."""
        nodes = self._get_compute_nodes(context)
        if compute_uuids is not None:
            wanted = set(compute_uuids)
            nodes = [n for n in nodes if n.get("uuid") in wanted]
        return self._get_host_states(context, nodes)

    def get_all_host_states(self, context: Any) -> list[HostState]:
        return self._get_host_states(context, self._get_compute_nodes(context))

    def _get_host_states(self, context: Any, nodes: Iterable[Mapping[str, Any]]
                         ) -> list[HostState]:
        states: dict[tuple[str, str], HostState] = {}
        for node in nodes:
            key = (node["host"], node.get("hypervisor_hostname") or node["host"])
            state = states.get(key)
            if state is None:
                state = self.host_state_cls(key[0], key[1],
                                            node.get("cell_uuid") or self.default_cell_uuid)
                states[key] = state
            state.update_from_compute_node(node, self.config)
            state.instances = self._get_instance_info(context, node)
        return list(states.values())

    def _get_instance_info(self, context: Any, node: Mapping[str, Any]) -> dict[str, Any]:
        """Instances on the host: the fanout's view if fresh, else ask (Stein's rule)."""
        host = node["host"]
        with self._info_lock:
            info = self._instance_info.get(host)
            if info and info.get("updated"):
                return dict(info["instances"])
        if self._get_instances_by_host is not None:
            return {_uuid_of(i): i for i in self._get_instances_by_host(context, host)}
        listed = node.get("instances")
        if listed is not None:
            return {_uuid_of(i): i for i in listed}
        return dict(info["instances"]) if info else {}

    # -- compute's fanout (hop 7) ---------------------------------------------------

    @staticmethod
    def _instances_from(instance_info: Any) -> list[Any]:
        """Accept an InstanceList-like object, its primitive, a dict or a list."""
        if isinstance(instance_info, Mapping):
            data = instance_info.get("nova_object.data", instance_info)
            objs = data.get("objects", [])
        elif hasattr(instance_info, "objects"):
            objs = instance_info.objects
        elif instance_info is None:
            objs = []
        else:
            objs = list(instance_info)
        return list(objs)

    def update_instance_info(self, context: Any, host_name: str, instance_info: Any) -> None:
        """Merge instances a compute host reports (Stein: a fanout cast at boot/changes)."""
        instances = self._instances_from(instance_info)
        with self._info_lock:
            info = self._instance_info.get(host_name)
            if info:
                for inst in instances:
                    info["instances"][_uuid_of(inst)] = inst
                info["updated"] = True
            else:
                # Stein re-reads the host's InstanceList when it hears of an unknown host
                # with a single instance; here the sent list is taken as the whole truth.
                self._instance_info[host_name] = {
                    "instances": {_uuid_of(i): i for i in instances}, "updated": True}

    def delete_instance_info(self, context: Any, host_name: str, instance_uuid: str) -> None:
        with self._info_lock:
            info = self._instance_info.setdefault(host_name, {"instances": {}})
            info["instances"].pop(instance_uuid, None)
            info["updated"] = True

    def sync_instance_info(self, context: Any, host_name: str,
                           instance_uuids: Iterable[str]) -> None:
        """Periodic check from compute: the uuid set it really holds."""
        with self._info_lock:
            info = self._instance_info.get(host_name)
            uuids = set(instance_uuids)
            if info and set(info["instances"]) == uuids:
                info["updated"] = True
                return
            self._instance_info[host_name] = {
                "instances": {u: u for u in uuids}, "updated": True}

    # -- filtering and weighing -----------------------------------------------------

    def get_filtered_hosts(self, hosts: Iterable[HostState], spec_obj: Any,
                           index: int = 0) -> list[HostState]:
        """ignore_hosts / force_hosts / force_nodes first, then the enabled filters."""
        hosts = list(hosts)
        ignore = getattr(spec_obj, "ignore_hosts", None) or []
        force_hosts = getattr(spec_obj, "force_hosts", None) or []
        force_nodes = getattr(spec_obj, "force_nodes", None) or []
        if ignore or force_hosts or force_nodes:
            lowered_ignore = {h.lower() for h in ignore}
            hosts = [h for h in hosts if h.host.lower() not in lowered_ignore]
            if ignore and not hosts:
                return []
            if force_hosts:
                lowered = {h.lower() for h in force_hosts}
                hosts = [h for h in hosts if h.host.lower() in lowered]
            if force_nodes:
                hosts = [h for h in hosts if h.nodename in force_nodes]
            hints = getattr(spec_obj, "scheduler_hints", None) or {}
            if not hints.get("_nova_check_type") and (force_hosts or force_nodes):
                return hosts  # forced: the filters are skipped, as in Stein
        return self.filter_handler.get_filtered_objects(self.enabled_filters, hosts,
                                                        spec_obj, index)

    def get_weighed_hosts(self, hosts: Iterable[HostState], spec_obj: Any) -> list[Any]:
        return self.weight_handler.get_weighed_objects(self.weighers, hosts, spec_obj)
