"""SVG snapshots of the main screens at 80x24, 100x30, 120x40 and 160x45
(pytest-textual-snapshot). The facts behind them are checked by the Pilot tests
(test_tui_graph_layout, test_tui_walkthrough_steps, test_tui_replay_hops,
test_tui_present); these catch what no fact test names.

Update after an intended visual change: ``pytest tests/unit/test_tui_snapshots.py
--snapshot-update`` and look at the report before committing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from support.tui import GATE_HOPS, FakeGate

from tracer.model import snapshot_of
from tracer.tui import BootflowApp, ListSource, ReplaySource

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SIZES = [(80, 24), (100, 30), (120, 40), (160, 45)]
TWO_SIZES = [(120, 40), (100, 30)]


def load(name: str = "boot_one.jsonl") -> list[dict[str, Any]]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:] if line.strip()]


def settle(*keys: str) -> Callable[[Any], Awaitable[None]]:
    async def run_before(pilot: Any) -> None:
        await pilot.app.wait_for_idle_snapshot()
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.app.wait_for_idle_snapshot()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_live_final(snap_compare: Any, size: tuple[int, int]) -> None:
    app = BootflowApp(ListSource(load()), mode="live", clock=None)
    assert snap_compare(app, terminal_size=size, run_before=settle())


@pytest.mark.parametrize("size", TWO_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_live_mid_boot_call_waiting(snap_compare: Any, size: tuple[int, int]) -> None:
    """Cut while select_destinations runs: the conductor is drawn blocked."""
    events = load()
    cut = next(i for i, e in enumerate(events) if e.get("name") == "weigh")
    app = BootflowApp(ListSource(events[:cut]), mode="live", clock=None)
    assert snap_compare(app, terminal_size=size, run_before=settle())


@pytest.mark.parametrize("size", TWO_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_walkthrough_pending(snap_compare: Any, size: tuple[int, int]) -> None:
    app = BootflowApp(ListSource(load()[:20]), mode="walkthrough", gate=FakeGate(GATE_HOPS),
                      clock=None)
    assert snap_compare(app, terminal_size=size, run_before=settle())


def real_gate(events: list[dict[str, Any]]) -> FakeGate:
    """A gate holding the boot's rpc messages, named as the real gate names them."""
    snap = snapshot_of(events)
    hops = [h for h in snap.trace_hops(snap.latest_trace()) if h.is_rpc]
    return FakeGate([{"method": h.method, "style": h.style, "version": h.version,
                      "exchange": h.exchange, "routing_key": h.routing_key,
                      "service": h.dst_service, "host": h.dst_host,
                      "parent_span_id": h.hop_id} for h in hops[:5]])


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_walkthrough_mid_flow(snap_compare: Any, size: tuple[int, int]) -> None:
    """Three hops released, the fourth held: the just-happened block and the held hop."""
    events = load()
    app = BootflowApp(ListSource(events), mode="walkthrough", gate=real_gate(events),
                      clock=None)
    assert snap_compare(app, terminal_size=size, run_before=settle("n", "n", "n"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_present(snap_compare: Any, size: tuple[int, int]) -> None:
    """Presentation mode on a replay two hops into the boot."""
    app = BootflowApp(ReplaySource(load()), mode="replay", present=True)
    assert snap_compare(app, terminal_size=size, run_before=settle("full_stop", "full_stop"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_replay_midway(snap_compare: Any, size: tuple[int, int]) -> None:
    app = BootflowApp(ReplaySource(load()), mode="replay")
    assert snap_compare(app, terminal_size=size,
                        run_before=settle("shift+right", *["shift+right"] * 9))


def test_sequence_view(snap_compare: Any) -> None:
    app = BootflowApp(ListSource(load()), mode="live", clock=None)
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle("v"))


def test_chinese_light(snap_compare: Any) -> None:
    app = BootflowApp(ListSource(load()), mode="live", clock=None)
    assert snap_compare(app, terminal_size=(120, 40),
                        run_before=settle("left_square_bracket", "l", "d"))


def test_help(snap_compare: Any) -> None:
    app = BootflowApp(ReplaySource(load()), mode="replay")
    assert snap_compare(app, terminal_size=(100, 30), run_before=settle("question_mark"))


def test_real_recording(snap_compare: Any) -> None:
    """A real `bootflow demo --record` run, opened on its final picture."""
    app = BootflowApp(ReplaySource(load("boot_real.jsonl"), start_at_end=True), mode="replay")
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle())
