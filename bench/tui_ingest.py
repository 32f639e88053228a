"""How fast the reducer and the TUI take in events, open a big recording, draw a big trace.

Goals (issues 5 and 14), not tests: live ingest >= 5,000 events/s with none dropped; a
100,000-event recording's first screen (``bootflow replay`` opens it on the boot's start)
in < 3 s from the file; a frame of the waterfall with 5,000 spans in < 16 ms. Run it and
read the table: each number has its goal beside it, and a CPU reference and the load
average measured in the same run say how busy the machine was (the numbers scale with
it). It also holds the synthetic Stein boot generator used to write
``tests/fixtures/boot_one.jsonl`` (``--write-fixture``); the hop shapes and attributes
follow ARCHITECTURE.md and WIRE.md.

    .venv/bin/python bench/tui_ingest.py [--events 100000] [--spans 5000] [--write-fixture]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

T0_NS = 1_764_150_000_000_000_000
REPLY_Q = "reply_5c0e6ad7b4c34d6bbf5b1e4b3c9b0a11"


class Boot:
    """Writes the events of one boot as the instrumented services would emit them."""

    def __init__(self, n: int, t0_ns: int, compute: str = "compute1") -> None:
        self.trace_id = f"{0x4bf92f3577b34da6a3ce929d00000000 + n:032x}"
        self.uuid = f"8f2c1d6e-3b4a-4c5d-9e8f-{n:012x}"
        self.now = t0_ns
        self.compute = compute
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(n * 1000 + 1)
        self._msg = itertools.count(n * 1000 + 1)

    def tick(self, ms: float) -> None:
        self.now += int(ms * 1e6)

    def start(self, name: str, svc: str, host: str, kind: str, parent: str | None,
              attrs: dict[str, Any] | None = None, link: str | None = None) -> str:
        sid = f"{next(self._ids):016x}"
        self.events.append({
            "type": "span_start", "trace_id": self.trace_id, "span_id": sid,
            "parent_id": parent, "name": name, "service": svc, "host": host, "kind": kind,
            "ts_ns": self.now, "attrs": attrs or {},
            "links": [{"trace_id": self.trace_id, "span_id": link}] if link else []})
        return sid

    def end(self, sid: str, status: str = "OK", **attrs: Any) -> None:
        self.events.append({"type": "span_end", "trace_id": self.trace_id, "span_id": sid,
                            "ts_ns": self.now, "status": status, "attrs": attrs})

    def note(self, sid: str | None, name: str, svc: str, host: str, attrs: dict[str, Any]) -> None:
        self.events.append({"type": "annotate", "trace_id": self.trace_id if sid else None,
                            "span_id": sid, "name": name, "service": svc, "host": host,
                            "ts_ns": self.now, "attrs": attrs})

    def state(self, sid: str, svc: str, host: str, vm: str, task: str | None,
              on: str | None) -> None:
        self.note(sid, "instance.state", svc, host, {
            "instance_uuid": self.uuid, "vm_state": vm, "task_state": task, "host": on,
            "display_name": "vm1"})

    def rpc(self, method: str, style: str, version: str, ns: str | None, topic: str,
            server: str | None, src: tuple[str, str], parent: str | None, where: str,
            args: dict[str, Any]) -> str:
        """Open the sending span of one message (CLIENT for call, PRODUCER otherwise)."""
        msg_id = f"{next(self._msg):032x}"
        fanout = style == "fanout"
        exchange = f"{topic}_fanout" if fanout else "nova"
        rkey = topic if fanout or not server else f"{topic}.{server}"
        env: dict[str, Any] = {"method": method, "args": args, "version": version,
                               "_context_request_id": "req-" + self.uuid[:8],
                               "_context_auth_token": "***", "_context_user_id": "demo",
                               "_context_project_id": "demo", "_unique_id": msg_id}
        if ns:
            env["namespace"] = ns
        attrs: dict[str, Any] = {
            "rpc.system": "oslo_messaging", "rpc.method": method, "rpc.style": style,
            "rpc.version": version, "rpc.namespace": ns, "rpc.topic": topic,
            "rpc.server": server, "messaging.destination.name": exchange,
            "messaging.rabbitmq.destination.routing_key": rkey,
            "messaging.message.id": msg_id, "code.location": where}
        if style == "call":
            timeout = 1800 if method == "select_destinations" else 60
            env.update({"_msg_id": msg_id, "_reply_q": REPLY_Q, "_timeout": timeout})
            attrs.update({"rpc.reply_q": REPLY_Q, "rpc.timeout": timeout})
        body = json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(env)})
        attrs["messaging.message.body.size"] = len(body)
        attrs["bootflow.envelope"] = json.dumps(env)
        kind = "CLIENT" if style == "call" else "PRODUCER"
        return self.start(method, src[0], src[1], kind, parent, attrs)

    def serve(self, client: str, method: str, style: str, dst: tuple[str, str],
              where: str) -> str:
        kind = "SERVER" if style == "call" else "CONSUMER"
        return self.start(method, dst[0], dst[1], kind, client,
                          {"code.location": where, "rpc.method": method},
                          link=None if style == "call" else client)

    def object_call(self, parent: str, method: str = "object_action",
                    what: str = "save") -> None:
        comp = ("nova-compute", self.compute)
        c = self.rpc(method, "call", "3.0", None, "conductor", None, comp, parent,
                     "nova/conductor/rpcapi.py:ConductorAPI." + method,
                     {"objmethod": what, "objname": "Instance"})
        self.tick(0.4)
        s = self.serve(c, method, "call", ("nova-conductor", "conductor"),
                       "nova/conductor/manager.py:ConductorManager." + method)
        self.tick(1.2)
        self.end(s)
        self.tick(0.3)
        self.end(c)


def boot(n: int = 0, t0_ns: int = T0_NS, compute: str = "compute1") -> list[dict[str, Any]]:
    """One Stein boot (WIRE.md hops 1-7) as span events, in emission order."""
    b = Boot(n, t0_ns, compute)
    api, cond = ("nova-api", "api"), ("nova-conductor", "conductor")
    sched, comp = ("nova-scheduler", "scheduler"), ("nova-compute", compute)
    http = b.start("POST /v2.1/servers", *api, "HTTP", None, {
        "http.request.method": "POST", "http.route": "/v2.1/servers",
        "code.location": "nova/api/openstack/compute/servers.py:ServersController.create"})
    b.tick(3)
    b.state(http, *api, "building", "scheduling", None)
    b.tick(1)
    p = b.rpc("schedule_and_build_instances", "cast", "1.17", "compute_task", "conductor",
              None, api, http, "nova/conductor/rpcapi.py:ComputeTaskAPI."
              "schedule_and_build_instances", {"build_requests": ["BuildRequest"],
                                               "tags": None, "admin_password": "***"})
    b.tick(0.3)
    b.end(p)
    b.tick(0.5)
    b.end(http, "OK", **{"http.response.status_code": 202})
    b.tick(1.5)
    c1 = b.serve(p, "schedule_and_build_instances", "cast", cond,
                 "nova/conductor/manager.py:ComputeTaskManager.schedule_and_build_instances")
    b.tick(2)
    sd = b.rpc("select_destinations", "call", "4.5", None, "scheduler", None, cond, c1,
               "nova/scheduler/rpcapi.py:SchedulerAPI.select_destinations",
               {"spec_obj": "RequestSpec", "instance_uuids": [b.uuid],
                "return_objects": True, "return_alternates": True})
    b.tick(1.2)
    s1 = b.serve(sd, "select_destinations", "call", sched,
                 "nova/scheduler/manager.py:SchedulerManager.select_destinations")
    b.tick(1)
    ac = b.start("GET /allocation_candidates", *sched, "CLIENT", s1, {
        "http.method": "GET", "http.route": "/allocation_candidates",
        "peer.service": "placement",
        "code.location": "nova/scheduler/client/report.py:"
                         "SchedulerReportClient.get_allocation_candidates"})
    b.tick(8)
    b.end(ac)
    for f in ("RetryFilter", "AvailabilityZoneFilter", "ComputeFilter",
              "ComputeCapabilitiesFilter", "ImagePropertiesFilter",
              "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter"):
        fs = b.start(f"filter.{f}", *sched, "INTERNAL", s1, {
            "code.location": f"nova/scheduler/filters:{f}.host_passes", "hosts.in": 2,
            "hosts.out": 2})
        b.tick(0.2)
        b.end(fs)
    ws = b.start("weigh", *sched, "INTERNAL", s1,
                 {"code.location": "nova/scheduler/filter_scheduler.py:"
                                   "FilterScheduler._get_sorted_hosts"})
    b.tick(0.5)
    b.end(ws)
    cl = b.start("PUT /allocations/" + b.uuid, *sched, "CLIENT", s1, {
        "http.method": "PUT", "http.route": "/allocations/{consumer_uuid}",
        "peer.service": "placement",
        "code.location": "nova/scheduler/client/report.py:SchedulerReportClient.claim_resources"})
    b.tick(5)
    b.end(cl)
    b.tick(0.5)
    b.end(s1)
    b.tick(1)
    b.end(sd)
    b.tick(3)
    bb = b.rpc("build_and_run_instance", "cast", "5.0", None, "compute", compute, cond, c1,
               "nova/compute/rpcapi.py:ComputeAPI.build_and_run_instance",
               {"instance": "Instance", "host_list": [compute], "admin_password": "***"})
    b.tick(0.3)
    b.end(bb)
    b.tick(0.4)
    b.end(c1)
    b.tick(1.5)
    c2 = b.serve(bb, "build_and_run_instance", "cast", comp,
                 "nova/compute/manager.py:ComputeManager.build_and_run_instance")
    b.tick(0.5)
    lk = b.start("_locked_do_build_and_run_instance", *comp, "INTERNAL", c2,
                 {"code.location": "nova/compute/manager.py:"
                                   "ComputeManager._locked_do_build_and_run_instance"})
    b.tick(0.5)
    b.object_call(lk)
    b.state(lk, *comp, "building", None, compute)
    for task in ("networking", "block_device_mapping", "spawning"):
        b.tick(5)
        b.object_call(lk)
        b.state(lk, *comp, "building", task, compute)
    sp = b.start("driver.spawn", *comp, "INTERNAL", lk,
                 {"code.location": "nova/virt/libvirt/driver.py:LibvirtDriver.spawn"})
    for step in ("driver.create_image", "driver.get_guest_xml",
                 "driver.create_domain_and_network", "driver.wait_for_running"):
        ds = b.start(step, *comp, "INTERNAL", sp,
                     {"code.location": "nova/virt/libvirt/driver.py:LibvirtDriver._"
                      + step.split(".", 1)[1]})
        b.tick(40 if "create_domain" in step else 12)
        b.end(ds)
    b.end(sp)
    b.tick(1)
    b.object_call(lk)
    b.state(lk, *comp, "active", None, compute)
    b.tick(1)
    fo = b.rpc("update_instance_info", "fanout", "4.2", None, "scheduler", None, comp, lk,
               "nova/scheduler/rpcapi.py:SchedulerAPI.update_instance_info",
               {"host_name": compute, "instance_info": "InstanceList"})
    b.tick(0.2)
    b.end(fo)
    b.tick(0.8)
    fs = b.serve(fo, "update_instance_info", "fanout", sched,
                 "nova/scheduler/manager.py:SchedulerManager.update_instance_info")
    b.tick(0.6)
    b.end(fs)
    b.end(lk)
    b.tick(0.2)
    b.end(c2)
    return b.events


def heartbeats(t0_ns: int, t1_ns: int, computes: tuple[str, ...] = ("compute1",)
               ) -> list[dict[str, Any]]:
    """servicegroup reports (every 10 s) of each service between t0 and t1."""
    who = [("nova-conductor", "conductor", "conductor"), ("nova-scheduler", "scheduler",
                                                           "scheduler")]
    who += [("nova-compute", c, "compute") for c in computes]
    out = []
    t, count = t0_ns, 1
    while t <= t1_ns:
        for binary, host, topic in who:
            out.append({"type": "annotate", "trace_id": None, "span_id": None,
                        "name": "service.report", "service": binary, "host": host,
                        "ts_ns": t, "attrs": {"binary": binary, "host": host, "topic": topic,
                                              "report_count": count}})
        t += 10_000_000_000
        count += 1
    return out


def boot_one() -> list[dict[str, Any]]:
    """The fixture: heartbeats, then one boot; sorted as a collector would receive them."""
    events = heartbeats(T0_NS - 1_000_000, T0_NS) + boot(0, T0_NS)
    events += heartbeats(events[-1]["ts_ns"] + 1, events[-1]["ts_ns"] + 1)
    return events


def many(n_events: int) -> list[dict[str, Any]]:
    """About *n_events* events: boots on alternating computes, 1 s apart."""
    out: list[dict[str, Any]] = []
    i = 0
    while len(out) < n_events:
        out += boot(i + 1, T0_NS + i * 1_000_000_000, f"compute{i % 3 + 1}")
        i += 1
    return out[:n_events]


def header() -> dict[str, Any]:
    return {"format": "bootflow-trace", "version": 1, "created": "2026-11-26T10:00:00+00:00",
            "source": "synthetic", "generator": "bench/tui_ingest.py"}


def write(path: Path, events: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(header()) + "\n")
        for ev in events:
            fh.write(json.dumps(ev, separators=(",", ":")) + "\n")


# -- the benchmark --------------------------------------------------------------------------


def bench_reducer(events: list[dict[str, Any]]) -> tuple[float, float]:
    from tracer.model import TraceState

    state = TraceState()
    t = time.perf_counter()
    for i, ev in enumerate(events):
        state.feed(ev)
        if i % 250 == 0:
            state.snapshot()  # a live view takes ~20 snapshots/s; be pessimistic
    state.snapshot()
    dt = time.perf_counter() - t
    return len(events) / dt, dt


async def _bench_app_live(events: list[dict[str, Any]], rate: int) -> tuple[float, int, float]:
    """Push events from a thread at *rate*/s into the app; measure ingest and lag."""
    import threading

    from tracer.tui.app import BootflowApp

    class Pusher:
        def __init__(self) -> None:
            self.thread: threading.Thread | None = None

        def start(self, on_event: Any) -> None:
            def run() -> None:
                t0 = time.perf_counter()
                for i, ev in enumerate(events):
                    due = t0 + i / rate
                    delay = due - time.perf_counter()
                    if delay > 0.002:
                        time.sleep(delay)
                    on_event(ev)
            self.thread = threading.Thread(target=run, daemon=True)
            self.thread.start()

        def stop(self) -> None:
            pass

    app = BootflowApp(Pusher(), mode="live")
    t = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        while app.ingested < len(events):
            await pilot.pause(0.05)
            if time.perf_counter() - t > 120:
                break
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        dt = time.perf_counter() - t
        return app.ingested / dt, app.state_seq, dt


async def _bench_open(path: Path, at_end: bool) -> tuple[float, float]:
    """(seconds to read + validate the file, seconds from events to the first picture).

    ``at_end``: open on the final picture (every event fed) instead of position 0.
    """
    from tracer.tui.app import BootflowApp
    from tracer.tui.sources import ReplaySource

    t = time.perf_counter()
    source = ReplaySource.from_file(str(path), start_at_end=at_end)
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    app = BootflowApp(source, mode="replay")
    target = len(source.events) if at_end else 0
    async with app.run_test(size=(120, 40)) as pilot:
        while app.state_seq < target or app.frames < 1:  # frames: pictures from the feed
            await pilot.pause(0.01)
        await pilot.pause()
        total = time.perf_counter() - t
        if at_end:
            app.save_screenshot(str(Path("/tmp") / "bootflow_bench_first_screen.svg"))
        return read_s, total


def one_big_trace(n_spans: int) -> list[dict[str, Any]]:
    """One trace of about *n_spans* spans: boots one after another under one request
    (what a waterfall of a long scenario holds)."""
    tid, root = "ab" * 16, "f" * 16
    events: list[dict[str, Any]] = [{
        "type": "span_start", "trace_id": tid, "span_id": root, "parent_id": None,
        "name": "POST /v2.1/servers", "service": "nova-api", "host": "api", "kind": "HTTP",
        "ts_ns": T0_NS, "attrs": {}, "links": []}]
    spans, i = 1, 0
    while spans < n_spans:
        for ev in boot(i + 1, T0_NS + i * 1_000_000, f"compute{i % 3 + 1}"):
            ev = dict(ev, trace_id=tid)
            if ev["type"] == "span_start":
                spans += 1
                ev["parent_id"] = ev["parent_id"] or root
                ev["links"] = [dict(lk, trace_id=tid) for lk in ev["links"]]
            events.append(ev)
        i += 1
    events.append({"type": "span_end", "trace_id": tid, "span_id": root,
                   "ts_ns": events[-1]["ts_ns"] + 1, "status": "OK", "attrs": {}})
    return events


async def _bench_waterfall(n_spans: int, size: tuple[int, int] = (120, 40),
                           repeat: int = 30) -> tuple[int, float, float]:
    """(spans, ms per frame when the trace is unchanged, ms per frame when it changed).

    A frame: the new picture handed to the timeline (``snapshot = …``, as the screen
    does 20 times a second) and every visible row drawn (``render_line``). "Changed":
    two pictures one span end apart, alternately, as while a live trace grows. Medians.
    """
    from textual.app import App, ComposeResult

    from tracer.model import TraceState
    from tracer.tui.timeline import Timeline

    events = one_big_trace(n_spans)
    state = TraceState()
    for ev in events[:-1]:
        state.feed(ev)
    before = state.snapshot()
    state.feed(events[-1])
    after = state.snapshot()
    trace_id = events[0]["trace_id"]

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield Timeline()

    app = One()
    async with app.run_test(size=size) as pilot:
        view = app.query_one(Timeline)
        view.trace_id = trace_id
        view.snapshot = after
        await pilot.pause()

        def frame(snap: Any) -> float:
            t = time.perf_counter()
            view.snapshot = snap
            for y in range(view.size.height):
                view.render_line(y)
            return (time.perf_counter() - t) * 1e3

        same = statistics.median(frame(after) for _ in range(repeat))
        changed = statistics.median(frame(before if i % 2 else after) for i in range(repeat))
        return len(after.trace_spans(trace_id)), same, changed


def reference_ms() -> float:
    """A fixed pure-Python loop (1M-step generator sum), best of 5: how fast this
    machine runs Python now. Compare runs by it, not by the calendar."""
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        sum(i * i for i in range(1_000_000))
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--spans", type=int, default=5_000,
                        help="spans in the one trace of the waterfall frame")
    parser.add_argument("--rate", type=int, default=20_000,
                        help="events/s pushed into the live app")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    parser.add_argument("--write-fixture", action="store_true",
                        help="write tests/fixtures/boot_one.jsonl and boot_many.jsonl")
    args = parser.parse_args(argv)
    if args.write_fixture:
        write(ROOT / "tests/fixtures/boot_one.jsonl", boot_one())
        write(ROOT / "tests/fixtures/boot_three.jsonl",
              heartbeats(T0_NS - 1, T0_NS) + many(3 * len(boot(0))))
        return 0
    from rich.console import Console
    from rich.table import Table

    load_before = os.getloadavg()
    ref_before = reference_ms()
    events = many(args.events)
    rate, dt = bench_reducer(events)
    pushed = args.rate * 2
    live_rate, seq, live_dt = asyncio.run(_bench_app_live(events[:pushed], args.rate))
    path = Path("/tmp/bootflow_bench_100k.jsonl")
    write(path, events)
    read_s, first_s = asyncio.run(_bench_open(path, at_end=False))
    read_end_s, end_s = asyncio.run(_bench_open(path, at_end=True))
    n_spans, frame_same, frame_changed = asyncio.run(_bench_waterfall(args.spans))
    ref_after = reference_ms()
    load_after = os.getloadavg()

    table = Table(title=f"bootflow TUI ingest ({len(events):,} events)")
    table.add_column("measure", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("goal", justify="right", no_wrap=True)
    table.add_column("met", no_wrap=True)
    table.add_row("reducer feed (+snapshot every 250)", f"{rate:,.0f} ev/s ({dt:.2f} s)",
                  ">= 5,000 ev/s", _met(rate >= 5000))
    table.add_row(f"app live ingest, pushed at {args.rate:,}/s",
                  f"{live_rate:,.0f} ev/s, {seq:,}/{pushed:,} kept ({live_dt:.2f} s)",
                  ">= 5,000 ev/s, none dropped", _met(live_rate >= 5000 and seq == pushed))
    table.add_row("read_recording (parse + validate file)", f"{read_s:.2f} s",
                  "(in the total)", "")
    table.add_row("app start -> first screen (the boot's start)", f"{first_s:.2f} s",
                  "(in the total)", "")
    table.add_row("file -> first screen, total", f"{read_s + first_s:.2f} s", "< 3 s",
                  _met(read_s + first_s < 3))
    table.add_row("file -> final picture (--at end, or End), total",
                  f"{read_end_s + end_s:.2f} s", "none (< 3 s wanted)", "")
    table.add_row(f"waterfall frame, {n_spans:,} spans, same trace", f"{frame_same:.1f} ms",
                  "< 16 ms", _met(frame_same < 16))
    table.add_row(f"waterfall frame, {n_spans:,} spans, trace changed",
                  f"{frame_changed:.1f} ms", "< 16 ms", _met(frame_changed < 16))
    table.add_row("reference: 1M-step Python loop, before / after",
                  f"{ref_before:.0f} / {ref_after:.0f} ms", "(machine speed)", "")
    table.add_row("load average (1 min), before / after",
                  f"{load_before[0]:.2f} / {load_after[0]:.2f}", f"({os.cpu_count()} cores)",
                  "")
    console = Console(record=True, width=140)
    console.print(table)
    if not args.no_write:
        from benchmarks_md import write_section

        write_section("TUI ingest", (
            f"## TUI ingest\n\n`bench/tui_ingest.py` ({datetime.date.today()}, "
            f"{os.cpu_count()} cores, load average {load_before[0]:.2f} → "
            f"{load_after[0]:.2f} while it ran): {len(events):,} synthetic Stein boot events "
            "through the reducer, the live app and a recording opened with `bootflow "
            "replay` (`--at start` is the default above 20,000 events: the first screen is "
            "the boot's start; the final picture is one End away), and a waterfall frame of "
            f"one {n_spans:,}-span trace at 120×40. The reference loop is measured in the "
            "same run: compare runs by it.\n\n```\n"
            f"{console.export_text()}```\n\n"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
