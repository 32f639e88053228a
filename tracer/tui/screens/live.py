"""Live mode: a source pushes events, the picture follows them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracer.model.feed import LiveFeed
from tracer.tui.screens.base import TraceScreen, mode_keys


class LiveScreen(TraceScreen):
    """Watching the services: the common keys only."""

    MODE = "live"
    SUB_TITLE = "watching the services"
    BINDINGS = mode_keys()

    @classmethod
    def create(cls, source: Any, *, gate: Any = None, service_down_time_s: float = 60.0,
               clock: Callable[[], int] | None = None,
               intro: str | None = None) -> LiveScreen:
        return cls(LiveFeed(service_down_time_s=service_down_time_s, wall_clock=clock),
                   intro=intro)
