"""The one trace model: events in, an immutable ``Snapshot`` out.

The TUI, every export, the scenario verdicts, the headless tree and the tests read it;
none re-folds events on its own.
"""

from tracer.model.reducer import (
    EMPTY_SNAPSHOT,
    HopView,
    Replay,
    Snapshot,
    SpanView,
    TraceState,
    hop_key,
)

__all__ = ["EMPTY_SNAPSHOT", "HopView", "Replay", "Snapshot", "SpanView", "TraceState",
           "hop_key"]
