"""Feeds: how events become the pictures a viewer draws, in plain Python (no Textual).

A viewer holds one feed and runs ``feed.run(cancelled, show)`` in a background thread;
``show(snapshot)`` is called with each new picture and must be safe from that thread.

- ``LiveFeed``: events pushed from any thread are queued (never dropped), fed to one
  ``TraceState`` and shown at most once a frame (``FramePacer``); with a wall clock the
  picture is also redrawn once a second without events, so heartbeat ages and open
  calls' waiting times grow.
- ``ReplayFeed``: a ``Replay`` cursor over a recording, moved by jobs (step, seek, scrub)
  run one at a time off the UI thread, and the play clock that turns wall time into
  a recording position at a speed.

Kept apart from the TUI so the pacing and the play clock are tested without a terminal.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from tracer.model import Replay, Snapshot, TraceState

FRAME_S = 0.05  # at most ~20 pictures a second reach the screen
FLOOD_FRAMES = 4  # under a flood, still a picture every 4 frames while feeding
BATCH = 2000  # events fed between two looks at the clock
TICK_S = 1.0  # the live clock: a redraw without events, once a second
IDLE_GAP_NS = 1_000_000_000  # playing skips quiet stretches longer than this

OnEvent = Callable[[Mapping[str, Any]], None]
Show = Callable[[Snapshot], object]
Cancelled = Callable[[], bool]


class Source(Protocol):
    """What a live feed attaches to (``tracer.tui.sources`` has the real ones)."""

    def start(self, on_event: OnEvent) -> None: ...
    def stop(self) -> None: ...


class FramePacer:
    """At most one picture per ``interval`` seconds; a flood still gets one now and then.

    Times are ``time.monotonic()`` seconds passed in, so tests need no sleeping.
    """

    def __init__(self, interval: float = FRAME_S, flood_frames: int = FLOOD_FRAMES) -> None:
        self.interval = interval
        self.flood_frames = flood_frames
        self.last = float("-inf")

    def due(self, now: float) -> bool:
        """A new picture may be shown now."""
        return now - self.last >= self.interval

    def overdue(self, now: float) -> bool:
        """Feeding has gone on so long without a picture that one should go out first."""
        return now - self.last >= self.interval * self.flood_frames

    def shown(self, now: float) -> None:
        self.last = now


class LiveFeed:
    """Events from a source (any thread) → one reducer → paced snapshots."""

    def __init__(self, *, service_down_time_s: float = 60.0,
                 wall_clock: Callable[[], int] | None = time.time_ns,
                 clock: Callable[[], float] = time.monotonic, frame_s: float = FRAME_S,
                 batch: int = BATCH, tick_s: float = TICK_S) -> None:
        """``wall_clock`` None: judge heartbeats by the last event's time (tests)."""
        self.state = TraceState(service_down_time_s=service_down_time_s)
        self.pacer = FramePacer(frame_s)
        self.wall_clock = wall_clock
        self.clock = clock
        self.batch = batch
        self.tick_s = tick_s
        self.ingested = 0  # events fed to the reducer
        self._received = 0  # events pushed
        self._queue: deque[Mapping[str, Any]] = deque()
        self._push_lock = threading.Lock()
        self._wake = threading.Event()
        self._dirty = False
        self._last_tick = float("-inf")
        self._source: Source | None = None

    # -- producer side (any thread) --------------------------------------------------

    def push(self, event: Mapping[str, Any]) -> None:
        """The source's callback; any thread. Queued, never dropped."""
        with self._push_lock:
            self._queue.append(event)
            self._received += 1
        self._wake.set()

    def attach(self, source: Source) -> None:
        self._source = source
        source.start(self.push)

    def detach(self) -> None:
        """Stop the source and wake the loop so it sees it is cancelled."""
        self._wake.set()
        source, self._source = self._source, None
        if source is not None:
            source.stop()

    # -- consumer side (the feed's own thread) ---------------------------------------

    @property
    def backlog(self) -> int:
        return len(self._queue)

    def pump(self) -> Snapshot | None:
        """Feed what is queued; the new picture if one is due (else None, kept for later)."""
        queue_ = self._queue
        while queue_:
            for _ in range(min(len(queue_), self.batch)):
                self.state.feed(queue_.popleft())
                self.ingested += 1
            self._dirty = True
            if self.pacer.overdue(self.clock()):
                break  # under a flood still show a frame now and then
        now = self.clock()
        if not (self._dirty and self.pacer.due(now)):
            return None
        self.pacer.shown(now)
        self._dirty = False
        return self.state.snapshot()

    def tick(self) -> Snapshot | None:
        """The live clock's picture (ages grown to now), once per ``tick_s`` while idle."""
        if self.wall_clock is None or self.state.seq == 0 or self._queue or self._dirty:
            return None
        now = self.clock()
        if now - self._last_tick < self.tick_s:
            return None
        self._last_tick = now
        return self.state.snapshot(now_ns=max(self.wall_clock(), self.state.t_last_ns))

    def run(self, cancelled: Cancelled, show: Show) -> None:
        """The feed's loop: wake on events or every frame, feed, show what is due."""
        while not cancelled():
            self._wake.wait(self.pacer.interval)
            self._wake.clear()
            snap = self.pump() or self.tick()
            if snap is not None:
                show(snap)
            if self._queue or self._dirty:
                self._wake.set()

    def caught_up(self, drawn_seq: int) -> bool:
        """Every pushed event is fed and the picture drawn last (``drawn_seq``) shows it."""
        with self._push_lock:
            received = self._received
        return self.ingested == received and drawn_seq == self.state.seq


Job = Callable[[Replay], object]


class ReplayFeed:
    """A recording walked by a ``Replay`` cursor; jobs move it one at a time.

    ``submit`` (UI thread) queues a job; ``run`` (the feed's thread) does it and shows
    the picture. ``playing``/``tick`` are the play clock: wall time × speed → a
    recording time to seek to, quiet stretches over a second skipped.
    """

    def __init__(self, events: Sequence[Mapping[str, Any]], *, start_at_end: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.replay = Replay(list(events))
        self.clock = clock
        self.playing = False
        self._play_t = 0
        self._play_wall = 0.0
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._count_lock = threading.Lock()
        self._outstanding = 0
        # the first picture: the final one (what live showed last) or the boot's request
        # arriving (start-up chatter before it is there to step back into)
        self.submit((lambda r: r.seek(len(r))) if start_at_end
                    else (lambda r: r.seek(r.boot_start)))

    # -- what is shown ---------------------------------------------------------------

    @property
    def ingested(self) -> int:
        """Events the picture holds: the cursor's position."""
        return self.replay.position

    @property
    def busy(self) -> bool:
        """A job is queued or running: the position is about to change."""
        with self._count_lock:
            return self._outstanding > 0

    def caught_up(self, drawn_seq: int) -> bool:
        return not self.busy and drawn_seq == self.replay.state.seq

    # -- jobs ------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        with self._count_lock:
            self._outstanding += 1
        self._jobs.put(job)

    def step(self, n: int) -> None:
        self.playing = False
        self.submit(lambda r: r.step(n))

    def step_hop(self, n: int, trace_id: str | None = None) -> None:
        self.playing = False
        self.submit(lambda r: r.step_hop(n, trace_id))

    def seek_end(self, end: bool) -> None:
        """To the last event (``end``) or back to the first."""
        self.playing = False
        self.submit(lambda r: r.seek(len(r) if end else 0))

    def seek_fraction(self, fraction: float) -> None:
        self.playing = False
        self.submit(lambda r: r.seek_fraction(fraction))

    def scrub(self, fraction: float) -> None:
        """Jump by a share of the recording (at least one event); playing goes on."""
        r = self.replay
        target = r.position + int(fraction * len(r)) or (1 if fraction > 0 else -1)
        self.submit(lambda rr: rr.seek(target))

    def faster(self) -> float:
        return self.replay.faster()

    def slower(self) -> float:
        return self.replay.slower()

    def run_one(self, timeout: float | None = None) -> Snapshot | None:
        """Do the next job (waiting up to ``timeout``); its picture, or None if none came."""
        try:
            job = self._jobs.get(timeout=timeout)
        except queue.Empty:
            return None
        if job is None:
            return None
        try:
            job(self.replay)
            return self.replay.snapshot()
        finally:
            with self._count_lock:
                self._outstanding -= 1

    def run(self, cancelled: Cancelled, show: Show) -> None:
        while not cancelled():
            snap = self.run_one(timeout=FRAME_S)
            if snap is not None:
                show(snap)

    def attach(self, source: object) -> None:
        """A replay reads its events at construction; nothing to start."""

    def detach(self) -> None:
        self._jobs.put(None)  # wake the loop so it sees it is cancelled

    # -- the play clock ----------------------------------------------------------------

    def play_pause(self) -> None:
        """Start (from the beginning when at the end) or stop playing."""
        r = self.replay
        self.playing = not self.playing
        self._play_wall = self.clock()
        if self.playing and r.at_end:
            self.submit(lambda rr: rr.seek(0))
            self._play_t = r.time_of(0)
        else:
            self._play_t = r.time_of(max(0, r.position - 1)) if r.position else r.time_of(0)

    def tick(self) -> None:
        """Each frame while playing: seek to where the clock has got to."""
        r = self.replay
        if not self.playing or self.busy:
            return
        now = self.clock()
        self._play_t += int((now - self._play_wall) * r.speed * 1e9)
        self._play_wall = now
        if not r.at_end and r.time_of(r.position) > self._play_t + IDLE_GAP_NS:
            self._play_t = r.time_of(r.position)  # skip idle gaps longer than 1 s
        target = self._play_t
        self.submit(lambda rr: rr.seek_time(target))
        if r.at_end:
            self.playing = False


Feed = LiveFeed | ReplayFeed
