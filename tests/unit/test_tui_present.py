"""Presentation mode (p, --present): the graph, the sequence view, one large narration
line and the instance state as a badge; the panes step aside; high contrast in both
themes."""

from __future__ import annotations

from typing import Any

from support.tui import FakeGate, load, sync
from textual.widgets import Static, TabbedContent

from tracer.model import snapshot_of
from tracer.tui import BootflowApp, ListSource, ReplaySource


def shown(app: Any, wid: str) -> str:
    return str(app.screen.query_one(wid, Static).render())


@sync
async def test_p_switches_to_the_classroom_layout_and_back() -> None:
    app = BootflowApp(ListSource(load()), mode="live", clock=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        right = app.screen.query_one("#right")
        assert right.display and not app.screen.query_one("#present-bar").display
        await pilot.press("p")
        await pilot.pause()
        assert not right.display and app.screen.query_one("#present-bar").display
        assert app.screen.query_one(TabbedContent).active == "tab-sequence"
        assert shown(app, "#badge") == "vm1  ACTIVE"
        hop = app.snapshot.hop(app.screen.selected_hop)
        assert hop is not None and hop.method in shown(app, "#narration")
        # the narration and the badge stand out in both themes
        for _ in range(2):
            for wid in ("#narration", "#badge"):
                widget = app.screen.query_one(wid)
                fg, bg = widget.styles.color, widget.styles.background
                assert abs(fg.brightness - bg.brightness) > 0.6, (wid, fg, bg)
            await pilot.press("d")
            await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        assert right.display


@sync
async def test_present_flag_and_the_held_call_narrated() -> None:
    events = load()
    snap = snapshot_of(events)
    call = next(h for h in snap.rpc_hops() if h.method == "select_destinations")
    cut = next(i for i, e in enumerate(events) if e.get("span_id") == call.hop_id) + 1
    gate = FakeGate([{"method": "select_destinations", "style": "call", "version": "4.5",
                      "service": "nova-scheduler", "host": "scheduler",
                      "parent_span_id": call.hop_id}])
    app = BootflowApp(ListSource(events[:cut]), mode="walkthrough", gate=gate, clock=None,
                      present=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        assert app.screen.has_class("-present")
        assert "conductor WAITS for scheduler — select_destinations (call)" in \
            shown(app, "#narration")
        assert "BUILDING" in shown(app, "#badge")


@sync
async def test_replay_in_presentation_mode_narrates_each_hop() -> None:
    app = BootflowApp(ReplaySource(load()), mode="replay", present=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.wait_for_idle_snapshot()
        for _ in range(2):
            await pilot.press("full_stop")
            await app.wait_for_idle_snapshot()
        await pilot.pause()
        assert shown(app, "#narration") == \
            "conductor WAITS for scheduler — select_destinations (call) is on its way"
