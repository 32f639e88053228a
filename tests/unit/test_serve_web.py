"""`ViewerServer` (textual-serve's server with a session cap), over real HTTP without a
browser: a served page holds its seat, the next one past the cap gets the 'room is full'
page, and the page's URLs use the address the browser asked for, never a hostile Host."""

from __future__ import annotations

import asyncio
import re

from aiohttp.test_utils import TestClient, TestServer

from tracer.tui.web import ViewerServer


def _server(max_sessions: int) -> ViewerServer:
    return ViewerServer("true", host="0.0.0.0", port=8000, max_sessions=max_sessions,
                        title="bootflow test")


async def _client(server: ViewerServer) -> TestClient:  # type: ignore[type-arg]
    client: TestClient = TestClient(TestServer(await server._make_app()))  # type: ignore[type-arg]
    await client.start_server()
    return client


def test_seats_are_held_by_served_pages_and_the_next_gets_the_full_page() -> None:
    async def run() -> None:
        client = await _client(_server(2))
        try:
            for _ in range(2):
                page = await client.get("/")
                assert page.status == 200 and "textual-terminal" in await page.text()
                assert page.headers["Cache-Control"] == "no-store"
            full = await client.get("/")
            text = await full.text()
            assert full.status == 503 and "The room is full" in text
            assert 'id="max-sessions">2<' in text and "--max-sessions" in text
            health = await (await client.get("/health")).json()
            assert health == {"sessions": 0, "max_sessions": 2, "refused": 1}
        finally:
            await client.close()
    asyncio.run(run())


def test_page_urls_use_the_browsers_address_not_a_hostile_host() -> None:
    async def run() -> None:
        client = await _client(_server(5))
        try:
            page = await (await client.get("/", headers={"Host": "10.0.0.5:8000"})).text()
            assert re.search(r'data-session-websocket-url="ws://10\.0\.0\.5:8000/ws"', page)
            bad = await (await client.get("/", headers={"Host": 'x"><script>'})).text()
            assert "<script>\"" not in bad and 'x"><script>' not in bad
            assert 'data-session-websocket-url="ws://0.0.0.0:8000/ws"' in bad
        finally:
            await client.close()
    asyncio.run(run())
