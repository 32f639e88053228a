"""A 10 s broker outage in the middle of a 20-instance multi-create loses nothing.

What a broker restart (``rabbitmqctl stop_app`` / ``start_app``) does to a deployment,
done to this test's deployment only (the RabbitMQ here is shared by other engineers'
tests, so it is never stopped): every service, the trace collector included, reaches
the broker through a ``Forwarder`` of ours; the outage cuts every connection through it
and refuses new ones for 10 s, and meanwhile the test's vhost is deleted and created
again, so that, as after a restart, every transient queue and exchange is gone and the
first to reconnect finds an empty broker. A boot is also requested during the outage
(the API's cast retries until the broker is back), and the conductor is the last to
reconnect, 3 s after the others (stopped meanwhile), so the API's retried casts reach
the broker before the conductor's queue is back; the trace recorder is back 8 s after
the broker, when the services have resent their spooled events and sent most of the
builds' own. Then: no instance stays in BUILD
(nor went to ERROR: nothing was short of room, so an ERROR is a lost message too), and
every finished build's trace has all of its api, conductor, scheduler and compute
spans, none half-recorded.
"""

from __future__ import annotations

import collections
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.boot_flow import Spans
from support.rabbit import HOST, PORT, own_vhost, rabbitmqctl

from tracer.cloud import processes as deploy
from tracer.cloud.api_client import APIClient
from tracer.cloud.netfault import Forwarder
from tracer.cloud.processes import DeployError, Deployment, free_port
from tracer.collector import Collector

OUTAGE_S = 10.0
SETTLE_S = 120.0  # after the broker is back, no instance may still be building
COUNT = 20
DURING = 3  # single boots requested while the broker is away
LATE_S = 3.0  # the conductor reconnects this long after the others
RECORDER_LATE_S = 8.0  # and the trace recorder this long after them


@pytest.fixture
def outage_cloud(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A process deployment (2 computes, --virt test) on a vhost of its own, reaching the
    broker through a forwarder, plus a collector recording its traces (through it too)."""
    try:
        deploy.check_rabbit(f"rabbit://guest:guest@{HOST}:{PORT}/")
    except DeployError as exc:
        pytest.fail(str(exc), pytrace=False)
    tag = uuid.uuid4().hex[:8]
    with own_vhost("bf-outage") as direct:
        vhost = direct.rsplit("/", 1)[1]
        fwd = Forwarder((HOST, PORT))
        url = fwd.url(direct)
        trace_x = f"bf-outage-{tag}.trace"
        events: list[dict[str, Any]] = []
        recorder_fwd = Forwarder((HOST, PORT))  # the recorder's own path, back late
        collector = Collector(recorder_fwd.url(direct), events.append, exchange=trace_x)
        d = Deployment(tmp_path / "state")
        try:
            collector.start()
            cfg = d.make_config(transport_url=url, virt_type="test", api_port=free_port(),
                                placement_port=free_port(),
                                # 23 instances of one project: past Stein's default quotas
                                quota_instances=-1, quota_cores=-1, quota_ram=-1,
                                control_exchange=f"bf-outage-{tag}", report_interval=2,
                                # Stein's: a 10 s outage must not make a compute look
                                # down (its heartbeats go through the conductor)
                                service_down_time=60, periodic_interval=5)
            d.up(cfg, computes=2, trace_exchange=trace_x, timeout=90)
            yield {"deployment": d, "forwarder": fwd, "vhost": vhost, "events": events,
                   "collector": collector, "recorder_forwarder": recorder_fwd}
        finally:
            if d.meta():
                d.down(timeout=10)
            collector.stop()
            fwd.close()
            recorder_fwd.close()


def _restart_vhost(fwd: Forwarder, vhost: str, late_pid: int,
                   late_fwd: Forwarder) -> tuple[float, float]:
    """Cut the deployment off the broker for OUTAGE_S seconds and empty its vhost, as a
    broker restart does; returns (outage length, monotonic time the broker was back).

    The process *late_pid* (the conductor) is stopped meanwhile and let go LATE_S after
    the broker is back: the last to reconnect, as a busy service is, so that the casts
    the API retried during the outage reach the broker before its queue is declared
    again (what the finding saw, here every time instead of by chance). The recorder's
    path *late_fwd* comes back RECORDER_LATE_S after the broker, when the conductor has
    sent the builds on: the services resend their spooled trace events, and emit those
    of the builds, while its queue is not there again."""
    t0 = time.monotonic()
    fwd.cut()
    late_fwd.cut()
    os.kill(late_pid, signal.SIGSTOP)
    try:
        rabbitmqctl("delete_vhost", vhost)  # transient queues, exchanges, bindings: gone
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - t0)))
        fwd.restore()
        back = time.monotonic()
        time.sleep(LATE_S)
        os.kill(late_pid, signal.SIGCONT)
        time.sleep(RECORDER_LATE_S - LATE_S)
    finally:
        os.kill(late_pid, signal.SIGCONT)
        late_fwd.restore()
    return back - t0, back


def _servers(api: APIClient, reservation_ids: list[str]) -> list[dict[str, Any]]:
    out = []
    for rid in reservation_ids:
        code, body = api.request("GET", f"/v2.1/servers/detail?reservation_id={rid}")
        assert code == 200, body
        out += body["servers"]
    return out


class _Recorded:
    """What the collector got: the raw events, and the model's spans by id."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.spans = Spans(events)
        self.by_id = self.spans.snapshot.spans


def _trace_gaps(rec: _Recorded, trace_id: str) -> list[str]:
    """What is missing from one trace: a span without its start or end, a parent never
    seen. Empty for a trace recorded whole."""
    gaps = []
    started = {s.span_id: s for s in rec.spans.find(trace_id=trace_id)}
    for s in started.values():
        if s.end_ns is None:
            gaps.append(f"span {s.name} ({s.service}) never ended")
        if s.parent_id and s.parent_id not in rec.by_id:
            gaps.append(f"span {s.name} ({s.service}): parent {s.parent_id} "
                        "never recorded")
    ended = {e["span_id"] for e in rec.events
             if e["type"] == "span_end" and e["trace_id"] == trace_id}
    gaps += [f"span {sid} ended but never started" for sid in sorted(ended - started.keys())]
    return gaps


def _build_trace_problems(rec: _Recorded, instance_uuid: str) -> list[str]:
    """For one ACTIVE instance: the compute's 'active' annotation, the span it was made
    in, its ancestors up to the API's request span, the scheduler's span in the same
    trace, and nothing missing from that trace."""
    notes = [e for e in rec.events if e["type"] == "annotate"
             and e["name"] == "instance.state"
             and e["attrs"].get("instance_uuid") == instance_uuid
             and e["attrs"].get("vm_state") == "active"]
    if not notes:
        return [f"{instance_uuid}: no 'active' state annotation recorded"]
    note = notes[0]
    trace_id = note["trace_id"]
    chain, sid = [], note["span_id"]
    while sid:
        span = rec.by_id.get(sid)
        if span is None:
            return [f"{instance_uuid}: span {sid} of its trace never recorded"]
        chain.append(span)
        sid = span.parent_id
    services = {s.service for s in chain}
    problems = [f"{instance_uuid}: no {svc} span above the compute's"
                for svc in ("nova-compute", "nova-conductor", "nova-api")
                if svc not in services]
    if not rec.spans.find(service="nova-scheduler", trace_id=trace_id):
        problems.append(f"{instance_uuid}: no nova-scheduler span in trace {trace_id}")
    return problems + [f"{instance_uuid}: {g}" for g in _trace_gaps(rec, trace_id)]


def test_ten_second_outage_mid_multi_create_loses_nothing(outage_cloud: dict[str, Any]
                                                          ) -> None:
    d: Deployment = outage_cloud["deployment"]
    fwd: Forwarder = outage_cloud["forwarder"]
    events: list[dict[str, Any]] = outage_cloud["events"]
    api = APIClient(d.endpoint())
    # 128 MB: 20 of them fit on the two test hosts (3 GB each)
    flavor = {"flavorRef": "bootflow.guest", "imageRef": "bootflow-guest"}

    code, body = api.request("POST", "/v2.1/servers", {"server": {
        "name": "outage", "min_count": COUNT, "max_count": COUNT,
        "return_reservation_id": True, **flavor}})
    assert code == 202, body
    reservations = [body["reservation_id"]]
    # The outage starts as the API answers: the conductor, scheduler and computes are
    # at work on the 20 builds (they take about a second here). Boots asked for while
    # the broker is away make the API's own cast wait for it and race the conductor's
    # queue coming back.
    replies: list[tuple[int, Any]] = []

    def boot_during_outage(n: int) -> None:
        time.sleep(2.0 + 2.0 * n)
        replies.append(api.request("POST", "/v2.1/servers", {"server": {
            "name": f"during-outage-{n}", "return_reservation_id": True, **flavor}}))

    booters = [threading.Thread(target=boot_during_outage, args=(n,)) for n in range(DURING)]
    for b in booters:
        b.start()
    at_cut = collections.Counter(str(s.get("OS-EXT-STS:task_state") or s["status"])
                                 for s in _servers(api, reservations))
    conductor = d.pid_of(deploy.Proc("nova-conductor", "conductor"))
    assert conductor is not None
    outage_s, back = _restart_vhost(fwd, outage_cloud["vhost"], conductor,
                                    outage_cloud["recorder_forwarder"])
    for b in booters:
        b.join(90)
    assert [code for code, _ in replies] == [202] * DURING, replies
    reservations += [body["reservation_id"] for _, body in replies]

    while True:
        servers = _servers(api, reservations)
        building = [s for s in servers if s["status"] == "BUILD"]
        if not building or time.monotonic() - back > SETTLE_S:
            break
        time.sleep(1.0)
    settled_s = time.monotonic() - back
    active = [s for s in servers if s["status"] == "ACTIVE"]
    print(f"\nthe 20 at the cut: {dict(at_cut)}")
    print(f"outage {outage_s:.1f}s; {len(servers)} instances: {len(active)} ACTIVE, "
          f"{len(servers) - len(active) - len(building)} ERROR, {len(building)} BUILD "
          f"when checked, {settled_s:.1f}s after the broker returned (the conductor "
          f"{LATE_S:g}s, the recorder {RECORDER_LATE_S:g}s after it)")
    faults = collections.Counter(str((s.get("fault") or {}).get("message"))
                                 for s in servers if s["status"] == "ERROR")
    for message, n in faults.items():
        print(f"  {n} ERROR: {message}")
    assert len(servers) == COUNT + DURING
    assert building == [], (
        f"{len(building)} of {len(servers)} instances still BUILD {SETTLE_S:.0f}s after "
        "the broker returned: " + ", ".join(
            f"{s['id']} {s.get('OS-EXT-STS:task_state')}" for s in building))
    # nothing was refused for lack of room (128 MB guests), so an ERROR here is a
    # message lost to the outage as well (a reply that went nowhere: MessagingTimeout)
    assert faults == {}, f"instances failed by the outage: {dict(faults)}"

    # every finished build's trace arrived whole (spooled events are resent)
    problems: list[str] = []
    deadline = time.monotonic() + 30
    while True:
        rec = _Recorded(list(events))
        problems = [p for s in active for p in _build_trace_problems(rec, s["id"])]
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    lost = len({p.split(":")[0] for p in problems})
    print(f"traces: {len(active) - lost} of {len(active)} finished builds recorded whole, "
          f"{len(rec.events)} events collected")
    assert problems == [], f"{lost} finished builds with trace events lost:\n" + "\n".join(
        problems[:20])
