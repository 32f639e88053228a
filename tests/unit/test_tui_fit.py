"""The final picture at small sizes: the instance's state path ends in the state it is
in, and the footer shows the mode's keys whole at 80, 100 and 120 columns."""

from __future__ import annotations

from typing import Any

import pytest
from support.tui import GATE_HOPS, FakeGate, load, sync
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel

from tracer.tui import BootflowApp, ListSource, ReplaySource


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
        trail = next(line for line in lines if line.startswith("building("))
        # the vm_state it was built in, its last task state and the state it ended in
        assert trail == "building(… → spawning) → active", lines


MAIN_KEYS = {  # what each mode's footer must show (besides q and ?)
    "live": ["left_square_bracket", "right_square_bracket", "a", "v", "p"],
    "walkthrough": ["n", "g", "left_square_bracket", "right_square_bracket"],
    "replay": ["space", "full_stop", "comma", "s", "f"],
}


def app_for(mode: str) -> BootflowApp:
    if mode == "walkthrough":
        return BootflowApp(ListSource(load()[:20]), mode="walkthrough",
                           gate=FakeGate(GATE_HOPS), clock=None)
    if mode == "replay":
        return BootflowApp(ReplaySource(load()), mode="replay")
    return BootflowApp(ListSource(load()), mode="live", clock=None)


@pytest.mark.parametrize("width", [80, 100, 120])
@pytest.mark.parametrize("mode", ["live", "walkthrough", "replay"])
@sync
async def test_footer_fits_with_the_main_keys_whole(mode: str, width: int) -> None:
    """Each key the footer shows is drawn whole, left of the palette's ^p (at 100
    columns the live footer used to end in ``l EN/``), and q, ? and the mode's main keys
    are among them."""
    app = app_for(mode)
    async with app.run_test(size=(width, 30)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        footer = app.screen.query_one(Footer)
        last = "".join(seg.text for seg in app.screen._compositor.render_strips()[-1])
        palette = next(k for k in footer.query(FooterKey) if k.has_class("-command-palette"))
        keys = [k for k in footer.query(FooterKey) if not k.has_class("-command-palette")]
        assert {"q", "question_mark", *MAIN_KEYS[mode]} <= {k.key for k in keys}
        for key in keys:
            assert key.region.right <= palette.region.x, (key.key, key.region, last)
            if key.description:
                assert key.description in last, (key.description, last)
        for label in footer.query(FooterLabel):  # a group's word ("[] Hop")
            assert label.region.right <= palette.region.x
        assert "^p palette" in last


def test_state_path_groups_task_states_under_their_vm_state() -> None:
    """vm_state and task_state are not mixed in one path: the task states sit inside
    the vm_state they happened in; a short line keeps where it began and where it is."""
    from tracer.tui.panes import fit_states

    steps = ["building/scheduling", "building/networking", "building/block_device_mapping",
             "building/spawning", "active/-"]
    assert fit_states(steps, 100) == ("building(scheduling → networking → "
                                      "block_device_mapping → spawning) → active")
    assert fit_states(steps, 45) == "building(scheduling → … → spawning) → active"
    assert fit_states(["building/scheduling", "error/-"], 40) == "building(scheduling) → error"


@pytest.mark.parametrize("width,height", [(80, 24), (120, 40)])
@sync
async def test_status_line_keeps_what_matters_when_narrow(width: int, height: int) -> None:
    """The walkthrough's status line on one screen row: the mode, the gate's state and
    the trace's name always; the trace counter and the trace's size as room allows,
    never cut in the middle of a part."""
    app = BootflowApp(ListSource(load("boot_real.jsonl")), mode="walkthrough",
                      gate=FakeGate([]), clock=None)
    async with app.run_test(size=(width, height)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        row = pane_lines(app, "#status")[0]
        text = str(app.screen.query_one("#status").render())
        assert row.strip() == text.strip() and len(text) < width, (row, text)
        assert text.startswith(" WALKTHROUGH ") and "gate ON" in text
        assert "POST /v2.1/servers" in text
        counter = "request 1/2 (+4 background, < >)"
        if width >= 120:
            assert counter in text and "spans, " in text
        else:
            assert counter not in text and "request 1/2 (" not in text  # whole or not
