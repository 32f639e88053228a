"""Where the app's events come from: the one small protocol live, replay and tests share.

A source has ``start(on_event)`` and ``stop()``. A live source (the collector) calls
``on_event(event)`` from its own thread, any number of times; the app queues and never
drops. A replay source also exposes ``events`` (a sequence): in replay mode the app walks
it with a ``tracer.model.feed.ReplayFeed`` instead of calling ``start``.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

OnEvent = Callable[[Mapping[str, Any]], None]


@runtime_checkable
class EventSource(Protocol):
    def start(self, on_event: OnEvent) -> None: ...
    def stop(self) -> None: ...


def _body(events: Iterable[Any]) -> list[Any]:
    """Drop a recording header line if one came along."""
    return [e for e in events
            if not (isinstance(e, Mapping) and e.get("format") == "bootflow-trace")]


class ListSource:
    """Feeds a fixed list of events from a thread, as a live collector would (tests)."""

    def __init__(self, events: Iterable[Mapping[str, Any]], delay_s: float = 0.0) -> None:
        self.events: list[Any] = _body(events)
        self.delay_s = delay_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.done = threading.Event()

    def start(self, on_event: OnEvent) -> None:
        def run() -> None:
            for event in self.events:
                if self._stop.is_set():
                    break
                on_event(event)
                if self.delay_s:
                    self._stop.wait(self.delay_s)
            self.done.set()

        self._thread = threading.Thread(target=run, name="bootflow-listsource", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)


class ReplaySource:
    """A recording for replay mode: the app steps through ``events`` itself.

    ``start_at_end`` opens on the final picture (what live showed last) instead of an
    empty screen. ``start`` also works (pushes everything) so any mode can take it.
    """

    def __init__(self, events: Sequence[Mapping[str, Any]], start_at_end: bool = False,
                 name: str = "recording") -> None:
        self.events: list[Any] = _body(events)
        self.start_at_end = start_at_end
        self.name = name
        if len(self.events) > 10_000:
            # The recording lives as long as the app: move it out of the cyclic GC's
            # view, or every collection rescans 100,000 dicts (measured: 2x slower open).
            gc.collect()
            gc.freeze()
        self._list = ListSource(self.events)

    @classmethod
    def from_file(cls, path: str, **kwargs: Any) -> ReplaySource:
        """Read a JSON Lines recording (tracer.recording checks its header)."""
        from tracer.recording import read_recording

        _, events = read_recording(path)
        return cls(list(events), name=str(path), **kwargs)

    def start(self, on_event: OnEvent) -> None:
        self._list.start(on_event)

    def stop(self) -> None:
        self._list.stop()


class PushSource:
    """A callable to hand to whatever produces events (``trace.set_emitter(src)``,
    ``Collector(url, on_event=src)``); events before the app starts are kept, not lost.

    ``on_start``/``on_stop`` (optional) run when the app starts/stops the source, e.g. to
    start the collector or kick off the boot once the screen is up.
    """

    def __init__(self, on_start: Callable[[], Any] | None = None,
                 on_stop: Callable[[], Any] | None = None) -> None:
        self._on_event: OnEvent | None = None
        self._early: list[Mapping[str, Any]] = []
        self._lock = threading.Lock()
        self._on_start = on_start
        self._on_stop = on_stop

    def __call__(self, event: Mapping[str, Any]) -> None:
        with self._lock:
            sink = self._on_event
            if sink is None:
                self._early.append(event)
                return
        sink(event)

    def start(self, on_event: OnEvent) -> None:
        with self._lock:
            self._on_event = on_event
            early, self._early = self._early, []
        for event in early:
            on_event(event)
        if self._on_start is not None:
            self._on_start()

    def stop(self) -> None:
        with self._lock:
            self._on_event = None
        if self._on_stop is not None:
            self._on_stop()
