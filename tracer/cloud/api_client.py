"""A minimal JSON client of the compute API (urllib, noauth token ``user:project``).

``bootflow boot``, the deployment scenarios, the benches and the tests all talk to a
running nova-api through it.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

DEFAULT_TOKEN = "demo:demo"


class APIClient:
    """Minimal JSON client of the compute API (urllib, noauth token)."""

    def __init__(self, endpoint: str, token: str = DEFAULT_TOKEN) -> None:
        self.endpoint, self.token = endpoint.rstrip("/"), token

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.endpoint + path, data=data, method=method)
        req.add_header("X-Auth-Token", self.token)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, raw.decode(errors="replace")

    def wait(self, uuids: list[str], timeout: float,
             states: tuple[str, ...] = ("ACTIVE", "ERROR")) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            servers = [self.request("GET", f"/v2.1/servers/{u}")[1]["server"] for u in uuids]
            if all(s["status"] in states for s in servers):
                return servers
            if time.monotonic() > deadline:
                raise TimeoutError(f"not {'/'.join(states)} after {timeout:.0f}s: "
                                + ", ".join(f"{s['id']} {s['status']}" for s in servers))
            time.sleep(0.1)
