"""Scheduler filters, weighers and host states, each on its own (no placement, no RPC)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from support.scheduler import group, node, passes, spec, state

from services.scheduler.filters import HostFilterHandler, all_filters
from services.scheduler.host_manager import HostManager, HostState
from services.scheduler.weights import HostWeightHandler, all_weighers, normalize
from tracer.instrument import api as trace


def test_retry_filter() -> None:
    s = spec(retry={"num_attempts": 2, "hosts": [["c1", "c1"]]})
    assert not passes("RetryFilter", state("c1"), s)
    assert passes("RetryFilter", state("c2"), s)
    assert passes("RetryFilter", state("c1"), spec())


def test_availability_zone_filter() -> None:
    assert passes("AvailabilityZoneFilter", state("c1"), spec(availability_zone="nova"))
    assert not passes("AvailabilityZoneFilter", state("c1"), spec(availability_zone="az2"))
    assert passes("AvailabilityZoneFilter", state("c1", availability_zone="az2"),
                  spec(availability_zone="az2"))
    assert passes("AvailabilityZoneFilter", state("c1", availability_zone="az2"), spec())


def test_compute_filter() -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=120)
    assert passes("ComputeFilter", state("c1"), spec())
    assert not passes("ComputeFilter", state("c1", disabled=True), spec())
    assert not passes("ComputeFilter", state("c1", forced_down=True), spec())
    assert not passes("ComputeFilter", state("c1", updated_at=old), spec())
    assert passes("ComputeFilter", state("c1", updated_at=old), spec(),
                  SimpleNamespace(service_down_time=300))
    naive = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert passes("ComputeFilter", state("c1", updated_at=naive), spec())


def test_compute_capabilities_filter() -> None:
    hs = state("c1", stats={"supported_instances": [], "gpu": "yes"})
    assert passes("ComputeCapabilitiesFilter", hs,
                  spec(extra_specs={"capabilities:cpu_info:arch": "x86_64"}))
    assert not passes("ComputeCapabilitiesFilter", hs,
                      spec(extra_specs={"capabilities:cpu_info:arch": "aarch64"}))
    assert passes("ComputeCapabilitiesFilter", hs,
                  spec(extra_specs={"capabilities:vcpus_total": ">= 4"}))
    assert not passes("ComputeCapabilitiesFilter", hs,
                      spec(extra_specs={"capabilities:vcpus_total": ">= 16"}))
    assert passes("ComputeCapabilitiesFilter", hs, spec(extra_specs={"gpu": "yes"}))
    assert not passes("ComputeCapabilitiesFilter", hs, spec(extra_specs={"gpu": "no"}))
    # other scopes are not this filter's business
    assert passes("ComputeCapabilitiesFilter", hs, spec(extra_specs={"hw:cpu_policy": "x"}))


def test_image_properties_filter() -> None:
    hs = state("c1")
    assert passes("ImagePropertiesFilter", hs, spec())
    assert passes("ImagePropertiesFilter", hs, spec(image_props={
        "hw_architecture": "x86_64", "img_hv_type": "qemu", "hw_vm_mode": "hvm"}))
    assert not passes("ImagePropertiesFilter", hs, spec(image_props={
        "hw_architecture": "aarch64"}))
    assert not passes("ImagePropertiesFilter", hs, spec(image_props={"img_hv_type": "xen"}))
    bare = state("c2", stats={})
    assert not passes("ImagePropertiesFilter", bare, spec(image_props={
        "hw_architecture": "x86_64"}))


def test_server_group_anti_affinity_filter() -> None:
    hs = state("c1")
    hs.instances = {"i1": {"uuid": "i1"}}
    s = spec(instance_group=group("anti-affinity", ["i1", "i2"]), instance_uuid="i2")
    assert not passes("ServerGroupAntiAffinityFilter", hs, s)
    assert passes("ServerGroupAntiAffinityFilter", state("c2"), s)
    s.instance_group = group("affinity", ["i1", "i2"])
    assert passes("ServerGroupAntiAffinityFilter", hs, s)


def test_server_group_affinity_filter() -> None:
    s = spec(instance_group=group("affinity", ["i1"], hosts=["c1"]))
    assert passes("ServerGroupAffinityFilter", state("c1"), s)
    assert not passes("ServerGroupAffinityFilter", state("c2"), s)
    assert passes("ServerGroupAffinityFilter", state("c2"),
                  spec(instance_group=group("affinity", [])))


def test_ram_disk_core_filters_available_not_default() -> None:
    names = all_filters()
    assert {"RamFilter", "DiskFilter", "CoreFilter"} <= set(names)
    hm = HostManager(lambda ctx: [])
    assert [type(f).__name__ for f in hm.enabled_filters] == [
        "RetryFilter", "AvailabilityZoneFilter", "ComputeFilter",
        "ComputeCapabilitiesFilter", "ImagePropertiesFilter",
        "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter"]
    small = state("c1", memory_mb=1024, free_ram_mb=0, local_gb=10, free_disk_gb=10,
                  vcpus=2)
    assert passes("RamFilter", small, spec(memory_mb=512))      # 1024 * 1.5 - 1024 used
    assert not passes("RamFilter", small, spec(memory_mb=600))
    assert not passes("RamFilter", state("c2", memory_mb=1024), spec(memory_mb=2048))
    assert passes("DiskFilter", small, spec(root_gb=10))
    assert not passes("DiskFilter", small, spec(root_gb=11))
    assert passes("CoreFilter", small, spec(vcpus=2))
    assert not passes("CoreFilter", small, spec(vcpus=3))


def test_unknown_filter_name_is_refused() -> None:
    with pytest.raises(ValueError, match="NoSuchFilter"):
        HostManager(lambda ctx: [], SimpleNamespace(enabled_filters=["NoSuchFilter"]))


def test_filter_spans_name_the_rejected_hosts() -> None:
    events: list[dict[str, Any]] = []
    trace.set_emitter(events.append)
    try:
        hm = HostManager(lambda ctx: [])
        hosts = [state("c1"), state("c2", disabled=True)]
        out = HostFilterHandler().get_filtered_objects(hm.enabled_filters, hosts, spec())
    finally:
        trace.set_emitter(None)
    assert [h.host for h in out] == ["c1"]
    starts = {e["span_id"]: e for e in events if e["type"] == "span_start"}
    ends = {e["span_id"]: e for e in events if e["type"] == "span_end"}
    names = [e["name"] for e in starts.values()]
    assert names[:3] == ["filter RetryFilter", "filter AvailabilityZoneFilter",
                         "filter ComputeFilter"]
    compute = next(s for s in starts.values() if s["name"] == "filter ComputeFilter")
    assert compute["attrs"]["hosts_in"] == ["c1", "c2"]
    end = ends[compute["span_id"]]["attrs"]
    assert end["hosts_out"] == ["c1"] and end["rejected"] == ["c2"]
    assert "disabled" in end["reasons"]["c2"]


# -- weighers -------------------------------------------------------------------------

def test_normalize() -> None:
    assert normalize([]) == []
    assert normalize([5, 5]) == [0.0, 0.0]
    assert normalize([0, 5, 10]) == [0.0, 0.5, 1.0]
    assert normalize([5, 10], minval=0) == [0.5, 1.0]


def weigh(names: list[str], hosts: list[HostState], spec_obj: Any, config: Any = None
          ) -> list[Any]:
    weighers = [all_weighers()[n](config) for n in names]
    return HostWeightHandler().get_weighed_objects(weighers, hosts, spec_obj)


def test_ram_weigher_spreads_by_default() -> None:
    hosts = [state("small", free_ram_mb=1024), state("big", free_ram_mb=4096)]
    weighed = weigh(["RAMWeigher"], hosts, spec())
    assert [w.obj.host for w in weighed] == ["big", "small"]
    assert weighed[0].weight == 1.0 and weighed[1].weight == 0.25  # minval 0


def test_negative_multiplier_stacks() -> None:
    hosts = [state("small", free_ram_mb=1024), state("big", free_ram_mb=4096)]
    weighed = weigh(["RAMWeigher"], hosts, spec(), SimpleNamespace(ram_weight_multiplier=-1.0))
    assert [w.obj.host for w in weighed] == ["small", "big"]


def test_io_ops_and_build_failure_weighers() -> None:
    busy, idle = state("busy", num_io_ops=4), state("idle")
    assert [w.obj.host for w in weigh(["IoOpsWeigher"], [busy, idle], spec())] == \
        ["idle", "busy"]
    bad = state("bad", stats={"failed_builds": 2})
    assert [w.obj.host for w in weigh(["BuildFailureWeigher", "RAMWeigher"],
                                      [bad, state("good", free_ram_mb=10)], spec())] == \
        ["good", "bad"]


def test_soft_affinity_weighers() -> None:
    with_member, empty = state("c1"), state("c2")
    with_member.instances = {"i1": {}}
    s = spec(instance_group=group("soft-affinity", ["i1", "i2"]))
    order = weigh(["ServerGroupSoftAffinityWeigher"], [empty, with_member], s)
    assert order[0].obj.host == "c1"
    s.instance_group = group("soft-anti-affinity", ["i1", "i2"])
    order = weigh(["ServerGroupSoftAntiAffinityWeigher"], [with_member, empty], s)
    assert order[0].obj.host == "c2"


def test_all_weighers_present_and_metrics_neutral() -> None:
    assert set(all_weighers()) == {
        "RAMWeigher", "DiskWeigher", "CPUWeigher", "MetricsWeigher", "IoOpsWeigher",
        "PCIWeigher", "ServerGroupSoftAffinityWeigher",
        "ServerGroupSoftAntiAffinityWeigher", "BuildFailureWeigher"}
    hosts = [state("a"), state("b")]
    assert [w.weight for w in weigh(["MetricsWeigher", "PCIWeigher"], hosts, spec())] == \
        [0.0, 0.0]


def test_weigher_span_attrs() -> None:
    events: list[dict[str, Any]] = []
    trace.set_emitter(events.append)
    try:
        weigh(["RAMWeigher"], [state("a", free_ram_mb=2048), state("b", free_ram_mb=4096)],
              spec())
    finally:
        trace.set_emitter(None)
    start = next(e for e in events if e["type"] == "span_start")
    end = next(e for e in events if e["type"] == "span_end")
    assert start["name"] == "weigher RAMWeigher"
    assert end["attrs"]["raw"] == {"a": 2048.0, "b": 4096.0}
    assert end["attrs"]["normalized"] == {"a": 0.5, "b": 1.0}
    assert end["attrs"]["multiplier"] == 1.0


# -- host states ---------------------------------------------------------------------

def test_consume_from_request() -> None:
    hs = state("c1")
    hs.consume_from_request(spec(memory_mb=1024, vcpus=2, root_gb=10))
    assert (hs.free_ram_mb, hs.free_disk_mb, hs.vcpus_used, hs.num_io_ops,
            hs.num_instances) == (8192 - 1024, (100 - 10) * 1024, 2, 1, 1)


def test_update_instance_info_shapes() -> None:
    hm = HostManager(lambda ctx: [node("c1")])
    hm.update_instance_info({}, "c1", {"objects": [{"uuid": "i1"}]})
    hm.update_instance_info({}, "c1", SimpleNamespace(objects=[SimpleNamespace(uuid="i2")]))
    hm.update_instance_info({}, "c1", {"nova_object.data": {"objects": [
        {"nova_object.data": {"uuid": "i3"}}]}})
    [hs] = hm.get_host_states_by_uuids({}, None, spec())
    assert set(hs.instances) == {"i1", "i2", "i3"}
    hm.delete_instance_info({}, "c1", "i1")
    hm.sync_instance_info({}, "c1", ["i2", "i3"])
    [hs] = hm.get_host_states_by_uuids({}, ["uuid-c1"], spec())
    assert set(hs.instances) == {"i2", "i3"}
    assert hm.get_host_states_by_uuids({}, [], spec()) == []


def test_force_and_ignore_hosts() -> None:
    hm = HostManager(lambda ctx: [])
    hosts = [state("c1"), state("c2", disabled=True)]
    assert [h.host for h in hm.get_filtered_hosts(hosts, spec(ignore_hosts=["C1"]))] == []
    # forced hosts skip the filters, as in Stein
    assert [h.host for h in hm.get_filtered_hosts(hosts, spec(force_hosts=["c2"]))] == ["c2"]
