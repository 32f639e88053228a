"""The TUI in a browser: ``textual-serve``'s server, one viewer process per browser tab,
at most ``max_sessions`` at a time.

textual-serve (Textualize's package) starts the command once per browser websocket and
relays the terminal. ``ViewerServer`` adds what a classroom needs around it: a cap on the
processes (a tab past the cap gets a page saying the room is full, not a hung tab), and
URLs built from the address the browser used (``--host 0.0.0.0`` must not hand a student
``ws://0.0.0.0``).
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from typing import Any

from aiohttp import web
from textual_serve.server import Server

HOST_HEADER = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
"""A Host header that is a host name or address and port; any other falls back to ours."""

RESERVE_S = 20.0
"""How long a served page holds its slot before its websocket arrives."""

FULL_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>bootflow: the room is full</title>
<style>body{{background:#0c181f;color:#eee;font-family:sans-serif;display:flex;
align-items:center;justify-content:center;height:100vh;margin:0}}
main{{max-width:36em;padding:2em;background:#12232d;border-radius:6px}}
h1{{font-size:1.4em}} a{{color:#8cc8ff}}</style></head>
<body><main id="room-full"><h1>The room is full</h1>
<p>{title} serves at most <b id="max-sessions">{limit}</b> browsers at a time, and all
of them are watching now.</p>
<p>Ask the teacher to raise <code>bootflow serve --max-sessions</code>, or try again
when someone closes their tab: <a href="/">reload</a>.</p></main></body></html>
"""


class ViewerServer(Server):
    """``textual_serve.server.Server`` with a session cap (see the module docstring)."""

    def __init__(self, command: str, *, host: str, port: int, max_sessions: int,
                 title: str, public_url: str | None = None) -> None:
        super().__init__(command, host=host, port=port, title=title, public_url=public_url)
        self.fixed_public_url = public_url
        self.max_sessions = max_sessions
        self.sessions = 0  # websockets with a running viewer process
        self.refused = 0  # pages and websockets turned away
        self._reserved: list[float] = []  # monotonic times of pages served, not yet joined

    # -- the cap -----------------------------------------------------------------------

    def _free(self) -> int:
        now = time.monotonic()
        self._reserved = [t for t in self._reserved if now - t < RESERVE_S]
        return self.max_sessions - self.sessions - len(self._reserved)

    def say(self, line: str) -> None:
        """One line on the teacher's terminal (sessions come and go)."""
        self.console.print(line, highlight=False, soft_wrap=True)

    def full_page(self) -> web.Response:
        self.refused += 1
        self.say(f"refused a browser: all {self.max_sessions} sessions are taken")
        body = FULL_PAGE.format(title=html.escape(self.title), limit=self.max_sessions)
        return web.Response(status=503, text=body, content_type="text/html",
                            headers={"Retry-After": "30", "Cache-Control": "no-store"})

    async def handle_index(self, request: web.Request) -> Any:
        """The terminal page, or the full page when every session is taken."""
        if self._free() <= 0:
            return self.full_page()
        self._reserved.append(time.monotonic())
        if self.fixed_public_url is None:  # the address this browser reached us by
            host = request.host if HOST_HEADER.fullmatch(request.host) else (
                f"{self.host}:{self.port}")
            self.public_url = f"{request.scheme}://{host}"
        response = await super().handle_index(request)
        # not kept in the back/forward cache: a tab that navigates away closes its
        # websocket and frees its seat (a cached page would keep its viewer running)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One viewer process per websocket while there is room; past the cap the
        terminal says so and closes (a tab that skipped the page, or lost a race)."""
        if self._reserved:
            self._reserved.pop(0)
        if self.sessions >= self.max_sessions:
            self.refused += 1
            self.say(f"refused a websocket: all {self.max_sessions} sessions are taken")
            websocket = web.WebSocketResponse()
            await websocket.prepare(request)
            await websocket.send_bytes(
                f"\r\n  The room is full: {self.title} serves at most {self.max_sessions} "
                "browsers at a time. Reload later.\r\n".encode())
            await asyncio.sleep(0.5)
            await websocket.close()
            return websocket
        self.sessions += 1
        self.say(f"viewer session opened ({self.sessions}/{self.max_sessions})")
        try:
            return await super().handle_websocket(request)
        finally:
            self.sessions -= 1
            self.say(f"viewer session closed ({self.sessions}/{self.max_sessions})")

    async def handle_health(self, request: web.Request) -> web.Response:
        """``/health``: sessions in use, for the teacher and the tests."""
        return web.json_response({"sessions": self.sessions, "max_sessions": self.max_sessions,
                                  "refused": self.refused})

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.add_routes([web.get("/health", self.handle_health, name="health")])
        return app

    async def on_startup(self, app: web.Application) -> None:
        shown = self.fixed_public_url or f"http://{self.host}:{self.port}"
        self.say(f"bootflow serve: {self.title} on {shown} "
                 f"(at most {self.max_sessions} browsers; Ctrl+C stops)")
