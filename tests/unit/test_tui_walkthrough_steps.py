"""The walkthrough explains each step: what the last release did, a way back to earlier
hops while the gate holds the next one, held time cut out of the picture.

The gate is a stand-in holding the boot's own rpc messages (so the held edge and the
released hops are the recording's); the recording gets the scheduler's reply as the
services send it (an ``rpc.reply`` event with the envelope)."""

from __future__ import annotations

import io
import json
import re
from typing import Any

from support.tui import FakeGate, load, sync

from tracer.model import ServiceView, snapshot_of
from tracer.tui import BootflowApp, ListSource
from tracer.tui.panes import DetailPane
from tracer.tui.screens.walkthrough import HeldClock, WalkthroughScreen
from tracer.tui.timeline import Timeline

SELECTION = {"nova_object.name": "Selection", "nova_object.data": {
    "service_host": "compute1", "nodename": "compute1", "cell_uuid": "c0"}}


def boot_with_reply() -> list[dict[str, Any]]:
    """boot_one plus the scheduler's reply to select_destinations, as sent."""
    events = load()
    snap = snapshot_of(events)
    hop = next(h for h in snap.rpc_hops() if h.method == "select_destinations")
    server = hop.server_span_ids[0]
    reply = {"result": [[SELECTION]], "failure": None, "ending": True, "_msg_id": "m2"}
    ts = (hop.handled_ns or hop.sent_ns) - 1
    events.append({"type": "annotate", "trace_id": hop.trace_id, "span_id": server,
                   "name": "rpc.reply", "service": "nova-scheduler", "host": "scheduler",
                   "ts_ns": ts, "attrs": {"rpc.reply.ending": True,
                                          "messaging.message.body.size": 300,
                                          "bootflow.envelope": json.dumps(reply)}})
    return events


def gate_for(events: list[dict[str, Any]]) -> tuple[FakeGate, list[Any]]:
    """A gate holding the boot's first four rpc messages, named as the real gate names
    them (``parent_span_id``: the sending span)."""
    snap = snapshot_of(events)
    hops = snap.trace_hops(snap.latest_trace())
    rpc = [h for h in hops if h.is_rpc][:4]
    gate = FakeGate([{"method": h.method, "style": h.style, "version": h.version,
                      "exchange": h.exchange, "routing_key": h.routing_key,
                      "service": h.dst_service, "host": h.dst_host,
                      "parent_span_id": h.hop_id} for h in rpc])
    return gate, hops


def pane_text(app: Any) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(app.screen.query_one(DetailPane).shown)
    return console.export_text()


@sync
async def test_release_shows_what_happened_and_back_keys_browse() -> None:
    events = boot_with_reply()
    gate, hops = gate_for(events)
    rpc = [h for h in hops if h.is_rpc]
    app = BootflowApp(ListSource(events), mode="walkthrough", gate=gate, clock=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        assert "NEXT HOP" in pane_text(app)
        await pilot.press("n")  # schedule_and_build_instances
        await pilot.press("n")  # select_destinations
        await pilot.pause()
        text = pane_text(app)
        assert "JUST HAPPENED  select_destinations (call)" in text
        assert "→ [compute1] (1 host chosen of 1)" in text
        await pilot.press("n")
        await pilot.pause()
        text = pane_text(app)
        assert f"JUST HAPPENED  {rpc[2].method}" in text
        assert "NEXT HOP (held by the gate)" in text and rpc[3].method in text
        assert len(gate.held) == 1
        # back to the first hop of the boot while the gate still holds the fourth
        for _ in range(len(hops)):
            await pilot.press("left_square_bracket")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, WalkthroughScreen)
        assert screen.selected_hop == hops[0].hop_id
        text = pane_text(app)
        assert f"the gate still holds {rpc[3].method}" in text
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines[1].startswith(hops[0].method)  # the first hop's details
        assert "NEXT HOP" not in text
        assert len(gate.held) == 1 and gate.released == ["h0", "h1", "h2"]
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert screen.selected_hop == hops[1].hop_id
        await pilot.press("a")  # back to the flow: the held hop again
        await pilot.pause()
        assert "NEXT HOP (held by the gate)" in pane_text(app)


@sync
async def test_held_time_is_cut_from_the_timeline() -> None:
    """A walkthrough that waited 60 s on one hop draws no longer a timeline than the
    same flow run free, with the cut marked; the services it held are not down."""
    events = load()
    snap = snapshot_of(events)
    boot = snap.traces[snap.latest_trace() or ""]
    cut_at = boot.start_ns + (boot.end_ns - boot.start_ns) // 3
    wait = 60 * 10**9
    held = [dict(e, ts_ns=e["ts_ns"] + wait) if e.get("ts_ns", 0) >= cut_at else e
            for e in events]

    async def fitted(evs: list[dict[str, Any]], holds: list[list[int | None]]) -> tuple[
            float, str, WalkthroughScreen]:
        app = BootflowApp(ListSource(evs), mode="walkthrough", gate=FakeGate([]), clock=None)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, WalkthroughScreen)
            screen.held_clock.holds = holds
            await app.wait_for_idle_snapshot()
            screen.draw(app.snapshot)
            await pilot.pause()
            timeline = screen.query_one(Timeline)
            marks = timeline.cut_marks()
            status = str(screen.query_one("#status").render())
            axis = "".join(seg.text for seg in timeline.render_line(0)).split("│", 1)[1]
            return timeline.ns_per_cell, f"{marks} {status} axis:{axis}", screen

    free, _, _ = await fitted(events, [])
    cut, shown, screen = await fitted(held, [[cut_at, cut_at + wait]])
    assert cut <= free * 1.02, (cut, free)
    assert "held, cut" in shown and "[(" in shown  # a cut mark on the axis
    axis = shown.split("axis:", 1)[1]
    assert "≈" in axis   # drawn, and never over a tick's time ("443.7≈s")
    ticks = re.findall(r"┬([^─┬]*)", axis)
    assert ticks and all(re.fullmatch(r"\d+(\.\d+)?(µs|ms|s)", t) for t in ticks), axis
    # a heartbeat 70 s old, 60 s of which the gate held: still up
    last = cut_at - 5 * 10**9
    svc = ServiceView("nova-compute", "compute1", last, 3, up=False)
    clock = HeldClock(lambda: last + 70 * 10**9)
    clock.holds = [[cut_at, cut_at + wait]]
    screen.held_clock = clock
    assert screen.held_ns_since(last, last + 70 * 10**9) == wait
    assert screen.service_up(svc, snap)
    clock.holds = []  # the same silence without the gate: down
    assert not screen.service_up(svc, snap)


class _PlainPalette:
    def fg(self, name: str, bold: bool = False, dim: bool = False) -> Any:
        from rich.style import Style

        return Style()


def test_cut_mark_never_overwrites_a_tick_label() -> None:
    """A cut that starts under a tick's time ("┬16.0ms") is marked beside it, not over
    it (the learner read "443.7≈s")."""
    timeline = Timeline()
    timeline._gutter, timeline._t0, timeline._t1 = 20, 0, 10**9
    timeline.set_reactive(Timeline.ns_per_cell, 1e6)  # a millisecond a cell
    timeline.set_reactive(Timeline.cuts, ((18_000_000, 60_000_000),))
    axis = "".join(seg.text for seg in timeline._axis(100, 0, _PlainPalette())).split("│")[1]
    ticks = re.findall(r"┬([^─┬≈]*)", axis)
    assert ticks[:2] == ["0µs", "16.0ms"], axis
    assert all(re.fullmatch(r"\d+(\.\d+)?(µs|ms|s)", t) for t in ticks), axis
    assert axis.index("≈") >= axis.index("16.0ms") + len("16.0ms"), axis
