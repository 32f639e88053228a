"""Shared by the TUI tests: the recorded fixtures, a stand-in gate, a sync runner."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def sync(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """No asyncio pytest plugin is installed: run each test in its own loop."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return run


def load(name: str = "boot_one.jsonl") -> list[dict[str, Any]]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:] if line.strip()]


class FakeGate:
    """Stands in for services.messaging.gate.GateController."""

    def __init__(self, hops: list[dict[str, Any]]) -> None:
        self.held = [{"hop_id": f"h{i}", "hop": hop} for i, hop in enumerate(hops)]
        self.released: list[str] = []
        self.enabled: list[bool] = []

    def pending(self) -> list[dict[str, Any]]:
        return list(self.held)

    def release(self, hop_id: str) -> None:
        self.held = [h for h in self.held if h["hop_id"] != hop_id]
        self.released.append(hop_id)

    def release_next(self) -> str | None:
        if not self.held:
            return None
        hop_id = self.held[0]["hop_id"]
        self.release(hop_id)
        return hop_id

    def set_enabled(self, enabled: bool) -> None:
        self.enabled.append(enabled)


GATE_HOPS = [
    {"method": "select_destinations", "style": "call", "topic": "scheduler", "version": "4.5",
     "exchange": "nova", "routing_key": "scheduler", "service": "nova-scheduler",
     "host": "scheduler"},
    {"method": "build_and_run_instance", "style": "cast", "topic": "compute",
     "version": "5.0", "exchange": "nova", "routing_key": "compute.compute1",
     "service": "nova-compute", "host": "compute1"},
    {"method": "object_action", "style": "call", "topic": "conductor", "version": "3.0",
     "exchange": "nova", "routing_key": "conductor", "service": "nova-conductor",
     "host": "conductor"},
]
