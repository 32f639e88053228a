"""A small RPC endpoint for the messaging tests: ``echo`` answers, ``record`` keeps casts."""

from __future__ import annotations

import queue
from typing import Any

from services.messaging import Target


class EchoManager:
    target = Target(version="1.0")

    def __init__(self) -> None:
        self.casts: queue.Queue[Any] = queue.Queue()

    def echo(self, ctxt: Any, value: Any) -> Any:
        return value

    def record(self, ctxt: Any, value: Any) -> None:
        self.casts.put(value)
