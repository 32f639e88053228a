"""The one trace model: events in, an immutable ``Snapshot`` out.

The TUI, every export, the scenario verdicts, the headless tree and the tests read it;
none re-folds events on its own. ``views`` holds the frozen views, ``reducer`` the one
reducer (``TraceState``), ``replay`` replay positions, ``constants`` the shared names.
"""

from collections.abc import Iterable
from typing import Any

from tracer.model.reducer import TraceState
from tracer.model.replay import Replay
from tracer.model.views import (
    EMPTY_SNAPSHOT,
    AnnotationView,
    Endpoint,
    HopView,
    InstanceView,
    ReplyView,
    ServiceView,
    Snapshot,
    SpanView,
    TraceView,
    endpoint_order,
    hop_key,
    unanswered_destination,
)

__all__ = ["EMPTY_SNAPSHOT", "AnnotationView", "Endpoint", "HopView", "InstanceView",
           "Replay", "ReplyView", "ServiceView", "Snapshot", "SpanView", "TraceState", "TraceView",
           "endpoint_order", "hop_key", "snapshot_of", "unanswered_destination"]


def snapshot_of(events: Iterable[Any]) -> Snapshot:
    """The picture after *events* (a recording, a test's list): one reducer, fed once."""
    state = TraceState()
    state.feed_all(events)
    return state.snapshot()
