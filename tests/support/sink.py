"""What a trace collector delivers, kept for a test to look at (thread-safe)."""

from __future__ import annotations

import threading
import time
from typing import Any

from tracer.collector import wait_for


class Sink:
    """A collector's ``on_event``: every event it is called with, in order."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(event)

    def get(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events)

    def wait(self, n: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """At least *n* events (or what came within *timeout*), and a moment more: any
        extra one (a duplicate) would show up then."""
        wait_for(lambda: len(self.events) >= n, timeout)
        time.sleep(0.05)
        return self.get()
