"""Pilot tests of the TUI in each mode: keys, clicks, the walkthrough gate, replay = live."""

from __future__ import annotations

import io

import pytest
from support.tui import GATE_HOPS, FakeGate, load, sync

from tracer.model import TraceState
from tracer.tui import BootflowApp, ListSource, ReplaySource
from tracer.tui.graph import ServiceGraph
from tracer.tui.help import HelpScreen
from tracer.tui.panes import DetailPane
from tracer.tui.sequence import SequenceView
from tracer.tui.timeline import Timeline


def detail_text(app: BootflowApp) -> str:
    from rich.console import Console

    console = Console(width=80, record=True, file=io.StringIO())
    console.print(app.query_one(DetailPane).shown)
    return console.export_text()


@sync
async def test_live_feeds_everything_and_keys_work() -> None:
    events = load()
    app = BootflowApp(ListSource(events), mode="live", clock=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        assert app.ingested == len(events) == app.state_seq
        snap = app.snapshot
        assert len(snap.hops) == 12
        assert next(iter(snap.instances.values())).vm_state == "active"
        assert app.main.trace_id == next(iter(snap.traces))
        # follow picks the newest hop; [ and ] walk the hops of the trace
        last = app.main.selected_hop
        assert last == snap.hops[-1].hop_id
        await pilot.press("left_square_bracket")
        assert app.main.selected_hop == snap.hops[-2].hop_id and not app.main.follow
        await pilot.press("right_square_bracket")
        assert app.main.selected_hop == last
        await pilot.press("a")
        assert app.main.follow
        # narration language toggle
        assert "fanout" in detail_text(app)
        await pilot.press("l")
        assert app.lang == "zh" and "交换机" in detail_text(app)
        assert "所有 scheduler" in detail_text(app)  # the hop's title in Chinese too
        await pilot.press("l")
        assert app.lang == "en"
        # views, theme, help
        await pilot.press("v")
        assert app.query_one("#views").active == "tab-sequence"  # type: ignore[attr-defined]
        await pilot.press("v")
        dark = app.current_theme.dark
        await pilot.press("d")
        assert app.current_theme.dark is not dark
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
    assert app.return_code == 0


@sync
async def test_click_selects_a_hop() -> None:
    app = BootflowApp(ListSource(load()), mode="live", clock=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.press("v")
        await pilot.pause()
        seq = app.query_one(SequenceView)
        hops = app.snapshot.trace_hops(app.main.trace_id)
        # the cast's arrow row (the view followed the last hop: back to the top first)
        seq.scroll_to(y=0, animate=False)
        await pilot.pause()
        row = next(i for i, (h, part) in enumerate(seq._rows)
                   if h.hop_id == hops[1].hop_id and part == "arrow")
        await pilot.click(SequenceView, offset=(30, row + 1 - int(seq.scroll_offset.y)))
        assert app.main.selected_hop == hops[1].hop_id
        assert hops[1].key == "cast:schedule_and_build_instances"
        assert seq.selected == hops[1].hop_id and not app.main.follow
        # a click on a timeline bar selects the hop that span belongs to
        await pilot.press("v")
        await pilot.pause()
        timeline = app.query_one(Timeline)
        row = next(i for i, r in enumerate(timeline._rows)
                   if r.span.name == "select_destinations" and r.span.kind == "SERVER")
        span = timeline._rows[row].span
        x = timeline._gutter + timeline._x(span.start_ns) + 1
        await pilot.click(Timeline, offset=(x, row + 1 - int(timeline.scroll_offset.y)))
        assert app.snapshot.hop(app.main.selected_hop).key == "call:select_destinations"
        # and a click on a graph edge
        graph = app.query_one(ServiceGraph)
        (x, y), hop_id = next(iter(graph._tags.items()))
        await pilot.click(ServiceGraph, offset=(x + 1, y + 1))  # +1: the border
        assert app.main.selected_hop == hop_id


@sync
async def test_walkthrough_releases_exactly_one_hop_per_press() -> None:
    gate = FakeGate(GATE_HOPS)
    app = BootflowApp(ListSource(load()[:20]), mode="walkthrough", gate=gate, clock=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        text = detail_text(app)
        assert "NEXT HOP" in text and "select_destinations" in text
        assert "BLOCKED" not in text and "blocked" in text  # the narration explains the call
        await pilot.press("n")
        assert gate.released == ["h0"]
        await pilot.pause()
        assert "build_and_run_instance" in detail_text(app)
        await pilot.press("space")
        assert gate.released == ["h0", "h1"]
        await pilot.press("n")
        assert gate.released == ["h0", "h1", "h2"]
        await pilot.press("n")  # nothing held: nothing released
        assert gate.released == ["h0", "h1", "h2"]
        await pilot.press("g")
        assert gate.enabled == [False] and not app.main.gate_enabled
        await pilot.press("g")
        assert gate.enabled == [False, True]
        # replay keys do nothing here
        await pilot.press("full_stop", "f")
        assert gate.released == ["h0", "h1", "h2"]
        assert "full_stop" not in app.screen.active_bindings


@sync
async def test_walkthrough_needs_a_gate() -> None:
    with pytest.raises(ValueError):
        BootflowApp(ListSource([]), mode="walkthrough")


@sync
async def test_replay_steps_scrubs_and_reaches_the_live_picture() -> None:
    events = load()
    live = TraceState()
    live.feed_all(events)
    final = live.snapshot()
    app = BootflowApp(ReplaySource(events), mode="replay")
    async with app.run_test(size=(100, 30)) as pilot:
        await app.wait_for_idle_snapshot()
        start = app.feed.replay.boot_start
        assert start > 0 and app.state_seq == start  # opens on the boot's request
        for n in (1, 2, 3):
            await pilot.press("e")  # one event
            await app.wait_for_idle_snapshot()
            assert app.state_seq == start + n
        await pilot.press("E")
        await app.wait_for_idle_snapshot()
        assert app.state_seq == start + 2
        await pilot.press("end")
        await app.wait_for_idle_snapshot()
        snap = app.snapshot
        assert snap.seq == len(events)
        assert snap.hops == final.hops and snap.instances == final.instances
        assert dict(snap.spans) == dict(final.spans)
        await pilot.press("home")
        await app.wait_for_idle_snapshot()
        assert app.state_seq == 0
        await pilot.press("shift+right")
        await app.wait_for_idle_snapshot()
        assert app.state_seq == int(0.05 * len(events))
        # mouse scrub: click the middle of the bar
        bar = app.query_one("#scrub")
        await pilot.click("#scrub", offset=(bar.size.width // 2, 0))
        await app.wait_for_idle_snapshot()
        assert abs(app.state_seq - len(events) // 2) <= 2
        # speed and play to the end
        await pilot.press("f", "f")
        assert app.feed.replay.speed == 4.0
        await pilot.press("s")
        assert app.feed.replay.speed == 2.0
        await pilot.press("s", "s", "s")
        assert app.feed.replay.speed == 0.25
        await pilot.press("home")
        await app.wait_for_idle_snapshot()
        frames = app.frames
        await pilot.press("space")  # 137 ms of boot at ×0.25: about half a second
        for _ in range(100):
            await pilot.pause(0.05)
            if not app.main.playing:
                break
        await app.wait_for_idle_snapshot()
        assert app.state_seq == len(events) and not app.main.playing
        assert app.frames - frames > 3  # it played through several pictures, not one jump
        assert app.snapshot.hops == final.hops


@sync
async def test_replay_of_three_boots_switches_traces() -> None:
    events = load("boot_three.jsonl")
    app = BootflowApp(ReplaySource(events, start_at_end=True), mode="replay")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        first = app.main.trace_id
        await pilot.press("greater_than_sign")
        assert app.main.trace_id != first and not app.main.follow
        assert all(h.trace_id == app.main.trace_id
                   for h in app.snapshot.trace_hops(app.main.trace_id))


@sync
async def test_timeline_zoom_keys() -> None:
    app = BootflowApp(ListSource(load()), mode="live", clock=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        timeline = app.query_one(Timeline)
        timeline.focus()
        before = timeline.ns_per_cell
        await pilot.press("plus")
        assert timeline.ns_per_cell == pytest.approx(before / 2) and not timeline.fit
        await pilot.press("minus", "minus")
        assert timeline.ns_per_cell == pytest.approx(before * 2)
        await pilot.press("0")
        assert timeline.fit and timeline.ns_per_cell == pytest.approx(before)


@sync
async def test_many_events_are_not_dropped() -> None:
    events = load("boot_three.jsonl") * 20  # duplicates on purpose: counted, not dropped
    app = BootflowApp(ListSource(events), mode="live", clock=None)
    async with app.run_test(size=(100, 30)):
        await app.wait_for_idle_snapshot()
        assert app.ingested == len(events) == app.state_seq
        assert app.snapshot.duplicates > 0


@sync
async def test_real_recording_replay_equals_live() -> None:
    """The acceptance check on a real `bootflow demo --record` file: replay = live."""
    events = load("boot_real.jsonl")
    live = BootflowApp(ListSource(events), mode="live", clock=None)
    async with live.run_test(size=(120, 40)):
        await live.wait_for_idle_snapshot()
        live_snap = live.snapshot
    replay = BootflowApp(ReplaySource(events), mode="replay")
    async with replay.run_test(size=(120, 40)) as pilot:
        await replay.wait_for_idle_snapshot()
        await pilot.press("end")
        await replay.wait_for_idle_snapshot()
        snap = replay.snapshot
    assert snap.hops == live_snap.hops and snap.instances == live_snap.instances
    assert dict(snap.spans) == dict(live_snap.spans) and dict(snap.traces) == dict(
        live_snap.traces)
    assert replay.main.trace_id == live.main.trace_id
