"""Debian's headless Chromium driven over its DevTools protocol (for `bootflow serve`).

One ``Browser`` is one Chromium process with a throw-away profile and no network beyond
127.0.0.1; each ``Page`` is a tab with its own DevTools websocket (aiohttp's client, which
textual-serve brings). No browser is downloaded: ``support.browser.require_chromium``
fails the test naming the fix when Debian's ``chromium`` is missing.

textual-serve draws the terminal with xterm.js on a canvas, so the page's DOM has no text
to read. ``TERMINAL_HOOK`` runs before the page's own scripts and keeps a reference to the
xterm ``Terminal`` the page creates; ``Page.screen()`` reads the lines xterm holds, i.e.
what the tab shows, cell for cell.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from support.browser import FLAGS, require_chromium

LOCAL_FLAGS = tuple(f for f in FLAGS if not f.startswith("--host-resolver-rules")) + (
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",)

TERMINAL_HOOK = """
(() => {
  Object.defineProperty(Object.prototype, "terminal", {
    configurable: true,
    get() { return undefined; },
    set(value) {
      Object.defineProperty(this, "terminal", {value, writable: true, configurable: true,
                                               enumerable: true});
      if (value && value.buffer && typeof value.write === "function" && !window.__bfTerm) {
        window.__bfTerm = value;
      }
    },
  });
  window.__bfScreen = () => {
    const term = window.__bfTerm;
    if (!term) return null;
    const buffer = term.buffer.active, lines = [];
    for (let i = 0; i < term.rows; i++) {
      const line = buffer.getLine(buffer.viewportY + i);
      lines.push(line ? line.translateToString(true) : "");
    }
    return lines.join("\\n");
  };
})();
"""


class DevToolsError(RuntimeError):
    """Chromium did not start, or a DevTools command failed."""


class Page:
    """One tab: ``evaluate``, ``screen``, ``press``, ``screenshot``."""

    def __init__(self, browser: Browser, ws: aiohttp.ClientWebSocketResponse,
                 target_id: str) -> None:
        self.browser = browser
        self.ws = ws
        self.target_id = target_id
        self._ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        await self.ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = await self.ws.receive(timeout=60)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise DevToolsError(f"{method}: the DevTools socket closed ({msg.type})")
            data = json.loads(msg.data)
            if data.get("id") == msg_id:
                if "error" in data:
                    raise DevToolsError(f"{method}: {data['error']}")
                result: dict[str, Any] = data.get("result", {})
                return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression,
                                 returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise DevToolsError(f"{expression[:60]}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    async def navigate(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def screen(self) -> str | None:
        """The terminal's lines as the tab shows them (None before xterm exists)."""
        value = await self.evaluate("window.__bfScreen ? window.__bfScreen() : null")
        return None if value is None else str(value)

    async def wait_screen(self, predicate: Any, timeout: float, what: str,
                          poll: float = 0.25) -> str:
        """Until ``predicate(screen)`` holds; the screen, or AssertionError showing it."""
        deadline = time.monotonic() + timeout
        text: str | None = None
        while time.monotonic() < deadline:
            text = await self.screen()
            if text is not None and predicate(text):
                return text
            await asyncio.sleep(poll)
        raise AssertionError(f"timed out ({timeout}s) waiting for {what}; the page shows:\n"
                             f"{text}")

    async def focus_terminal(self) -> None:
        await self.evaluate("window.__bfTerm && window.__bfTerm.focus()")

    async def press(self, key: str) -> None:
        """One printable key, as a keyboard would send it to the focused terminal."""
        code = "Space" if key == " " else f"Key{key.upper()}" if key.isalpha() else ""
        vk = 32 if key == " " else ord(key.upper())
        await self.send("Input.dispatchKeyEvent", type="keyDown", key=key, code=code,
                        text=key, unmodifiedText=key, windowsVirtualKeyCode=vk)
        await self.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=code,
                        windowsVirtualKeyCode=vk)

    async def screenshot(self, path: Path) -> Path:
        data = await self.send("Page.captureScreenshot", format="png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    async def close(self) -> None:
        """Close the tab (as a student closing it would)."""
        assert self.browser._http is not None
        async with self.browser._http.get(
                f"{self.browser.endpoint}/json/close/{self.target_id}") as resp:
            await resp.read()
        await self.ws.close()


class Browser:
    """``async with Browser() as b: page = await b.open(url)``; a headless Chromium."""

    def __init__(self, size: tuple[int, int] = (1400, 900),
                 extra_flags: tuple[str, ...] = ()) -> None:
        self.size = size
        self.extra_flags = extra_flags
        self.process: subprocess.Popen[bytes] | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._http: aiohttp.ClientSession | None = None
        self.endpoint = ""

    async def __aenter__(self) -> Browser:
        binary = require_chromium()
        self._profile = tempfile.TemporaryDirectory(prefix="bootflow-cdp-",
                                                    ignore_cleanup_errors=True)
        profile = Path(self._profile.name)
        self.process = subprocess.Popen(
            [binary, *LOCAL_FLAGS, *self.extra_flags, f"--user-data-dir={profile}",
             f"--window-size={self.size[0]},{self.size[1]}", "--remote-debugging-port=0",
             "--remote-allow-origins=*", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                await self.close()
                raise DevToolsError("chromium did not open its DevTools port")
            await asyncio.sleep(0.1)
        port = port_file.read_text().split()[0]
        self.endpoint = f"http://127.0.0.1:{port}"
        self._http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self, url: str, *, before_load: str = "") -> Page:
        """A new tab on *url*, the terminal hook (and *before_load*, a script) installed
        before the page's own scripts."""
        assert self._http is not None
        async with self._http.put(f"{self.endpoint}/json/new?about:blank") as resp:
            target = await resp.json()
        ws = await self._http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        page = Page(self, ws, target["id"])
        await page.send("Page.enable")
        await page.send("Page.addScriptToEvaluateOnNewDocument", source=TERMINAL_HOOK)
        if before_load:
            await page.send("Page.addScriptToEvaluateOnNewDocument", source=before_load)
        await page.navigate(url)
        return page

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None
