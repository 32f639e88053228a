"""The walkthrough shows the learner only the request's hops (issue 14, item 10): after
the boot, heartbeats and periodic tasks go on in traces of their own; their held
messages are let go, never shown as the next hop (not even in the moment before their
trace's root span arrives), and the status line says what the other traces are."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from support.tui import FakeGate, load, sync

from tracer.commands.live import RequestOnlyGate
from tracer.session import UNKNOWN_TRACE_GRACE_S, RequestTraces
from tracer.tui import BootflowApp, ListSource
from tracer.tui.screens.walkthrough import WalkthroughScreen


def _root(trace_id: str, kind: str, service: str, name: str) -> dict[str, Any]:
    return {"type": "span_start", "trace_id": trace_id, "span_id": f"root-{trace_id}",
            "parent_id": None, "kind": kind, "service": service, "name": name,
            "host": "h", "ts_ns": 1, "attrs": {}, "links": []}


HEARTBEAT_HOP = {"method": "object_action", "style": "call", "service": "nova-conductor",
                 "host": "conductor", "trace_id": "beat1", "parent_span_id": "c1"}
BOOT_HOP = {"method": "select_destinations", "style": "call", "service": "nova-scheduler",
            "host": "scheduler", "trace_id": "boot1", "parent_span_id": "c2"}


def test_request_only_gate_never_lists_a_heartbeat_even_before_its_root_arrives() -> None:
    now = [100.0]
    fake = FakeGate([HEARTBEAT_HOP, BOOT_HOP])
    gate = RequestOnlyGate(fake)
    gate.traces = RequestTraces(clock=lambda: now[0])
    gate.observe(_root("boot1", "HTTP", "nova-api", "POST /v2.1/servers"))
    # the heartbeat's root is still on its way: held, but not the learner's next hop
    assert [p["hop"]["method"] for p in gate.pending()] == ["select_destinations"]
    assert fake.released == []
    gate.observe(_root("beat1", "INTERNAL", "nova-compute", "_report_state"))
    assert [p["hop"]["method"] for p in gate.pending()] == ["select_destinations"]
    assert fake.released == ["h0"]  # let go once known as background
    # a trace whose root never comes is shown after the grace time, not held unseen
    lost = FakeGate([dict(BOOT_HOP, trace_id="lost")])
    gate = RequestOnlyGate(lost)
    gate.traces = RequestTraces(clock=lambda: now[0])
    assert gate.pending() == []
    now[0] += UNKNOWN_TRACE_GRACE_S
    assert [p["hop_id"] for p in gate.pending()] == ["h0"]


@sync
async def test_walkthrough_after_the_boot_shows_no_background_hop_and_counts_traces() -> None:
    events = load("boot_real.jsonl")
    t = max(e["ts_ns"] for e in events)
    for n in range(3):  # heartbeats after the boot: traces of their own
        tid = f"beat{n}"
        events += [dict(_root(tid, "INTERNAL", "nova-compute", "_report_state"),
                        host="compute1", ts_ns=t + n + 1),
                   {"type": "span_end", "trace_id": tid, "span_id": f"root-{tid}",
                    "ts_ns": t + n + 2, "status": "OK", "attrs": {}}]
    gate = RequestOnlyGate(FakeGate([dict(HEARTBEAT_HOP, trace_id="beat9")]))
    for e in events:
        gate.observe(e)
    app = BootflowApp(ListSource(events), mode="walkthrough", gate=gate, clock=None)
    async with app.run_test(size=(160, 45)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, WalkthroughScreen)
        assert screen.pending == []
        console = Console(width=160, record=True, file=io.StringIO())
        console.print(screen.detail()[0])
        assert "NEXT HOP" not in console.export_text()
        status = str(screen.query_one("#status").render())
        assert "0 held" in status
        # the boot among the requests; the rest said for what they are
        assert "request 1/2 (+7 background, < >)" in status, status
        # the trace before the boot: start-up work, counted among the background ones
        await pilot.press("less_than_sign")
        await pilot.pause()
        status = str(screen.query_one("#status").render())
        assert "db HostMapping.create" in status and "background 4/7 (+2 requests, < >)" in status


@sync
async def test_status_follows_the_gate_when_the_runner_frees_the_flow() -> None:
    """A scenario's runner turns the gate off after its requests: the status line says
    the flow runs free instead of a stale "gate ON"."""
    gate = RequestOnlyGate(FakeGate([]))
    app = BootflowApp(ListSource(load()), mode="walkthrough", gate=gate, clock=None)
    async with app.run_test(size=(160, 45)) as pilot:
        await app.wait_for_idle_snapshot()
        gate.set_enabled(True)
        await pilot.pause(0.5)
        status = app.screen.query_one("#status")
        assert "gate ON" in str(status.render())
        gate.set_enabled(False)   # what the runner does, not the g key
        await pilot.pause(0.5)
        assert "gate OFF (free run)" in str(status.render())
        assert gate.controller.enabled == [True, False]
