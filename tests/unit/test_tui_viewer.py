"""The classroom viewer (``bootflow serve`` / ``bootflow tui --viewer``) shows the held
hops of the teacher's walkthrough and has no way to release one: no gate keys on its
screen, a gate object that refuses, and an observer on the control bus that cannot send
a release."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from typing import Any

import pytest
from rich.console import Console
from textual.binding import Binding

from services.messaging.gate import ControlGate, GateController, GateObserver
from tracer.tui import BootflowApp, PushSource
from tracer.tui.screens import ViewerScreen, WalkthroughScreen
from tracer.tui.screens.viewer import GateRefused, ViewerGate

HOP = {"trace_id": "t1", "parent_span_id": "s1", "method": "schedule_and_build_instances",
       "topic": "conductor", "kind": "call"}
# the root of HOP's trace: a REST request (a held hop of a trace not seen yet is not shown)
ROOT = {"type": "span_start", "trace_id": "t1", "span_id": "r1", "parent_id": None,
        "kind": "HTTP", "service": "nova-api", "name": "POST /v2.1/servers"}


class FakeObserver:
    """A held hop, and a record of anything that tried to change the gate."""

    def __init__(self) -> None:
        self.held = [{"hop_id": "h1", "hop": HOP}]
        self.enabled = True
        self.changes: list[str] = []

    def pending(self) -> list[dict[str, Any]]:
        return list(self.held)

    def release(self, hop_id: str) -> None:  # a viewer must never get here
        self.changes.append(f"release {hop_id}")
        self.held = []

    def close(self) -> None:
        pass


def _actions(screen: type[Any]) -> set[str]:
    """Every action the screen's keys lead to (its own and any it inherits)."""
    return {b.action for bs in screen._merged_bindings.key_to_bindings.values() for b in bs}


def _plain(renderable: Any) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_viewer_screen_has_no_gate_binding() -> None:
    walk = _actions(WalkthroughScreen)
    assert {"step_gate", "toggle_gate"} <= walk  # the teacher's screen has them
    viewer = _actions(ViewerScreen)
    assert not viewer & {"step_gate", "toggle_gate"}, viewer
    keys = set(ViewerScreen._merged_bindings.key_to_bindings)
    assert not keys & {"n", "space", "g"}, keys
    # what a viewer can still do: select, follow, switch views and language, help, quit
    assert {"select_hop(1)", "switch_view", "app.toggle_lang", "help", "app.quit"} <= viewer
    assert all(isinstance(b, Binding) for b in ViewerScreen.BINDINGS)


def test_viewer_gate_refuses_every_change() -> None:
    observer = FakeObserver()
    gate = ViewerGate(observer)
    gate.observe(ROOT)
    for attempt in (gate.release_next, lambda: gate.release("h1"),
                    lambda: gate.set_enabled(False), lambda: gate.set_enabled(True)):
        with pytest.raises(GateRefused, match="read-only"):
            attempt()
    assert observer.changes == [] and gate.pending() == observer.held
    for name in ("release", "release_next", "set_enabled"):
        assert not hasattr(GateObserver, name), name  # the bus side cannot even say it


def test_gate_keys_do_nothing_in_the_viewer_app() -> None:
    asyncio.run(_keys_in_viewer())


async def _keys_in_viewer() -> None:
    observer = FakeObserver()
    gate = ViewerGate(observer)
    gate.observe(ROOT)
    app = BootflowApp(PushSource(), mode="viewer", gate=gate, clock=None)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, ViewerScreen)
        assert [p["hop_id"] for p in screen.pending] == ["h1"]
        status = str(screen.query_one("#status").render())
        assert "VIEWER" in status and "1 held" in status and "read-only" in status
        assert "held by the gate" in str(screen.query_one("#detail").border_title)
        detail = _plain(screen.detail()[0])
        assert "schedule_and_build_instances" in detail and "the teacher lets it go" in detail
        assert "press n" not in detail  # no hint at keys the viewer does not have
        for key in ("n", "space", "g", "n"):
            await pilot.press(key)
        await pilot.pause(0.5)
        assert observer.changes == []
        assert [p["hop_id"] for p in screen.pending] == ["h1"]  # still held, still shown
        assert screen.gate_enabled
        # the viewer still moves its own picture: language and view
        await pilot.press("l")
        await pilot.press("v")
        await pilot.pause(0.2)
        assert app.lang == "zh"
        assert str(screen.query_one("#views").active) == "tab-sequence"  # type: ignore[attr-defined]


def test_observer_sees_held_hops_that_only_the_teacher_releases() -> None:
    """Over the real control bus (kombu memory://): a service holds a hop; the viewer's
    observer lists it and its gate refuses; the teacher's controller lets it go."""
    serving = ControlGate("memory://", enabled=True)
    observer = GateObserver("memory://")
    teacher = GateController("memory://")
    done = threading.Event()

    def service() -> None:
        serving.hold(dict(HOP))
        done.set()

    thread = threading.Thread(target=service, daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 10
        while not observer.pending() and time.monotonic() < deadline:
            time.sleep(0.02)
        held = observer.pending()
        assert [h["hop"]["method"] for h in held] == ["schedule_and_build_instances"]
        with pytest.raises(GateRefused):
            ViewerGate(observer).release_next()
        assert not done.wait(1.0), "the hop went on without the teacher"
        assert observer.pending() == held
        deadline = time.monotonic() + 10
        while not teacher.pending() and time.monotonic() < deadline:
            time.sleep(0.02)
        teacher.release_next()
        assert done.wait(10), "the teacher's release did not reach the service"
        deadline = time.monotonic() + 10
        while observer.pending() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert observer.pending() == []
    finally:
        serving.close()
        thread.join(timeout=5)
        observer.close()
        teacher.close()
