"""`bootflow serve` refuses what it cannot serve, in one line, before listening; the
command it gives each browser is the read-only viewer (or, with --demo, an embedded cloud
of the tab's own on the in-memory transport)."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from tracer.commands.serve import register, viewer_command

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracer.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_no_deployment_is_one_line_naming_bootflow_up(tmp_path: Path) -> None:
    r = _cli("serve", "--state-dir", str(tmp_path / "none"), "--port", "1")
    assert r.returncode == 2 and "bootflow up" in r.stderr and "Traceback" not in r.stderr


def test_bad_options_are_refused(tmp_path: Path) -> None:
    for argv, says in ((["--max-sessions", "0"], "--max-sessions"),
                       (["--port", "70000"], "not a TCP port"),
                       (["--walkthrough"], "--walkthrough goes with --demo")):
        r = _cli("serve", "--state-dir", str(tmp_path), *argv)
        assert r.returncode == 2 and says in r.stderr, (argv, r.stderr)


def test_each_browser_gets_the_read_only_viewer(tmp_path: Path) -> None:
    cmd = shlex.split(viewer_command(_args("--state-dir", str(tmp_path),
                                           "--trace-exchange", "x.trace")))
    assert cmd[:3] == [sys.executable, "-m", "tracer.cli"]
    assert cmd[3:5] == ["tui", "--viewer"] and "--walkthrough" not in cmd
    assert cmd[cmd.index("--state-dir") + 1] == str(tmp_path.resolve())
    assert cmd[cmd.index("--trace-exchange") + 1] == "x.trace"


def test_demo_gives_each_browser_its_own_cloud_in_memory() -> None:
    cmd = shlex.split(viewer_command(_args("--demo")))
    assert cmd[3] == "demo" and cmd[cmd.index("--transport") + 1] == "memory://"
    assert "--walkthrough" in shlex.split(viewer_command(_args("--demo", "--walkthrough")))


def test_tui_viewer_and_walkthrough_together_are_refused(tmp_path: Path) -> None:
    r = _cli("tui", "--viewer", "--walkthrough", "--state-dir", str(tmp_path))
    assert r.returncode == 2 and "pick one" in r.stderr
