"""Replay positions: a cursor over a recorded event list that steps, seeks and plays.

The picture at any position is the reducer's (``TraceState``) after the events before it,
so a replayed recording shows exactly what live showed.
"""

from __future__ import annotations

import bisect
import gc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracer.model.reducer import TraceState
from tracer.model.views import Snapshot


def _event_ts(ev: Any) -> int:
    """An event's ``ts_ns`` (0 when it has none) for the replay clock."""
    ts = ev.get("ts_ns") if isinstance(ev, Mapping) else None
    return ts if isinstance(ts, int) else 0


@dataclass
class Replay:
    """A cursor over a recorded event list: step, seek, play at a speed.

    Stepping back rebuilds from the nearest checkpoint (a reducer copy every
    ``checkpoint_every`` events), so a step costs at most that many feeds.
    """

    events: Sequence[Mapping[str, Any]]
    checkpoint_every: int = 2000
    speed: float = 1.0
    position: int = 0
    _state: TraceState = field(default_factory=TraceState)
    _checkpoints: dict[int, TraceState] = field(default_factory=dict)

    SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)

    def __post_init__(self) -> None:
        self.events = [e for e in self.events
                       if not (isinstance(e, Mapping) and e.get("format") == "bootflow-trace")]
        self._times = [_event_ts(e) for e in self.events]
        # recordings are written in arrival order; seeking wants a monotone clock
        for i in range(1, len(self._times)):
            if self._times[i] < self._times[i - 1]:
                self._times[i] = self._times[i - 1]
        # about 25 checkpoints whatever the length: a step back replays <= 4% of the file
        self.checkpoint_every = max(self.checkpoint_every, len(self.events) // 25 or 1)
        self._checkpoints[0] = self._state.fork()
        self.hop_marks, self.hop_traces, self.boot_start = _marks(self.events)

    # -- hops --------------------------------------------------------------------------

    def _marks_of(self, trace_id: str | None) -> list[int]:
        if trace_id is None:
            return self.hop_marks
        mine = [m for m, t in zip(self.hop_marks, self.hop_traces, strict=True)
                if t == trace_id]
        return mine or self.hop_marks

    def hop_count(self, trace_id: str | None = None) -> int:
        return len(self._marks_of(trace_id))

    def hop_index(self, trace_id: str | None = None) -> int:
        """How many hops (of ``trace_id``, when given) the picture has sent so far."""
        return bisect.bisect_right(self._marks_of(trace_id), self.position)

    def step_hop(self, n: int, trace_id: str | None = None) -> int:
        """To just after the next (``n`` > 0) or previous message a service sent (of
        ``trace_id`` only, when given and it has hops): each press shows one more hop on
        its way, not one more event."""
        marks = self._marks_of(trace_id)
        if not marks:
            return self.step(n)
        sent = bisect.bisect_right(marks, self.position)  # hops whose send is shown
        target = max(0, min(len(marks), sent + n))
        return self.seek(marks[target - 1] if target else 0)

    def __len__(self) -> int:
        return len(self.events)

    @property
    def state(self) -> TraceState:
        return self._state

    @property
    def at_end(self) -> bool:
        return self.position >= len(self.events)

    def snapshot(self) -> Snapshot:
        return self._state.snapshot()

    def step(self, n: int = 1) -> int:
        """Move *n* events forward (negative: back); returns the new position."""
        return self.seek(self.position + n)

    def seek(self, position: int) -> int:
        position = max(0, min(len(self.events), position))
        if abs(position - self.position) < 5000 or not gc.isenabled():
            return self._seek(position)
        # a long jump allocates ~1 object per event, none cyclic: the cyclic GC would only
        # rescan them again and again (measured: 1.4 s -> 0.7 s for 100,000 events)
        gc.disable()
        try:
            position = self._seek(position)
            # the picture there, while the GC still sleeps: its ~16,000 hops for 100,000
            # events are built in one go (measured: 0.64 s -> 0.31 s); snapshot() keeps it
            self._state.snapshot()
            return position
        finally:
            gc.enable()

    def _seek(self, position: int) -> int:
        if position < self.position:
            base = (position // self.checkpoint_every) * self.checkpoint_every
            self._state = self._checkpoints[base].fork()
            self.position = base
        while self.position < position:
            self._state.feed(self.events[self.position])
            self.position += 1
            if self.position % self.checkpoint_every == 0 and \
                    self.position not in self._checkpoints:
                self._checkpoints[self.position] = self._state.fork()
        return self.position

    def time_of(self, position: int) -> int:
        if not self._times:
            return 0
        return self._times[max(0, min(len(self._times) - 1, position))]

    def seek_time(self, ts_ns: int) -> int:
        """Seek to just after the last event at or before *ts_ns*."""
        return self.seek(bisect.bisect_right(self._times, ts_ns))

    def seek_fraction(self, fraction: float) -> int:
        return self.seek(round(max(0.0, min(1.0, fraction)) * len(self.events)))

    def faster(self) -> float:
        i = self._speed_index()
        self.speed = self.SPEEDS[min(len(self.SPEEDS) - 1, i + 1)]
        return self.speed

    def slower(self) -> float:
        i = self._speed_index()
        self.speed = self.SPEEDS[max(0, i - 1)]
        return self.speed

    def _speed_index(self) -> int:
        return min(range(len(self.SPEEDS)), key=lambda i: abs(self.SPEEDS[i] - self.speed))


def _marks(events: Sequence[Mapping[str, Any]]) -> tuple[list[int], list[str], int]:
    """Positions just after each sending span's start (a hop on its way), and where the
    first request that sent rpc messages (a boot) starts: replay opens there."""
    marks: list[int] = []
    traces: list[str] = []
    roots: dict[str, int] = {}  # trace → position of its root span's start
    boot = None
    for i, ev in enumerate(events):
        if not isinstance(ev, Mapping) or ev.get("type") != "span_start":
            continue
        trace = ev.get("trace_id")
        if ev.get("parent_id") is None and isinstance(trace, str) and trace not in roots \
                and ev.get("kind") in ("SERVER", "HTTP"):
            roots[trace] = i
        # a hop: a message sent, or a request from outside (a root HTTP span)
        if ev.get("kind") in ("CLIENT", "PRODUCER") or (
                ev.get("kind") == "HTTP" and ev.get("parent_id") is None):
            marks.append(i + 1)
            traces.append(trace if isinstance(trace, str) else "")
            attrs = ev.get("attrs")
            if boot is None and isinstance(attrs, Mapping) and attrs.get("rpc.style") \
                    and trace in roots:
                boot = roots[trace]
    return marks, traces, (boot + 1 if boot is not None else 0)
