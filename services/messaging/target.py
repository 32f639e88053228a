"""Where a message goes (client) or what a server / endpoint serves: oslo's Target."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """exchange/topic/server pick the queue; namespace/version pick the endpoint."""

    exchange: str | None = None
    topic: str | None = None
    namespace: str | None = None
    version: str | None = None
    server: str | None = None
    fanout: bool | None = None

    def __call__(self, **kwargs: Any) -> Target:
        """A copy with some fields replaced (oslo's ``target(server=...)``)."""
        return dataclasses.replace(self, **kwargs)
