"""Scenarios in the TUI: the intro comes first and nothing runs behind it; ``--pace`` and
``--walkthrough`` hold the scenario's hops (embedded scenarios, kombu memory://) or are
refused with the reason (deployment scenarios)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.messaging import gate as gate_mod
from tests.support.tui import load, sync
from tracer.commands.demo import paced
from tracer.commands.live import GatedDemo, ScenarioSource
from tracer.model import snapshot_of
from tracer.scenario.runner import run_scenario
from tracer.scenario.spec import ScenarioRunError, find_scenario, load_scenario, scenario_files
from tracer.session import request_trace_ids
from tracer.tui import BootflowApp, ListSource
from tracer.tui.help import HelpScreen
from tracer.tui.intro import IntroScreen

BOOT_ONE = find_scenario("boot-one")


def screen_text(app: Any) -> str:
    return "\n".join("".join(seg.text for seg in line)
                     for line in app.screen._compositor.render_strips())


async def _until(pred: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(0.05)
    return pred()


@sync
async def test_the_intro_comes_first_and_nothing_runs_until_a_key() -> None:
    events = load()
    source = ListSource(events)
    app = BootflowApp(source, mode="live", clock=None, intro=BOOT_ONE.explanation,
                      intro_title=BOOT_ONE.title)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await asyncio.sleep(0.5)  # a started source would have pushed everything by now
        assert isinstance(app.screen, IntroScreen)
        text = " ".join(screen_text(app).split())
        assert BOOT_ONE.title in text
        assert "schedule_and_build_instances" in text  # the explanation, as plain text
        assert "press any key (enter/space) to start" in text
        assert app.ingested == 0 and not source.done.is_set()
        assert not app._notifications  # no 20 s toast over the instances pane
        await pilot.press("enter")
        await _until(lambda: app.ingested == len(events))
        await app.wait_for_idle_snapshot()
        assert app.screen is app.main and app.ingested == len(events)
        await pilot.press("question_mark")  # ? still shows the intro
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "about this scenario" in screen_text(app)


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.stem)
@sync
async def test_every_intro_fits_80x24_whole(path: Path) -> None:
    """The longest explanation and the key to press, all on an 80x24 screen."""
    sc = load_scenario(path)
    app = BootflowApp(ListSource([]), mode="live", clock=None, intro=sc.explanation,
                      intro_title=sc.title)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        rows = screen_text(app).splitlines()
        box = app.screen.query_one("#intro-box").region
        inside = " ".join(" ".join(row[box.x + 1:box.right - 1].split())
                          for row in rows[box.y + 1:box.bottom - 1])
        assert " ".join(sc.explanation.split()) in inside
        assert "press any key (enter/space) to start" in inside


@sync
async def test_q_on_the_intro_quits_without_running() -> None:
    source = ListSource(load())
    app = BootflowApp(source, mode="live", clock=None, intro=BOOT_ONE.explanation)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert app.ingested == 0 and not source.done.is_set()


def _queue_times(events: list[Any]) -> dict[str, float]:
    """Each request RPC hop's time in the queue (sent → taken by its server), seconds."""
    snap = snapshot_of(events)
    requests = request_trace_ids(events)
    return {f"{h.method}#{i}": (h.recv_ns - h.sent_ns) / 1e9
            for i, h in enumerate(snap.hops)
            if h.trace_id in requests and h.recv_ns is not None and h.style in ("call", "cast")}


def test_pace_holds_every_hop_of_the_scenario() -> None:
    """--pace 0.4: every RPC hop of the boot waits ≥ 0.4 s before its server takes it
    (free, they take milliseconds), and the scenario's checks still pass."""
    result = run_scenario("boot-one", gate=paced(0.4))
    assert gate_mod.get_gate() is None  # the pace is over with the requests
    assert result.error is None and result.passed, [c.line() for c in result.checks]
    waits = _queue_times(result.events)
    assert any(k.startswith("select_destinations") for k in waits)
    assert waits and min(waits.values()) >= 0.4, waits


def test_a_walkthrough_wait_outlasts_the_runner_timeout() -> None:
    """A learner looks at one hop longer than the runner's timeout: the runner's waits
    stand still while the gate holds, so the boot still ends ACTIVE and checked."""
    @contextlib.contextmanager
    def slow_first_hop() -> Iterator[None]:
        first = [True]

        def hold(hop: dict[str, Any]) -> None:
            if first[0] and hop.get("method") == "schedule_and_build_instances":
                first[0] = False
                time.sleep(3.0)
        gate_mod.set_gate(hold)
        try:
            yield
        finally:
            gate_mod.set_gate(None)

    result = run_scenario("boot-one", timeout=2.0, gate=slow_first_hop())
    assert result.error is None and result.passed, [c.line() for c in result.checks]


def test_deployment_scenarios_refuse_a_gate() -> None:
    with pytest.raises(ScenarioRunError, match="separate processes.*--pace and --walkthrough"):
        run_scenario("broker-pause", gate=paced(0.25))


@sync
async def test_scenario_walkthrough_holds_its_first_request_hop_until_n() -> None:
    gated = GatedDemo("memory://")
    source = ScenarioSource("boot-one", "memory://", gate=gated.during,
                            observe=gated.controller.observe)
    app = BootflowApp(source, mode="walkthrough", gate=gated.controller,
                      intro=BOOT_ONE.explanation, intro_title=BOOT_ONE.title)
    screen: Any = app.main
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, IntroScreen) and app.ingested == 0
            await pilot.press("space")  # starts the scenario, releases nothing
            assert await _until(lambda: bool(screen.pending), timeout=60)
            first = screen.pending[0]["hop"]
            assert first["method"] == "schedule_and_build_instances"
            await asyncio.sleep(1.0)  # held: nothing of it has reached the conductor
            assert screen.pending[0]["hop"]["method"] == "schedule_and_build_instances"
            await app.wait_for_idle_snapshot()
            methods = {h.method for h in app.snapshot.hops}
            assert "schedule_and_build_instances" in methods  # sent, as the picture shows
            assert "select_destinations" not in methods  # the conductor has not taken it
            await pilot.press("n")
            assert await _until(lambda: bool(screen.pending) and screen.pending[0]["hop"]
                                ["method"] != "schedule_and_build_instances", timeout=20)
            # step on (the key's action: Pilot's press waits for the screen to settle,
            # seconds each) until the scenario is over: it finishes, its checks pass
            deadline = time.monotonic() + 120
            while source.result is None and source.error is None \
                    and time.monotonic() < deadline:
                if screen.pending:
                    screen.action_step_gate()
                await asyncio.sleep(0.05)
            assert source.error is None
            assert source.result is not None and source.result.passed, \
                [c.line() for c in source.result.checks]
    finally:
        gated.close()


# ---- the command line: the flags reach the scenario, or are refused -----------------

class _Recorder:
    """Stands in for BootflowApp: what ``bootflow demo --scenario`` would open."""

    opened: list[dict[str, Any]] = []

    def __init__(self, source: Any, **kwargs: Any) -> None:
        self.opened.append(dict(kwargs, source=source))

    def run(self) -> None:
        pass


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    import tracer.tui.app

    _Recorder.opened = []
    monkeypatch.setattr(tracer.tui.app, "BootflowApp", _Recorder)
    yield _Recorder.opened
    gate_mod.set_gate(None)


def _demo(*argv: str) -> int:
    from tracer.cli import main

    return main(["demo", *argv])


def test_cli_walkthrough_opens_a_gated_walkthrough(opened: list[dict[str, Any]]) -> None:
    assert _demo("--scenario", "boot-one", "--walkthrough") == 0
    (app,) = opened
    assert app["mode"] == "walkthrough" and app["gate"] is not None
    assert app["source"].observe == app["gate"].observe  # it learns which traces are requests
    assert app["source"].gate is not None and app["intro"] == BOOT_ONE.explanation


@pytest.mark.parametrize(("argv", "held"), [((), 0.25), (("--pace", "0.5"), 0.5)])
def test_cli_pace_reaches_the_scenario(opened: list[dict[str, Any]], argv: tuple[str, ...],
                                       held: float) -> None:
    """The scenario's gate holds each hop --pace seconds (0.25 when not given)."""
    assert _demo("--scenario", "boot-one", *argv) == 0
    (app,) = opened
    assert app["mode"] == "live"
    with app["source"].gate():
        gate = gate_mod.get_gate()
        assert gate is not None
        t0 = time.monotonic()
        gate.hold({"method": "select_destinations"})
        assert held <= time.monotonic() - t0 < held + 0.2


@pytest.mark.parametrize("flag", [["--walkthrough"], ["--pace", "0.5"]])
def test_cli_refuses_a_flag_a_deployment_scenario_cannot_take(
        opened: list[dict[str, Any]], flag: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _demo("--scenario", "broker-pause", *flag) == 2
    assert not opened
    err = " ".join(capsys.readouterr().err.split())
    assert "separate processes" in err and "--pace and --walkthrough" in err
