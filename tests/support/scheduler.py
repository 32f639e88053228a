"""Scheduler test inputs: compute node records, request specs, host states, groups."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from services.scheduler.filters import all_filters
from services.scheduler.host_manager import HostState


def node(host: str, **kw: Any) -> dict[str, Any]:
    """A compute node record as the other services hand it to HostManager."""
    rec: dict[str, Any] = {
        "uuid": f"uuid-{host}", "host": host, "hypervisor_hostname": host,
        "vcpus": 8, "memory_mb": 8192, "local_gb": 100, "vcpus_used": 0,
        "memory_mb_used": 0, "local_gb_used": 0, "free_ram_mb": 8192, "free_disk_gb": 100,
        "running_vms": 0, "hypervisor_type": "QEMU",
        "cpu_info": {"arch": "x86_64", "model": "Haswell", "features": ["vmx"]},
        "availability_zone": None, "disabled": False, "forced_down": False,
        "updated_at": dt.datetime.now(dt.UTC), "num_io_ops": 0,
        "stats": {"supported_instances": [["x86_64", "qemu", "hvm"]]},
    }
    rec.update(kw)
    return rec


def spec(memory_mb: int = 512, vcpus: int = 1, root_gb: int = 1, **kw: Any) -> Any:
    flavor = SimpleNamespace(memory_mb=memory_mb, vcpus=vcpus, root_gb=root_gb,
                             ephemeral_gb=0, swap=0, extra_specs=kw.pop("extra_specs", {}))
    base: dict[str, Any] = dict(
        flavor=flavor, image=SimpleNamespace(properties=kw.pop("image_props", {})),
        availability_zone=None, retry=None, instance_group=None, num_instances=1,
        project_id="p1", user_id="u1", ignore_hosts=None, force_hosts=None,
        force_nodes=None, scheduler_hints={})
    base.update(kw)
    return SimpleNamespace(**base)


def state(host: str, **kw: Any) -> HostState:
    hs = HostState(host, host, "cell1")
    hs.update_from_compute_node(node(host, **kw))
    return hs


def passes(filter_name: str, hs: HostState, spec_obj: Any, config: Any = None) -> bool:
    return bool(all_filters()[filter_name](config).host_passes(hs, spec_obj))


# -- filters -------------------------------------------------------------------------


def group(policy: str, members: list[str], hosts: list[str] | None = None) -> Any:
    return SimpleNamespace(policy=policy, members=members, hosts=hosts or [], rules={})
