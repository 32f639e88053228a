"""Support for tests of nova-api over HTTP (no tests here): the embedded cloud with its
API served by the real WSGI server on a free port, as ``bootflow-api`` serves it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.api.wsgi_server import APIServer
from services.conf import Config
from tracer.cloud.embedded import EmbeddedCloud


@contextlib.contextmanager
def live_api(tmp_path: Path, transport_url: str, **config: Any
             ) -> Iterator[tuple[EmbeddedCloud, str]]:
    """(cloud, endpoint): conductor, scheduler and a fake compute as threads over
    *transport_url*, nova-api at ``endpoint`` (``http://127.0.0.1:PORT``)."""
    cfg = Config.load(env={}, state_dir=str(tmp_path), **{"virt_type": "fake", **config})
    with EmbeddedCloud(cfg, transport_url=transport_url) as cloud:
        server = APIServer(cloud.app, "127.0.0.1", 0)
        server.start()
        try:
            yield cloud, server.endpoint
        finally:
            server.stop()
