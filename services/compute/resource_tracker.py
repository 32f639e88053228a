"""ResourceTracker (nova/compute/resource_tracker.py): this host's ComputeNode record.

Compute has no DB access: every ComputeNode read/write here is an object call that goes
to nova-conductor. Inventory is reported to placement so the scheduler sees it.
"""

from __future__ import annotations

import contextlib
import threading
import uuid as uuidlib
from collections.abc import Iterator
from typing import Any

from services import exception
from services.objects import ComputeNode, Instance
from tracer.instrument import api as trace

STEIN_LOCATION = "nova/compute/resource_tracker.py:ResourceTracker"


class ResourceTracker:
    STEIN_LOCATION = STEIN_LOCATION

    def __init__(self, host: str, driver: Any, config: Any) -> None:
        self.host = host
        self.driver = driver
        self.config = config
        self.compute_nodes: dict[str, ComputeNode] = {}
        self._lock = threading.RLock()  # COMPUTE_RESOURCE_SEMAPHORE
        self._reportclient: Any = None
        # this host's instances as the last update read them (the build-time check
        # reuses them rather than asking the conductor again)
        self.instances_on_host: list[Any] = []

    @property
    def reportclient(self) -> Any:
        """The placement client, made on first use (it opens the placement database)."""
        if self._reportclient is None:
            from services.placement.client import PlacementClient, placement_url

            self._reportclient = PlacementClient(placement_url(self.config))
        return self._reportclient

    def update_available_resource(self, context: Any, nodename: str,
                                  startup: bool = False) -> ComputeNode:
        with trace.stein_step(STEIN_LOCATION, "update_available_resource",
                              nodename=nodename, startup=startup):
            resources = self.driver.get_available_resource(nodename)
            with self._lock:
                return self._update_available_resource(context, resources)

    def _usage(self, context: Any, on_host: list[Any]) -> dict[str, int]:
        instances = [i for i in on_host
                     if i.vm_state not in ("deleted", "error") or i.task_state]
        return {"vcpus_used": sum(int(i.vcpus or 0) for i in instances),
                "memory_mb_used": self.config.reserved_host_memory_mb
                + sum(int(i.memory_mb or 0) for i in instances),
                "local_gb_used": sum(int(i.root_gb or 0) for i in instances),
                "running_vms": len(instances)}

    def _update_available_resource(self, context: Any, resources: dict[str, Any]) -> ComputeNode:
        nodename = resources["hypervisor_hostname"]
        on_host = Instance.get_by_host(context, self.host)
        self.instances_on_host = on_host
        usage = self._usage(context, on_host)
        cn = self.compute_nodes.get(nodename)
        if cn is None:
            try:
                cn = ComputeNode.get_by_host_and_nodename(context, self.host, nodename)
            except exception.ComputeHostNotFound:
                cn = ComputeNode(context, uuid=str(uuidlib.uuid4()), host=self.host,
                                 hypervisor_hostname=nodename)
        cn._context = context
        values = {k: resources[k] for k in ("vcpus", "memory_mb", "local_gb",
                                            "hypervisor_type", "hypervisor_version",
                                            "cpu_info")}
        values.update(usage)
        values["free_ram_mb"] = values["memory_mb"] - usage["memory_mb_used"]
        values["free_disk_gb"] = values["local_gb"] - usage["local_gb_used"]
        values.update(cpu_allocation_ratio=self.config.cpu_allocation_ratio,
                      ram_allocation_ratio=self.config.ram_allocation_ratio,
                      disk_allocation_ratio=self.config.disk_allocation_ratio,
                      stats={"availability_zone": self.config.default_availability_zone,
                             "io_workload": 0, "num_instances": usage["running_vms"],
                             "supported_instances": resources.get("supported_instances", [])})
        changed = {k: v for k, v in values.items() if getattr(cn, k) != v}
        cn.update(changed)
        if cn.id is None:
            cn.create()
        elif changed:
            cn.save()
        self.compute_nodes[nodename] = cn
        self._update_to_placement(cn)
        self._remove_deleted_instances_allocations(context, cn, {i.uuid for i in on_host})
        return cn

    def _remove_deleted_instances_allocations(self, context: Any, cn: ComputeNode,
                                              tracked: set[str]) -> None:
        """Stein: free what deleted instances still hold against this node.

        A local delete in the API, a delete while this compute was down, or a compute
        killed between destroy and the allocation delete leaves them; an instance not in
        the database at all may be one the scheduler just claimed for, so it is kept.
        """
        allocations = self.reportclient.get_allocations_for_resource_provider(cn.uuid)
        untracked = [u for u in allocations if u not in tracked]
        if not untracked:
            return
        from services.context import get_admin_context

        read_deleted = get_admin_context(read_deleted="yes")
        with trace.stein_step(STEIN_LOCATION, "_remove_deleted_instances_allocations",
                              untracked=len(untracked)) as sp:
            freed = []
            for uuid in untracked:
                try:
                    instance = Instance.get_by_uuid(read_deleted, uuid)
                except exception.InstanceNotFound:
                    continue  # being scheduled: not in a cell database yet
                if instance.deleted:
                    self.reportclient.delete_allocation_for_instance(uuid)
                    freed.append(uuid)
            sp.set_attr("freed", freed)

    def _update_to_placement(self, cn: ComputeNode) -> None:
        client = self.reportclient
        client.ensure_resource_provider(cn.uuid, cn.hypervisor_hostname)
        client.set_inventory(cn.uuid, {
            "VCPU": {"total": cn.vcpus, "reserved": 0,
                     "allocation_ratio": cn.cpu_allocation_ratio},
            "MEMORY_MB": {"total": cn.memory_mb,
                          "reserved": self.config.reserved_host_memory_mb,
                          "allocation_ratio": cn.ram_allocation_ratio},
            "DISK_GB": {"total": cn.local_gb,
                        "reserved": self.config.reserved_host_disk_mb // 1024,
                        "allocation_ratio": cn.disk_allocation_ratio}})

    @contextlib.contextmanager
    def instance_claim(self, context: Any, instance: Any, nodename: str,
                       limits: Any = None) -> Iterator[None]:
        """Stamp host/node on the instance (saved via conductor) and count its usage."""
        with trace.stein_step(STEIN_LOCATION, "instance_claim", nodename=nodename):
            with self._lock:
                instance.host = self.host
                instance.node = nodename
                instance.save()
                cn = self.compute_nodes.get(nodename)
                if cn is not None:
                    f = instance.flavor
                    cn.vcpus_used = (cn.vcpus_used or 0) + f.vcpus
                    cn.memory_mb_used = (cn.memory_mb_used or 0) + f.memory_mb
                    cn.local_gb_used = (cn.local_gb_used or 0) + f.root_gb
                    cn.free_ram_mb = cn.memory_mb - cn.memory_mb_used
                    cn.free_disk_gb = cn.local_gb - cn.local_gb_used
                    cn.running_vms = (cn.running_vms or 0) + 1
                    cn._context = context
                    cn.save()
        try:
            yield
        except BaseException:
            # Stein's Claim.__exit__: a build that fails inside the claim gives it back
            self.abort_instance_claim(context, instance, nodename)
            raise

    def abort_instance_claim(self, context: Any, instance: Any, nodename: str) -> None:
        """Remove the instance's usage from the node and unset its host and node."""
        with trace.stein_step(STEIN_LOCATION, "abort_instance_claim", nodename=nodename,
                              instance_uuid=instance.uuid):
            with self._lock:
                cn = self.compute_nodes.get(nodename)
                if cn is not None:
                    f = instance.flavor
                    cn.vcpus_used = max(0, (cn.vcpus_used or 0) - f.vcpus)
                    cn.memory_mb_used = max(0, (cn.memory_mb_used or 0) - f.memory_mb)
                    cn.local_gb_used = max(0, (cn.local_gb_used or 0) - f.root_gb)
                    cn.free_ram_mb = cn.memory_mb - cn.memory_mb_used
                    cn.free_disk_gb = cn.local_gb - cn.local_gb_used
                    cn.running_vms = max(0, (cn.running_vms or 0) - 1)
                    cn._context = context
                    cn.save()
                instance.host = None
                instance.node = None
                instance.save()

    def delete_allocation_for_instance(self, context: Any, instance_uuid: str) -> None:
        self.reportclient.delete_allocation_for_instance(instance_uuid)
