"""Replay steps hop by hop: each `.` shows the next message of the boot on its way (the
status names it, the detail pane shows it); `,` goes back one; events are on e / E.
It opens on the boot, slows down to ×0.1, and its footer's keys fit at 80, 100, 120."""

from __future__ import annotations

from typing import Any

import pytest
from support.tui import load, sync
from textual.widgets import Footer

from tracer.tui import BootflowApp, ReplaySource


def status(app: Any) -> str:
    return str(app.screen.query_one("#status").render())


@sync
async def test_dot_and_comma_step_one_hop_of_the_boot() -> None:
    events = load("boot_real.jsonl")
    app = BootflowApp(ReplaySource(events), mode="replay")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        screen = app.screen
        boot = screen.trace_id
        assert boot is not None and app.snapshot.traces[boot].root_name == "POST /v2.1/servers"
        assert "hop 1/" in status(app)
        seen = []
        for n in range(2, 6):
            await pilot.press("full_stop")
            await app.wait_for_idle_snapshot()
            await pilot.pause()
            assert f"hop {n}/" in status(app), status(app)
            hop = app.snapshot.hop(screen.selected_hop)
            assert hop is not None and hop.trace_id == boot
            # the hop just sent is the one shown: its sending event is the last one fed
            assert events[app.state_seq - 1].get("span_id") == hop.hop_id
            seen.append(hop.hop_id)
        assert len(set(seen)) == 4  # a new hop each press, not one event
        assert "select_destinations" in [app.snapshot.hop(h).method for h in seen]
        await pilot.press("comma")
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        assert "hop 4/" in status(app)
        assert screen.selected_hop == seen[-2]


@sync
async def test_speed_goes_down_to_a_tenth() -> None:
    app = BootflowApp(ReplaySource(load()), mode="replay")
    async with app.run_test(size=(100, 30)) as pilot:
        await app.wait_for_idle_snapshot()
        for _ in range(6):
            await pilot.press("s")
        assert app.feed.replay.speed == 0.1
        assert "×0.1" in status(app)


@pytest.mark.parametrize("width", [80, 100, 120])
@sync
async def test_footer_shows_the_replay_keys_first_and_fits(width: int) -> None:
    app = BootflowApp(ReplaySource(load()), mode="replay")
    async with app.run_test(size=(width, 30)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        footer = app.screen.query_one(Footer)
        keys = [k for k in footer.query("FooterKey") if not k.has_class("-command-palette")]
        assert [k.key for k in keys][:3] == ["space", "full_stop", "comma"]
        for key in keys:  # every key shown whole, none cut at the right edge
            assert key.region.right <= width - 12, (key.key, key.region)
