"""Recordings show what nova 19.0.0 (Stein) does (issue 13): faults, the conductor's two
loops, the reschedule's retry record, the start-up ping and timers, cell0, notifications,
and code locations that name functions Stein really has."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support.boot_flow import Spans, traced_cloud, wait_all_ended

from services.baserpc import BaseAPI
from services.conductor import rpcapi as conductor_rpcapi
from services.context import get_admin_context, target_cell
from services.db import api as db
from services.messaging import MessagingTimeout
from services.messaging.gate import set_gate
from services.objects import Instance, RequestSpec
from tracer.instrument import api as trace
from tracer.model import SpanView
from tracer.scenario.runner import run_scenario

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# what Stein defines: nova 19.0.0 and openstack/placement 1.0.0 (scripts/stein-names.py)
NAMES_FILES = (FIXTURES / "nova-19.0.0-names.txt", FIXTURES / "placement-1.0.0-names.txt")


def _recording(name: str) -> Spans:
    result = run_scenario(name)
    assert result.error is None and result.passed, [c.line() for c in result.checks]
    return Spans(result.events)


def _by_start(spans: list[SpanView]) -> list[SpanView]:
    return sorted(spans, key=lambda s: s.start_ns)


# ---- 2. reschedule faults --------------------------------------------------------------
def _fault_rows_written(spans: Spans) -> list[SpanView]:
    """Every instance_faults insert (the conductor's own and the compute's via
    object_action both run as this DB span in the conductor)."""
    return _by_start(spans.find("db InstanceFault.create"))


def test_successful_reschedule_records_no_fault() -> None:
    result = run_scenario("reschedule")
    assert result.passed
    spans = Spans(result.events)
    assert spans.find("build_instances", "CONSUMER")  # it did reschedule
    assert _fault_rows_written(spans) == []
    assert spans.find("add_instance_fault_from_exc") == []
    assert [r["fault"] for r in result.instances["resched"]] == [None]


def test_exhausted_reschedules_record_one_fault_after_the_last_retry() -> None:
    spans = _recording("reschedule-exhausted")
    (row,) = _fault_rows_written(spans)
    (fault,) = spans.find("add_instance_fault_from_exc")
    assert row.parent_id == fault.span_id and fault.service == "nova-conductor"
    assert "Exhausted all hosts" in fault.attrs["fault.message"]
    retries = _by_start(spans.find("build_instances", "CONSUMER"))
    assert len(retries) == 2 and fault.start_ns > retries[-1].start_ns
    (notify,) = spans.find("set_vm_state_and_notify")
    assert fault.parent_id == notify.span_id


# ---- 3. the reschedule's request spec carries the retry record ----------------------------
def test_rolling_upgrade_resolves_auto_from_the_rocky_computes() -> None:
    spans = _recording("rolling-upgrade")
    caps = {s.service: s.attrs for s in spans.find("_determine_version_cap")}
    assert caps["nova-api"]["minimum_service_version"] == 35
    assert caps["nova-api"]["version_cap"] == "5.0"
    # the conductor was built before any compute registered: current version, uncached
    assert (caps["nova-conductor"]["minimum_service_version"],
            caps["nova-conductor"]["version_cap"]) == (0, "5.1")


def test_reschedule_without_alternates_retryfilter_rejects_the_failed_host(
        tmp_path: Path) -> None:
    """build_instances without host_lists (a reschedule from a pre-Queens compute, the
    path Stein still serves): the conductor rebuilds the request spec from
    filter_properties with the retry record, so the second select_destinations'
    RetryFilter drops the host that failed."""
    with traced_cloud(tmp_path, computes=("compute1", "compute2")) as (cloud, events):
        uuid = cloud.boot("vm1")[0]["id"]
        first = cloud.wait_for_instances([uuid])[0]
        failed = first["host"]
        ctxt = target_cell(get_admin_context(), db.default_cell_uuid())
        with trace.identity("nova-compute", failed):
            instance = Instance.get_by_uuid(ctxt, uuid)
            instance.task_state = "scheduling"
            instance.save()
            with trace.span("reschedule from an old compute", "INTERNAL") as root:
                conductor_rpcapi.ComputeTaskAPI(cloud._transport(), cloud.config
                                                 ).build_instances(
                    ctxt, instances=[instance], image={"id": instance.image_ref},
                    filter_properties={"retry": {"num_attempts": 1,
                                                 "hosts": [[failed, failed]]}},
                    admin_password=None, injected_files=[], requested_networks=None,
                    security_groups=["default"], block_device_mapping=[],
                    request_spec=RequestSpec.get_by_instance_uuid(ctxt, uuid))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            row = cloud.instance_state(uuid) or {}
            if row.get("host") not in (None, failed) and row.get("vm_state") == "active":
                break
            time.sleep(0.05)
        wait_all_ended(events, root.trace_id)
    spans = Spans(events)
    (retry_filter,) = spans.find("filter RetryFilter", trace_id=root.trace_id)
    assert retry_filter.attrs["rejected"] == [failed]
    assert failed not in retry_filter.attrs["hosts_out"]
    (cast,) = spans.find("build_and_run_instance", "PRODUCER", trace_id=root.trace_id)
    assert cast.attrs["rpc.server"] != failed
    sent = json.loads(cast.attrs["bootflow.envelope"])["args"]
    assert sent["filter_properties"]["retry"]["num_attempts"] == 2
    assert [failed, failed] in sent["filter_properties"]["retry"]["hosts"]


# ---- 4. the conductor's two loops ------------------------------------------------------
def test_multi_create_creates_every_instance_before_the_first_action() -> None:
    spans = _recording("multi-create")
    mine = [s for s in spans.snapshot.spans.values() if s.service == "nova-conductor"]

    def named(name: str) -> list[dict[str, Any]]:
        return _by_start([s for s in mine if s.name == name])

    creates, actions = named("db Instance.create"), named("db InstanceAction.action_start")
    destroys = named("db BuildRequest.destroy")
    assert len(creates) == len(actions) == len(destroys) == 3
    assert creates[-1].start_ns < actions[0].start_ns
    for k in range(3):  # per instance: action_start, then the BuildRequest goes
        assert actions[k].start_ns < destroys[k].start_ns
        if k < 2:
            assert destroys[k].start_ns < actions[k + 1].start_ns
    assert named("db HostMapping.get_by_host")
    assert len(named("db BuildRequest.get_by_instance_uuid")) == 3  # the re-check
    assert named("db BuildRequest.get_by_instance_uuid")[-1].start_ns < creates[-1].start_ns


def test_deleted_while_scheduling_is_never_created_nor_built(tmp_path: Path) -> None:
    """The BuildRequest re-check: the user deletes the server while the scheduler is
    still choosing; the conductor finds no BuildRequest, gives the claimed resources
    back and neither creates the instance in a cell nor casts to a compute."""
    held, release = threading.Event(), threading.Event()

    def gate(hop: dict[str, Any]) -> None:
        if hop.get("method") == "select_destinations":
            held.set()
            release.wait(10)

    with traced_cloud(tmp_path) as (cloud, events):
        set_gate(gate)
        try:
            uuid = cloud.boot("gone")[0]["id"]
            assert held.wait(10)
            assert cloud.delete(uuid) == 204
        finally:
            release.set()
            set_gate(None)
        (api_cast,) = Spans(events).find("schedule_and_build_instances", "PRODUCER")
        wait_all_ended(events, api_cast.trace_id)
    spans = Spans(events)
    tid = api_cast.trace_id
    (recheck,) = spans.find("db BuildRequest.get_by_instance_uuid", trace_id=tid)
    assert recheck.status == "ERROR"  # gone
    assert spans.find("DELETE /allocations/{consumer_uuid}", trace_id=tid)
    assert not spans.find("db Instance.create", trace_id=tid)
    assert not spans.find("build_and_run_instance", trace_id=tid)


# ---- 6. start-up: the ping, the first heartbeat, the periodic tasks --------------------
def test_ping_is_the_plain_string_and_answers_the_service_name(tmp_path: Path) -> None:
    with traced_cloud(tmp_path) as (cloud, events):
        answer = BaseAPI("conductor", cloud._transport(), cloud.config).ping(
            get_admin_context(), "1.21 GigaWatts", timeout=5)
    assert answer == {"service": "conductor", "arg": "1.21 GigaWatts"}
    (ping, *_) = Spans(events).find("ping", "CLIENT", "nova-compute")
    env = json.loads(ping.attrs["bootflow.envelope"])
    assert env["args"] == {"arg": "1.21 GigaWatts"}
    assert env["version"] == "1.0" and env["namespace"] == "baseapi"


def test_first_heartbeat_after_five_seconds_periodic_tasks_fuzzy(tmp_path: Path) -> None:
    """report_interval 10 (Stein's): the first report comes after INITIAL_REPORTING_DELAY
    (5 s), not after 10. The periodic tasks start after a random 0..periodic_fuzzy_delay
    (here 1 s), not after the 100 s interval."""
    with traced_cloud(tmp_path, periodic_interval=100, periodic_fuzzy_delay=1) as (
            _cloud, events):
        time.sleep(7.5)
    spans = Spans(events)
    (join,) = spans.find("servicegroup.join", service="nova-compute")
    assert join.attrs["code.location"] == "nova/servicegroup/api.py:API.join"
    (report,) = spans.find("_report_state", service="nova-compute")  # the next at 15 s
    assert 4.8 < (report.start_ns - join.start_ns) / 1e9 < 7.0
    periodic = spans.find("periodic_tasks", service="nova-compute")
    assert periodic and (periodic[0].start_ns - join.start_ns) / 1e9 < 2.5


# ---- 8. client details ------------------------------------------------------------------
def test_call_without_timeout_waits_rpc_response_timeout(tmp_path: Path) -> None:
    with traced_cloud(tmp_path, rpc_response_timeout=1) as (cloud, events):
        client = BaseAPI("nobody-serves-this", cloud._transport(), cloud.config)
        started = time.monotonic()
        with pytest.raises(MessagingTimeout):
            client.ping(get_admin_context(), "x", timeout=None)
        waited = time.monotonic() - started
    assert 0.9 < waited < 5
    (ping,) = [s for s in Spans(events).find("ping", "CLIENT")
               if s.attrs["rpc.topic"] == "nobody-serves-this"]
    assert ping.attrs["rpc.timeout"] == 1


def test_network_allocated_in_background_and_allocations_read(tmp_path: Path) -> None:
    """_allocate_network returns at once; _allocate_network_async (POST /v2.0/ports) goes
    on beside the block-device step; the compute reads its own allocations from placement
    before it spawns."""
    with traced_cloud(tmp_path) as (cloud, events):
        uuid = cloud.boot("vm1")[0]["id"]
        cloud.wait_for_instances([uuid])
        time.sleep(0.3)
    spans = Spans(events)
    (start,) = spans.find("_allocate_network")
    (background,) = spans.find("_allocate_network_async")
    (ports,) = spans.find("POST /v2.0/ports")
    assert background.parent_id == start.span_id
    assert ports.parent_id == background.span_id
    # the POST is made by _allocate_network_async, which _allocate_network starts
    assert background.start_ns >= start.start_ns and ports.start_ns >= background.start_ns
    (resources,) = spans.find("_build_resources")
    (allocs,) = [s for s in spans.find("GET /allocations/{consumer_uuid}")
                 if s.parent_id == resources.span_id]
    (spawn,) = spans.find("driver.spawn")
    assert allocs.end_ns <= spawn.start_ns


def test_no_valid_host_creates_in_cell0_building_then_error() -> None:
    result = run_scenario("no-valid-host")
    assert result.passed
    spans = Spans(result.events)
    (uuid,) = [r["uuid"] for r in result.instances["too-big"]]
    states = spans.states(uuid)
    assert states[-2:] == [("building", "scheduling"), ("error", None)]
    (bury,) = spans.find("_bury_in_cell0")
    (create,) = [s for s in spans.find("db Instance.create") if s.parent_id == bury.span_id]
    (notify,) = spans.find("set_vm_state_and_notify")
    assert create.start_ns < notify.start_ns and notify.parent_id == bury.span_id
    assert len(spans.find("add_instance_fault_from_exc")) == 1


# ---- 9. every code.location names a function or class of nova 19.0.0 -------------------
def _bad_locations(events: list[dict[str, Any]]) -> set[str]:
    names = {n for f in NAMES_FILES for n in f.read_text().split()}
    return {loc for e in events if isinstance(loc := (e.get("attrs") or {}).get(
        "code.location"), str) and loc not in names}


def test_boot_recording_with_startup_names_only_stein_code(tmp_path: Path) -> None:
    with traced_cloud(tmp_path, computes=("compute1", "compute2")) as (cloud, events):
        uuid = cloud.boot("vm1")[0]["id"]
        cloud.wait_for_instances([uuid])
        assert cloud.reboot(uuid, "HARD") == 202
        cloud.wait_for_instances([uuid])
        assert cloud.delete(uuid) == 204
        cloud.wait_for_instances([uuid], states=("deleted",))
    starts = {e["name"] for e in events if e["type"] == "span_start"}
    assert {"Service.start", "rpcserver.start", "servicegroup.join"} <= starts  # --all
    located = [e for e in events if (e.get("attrs") or {}).get("code.location")]
    assert len(located) > 100
    assert _bad_locations(events) == set()
    # a list query goes out under the list class's name, as Stein's InstanceList
    sent = [json.loads(s.attrs["bootflow.envelope"])["args"]
            for s in Spans(events).find("object_class_action_versions", "CLIENT")]
    by_host = [a for a in sent if a["objmethod"] == "get_by_host"]
    assert by_host and all(a["objname"] == "InstanceList"
                           and a["object_versions"] == {"InstanceList": "2.4"}
                           for a in by_host)


@pytest.mark.parametrize("name", ["reschedule", "reschedule-exhausted", "no-valid-host",
                                  "call-timeout", "multi-create", "rolling-upgrade"])
def test_failure_recordings_name_only_stein_code(name: str) -> None:
    result = run_scenario(name)
    assert result.passed
    assert _bad_locations(result.events) == set()


def test_the_walk_would_catch_an_invented_name() -> None:
    assert _bad_locations([{"attrs": {"code.location": "nova/service.py:Service.init_host"}},
                           {"attrs": {"code.location": "nova/service.py:Service.start"}},
                           {"attrs": {"code.location": "nova/service.py"}}]) == {
        "nova/service.py:Service.init_host"}


# ---- 11. notifications -----------------------------------------------------------------
def test_boot_sends_versioned_and_unversioned_notifications(tmp_path: Path) -> None:
    with traced_cloud(tmp_path) as (cloud, events):
        uuid = cloud.boot("vm1")[0]["id"]
        cloud.wait_for_instances([uuid])
        time.sleep(0.3)
    spans = Spans(events)
    notes = [s for s in spans.snapshot.spans.values() if s.attrs.get("rpc.style") == "notify"]
    by_event = {(s.name, s.attrs["messaging.rabbitmq.destination.routing_key"]): s
                for s in notes}
    for event in ("instance.create.start", "instance.create.end"):
        note = by_event[(event, "versioned_notifications.info")]
        assert note.kind == "PRODUCER" and note.service == "nova-compute"
        assert note.attrs["messaging.destination.name"] == "nova"
        assert note.attrs["bootflow.hop"] == "notification"
        assert not [s for s in spans.snapshot.spans.values() if s.parent_id == note.span_id]
        msg = json.loads(note.attrs["bootflow.envelope"])
        assert {"message_id", "publisher_id", "event_type", "priority", "payload",
                "timestamp"} <= set(msg)
        assert (msg["event_type"], msg["priority"], msg["publisher_id"]) == (
            event, "INFO", "nova-compute:compute1")
        assert msg["payload"]["nova_object.name"] == "InstanceCreatePayload"
        assert msg["payload"]["nova_object.data"]["uuid"] == uuid
    for event in ("compute.instance.create.start", "compute.instance.create.end"):
        msg = json.loads(by_event[(event, "notifications.info")].attrs["bootflow.envelope"])
        assert msg["publisher_id"] == "compute.compute1" and msg["payload"]["instance_id"] == uuid
    # every Instance.save sends instance.update (notify_on_state_change =
    # vm_and_task_state, devstack's); the save runs in the conductor, so its host
    updates = [json.loads(s.attrs["bootflow.envelope"]) for s in _by_start(notes)
               if s.name == "instance.update"
               and s.attrs["rpc.topic"] == "versioned_notifications"]
    moves = [(m["publisher_id"], m["payload"]["nova_object.data"]["state_update"][
        "nova_object.data"]) for m in updates]
    assert moves[0] == ("nova-conductor:conductor", {
        "old_state": "building", "state": "building", "old_task_state": "scheduling",
        "new_task_state": "scheduling"})  # send_update_with_states, the create
    assert ("nova-compute:conductor", {"old_state": "building", "state": "active",
                                       "old_task_state": "spawning",
                                       "new_task_state": None}) in moves


def test_narration_locations_name_stein_code() -> None:
    """The hop pane's "location" lines too (oslo.messaging's own are left aside)."""
    from tracer.narration import load

    names = {n for f in NAMES_FILES for n in f.read_text().split()}
    shown = [part.strip() for entry in load().entries.values()
             for part in entry.location.split("->") if part.strip().startswith("nova/")]
    assert len(shown) > 20
    assert [loc for loc in shown if loc not in names] == []


# ---- 7. compute init_host tells the schedulers what it runs ----------------------------
def test_compute_start_up_sends_update_instance_info_with_an_instance_list(
        tmp_path: Path) -> None:
    """init_host loads the host's instances and, in its ``finally``, fans
    ``update_instance_info`` out to every scheduler, even with none; the payload is an
    InstanceList (a build's own update carries one too)."""
    with traced_cloud(tmp_path) as (cloud, events):
        uuid = cloud.boot("vm1")[0]["id"]
        cloud.wait_for_instances([uuid])
        time.sleep(0.3)
    spans = Spans(events)
    (start,) = spans.find("start nova-compute")
    fanouts = sorted(spans.find("update_instance_info", "PRODUCER"), key=lambda s: s.start_ns)
    assert fanouts[0].trace_id == start.trace_id          # in the start-up trace
    assert fanouts[0].attrs["rpc.style"] == "fanout"
    for fanout in fanouts:
        sent = json.loads(fanout.attrs["bootflow.envelope"])["args"]["instance_info"]
        assert sent["nova_object.name"] == "InstanceList"
        assert sent["nova_object.version"] == "2.4"
    first = json.loads(fanouts[0].attrs["bootflow.envelope"])["args"]["instance_info"]
    assert first["nova_object.data"]["objects"] == []     # nothing ran here yet
    last = json.loads(fanouts[-1].attrs["bootflow.envelope"])["args"]["instance_info"]
    assert [o["nova_object.data"]["uuid"] for o in last["nova_object.data"]["objects"]] == [
        uuid]
