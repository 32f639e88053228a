"""End to end: POST /v2.1/servers through every Stein hop, on memory:// and RabbitMQ."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from support.boot_flow import Spans, traced_cloud, wait_all_ended
from support.rabbit import unique_exchange

STATES_ONE_BOOT = [("building", "scheduling"), ("building", None),
                   ("building", "networking"), ("building", "block_device_mapping"),
                   ("building", "spawning"), ("active", None)]


def _assert_one_boot(cloud, events) -> None:  # type: ignore[no-untyped-def]
    servers = cloud.boot("vm1")
    assert servers[0]["status"] in ("BUILD", "ACTIVE")
    uuid = servers[0]["id"]
    final = cloud.wait_for_instances([uuid], timeout=30)[0]
    assert (final["vm_state"], final["task_state"], final["host"]) == ("active", None,
                                                                      "compute1")
    spans = Spans(events)
    assert spans.states(uuid) == STATES_ONE_BOOT

    http = spans.find("POST /v2.1/servers", kind="HTTP", service="nova-api")
    assert len(http) == 1
    tid = http[0].trace_id
    wait_all_ended(events, tid)
    spans = Spans(events)

    (sab_p,) = spans.find("schedule_and_build_instances", "PRODUCER", trace_id=tid)
    assert sab_p.service == "nova-api"
    assert (sab_p.attrs["rpc.style"], sab_p.attrs["rpc.namespace"],
            sab_p.attrs["rpc.version"]) == ("cast", "compute_task", "1.17")
    (sab_c,) = spans.find("schedule_and_build_instances", "CONSUMER", trace_id=tid)
    assert sab_c.service == "nova-conductor"

    (sel_c,) = spans.find("select_destinations", "CLIENT", trace_id=tid)
    (sel_s,) = spans.find("select_destinations", "SERVER", trace_id=tid)
    assert sel_c.service == "nova-conductor" and sel_s.service == "nova-scheduler"
    assert (sel_c.attrs["rpc.style"], sel_c.attrs["rpc.version"]) == ("call", "4.5")
    assert sel_c.attrs["rpc.timeout"] == 1800  # long_rpc_timeout, monitored
    assert sel_s.parent_id == sel_c.span_id
    assert sel_c.start_ns <= sel_s.start_ns and sel_s.end_ns <= sel_c.end_ns

    (build_p,) = spans.find("build_and_run_instance", "PRODUCER", trace_id=tid)
    assert build_p.service == "nova-conductor"
    assert build_p.attrs["rpc.style"] == "cast"
    assert build_p.attrs["messaging.rabbitmq.destination.routing_key"] == "compute.compute1"
    (build_c,) = spans.find("build_and_run_instance", "CONSUMER", trace_id=tid)
    assert build_c.service == "nova-compute" and build_c.host == "compute1"
    # the producer (cast) ended before the conductor... did not wait for the build
    assert build_p.end_ns is not None

    obj_calls = [s for s in spans.find("object_action", "CLIENT", trace_id=tid)
                 if s.service == "nova-compute"]
    assert len(obj_calls) >= 5  # building, host, networking, bdm, spawning, active
    assert all(s.attrs["rpc.style"] == "call" for s in obj_calls)
    assert {s.service for s in spans.find("object_action", "SERVER", trace_id=tid)} == {
        "nova-conductor"}
    assert spans.find("object_class_action_versions", "CLIENT", "nova-compute", trace_id=tid)

    (fan,) = spans.find("update_instance_info", "PRODUCER", trace_id=tid)
    assert fan.attrs["rpc.style"] == "fanout" and fan.attrs["rpc.version"] == "4.2"
    assert spans.find("update_instance_info", "CONSUMER", "nova-scheduler", trace_id=tid)

    steps = [s.name for s in sorted(spans.find(service="nova-compute", trace_id=tid),
                                       key=lambda s: s.start_ns)]
    for a, b in [("_do_build_and_run_instance", "_build_and_run_instance"),
                 ("get_disk_info", "_create_image"), ("_get_guest_xml",
                                                       "_create_domain_and_network"),
                 ("_create_domain_and_network", "_wait_for_boot")]:
        assert steps.index(a) < steps.index(b)


def test_boot_one_memory(tmp_path: Path) -> None:
    with traced_cloud(tmp_path) as (cloud, events):
        _assert_one_boot(cloud, events)


def test_boot_one_rabbit(tmp_path: Path, rabbit_vhost_url: str) -> None:
    with traced_cloud(tmp_path, transport_url=rabbit_vhost_url,
                      control_exchange=unique_exchange()) as (cloud, events):
        _assert_one_boot(cloud, events)


def test_no_valid_host_buried_in_cell0(tmp_path: Path) -> None:
    with traced_cloud(tmp_path) as (cloud, events):
        uuid = cloud.boot("too-big", flavor="m1.xlarge")[0]["id"]
        final = cloud.wait_for_instances([uuid], timeout=30)[0]
        assert final["vm_state"] == "error" and final["cell"] == "cell0"
        assert final["fault"] and "No valid host" in final["fault"]["message"]
        spans = Spans(events)
        assert spans.find("select_destinations", "CLIENT")
        assert not spans.find("build_and_run_instance")
        assert spans.states(uuid) == [("building", "scheduling"), ("error", None)]
        shown = cloud.request("GET", f"/v2.1/servers/{uuid}").json["server"]
        assert shown["status"] == "ERROR" and "No valid host" in shown["fault"]["message"]


def test_multi_create_one_select_three_casts(tmp_path: Path) -> None:
    with traced_cloud(tmp_path) as (cloud, events):
        servers = cloud.boot("multi", count=3)
        assert len(servers) == 3
        finals = cloud.wait_for_instances([s["id"] for s in servers], timeout=30)
        assert [f["vm_state"] for f in finals] == ["active"] * 3
        spans = Spans(events)
        (http,) = spans.find("POST /v2.1/servers", "HTTP")
        tid = http.trace_id
        assert len(spans.find("select_destinations", "CLIENT", trace_id=tid)) == 1
        assert len(spans.find("select_destinations", "CLIENT")) == 1
        assert len(spans.find("build_and_run_instance", "PRODUCER", trace_id=tid)) == 3


def test_reschedule_to_alternate(tmp_path: Path) -> None:
    failures = ["injected spawn failure"]
    with traced_cloud(tmp_path, computes=("compute1", "compute2"), virt_type="fake",
                      extra={"fake_spawn_failures": failures}) as (cloud, events):
        uuid = cloud.boot("resched")[0]["id"]
        final = cloud.wait_for_instances([uuid], timeout=30)[0]
        assert final["vm_state"] == "active"
        assert failures == []
        spans = Spans(events)
        assert len(spans.find("select_destinations", "CLIENT")) == 1
        (resched,) = spans.find("build_instances", "PRODUCER")
        assert resched.service == "nova-compute"
        assert resched.attrs["rpc.version"] == "1.19"
        builds = spans.find("build_and_run_instance", "CONSUMER")
        assert len({b.host for b in builds}) == 2
        assert final["host"] == [b for b in builds if b.start_ns == max(
            x.start_ns for x in builds)][0].host


def test_reschedule_exhausted_goes_error(tmp_path: Path) -> None:
    failures = ["fail 1", "fail 2", "fail 3"]
    with traced_cloud(tmp_path, computes=("compute1", "compute2"), virt_type="fake",
                      extra={"fake_spawn_failures": failures}) as (cloud, events):
        uuid = cloud.boot("doomed")[0]["id"]
        final = cloud.wait_for_instances([uuid], timeout=30)[0]
        assert final["vm_state"] == "error"
        # as Stein's set_vm_state_and_notify: ERROR is saved first, the fault right after
        deadline = time.monotonic() + 5
        def fault(row: dict[str, Any]) -> str:
            return str((row.get("fault") or {}).get("message", "")).lower()

        while "retr" not in fault(final) and time.monotonic() < deadline:
            time.sleep(0.05)   # the fault may not be saved yet (None): look again
            final = cloud.instance_state(uuid)
        assert "retr" in fault(final), final
        spans = Spans(events)
        assert len(spans.find("select_destinations", "CLIENT")) == 1
        assert len(spans.find("build_and_run_instance", "CONSUMER")) == 2


def test_delete_terminates_on_compute(tmp_path: Path) -> None:
    with traced_cloud(tmp_path) as (cloud, events):
        uuid = cloud.boot("short-lived")[0]["id"]
        cloud.wait_for_instances([uuid], timeout=30)
        assert cloud.delete(uuid) == 204
        final = cloud.wait_for_instances([uuid], timeout=30, states=("deleted",))[0]
        assert final["deleted"] is True
        spans = Spans(events)
        (term,) = spans.find("terminate_instance", "PRODUCER")
        assert term.attrs["messaging.rabbitmq.destination.routing_key"] == "compute.compute1"
        assert spans.find("_undefine_domain", service="nova-compute")
