"""Replay mode: a cursor over a recording; play/pause, step, scrub, speed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.events import Click
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from tracer.model import Snapshot
from tracer.model.feed import FRAME_S, ReplayFeed
from tracer.tui.screens.base import HEAD_KEYS, TAIL_KEYS, TraceScreen, quiet
from tracer.tui.timeline import fmt_ns


class ScrubBar(Static):
    """Replay position as a bar; click anywhere on it to seek there.

    Drawn from ``fraction`` at render time, so the bar always spans the width the
    layout gave it (not the width it had when the position last changed).
    """

    fraction: reactive[float] = reactive(0.0)

    def render(self) -> Text:
        width = max(10, self.size.width)
        done = int(width * self.fraction)
        return Text("█" * done, style="bold") + Text("░" * (width - done), style="dim")

    class Seek(Message):
        def __init__(self, fraction: float) -> None:
            super().__init__()
            self.fraction = fraction

    def on_click(self, event: Click) -> None:
        width = max(1, self.size.width - 1)
        self.post_message(self.Seek(max(0.0, min(1.0, event.x / width))))


class ReplayScreen(TraceScreen):
    """The recording's pictures at any position; the keys move the cursor."""

    MODE = "replay"
    # the footer: what a replay is driven by first, the rest in ? (help)
    BINDINGS = [
        Binding("space", "play_pause", "Play", id="replay.play", priority=True),
        Binding("full_stop", "step_hop(1)", "Hop▶", id="replay.step_fwd", priority=True),
        Binding("comma", "step_hop(-1)", "◀Hop", id="replay.step_back", priority=True),
        Binding("e", "step(1)", "Event ▶", id="replay.event_fwd", priority=True,
                show=False),
        Binding("E", "step(-1)", "◀ Event", id="replay.event_back", priority=True,
                show=False),
        Binding("s", "speed(-1)", "Slower", id="replay.slower", priority=True),
        Binding("f", "speed(1)", "Faster", id="replay.faster", priority=True),
        *HEAD_KEYS,
        Binding("shift+right", "scrub(0.05)", "Scrub +5%", id="replay.scrub_fwd",
                priority=True, show=False),
        Binding("shift+left", "scrub(-0.05)", "Scrub -5%", id="replay.scrub_back",
                priority=True, show=False),
        Binding("end", "seek_end(1)", "End", id="replay.end", priority=True, show=False),
        Binding("home", "seek_end(0)", "Start", id="replay.start", priority=True,
                show=False),
        *[quiet(b) for b in TAIL_KEYS],
    ]

    feed: ReplayFeed

    def __init__(self, feed: ReplayFeed, *, name: str = "recording",
                 intro: str | None = None) -> None:
        super().__init__(feed, intro=intro)
        self.sub_title = name
        r = feed.replay
        first = r.events[r.boot_start - 1] if r.boot_start else None
        self.boot_trace = first.get("trace_id") if first is not None else None

    @classmethod
    def create(cls, source: Any, *, gate: Any = None, service_down_time_s: float = 60.0,
               clock: Callable[[], int] | None = None,
               intro: str | None = None) -> ReplayScreen:
        events = getattr(source, "events", None)
        if events is None:
            raise ValueError("replay mode needs a source with .events (ReplaySource)")
        feed = ReplayFeed(events, start_at_end=bool(getattr(source, "start_at_end", False)))
        return cls(feed, name=str(getattr(source, "name", "recording")), intro=intro)

    def compose_bottom(self) -> Iterable[Widget]:
        yield ScrubBar(id="scrub")

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(FRAME_S, self._play_tick, name="replay-clock")

    @property
    def playing(self) -> bool:
        return self.feed.playing

    # -- drawing ---------------------------------------------------------------------

    def pick_trace(self, snap: Snapshot) -> str | None:
        """The boot from its first event on, even before it sent a message (start-up
        traffic is bigger then)."""
        latest = snap.latest_trace()
        tv = snap.traces.get(latest) if latest else None
        if (tv is None or not (tv.root_kind == "HTTP" and tv.rpc_hops)) \
                and self.boot_trace in snap.traces:
            return self.boot_trace
        return latest

    def status_mode(self, text: Text) -> None:
        r = self.feed.replay
        text.append(f"  {'▶ playing' if self.feed.playing else '⏸ paused'} · speed ×{r.speed:g}",
                    style="bold")

    def status_position(self, text: Text) -> None:
        r = self.feed.replay
        t = r.time_of(r.position - 1) - r.time_of(0) if r.position else 0
        text.append(f"  hop {r.hop_index(self.trace_id)}/{r.hop_count(self.trace_id)}",
                    style="bold")
        text.append(f"  event {r.position:,}/{len(r):,} +{fmt_ns(t)}")
        self.query_one(ScrubBar).fraction = r.position / len(r) if len(r) else 0.0

    # -- keys ------------------------------------------------------------------------

    def _play_tick(self) -> None:
        was_playing = self.feed.playing
        self.feed.tick()
        if was_playing and not self.feed.playing:
            self.show_status()

    def action_play_pause(self) -> None:
        self.feed.play_pause()
        self.show_status()

    def action_step(self, n: int) -> None:
        self.feed.step(n)

    def action_step_hop(self, n: int) -> None:
        """One hop of the shown trace on (or back): its message on its way."""
        self.follow = True
        self.feed.step_hop(n, self.trace_id)

    def action_scrub(self, fraction: float) -> None:
        self.feed.scrub(fraction)

    def action_seek_end(self, end: int) -> None:
        self.feed.seek_end(bool(end))

    def on_scrub_bar_seek(self, message: ScrubBar.Seek) -> None:
        self.feed.seek_fraction(message.fraction)

    def action_speed(self, direction: int) -> None:
        self.feed.faster() if direction > 0 else self.feed.slower()
        # the status line shows the speed; a toast per key press stacked up over the panes
        self.show_status()
