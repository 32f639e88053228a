"""`bootflow ... --headless` piped to a file or less does not wrap at 80 columns: names
stay whole (a learner found `schedule_and_bu` / `ild_instances`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracer.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_headless_replay_piped_keeps_lines_whole(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["replay", str(FIXTURES / "boot_real.jsonl"), "--headless"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any("schedule_and_build_instances" in line for line in lines)
    assert max(len(line) for line in lines) > 80  # the tree's long lines are not cut
    # no name split over two lines
    for a, b in zip(lines, lines[1:], strict=False):
        assert not (a.rstrip().endswith("schedule_and_bu") and b.lstrip().startswith("ild"))
    assert all(len(line) <= 400 for line in lines)
