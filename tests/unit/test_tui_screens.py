"""Each mode's screen owns its keys: a key of one mode does nothing in another.

Pilot tests over the real app: which screen a mode shows, what its footer and help
offer, and that pressing another mode's key changes nothing.
"""

from __future__ import annotations

import pytest
from support.tui import GATE_HOPS, FakeGate, load, sync
from textual.binding import Binding
from textual.widgets import Footer

from tracer.tui import BootflowApp, ListSource, ReplaySource
from tracer.tui.app import SnapshotReady
from tracer.tui.graph import ServiceGraph
from tracer.tui.help import HelpScreen
from tracer.tui.palette import HOP_COMPONENTS
from tracer.tui.screens import LiveScreen, ReplayScreen, TraceScreen, WalkthroughScreen
from tracer.tui.sequence import SequenceView
from tracer.tui.timeline import Timeline

COMMON = ["q", "question_mark", "left_square_bracket", "right_square_bracket",
          "less_than_sign", "greater_than_sign", "a", "v", "p", "o", "r", "m",
          "slash", "l", "d"]
WALK = ["n", "space", "g"]
REPLAY = ["space", "full_stop", "comma", "e", "E", "shift+right", "shift+left", "end", "home",
          "s", "f"]


def app_for(mode: str) -> BootflowApp:
    if mode == "replay":
        return BootflowApp(ReplaySource(load()), mode="replay")
    if mode == "walkthrough":
        return BootflowApp(ListSource(load()[:20]), mode="walkthrough",
                           gate=FakeGate(GATE_HOPS), clock=None)
    return BootflowApp(ListSource(load()), mode="live", clock=None)


def bound(screen: TraceScreen) -> dict[str, str]:
    """key → binding id, as the screen's keys resolve now."""
    return {key: str(active.binding.id) for key, active in screen.active_bindings.items()}


def footer_keys(app: BootflowApp) -> list[str]:
    return [key.key for key in app.screen.query_one(Footer).query("FooterKey")
            if not key.has_class("-command-palette")]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("mode", "screen", "own", "foreign"), [
    ("live", LiveScreen, [], WALK + REPLAY),
    ("walkthrough", WalkthroughScreen, WALK, ["full_stop", "comma", "s", "f", "end"]),
    ("replay", ReplayScreen, REPLAY, ["n", "g"]),
])
def test_each_mode_has_its_screen_and_only_its_keys(
        mode: str, screen: type[TraceScreen], own: list[str], foreign: list[str]) -> None:
    @sync
    async def run() -> None:
        app = app_for(mode)
        async with app.run_test(size=(120, 40)) as pilot:
            await app.wait_for_idle_snapshot()
            await pilot.pause()
            assert type(app.screen) is screen and app.main is app.screen
            keys = bound(app.main)
            assert set(COMMON + own) <= set(keys)
            assert not set(foreign) & set(keys)
            # the footer: the common keys first, then the mode's, then the rest
            shown = footer_keys(app)
            mode_shown = [k for k in shown if k not in COMMON]
            if mode == "replay":  # what drives a replay first, then quit and help
                assert shown[:len(mode_shown)] == mode_shown
                assert shown[len(mode_shown):] == ["q", "question_mark"]
            else:
                assert shown[:2] == ["q", "question_mark"]
                assert shown[2:2 + len(mode_shown)] == mode_shown
            # help lists exactly this screen's keys, in the footer's order
            rows = app.main.help_rows()
            assert [desc for _, desc in rows] == [b.tooltip or b.description
                                                  for b in type(app.main).BINDINGS
                                                  if isinstance(b, Binding)]
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen) and app.screen.mode == mode
            await pilot.press("escape")

    run()


@sync
async def test_space_releases_a_hop_only_in_the_walkthrough() -> None:
    gate = FakeGate(GATE_HOPS)
    app = BootflowApp(ListSource(load()[:20]), mode="walkthrough", gate=gate, clock=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.press("space")
        assert gate.released == ["h0"]
        assert bound(app.main)["space"] == "walk.step"
    for mode in ("live", "replay"):
        other = app_for(mode)
        async with other.run_test(size=(120, 40)) as pilot:
            await other.wait_for_idle_snapshot()
            before = other.state_seq
            await pilot.press("n", "g")  # walkthrough keys: not bound here
            await other.wait_for_idle_snapshot()
            assert other.state_seq == before
            assert not any(k in bound(other.main) for k in ("n", "g"))
    replay = app_for("replay")
    async with replay.run_test(size=(120, 40)) as pilot:
        await replay.wait_for_idle_snapshot()
        assert bound(replay.main)["space"] == "replay.play"
        assert replay.state_seq == replay.feed.replay.boot_start  # opens on the boot
        await pilot.press("space")  # plays the 137 ms boot to its end
        for _ in range(100):
            await pilot.pause(0.05)
            if replay.state_seq == len(load()):
                break
        assert replay.state_seq == len(load())


@sync
async def test_step_keys_step_only_in_replay() -> None:
    replay = app_for("replay")
    async with replay.run_test(size=(100, 30)) as pilot:
        await replay.wait_for_idle_snapshot()
        marks = replay.feed.replay.hop_marks
        await pilot.press("full_stop", "full_stop")
        await replay.wait_for_idle_snapshot()
        assert replay.state_seq == marks[2]
        await pilot.press("comma")
        await replay.wait_for_idle_snapshot()
        assert replay.state_seq == marks[1]
    live = app_for("live")
    async with live.run_test(size=(100, 30)) as pilot:
        await live.wait_for_idle_snapshot()
        seq, hop = live.state_seq, live.main.selected_hop
        await pilot.press("full_stop", "comma", "s", "f", "end", "home")
        await live.wait_for_idle_snapshot()
        assert (live.state_seq, live.main.selected_hop) == (seq, hop)
        assert live.main.follow  # no key of replay reached the live screen


@sync
async def test_snapshots_queued_back_to_back_are_drawn_once() -> None:
    """Under load only the newest picture is drawn (Message.can_replace)."""
    app = app_for("live")
    async with app.run_test(size=(100, 30)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        frames, snap = app.frames, app.snapshot
        for _ in range(50):  # no await between them: they wait in the queue together
            app.post_message(SnapshotReady(snap))
        await pilot.pause()
        assert app.frames - frames == 1


@sync
async def test_every_hop_colour_comes_from_app_tcss_in_both_themes() -> None:
    """A component class app.tcss forgot would draw in the terminal's default colour."""
    app = app_for("live")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_for_idle_snapshot()
        widgets = [app.query_one(cls) for cls in (ServiceGraph, Timeline, SequenceView)]
        themes = []
        for _ in range(2):
            colours = {}
            for widget in widgets:
                for name in sorted(HOP_COMPONENTS):
                    style = widget.get_component_rich_style(name, partial=True)
                    assert style.color is not None, (type(widget).__name__, name)
                    colours[type(widget).__name__, name] = style.color.get_truecolor()
            themes.append(colours)
            await pilot.press("d")
            await pilot.pause()
        dark, light = themes
        assert len({v for k, v in dark.items() if k[1] == "hop--call"}) == 1  # all agree
        assert dark["ServiceGraph", "hop--call"] != light["ServiceGraph", "hop--call"]
        assert dark["Timeline", "hop--on-bar"] != light["Timeline", "hop--on-bar"]
