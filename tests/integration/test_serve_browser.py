"""`bootflow serve` in a real browser: Debian's headless Chromium (DevTools protocol,
``support.devtools``) watches a process deployment (virt test) through a read-only
viewer, while the teacher's gate (what `bootflow tui --walkthrough` runs) holds the hops.

What a student would see: the page loads and draws the service graph, a `bootflow boot`
shows up with its held hop, the release keys do nothing (the teacher's gate still holds
the hop), and past ``--max-sessions`` a tab gets the "room is full" page. The page's last
picture is kept in build/test-artifacts/serve-viewer.png.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import ARTIFACTS
from support.devtools import Browser, Page
from support.rabbit import own_vhost

from tracer.cloud import processes as deploy
from tracer.cloud.api_client import APIClient
from tracer.cloud.processes import DeployError, Deployment, free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One deployment (virt test) on a vhost of its own for the module's tests."""
    state = tmp_path_factory.mktemp("serve") / "state"
    tag = uuid.uuid4().hex[:8]
    with own_vhost() as transport:
        try:
            deploy.check_rabbit(transport)
        except DeployError as exc:
            pytest.fail(str(exc), pytrace=False)
        d = Deployment(state)
        cfg = d.make_config(transport_url=transport, virt_type="test", api_port=free_port(),
                            placement_port=free_port(), control_exchange=f"bf-test-{tag}",
                            report_interval=1, service_down_time=4, periodic_interval=5)
        d.up(cfg, computes=1, trace_exchange=f"bf-test-{tag}.trace")
        try:
            yield {"state": str(state), "transport": transport,
                   "trace": f"bf-test-{tag}.trace"}
        finally:
            d.down(timeout=10)


def _health(base: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as resp:
            data: dict[str, Any] = json.load(resp)
            return data
    except OSError:
        return None


class Serving:
    """`bootflow serve` as a process, with its base URL."""

    def __init__(self, state: str, *args: str) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tracer.cli", "serve", "--state-dir", state,
             "--port", str(port), *args], cwd=REPO, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while _health(self.base) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"bootflow serve did not answer: {self.output}")
            time.sleep(0.2)

    output = ""

    def health(self) -> dict[str, Any]:
        found = _health(self.base)
        assert found is not None, "bootflow serve stopped answering"
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.output, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.output, _ = self.proc.communicate()


async def _wait(pred: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out ({timeout}s) waiting for {what}")


def _cjk(text: str) -> int:
    return sum(1 for c in text if "\u4e00" <= c <= "\u9fff")


def test_browser_viewer_sees_the_boot_and_cannot_release(deployment: dict[str, str]) -> None:
    asyncio.run(_viewer_in_browser(deployment))


async def _viewer_in_browser(dep: dict[str, str]) -> None:
    from services.messaging.gate import GateController
    from tracer.collector import Collector
    from tracer.commands.live import RequestOnlyGate

    teacher = RequestOnlyGate(GateController(dep["transport"]))  # bootflow tui --walkthrough
    watcher = Collector(dep["transport"], teacher.observe, exchange=dep["trace"])
    watcher.start()
    serving = Serving(dep["state"])
    shot = ARTIFACTS / "serve-viewer.png"
    page: Page | None = None
    try:
        async with Browser() as browser:
            page = await browser.open(serving.base + "/")
            screen = await page.wait_screen(
                lambda s: "service graph" in s and "conductor" in s and "VIEWER" in s,
                90, "the viewer's service graph")
            assert "teacher's gate" in screen and "read-only" in screen
            assert serving.health()["sessions"] == 1

            teacher.set_enabled(True)
            await asyncio.sleep(0.5)  # the "on" crosses the control exchange
            boot = subprocess.run(
                [sys.executable, "-m", "tracer.cli", "boot", "classvm", "--state-dir",
                 dep["state"]], cwd=REPO, capture_output=True, text=True, timeout=60)
            assert boot.returncode == 0, boot.stderr
            first = await _wait(teacher.pending, 20, "the teacher's first held hop")
            assert first[0]["hop"]["method"] == "schedule_and_build_instances"
            await page.wait_screen(lambda s: "schedule_and_build_instances" in s
                                   and "1 held" in s, 30, "the held hop in the page")

            # the release keys do nothing here: the teacher's gate still holds the hop
            await page.focus_terminal()
            for key in ("n", " ", "g", "n"):
                await page.press(key)
            await asyncio.sleep(2.0)
            assert [p["hop_id"] for p in teacher.pending()] == [first[0]["hop_id"]]
            api = APIClient(Deployment(dep["state"]).endpoint())
            _, servers = api.request("GET", "/v2.1/servers/detail")
            held = [s for s in servers["servers"] if s["name"] == "classvm"]
            assert held and held[0]["OS-EXT-STS:task_state"] == "scheduling", held
            screen = await page.screen() or ""
            assert "1 held" in screen and "teacher's gate ON" in screen, screen
            await page.screenshot(ARTIFACTS / "serve-viewer-held.png")
            # ... while the keys do reach the viewer: the language switches
            before = _cjk(screen)
            await page.press("l")
            await page.wait_screen(lambda s: _cjk(s) > before + 10, 10,
                                   "the page in Chinese after l")
            await page.press("l")

            # the teacher steps: the page follows
            teacher.release_next()
            await _wait(lambda: [p for p in teacher.pending()
                                 if p["hop_id"] != first[0]["hop_id"]], 20, "the next hop")
            await page.wait_screen(lambda s: "select_destinations" in s, 30,
                                   "the next held hop in the page")
            teacher.set_enabled(False)
            await page.wait_screen(
                lambda s: "POST /v2.1/servers" in s and "classvm" in s and "active" in s,
                60, "the boot ACTIVE in the page")
            await asyncio.sleep(1.0)
            await page.screenshot(shot)
    finally:
        teacher.set_enabled(False)
        teacher.close()
        watcher.stop()
        serving.stop()
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert "viewer session opened (1/30)" in serving.output


def test_more_tabs_than_max_sessions_get_the_full_page(deployment: dict[str, str]) -> None:
    asyncio.run(_room_full(deployment))


async def _room_full(dep: dict[str, str]) -> None:
    serving = Serving(dep["state"], "--max-sessions", "1")
    try:
        async with Browser() as browser:
            first = await browser.open(serving.base + "/")
            await first.wait_screen(lambda s: "VIEWER" in s, 90, "the first viewer")
            assert serving.health()["sessions"] == 1
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(serving.base + "/", timeout=5)
            assert refused.value.code == 503
            second = await browser.open(serving.base + "/")
            text = await _wait_text(second, "The room is full")
            assert "at most 1 browsers" in text and "--max-sessions" in text
            await second.screenshot(ARTIFACTS / "serve-room-full.png")
            assert await second.screen() is None  # no terminal, no process behind it
            assert serving.health()["sessions"] == 1
            # a tab that closes frees its seat
            await first.close()
            await _wait(lambda: serving.health()["sessions"] == 0, 20, "the seat freed")
            third = await browser.open(serving.base + "/")
            await third.wait_screen(lambda s: "VIEWER" in s, 90, "a viewer in the freed seat")
    finally:
        serving.stop()


async def _wait_text(page: Page, needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = str(await page.evaluate("document.body ? document.body.innerText : ''"))
        if needle in text:
            return text
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {needle!r} in the page: {text!r}")


def test_demo_tab_boots_its_own_embedded_cloud(tmp_path: Path) -> None:
    """`bootflow serve --demo`: no deployment; a tab boots its own cloud (memory://)."""
    asyncio.run(_demo_in_browser(tmp_path))


async def _demo_in_browser(tmp_path: Path) -> None:
    serving = Serving(str(tmp_path / "no-deployment"), "--demo")
    try:
        async with Browser() as browser:
            page = await browser.open(serving.base + "/")
            screen = await page.wait_screen(
                lambda s: "POST /v2.1/servers" in s and "demo-vm" in s and "active" in s,
                120, "the demo's boot ACTIVE in the page")
            assert "LIVE" in screen and "service graph" in screen
            await page.screenshot(ARTIFACTS / "serve-demo.png")
    finally:
        serving.stop()
