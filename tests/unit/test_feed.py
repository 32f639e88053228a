"""The TUI's feeds without Textual: queue → reducer → paced pictures; the replay cursor.

A fake clock stands for ``time.monotonic`` so pacing and playing are checked exactly.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import Any

from support.tui import load

from tracer.model import Snapshot
from tracer.model.feed import FramePacer, LiveFeed, OnEvent, ReplayFeed


class Clock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Source:
    def __init__(self) -> None:
        self.on_event: OnEvent | None = None
        self.stopped = False

    def start(self, on_event: OnEvent) -> None:
        self.on_event = on_event

    def stop(self) -> None:
        self.stopped = True


def live(clock: Clock, **kwargs: Any) -> LiveFeed:
    return LiveFeed(wall_clock=None, clock=clock, **kwargs)


def test_the_feeds_do_not_load_textual() -> None:
    code = "import sys, tracer.model.feed; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_pacer_allows_one_picture_a_frame_and_one_in_a_flood() -> None:
    pacer = FramePacer(interval=0.05, flood_frames=4)
    assert pacer.due(0.0) and pacer.overdue(0.0)  # nothing shown yet
    pacer.shown(1.0)
    assert not pacer.due(1.04) and pacer.due(1.06)
    assert not pacer.overdue(1.19) and pacer.overdue(1.21)


def test_live_feed_paces_pictures_and_keeps_every_event() -> None:
    clock = Clock()
    feed = live(clock)
    source = Source()
    feed.attach(source)
    assert source.on_event is not None
    events = load()
    source.on_event(events[0])
    first = feed.pump()
    assert first is not None and first.seq == 1
    assert feed.caught_up(1)
    source.on_event(events[1])
    assert not feed.caught_up(1)  # an event waits
    clock.t += 0.01
    assert feed.pump() is None  # fed, but the last picture is only 10 ms old
    assert feed.ingested == 2 and not feed.caught_up(1)
    clock.t += 0.06
    second = feed.pump()
    assert second is not None and second.seq == 2 and feed.caught_up(2)
    assert feed.pump() is None  # nothing new: no picture
    feed.detach()
    assert source.stopped


def test_live_feed_under_a_flood_shows_a_picture_between_batches() -> None:
    clock = Clock()
    feed = live(clock, batch=10)
    events = load()
    for event in events:
        feed.push(event)
    snap = feed.pump()
    # the first batch, then a picture at once rather than after all of them
    assert snap is not None and snap.seq == 10 and feed.backlog == len(events) - 10
    assert feed.pump() is None  # the rest fed; the next picture is not due yet
    assert feed.backlog == 0 and feed.ingested == len(events)
    clock.t += 0.06
    last = feed.pump()
    assert last is not None and last.seq == len(events) and feed.caught_up(len(events))


def test_live_clock_redraws_idle_pictures_once_a_second() -> None:
    clock = Clock()
    wall = [0]
    feed = LiveFeed(wall_clock=lambda: wall[0], clock=clock, service_down_time_s=60)
    assert feed.tick() is None  # nothing fed yet: nothing to age
    events = load()
    assert events[0]["name"] == "service.report"  # the conductor's heartbeat
    feed.push(events[0])
    first = feed.pump()
    assert first is not None and all(s.up for s in first.services.values())
    wall[0] = events[0]["ts_ns"] + 61_000_000_000  # a minute without a heartbeat
    tick = feed.tick()
    assert tick is not None and not any(s.up for s in tick.services.values())
    clock.t += 0.5
    assert feed.tick() is None  # once a second
    feed.push(events[1])
    clock.t += 1.0
    assert feed.tick() is None  # events wait: they come first
    assert LiveFeed(wall_clock=None, clock=clock).tick() is None


def test_live_feed_loop_feeds_events_pushed_from_threads() -> None:
    events = load("boot_three.jsonl") * 5
    feed = LiveFeed(wall_clock=None)
    shown: list[Snapshot] = []
    stop = threading.Event()
    loop = threading.Thread(target=feed.run, args=(stop.is_set, shown.append))
    loop.start()
    half = len(events) // 2
    pushers = [threading.Thread(target=lambda part=part: [feed.push(e) for e in part])
               for part in (events[:half], events[half:])]
    for pusher in pushers:
        pusher.start()
    for pusher in pushers:
        pusher.join()
    try:
        for _ in range(200):
            if shown and feed.caught_up(shown[-1].seq):
                break
            threading.Event().wait(0.02)
    finally:
        stop.set()
        feed.detach()
        loop.join(timeout=5)
    assert not loop.is_alive()
    assert feed.ingested == len(events) == shown[-1].seq
    assert shown[-1].duplicates > 0  # duplicates were counted, not dropped
    assert len(shown) < len(events)  # pictures were paced, not one per event


def run_jobs(feed: ReplayFeed) -> Snapshot | None:
    snap = None
    while feed.busy:
        snap = feed.run_one(timeout=0) or snap
    return snap


def times(events: list[Mapping[str, Any]]) -> list[int]:
    return [int(e["ts_ns"]) for e in events]


def test_replay_feed_opens_at_the_start_or_the_end() -> None:
    events = load()
    feed = ReplayFeed(events)
    assert feed.busy and not feed.caught_up(0)  # the first picture is on its way
    snap = run_jobs(feed)   # opens on the boot: its request's first event
    assert snap is not None and snap.seq == feed.replay.boot_start > 0
    assert feed.caught_up(snap.seq)
    at_end = ReplayFeed(events, start_at_end=True)
    snap = run_jobs(at_end)
    assert snap is not None and snap.seq == len(events) == at_end.ingested


def test_replay_feed_steps_scrubs_and_seeks() -> None:
    events = load()
    feed = ReplayFeed(events)
    start = run_jobs(feed).seq  # type: ignore[union-attr]
    feed.step(3)
    feed.step(-1)
    assert run_jobs(feed).seq == start + 2  # type: ignore[union-attr]
    feed.scrub(0.05)
    assert run_jobs(feed).seq == start + 2 + int(0.05 * len(events))  # type: ignore[union-attr]
    feed.seek_end(True)
    assert run_jobs(feed).seq == len(events)  # type: ignore[union-attr]
    feed.seek_end(False)
    assert run_jobs(feed).seq == 0  # type: ignore[union-attr]
    feed.seek_fraction(0.5)
    assert abs(run_jobs(feed).seq - len(events) // 2) <= 1  # type: ignore[union-attr]
    tiny = ReplayFeed(events[:5])
    tiny_start = run_jobs(tiny).seq  # type: ignore[union-attr]
    tiny.scrub(0.05)  # 5% of 5 events is none: still one step
    assert run_jobs(tiny).seq == min(5, tiny_start + 1)  # type: ignore[union-attr]
    assert (tiny.faster(), tiny.faster(), tiny.slower()) == (2.0, 4.0, 2.0)


def test_replay_plays_in_recorded_time_at_its_speed() -> None:
    events = load()
    ts = times(events)
    clock = Clock()
    feed = ReplayFeed(events, clock=clock)
    run_jobs(feed)
    feed.play_pause()
    assert feed.playing
    clock.t += 0.05  # 50 ms of wall time at ×1: 50 ms of the boot
    feed.tick()
    pos = run_jobs(feed).seq  # type: ignore[union-attr]
    assert pos == sum(1 for t in ts if t <= ts[0] + 50_000_000)
    assert 0 < pos < len(events)
    feed.slower()  # ×0.5: the next 50 ms of wall time are 25 ms of the boot
    clock.t += 0.05
    feed.tick()
    assert run_jobs(feed).seq == sum(  # type: ignore[union-attr]
        1 for t in ts if t <= ts[0] + 75_000_000)
    feed.play_pause()
    clock.t += 10
    feed.tick()
    assert not feed.busy  # paused: the clock moves nothing


def test_replay_play_skips_quiet_stretches_and_stops_at_the_end() -> None:
    events = load()
    quiet = [dict(e, ts_ns=e["ts_ns"] + (60_000_000_000 if i >= 10 else 0))
             for i, e in enumerate(events)]  # a minute of nothing after event 10
    clock = Clock()
    feed = ReplayFeed(quiet, clock=clock)
    run_jobs(feed)
    feed.step(10)
    run_jobs(feed)
    feed.play_pause()
    clock.t += 0.01
    feed.tick()
    assert run_jobs(feed).seq > 10  # type: ignore[union-attr]  # not a minute later
    for _ in range(100):
        if not feed.playing:
            break
        clock.t += 0.05
        feed.tick()
        run_jobs(feed)
    assert not feed.playing and feed.replay.at_end


def test_replay_play_at_the_end_starts_over() -> None:
    events = load()
    clock = Clock()
    feed = ReplayFeed(events, start_at_end=True, clock=clock)
    run_jobs(feed)
    feed.play_pause()
    assert run_jobs(feed).seq == 0  # type: ignore[union-attr]
    clock.t += 0.01
    feed.tick()
    # from the first event on, not straight back to the end
    assert run_jobs(feed).seq < len(events) // 2  # type: ignore[union-attr]
    assert feed.playing


def test_replay_clock_waits_while_a_job_runs() -> None:
    clock = Clock()
    feed = ReplayFeed(load(), clock=clock)
    start = run_jobs(feed).seq  # type: ignore[union-attr]
    feed.play_pause()
    feed.step(1)  # stepping pauses
    assert not feed.playing
    feed.play_pause()
    assert feed.busy
    clock.t += 0.05
    feed.tick()  # the step is not done yet: no seek on top of it
    assert run_jobs(feed).seq == start + 1  # type: ignore[union-attr]
