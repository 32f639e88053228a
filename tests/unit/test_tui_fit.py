"""The final picture at small sizes: the instance's state path ends in the state it is
in, and the footer shows the mode's keys whole at 80, 100 and 120 columns."""

from __future__ import annotations

from typing import Any

from support.tui import load, sync

from tracer.tui import BootflowApp, ListSource
from tracer.tui.panes import fit_trail


def pane_lines(app: Any, selector: str) -> list[str]:
    """The lines a pane shows on screen, border included."""
    region = app.screen.query_one(selector).region
    lines = ["".join(seg.text for seg in line) for line in app.screen._compositor.render_strips()]
    return [line[region.x:region.right] for line in lines[region.y:region.bottom]]


@sync
async def test_instance_trail_ends_in_its_state_at_100x30() -> None:
    """At 100x30 the pane is 3 lines high and 36 cells wide: the path used to stop at
    ``scheduling → building → networking →``; now its end, ``→ active``, shows."""
    app = BootflowApp(ListSource(load()), mode="live", clock=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        lines = [line.strip("│ ╭╮╰╯─") for line in pane_lines(app, "#instances")]
        trail = next(line for line in lines if line.startswith("scheduling"))
        assert trail.endswith("→ spawning → active"), lines


def test_fit_trail_keeps_the_first_and_newest_steps() -> None:
    steps = ["scheduling", "building", "networking", "block_device_mapping", "spawning",
             "active"]
    assert fit_trail(steps, 80) == " → ".join(steps)
    assert fit_trail(steps, 60) == "scheduling → … → block_device_mapping → spawning → active"
    assert fit_trail(steps, 36) == "scheduling → … → spawning → active"
    assert fit_trail(steps, 12) == "… → active"
