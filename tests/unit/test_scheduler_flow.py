"""FilterScheduler end to end over the in-process placement: picks, claims, alternates."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from support.scheduler import group, node, spec

from services.exception import NoValidHost
from services.placement import PlacementClient
from services.scheduler.filter_scheduler import FilterScheduler
from services.scheduler.host_manager import HostManager
from tracer.instrument import api as trace


def cloud(nodes: list[dict[str, Any]], config: Any = None, placement: bool = True
          ) -> tuple[FilterScheduler, PlacementClient]:
    """Register *nodes* in placement as the compute resource tracker would."""
    config = config or SimpleNamespace()
    pc = PlacementClient("sqlite://")
    for n in nodes:
        pc.ensure_resource_provider(n["uuid"], n["hypervisor_hostname"])
        pc.set_inventory(n["uuid"], {
            "VCPU": {"total": n["vcpus"], "reserved": 0, "allocation_ratio": 16.0},
            "MEMORY_MB": {"total": n["memory_mb"], "reserved": 0, "allocation_ratio": 1.5},
            "DISK_GB": {"total": n["local_gb"], "reserved": 0, "allocation_ratio": 1.0}})
    hm = HostManager(lambda ctx: nodes)
    return FilterScheduler(config, hm, pc if placement else None), pc


def test_single_boot_picks_most_free_ram_and_claims() -> None:
    fs, pc = cloud([node("c1", free_ram_mb=2048), node("c2")])
    [[sel, *alts]] = fs.select_destinations({}, spec(), ["i1"])
    assert sel["service_host"] == "c2" and sel["nodename"] == "c2"
    assert sel["compute_node_uuid"] == "uuid-c2"
    assert sel["allocation_request_version"] == "1.29"
    assert json.loads(sel["allocation_request"])["allocations"] == {
        "uuid-c2": {"resources": {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}}}
    assert [a["service_host"] for a in alts] == ["c1"]
    assert pc.get_usages("uuid-c2")["MEMORY_MB"] == 512
    assert pc.get_usages("uuid-c1")["MEMORY_MB"] == 0  # alternates are not claimed


def test_multi_create_spreads_with_consume_from_request() -> None:
    fs, pc = cloud([node("c1", free_ram_mb=4096), node("c2", free_ram_mb=3584)])
    flavor = spec(memory_mb=1024)
    out = fs.select_destinations({}, flavor, ["i1", "i2", "i3"])
    # c1 has more free RAM; after i1 consumed 1 GB of it c2 leads; after i2, c1 again
    assert [s[0]["service_host"] for s in out] == ["c1", "c2", "c1"]
    assert pc.get_usages("uuid-c1")["MEMORY_MB"] == 2048
    assert pc.get_usages("uuid-c2")["MEMORY_MB"] == 1024


def test_multi_create_stacks_with_negative_multipliers() -> None:
    config = SimpleNamespace(ram_weight_multiplier=-1.0, disk_weight_multiplier=-1.0,
                             cpu_weight_multiplier=-1.0, io_ops_weight_multiplier=1.0)
    fs, _ = cloud([node("c1", free_ram_mb=4096), node("c2", free_ram_mb=4096)], config)
    out = fs.select_destinations({}, spec(memory_mb=1024), ["i1", "i2", "i3"])
    assert [s[0]["service_host"] for s in out] == ["c1", "c1", "c1"]


def test_no_valid_host_when_flavor_too_big() -> None:
    fs, pc = cloud([node("c1"), node("c2")])
    with pytest.raises(NoValidHost):
        fs.select_destinations({}, spec(memory_mb=65536), ["i1"])
    fs_legacy, _ = cloud([node("c1", disabled=True)], placement=False)
    with pytest.raises(NoValidHost):
        fs_legacy.select_destinations({}, spec(), ["i1"])


def test_not_enough_hosts_cleans_up_claims() -> None:
    fs, pc = cloud([node("c1"), node("c2")])
    s = spec(instance_group=group("anti-affinity", ["i1", "i2", "i3"]))
    with pytest.raises(NoValidHost, match="not enough hosts"):
        fs.select_destinations({}, s, ["i1", "i2", "i3"])
    assert pc.get_usages("uuid-c1")["MEMORY_MB"] == 0
    assert pc.get_usages("uuid-c2")["MEMORY_MB"] == 0


def test_anti_affinity_puts_members_apart_and_affinity_together() -> None:
    fs, _ = cloud([node("c1"), node("c2"), node("c3")])
    anti = spec(instance_group=group("anti-affinity", ["i1", "i2", "i3"]))
    out = fs.select_destinations({}, anti, ["i1", "i2", "i3"])
    assert len({s[0]["service_host"] for s in out}) == 3
    fs, _ = cloud([node("c1"), node("c2"), node("c3")])
    aff = spec(instance_group=group("affinity", ["i1", "i2", "i3"]))
    out = fs.select_destinations({}, aff, ["i1", "i2", "i3"])
    assert len({s[0]["service_host"] for s in out}) == 1


def test_alternates_count_and_same_cell() -> None:
    nodes = [node("c1", cell_uuid="cellA"), node("c2", cell_uuid="cellB", free_ram_mb=8000),
             node("c3", cell_uuid="cellA", free_ram_mb=7000),
             node("c4", cell_uuid="cellA", free_ram_mb=6000)]
    fs, _ = cloud(nodes)
    [[sel, *alts]] = fs.select_destinations({}, spec(), ["i1"])
    assert sel["service_host"] == "c1" and sel["cell_uuid"] == "cellA"
    assert [a["service_host"] for a in alts] == ["c3", "c4"]  # max_attempts 3, no cellB
    assert all(a["cell_uuid"] == "cellA" and a["allocation_request"] for a in alts)
    fs, _ = cloud(nodes, SimpleNamespace(max_attempts=2))
    assert len(fs.select_destinations({}, spec(), ["i1"])[0]) == 2
    fs, _ = cloud(nodes)
    assert len(fs.select_destinations({}, spec(), ["i1"], return_alternates=False)[0]) == 1


def test_retry_skips_the_failed_host() -> None:
    fs, _ = cloud([node("c1"), node("c2", free_ram_mb=2048)])
    s = spec(retry={"num_attempts": 2, "hosts": [["c1", "c1"]]})
    [[sel, *alts]] = fs.select_destinations({}, s, ["i1"])
    assert sel["service_host"] == "c2" and alts == []


def test_scheduler_spans_show_the_decision() -> None:
    fs, _ = cloud([node("c1", free_ram_mb=2048), node("c2"), node("c3", disabled=True)])
    events: list[dict[str, Any]] = []
    trace.set_emitter(events.append)
    try:
        with trace.span("select_destinations", kind="SERVER") as root:
            fs.select_destinations({}, spec(), ["i1"])
    finally:
        trace.set_emitter(None)
    starts = {e["span_id"]: e for e in events if e["type"] == "span_start"}
    ends = {e["span_id"]: e for e in events if e["type"] == "span_end"}
    by_name: dict[str, list[dict[str, Any]]] = {}
    for s in starts.values():
        by_name.setdefault(s["name"], []).append(s)
    assert all(s["trace_id"] == root.trace_id for s in starts.values())
    assert "GET /allocation_candidates" in by_name
    assert "PUT /allocations/{consumer_uuid}" in by_name
    compute = by_name["filter ComputeFilter"][0]
    assert ends[compute["span_id"]]["attrs"]["rejected"] == ["c3"]
    for f in ("RetryFilter", "AvailabilityZoneFilter", "ComputeCapabilitiesFilter",
              "ImagePropertiesFilter", "ServerGroupAntiAffinityFilter",
              "ServerGroupAffinityFilter"):
        assert f"filter {f}" in by_name
    ram = ends[by_name["weigher RAMWeigher"][0]["span_id"]]["attrs"]
    assert ram["raw"] == {"c1": 2048.0, "c2": 8192.0} and ram["multiplier"] == 1.0
    sorted_span = by_name["_get_sorted_hosts"][0]
    assert compute["parent_id"] == sorted_span["span_id"]
    assert ends[sorted_span["span_id"]]["attrs"]["chosen"] == "c2"
    final = ends[by_name["FilterScheduler._schedule"][0]["span_id"]]["attrs"]
    assert final["selected"] == ["c2"] and final["alternates"] == [["c1"]]
