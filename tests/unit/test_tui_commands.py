"""The command palette (ctrl+p) offers bootflow's commands: trace, view, language,
theme, presentation mode, scenario, export; typed and chosen as a user would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.tui import load, sync

from tracer.tui import BootflowApp, ListSource, ReplaySource


def screen_text(app: Any) -> str:
    return "\n".join("".join(seg.text for seg in line)
                     for line in app.screen._compositor.render_strips())


async def run_command(app: Any, pilot: Any, typed: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*typed)
    await pilot.pause(0.4)  # the palette searches in the background
    await pilot.press("enter")
    await pilot.pause()


@sync
async def test_present_view_language_theme_and_trace(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = BootflowApp(ListSource(load("boot_real.jsonl")), mode="live", clock=None)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        main = app.screen
        assert not main.presenting
        await run_command(app, pilot, "present")
        assert app.screen is main and main.presenting
        await run_command(app, pilot, "present")
        assert not main.presenting

        await run_command(app, pilot, "view: sequence")
        assert main.query_one("#views").active == "tab-sequence"
        await run_command(app, pilot, "language: chinese")
        assert app.lang == "zh" and "服务图" in screen_text(app)
        await run_command(app, pilot, "language: english")
        assert app.lang == "en"
        await run_command(app, pilot, "theme: light")
        assert app.theme == "textual-light"

        # a trace by its name: a start-up trace, then the boot again
        names = {t.root_name: t.trace_id for t in main.snapshot.traces.values()}
        boot = names["POST /v2.1/servers"]
        await run_command(app, pilot, "show trace: start nova-scheduler")
        assert main.trace_id == names["start nova-scheduler"] and not main.follow
        await run_command(app, pilot, "show trace: POST /v2.1/servers")
        assert main.trace_id == boot

        await run_command(app, pilot, "scenario: boot-one")
        assert "bootflow demo --scenario boot-one" in screen_text(app)


@sync
async def test_export_html_writes_a_file_and_says_where(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = BootflowApp(ListSource(load()), mode="live", clock=None)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        await run_command(app, pilot, "export html")
        files = list(tmp_path.glob("bootflow-live-*.html"))
        assert len(files) == 1
        page = files[0].read_text(encoding="utf-8")
        assert "<html" in page.lower() and "select_destinations" in page
        await pilot.pause(0.3)
        assert files[0].name in screen_text(app), screen_text(app)


@sync
async def test_export_in_replay_writes_the_recording(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = BootflowApp(ReplaySource(load()), mode="replay")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        await run_command(app, pilot, "export dot")
        files = list(tmp_path.glob("bootflow-replay-*.dot"))
        assert len(files) == 1 and "digraph" in files[0].read_text(encoding="utf-8")
        assert "select_destinations" in files[0].read_text(encoding="utf-8")
