"""BootflowApp: the live call graph, timeline, sequence and detail of a Nova boot.

The app holds the feed (``tracer.model.feed``: events → one reducer → snapshots, or a
replay cursor) and runs it in a background thread; each new picture reaches the mode's
screen as a ``SnapshotReady`` message, at most ~20 a second however fast events come
(coalesced, never dropped: every event is fed, only frames are skipped).

Modes, one screen each (``tracer.tui.screens``): ``live`` (a source pushes events),
``walkthrough`` (live + a gate that holds each hop until the learner presses
``n``/space), ``viewer`` (a classroom browser's read-only walkthrough: held hops shown,
no gate keys) and ``replay`` (a cursor over a recording: play/pause, step, scrub, speed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal

from textual import work
from textual.app import App
from textual.command import Provider
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import get_current_worker

from tracer.model import EMPTY_SNAPSHOT, Snapshot
from tracer.tui.commands import BootflowCommands
from tracer.tui.i18n import t, translate_bindings
from tracer.tui.intro import IntroScreen
from tracer.tui.screens import MODE_SCREENS
from tracer.tui.sources import EventSource

Mode = Literal["live", "replay", "walkthrough", "viewer"]


class SnapshotReady(Message):
    """A new picture from the feed; a newer one queued right behind it replaces it."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReady)


class _Kept:
    """A source whose events are also kept (the palette's export writes them)."""

    def __init__(self, source: EventSource, keep: Callable[[Any], None]) -> None:
        self.source = source
        self.keep = keep

    def start(self, on_event: Callable[[Any], None]) -> None:
        def both(event: Any) -> None:
            self.keep(event)
            on_event(event)

        self.source.start(both)

    def stop(self) -> None:
        self.source.stop()


class BootflowApp(App[None]):
    """``BootflowApp(source, mode=..., gate=..., title=...)``; see the module docstring."""

    CSS_PATH = "app.tcss"
    TITLE = "bootflow"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = \
        App.COMMANDS | {BootflowCommands}

    lang: reactive[str] = reactive("en")

    def __init__(self, source: EventSource | Any, *, mode: Mode = "live", gate: Any = None,
                 title: str | None = None, service_down_time_s: float = 60.0,
                 clock: Callable[[], int] | None = time.time_ns,
                 intro: str | None = None, intro_title: str = "about this scenario",
                 present: bool = False) -> None:
        """``clock`` None: judge heartbeats by the last event's time (tests);
        ``intro`` (a scenario's explanation): shown first, the source starts only when
        the learner dismisses it; ``present``: open in presentation mode (``p``)."""
        super().__init__()
        self.present = present
        self.intro_title = intro_title
        if mode not in MODE_SCREENS:
            raise ValueError(f"mode must be live, replay, walkthrough or viewer, not {mode!r}")
        self.mode = mode
        self.source = source
        self.main = MODE_SCREENS[mode].create(
            source, gate=gate, service_down_time_s=service_down_time_s, clock=clock,
            intro=intro)
        self.feed = self.main.feed
        self.title = title or f"bootflow — {mode}"
        self.snapshot: Snapshot = EMPTY_SNAPSHOT  # the picture drawn last
        self.state_seq = 0  # its event count
        self.frames = 0  # pictures drawn
        self._english_keys = self._bindings.copy()  # the palette key's words, per `l`
        self._kept: list[Mapping[str, Any]] = []  # a live source's events, for export

    @property
    def ingested(self) -> int:
        """Events the feed has taken in."""
        return self.feed.ingested

    def recorded_events(self) -> Sequence[Mapping[str, Any]]:
        """Every event of the picture: the recording in replay, else all received."""
        replay = getattr(self.feed, "replay", None)
        return list(replay.events) if replay is not None else list(self._kept)

    def get_default_screen(self) -> Screen[Any]:
        return self.main

    def on_mount(self) -> None:
        self._run_feed()
        if self.main.intro:
            self.push_screen(IntroScreen(self.intro_title, self.main.intro),
                             self._intro_done)
        else:
            self._start_source()

    def _intro_done(self, start: bool | None) -> None:
        if start:
            self._start_source()
        else:
            self.exit()

    def _start_source(self) -> None:
        self.feed.attach(_Kept(self.source, self._kept.append))
        self.set_interval(0.5, self._check_source, name="source-error")

    def on_unmount(self) -> None:
        try:
            self.feed.detach()
        except Exception:  # closing must not mask the real exit
            pass

    @work(thread=True, name="feed", group="feed", exclusive=True)
    def _run_feed(self) -> None:
        worker = get_current_worker()
        self.feed.run(lambda: worker.is_cancelled,
                      lambda snap: self.post_message(SnapshotReady(snap)))

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        self.snapshot = message.snapshot
        self.state_seq = message.snapshot.seq
        self.frames += 1
        self.main.draw(message.snapshot)

    async def wait_for_idle_snapshot(self, timeout: float = 30.0) -> None:
        """Tests and bench: until every queued event is fed and its picture drawn."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.feed.caught_up(self.state_seq):
            await asyncio.sleep(0.02)

    _source_error_shown = False

    def _check_source(self) -> None:
        """A source that failed (no broker, a refused boot) says so on screen at once,
        not only after the app exits: an empty screen otherwise looks like a hang."""
        error = getattr(self.source, "error", None)
        if error is None or self._source_error_shown:
            return
        self._source_error_shown = True
        first = str(error).strip().split("\n", 1)[0] or type(error).__name__
        self.notify(f"{first}\n{t('(q quits)', self.lang)}",
                    title=t("the run failed", self.lang), severity="error",
                    timeout=600, markup=False)   # an error may quote a cloud string

    # -- app-wide keys (bound on every mode screen) ----------------------------------

    def action_toggle_lang(self) -> None:
        self.lang = "zh" if self.lang == "en" else "en"

    def watch_lang(self, lang: str) -> None:
        translate_bindings(self, self._english_keys, lang)

    def action_toggle_dark(self) -> None:
        dark = self.current_theme.dark if self.current_theme else True
        self.theme = "textual-light" if dark else "textual-dark"
