"""BootflowApp: the live call graph, timeline, sequence and detail of a Nova boot.

Events reach one reducer (``tracer.model.reducer.TraceState``) in a background thread worker;
widgets only ever draw immutable snapshots, posted at most ~20 times a second however fast
events come (coalesced, never dropped: every event is fed, only frames are skipped).

Modes: ``live`` (a source pushes events), ``walkthrough`` (live + a gate that holds each
hop until the learner presses ``n``/space) and ``replay`` (a cursor over a recording:
play/pause, step, scrub, speed).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Literal

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Click
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from tracer.model import EMPTY_SNAPSHOT, Replay, Snapshot, TraceState
from tracer.tui.graph import ServiceGraph
from tracer.tui.help import HelpScreen
from tracer.tui.layout import hop_for_span
from tracer.tui.panes import (
    DetailPane,
    describe_hop,
    describe_pending,
    describe_span,
    instances_table,
    services_table,
)
from tracer.tui.sequence import SequenceView
from tracer.tui.sources import EventSource
from tracer.tui.timeline import Timeline, fmt_ns

Mode = Literal["live", "replay", "walkthrough"]
FRAME_S = 0.05  # at most ~20 snapshots per second reach the widgets
_MODE_ACTIONS = {
    "walkthrough": {"step_gate", "toggle_gate"},
    "replay": {"play_pause", "step", "scrub", "seek_end", "speed"},
}


class SnapshotReady(Message):
    """A new picture from the ingest worker (only the newest one matters)."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


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


class BootflowApp(App[None]):
    """``BootflowApp(source, mode=..., gate=..., title=...)``; see the module docstring."""

    CSS_PATH = "app.tcss"
    TITLE = "bootflow"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("n,space", "step_gate", "Release hop", id="walk.step", priority=True),
        Binding("g", "toggle_gate", "Gate on/off", id="walk.gate", priority=True),
        Binding("space", "play_pause", "Play/pause", id="replay.play", priority=True),
        Binding("full_stop", "step(1)", "Step ▶", id="replay.step_fwd", priority=True),
        Binding("comma", "step(-1)", "◀ Step", id="replay.step_back", priority=True),
        Binding("shift+right", "scrub(0.05)", "Scrub +5%", id="replay.scrub_fwd",
                priority=True, show=False),
        Binding("shift+left", "scrub(-0.05)", "Scrub -5%", id="replay.scrub_back",
                priority=True, show=False),
        Binding("end", "seek_end(1)", "End", id="replay.end", priority=True, show=False),
        Binding("home", "seek_end(0)", "Start", id="replay.start", priority=True,
                show=False),
        Binding("s", "speed(-1)", "Slower", id="replay.slower", priority=True),
        Binding("f", "speed(1)", "Faster", id="replay.faster", priority=True),
        Binding("left_square_bracket", "select_hop(-1)", "Prev hop", id="app.prev_hop"),
        Binding("right_square_bracket", "select_hop(1)", "Next hop", id="app.next_hop"),
        Binding("less_than_sign", "select_trace(-1)", "Prev trace", id="app.prev_trace",
                show=False),
        Binding("greater_than_sign", "select_trace(1)", "Next trace", id="app.next_trace",
                show=False),
        Binding("a", "follow", "Follow", id="app.follow"),
        Binding("v", "switch_view", "Timeline/Sequence", id="app.view"),
        Binding("l", "toggle_lang", "EN/中文", id="app.lang"),
        Binding("d", "toggle_dark", "Dark/light", id="app.dark"),
    ]

    mode: reactive[str] = reactive("live")
    lang: reactive[str] = reactive("en")
    follow: reactive[bool] = reactive(True)
    selected_hop: reactive[str | None] = reactive(None)
    selected_span: reactive[str | None] = reactive(None)
    trace_id: reactive[str | None] = reactive(None)
    playing: reactive[bool] = reactive(False)
    gate_enabled: reactive[bool] = reactive(True)

    def __init__(self, source: EventSource | Any, *, mode: Mode = "live", gate: Any = None,
                 title: str | None = None, service_down_time_s: float = 60.0,
                 clock: Callable[[], int] | None = time.time_ns,
                 intro: str | None = None) -> None:
        super().__init__()
        self.intro = intro  # e.g. a scenario's explanation: shown at start and in help
        if mode not in ("live", "replay", "walkthrough"):
            raise ValueError(f"mode must be live, replay or walkthrough, not {mode!r}")
        if mode == "walkthrough" and gate is None:
            raise ValueError("walkthrough mode needs a gate (GateController)")
        self.source = source
        self.gate = gate
        self.clock = clock  # None: judge heartbeats by the last event's time (tests)
        self.set_reactive(BootflowApp.mode, mode)
        self.title = title or f"bootflow — {mode}"
        self.sub_title = {"live": "watching the services",
                          "walkthrough": "one hop at a time",
                          "replay": str(getattr(source, "name", "recording"))}[mode]
        self._state = TraceState(service_down_time_s=service_down_time_s)
        self._queue: deque[Mapping[str, Any]] = deque()
        self._wake = threading.Event()
        self._post_pending = False
        self._lock = threading.Lock()
        self._replay: Replay | None = None
        self._replay_busy = False
        self._play_t = 0
        self._play_wall = 0.0
        self._pending: list[dict[str, Any]] = []
        self.snapshot: Snapshot = EMPTY_SNAPSHOT
        self.ingested = 0
        self.state_seq = 0
        self.frames = 0
        if mode == "replay":
            events = getattr(source, "events", None)
            if events is None:
                raise ValueError("replay mode needs a source with .events (ReplaySource)")
            self._replay = Replay(list(events))

    # -- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="status")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield ServiceGraph(id="graph")
                with TabbedContent(id="views"):
                    with TabPane("Timeline", id="tab-timeline"):
                        yield Timeline(id="timeline")
                    with TabPane("Sequence", id="tab-sequence"):
                        yield SequenceView(id="sequence")
            with Vertical(id="right"):
                yield DetailPane(id="detail")
                yield Static(id="instances")
                yield Static(id="services")
        if self.mode == "replay":
            yield ScrubBar(id="scrub")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail").border_title = "hop"
        self.query_one("#instances").border_title = "instances"
        self.query_one("#services").border_title = "services"
        self.query_one("#graph").border_title = "service graph"
        self._apply(EMPTY_SNAPSHOT)
        if self.intro:
            self.notify(self.intro + "\n(? shows it again)", title="about this scenario",
                        timeout=20)
        if self.mode == "replay":
            assert self._replay is not None
            if getattr(self.source, "start_at_end", False):
                self._replay_op(lambda r: r.seek(len(r)))
            else:
                self._replay_op(lambda r: r.position)
            self.set_interval(FRAME_S, self._play_tick, name="replay-clock")
        else:
            self._ingest()
            self.source.start(self.feed_event)
            self.set_interval(1.0, self._clock_tick, name="live-clock")
            self.set_interval(0.5, self._check_source, name="source-error")
        if self.mode == "walkthrough":
            self.set_interval(0.2, self._poll_gate, name="gate-poll")
            self._poll_gate()

    def on_unmount(self) -> None:
        self._wake.set()
        if self.mode != "replay":
            try:
                self.source.stop()
            except Exception:  # noqa: BLE001 - closing must not mask the real exit
                pass

    # -- ingest (live, walkthrough) ----------------------------------------------------

    def feed_event(self, event: Mapping[str, Any]) -> None:
        """The source's callback; any thread. Queued, never dropped."""
        self._queue.append(event)
        self._wake.set()

    @work(thread=True, name="ingest", group="ingest", exclusive=True)
    def _ingest(self) -> None:
        worker = get_current_worker()
        state, queue = self._state, self._queue
        last_post = 0.0
        dirty = False
        while not worker.is_cancelled:
            self._wake.wait(FRAME_S)
            self._wake.clear()
            while queue:
                with self._lock:
                    for _ in range(min(len(queue), 2000)):
                        state.feed(queue.popleft())
                        self.ingested += 1
                dirty = True
                if time.monotonic() - last_post >= FRAME_S * 4:
                    break  # under a flood still show a frame now and then
            now = time.monotonic()
            if dirty and not self._post_pending and now - last_post >= FRAME_S:
                with self._lock:
                    snap = state.snapshot()
                self._post(snap)
                last_post, dirty = now, False
            if queue:
                self._wake.set()

    _source_error_shown = False

    def _check_source(self) -> None:
        """A source that failed (no broker, a refused boot) says so on screen at once,
        not only after the app exits: an empty screen otherwise looks like a hang."""
        error = getattr(self.source, "error", None)
        if error is None or self._source_error_shown:
            return
        self._source_error_shown = True
        first = str(error).strip().split("\n", 1)[0] or type(error).__name__
        self.notify(f"{first}\n(q quits)", title="the run failed", severity="error",
                    timeout=600)

    def _clock_tick(self) -> None:
        """Live clock: heartbeat ages and open calls' waiting times grow without events."""
        if self._queue or self._post_pending:
            return
        with self._lock:
            if self._state.seq == 0:
                return
            if self.clock is None:
                return
            snap = self._state.snapshot(now_ns=max(self.clock(), self._state.t_last_ns))
        self._apply(snap)

    def _post(self, snap: Snapshot) -> None:
        self._post_pending = True
        self.post_message(SnapshotReady(snap))

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        self._post_pending = False
        self._apply(message.snapshot)

    async def wait_for_idle_snapshot(self, timeout: float = 30.0) -> None:
        """Tests and bench: until every queued event is fed and its picture drawn."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.mode == "replay":
                if not self._replay_busy and self._replay is not None and \
                        self.state_seq == self._replay.state.seq:
                    return
            elif not self._queue and self.state_seq == self._state.seq \
                    and not self._post_pending:
                return
            await asyncio.sleep(0.02)

    # -- drawing ---------------------------------------------------------------------

    def _apply(self, snap: Snapshot) -> None:
        self.snapshot = snap
        self.state_seq = snap.seq
        self.frames += 1
        if self.follow or self.trace_id not in snap.traces:
            latest = snap.latest_trace()
            if latest != self.trace_id:
                self.trace_id = latest
        if self.follow:
            self._follow_hop(snap)
        for widget in (self.query_one(ServiceGraph), self.query_one(Timeline),
                       self.query_one(SequenceView)):
            widget.trace_id = self.trace_id
            widget.snapshot = snap
        self.query_one("#instances", Static).update(instances_table(snap))
        self.query_one("#services", Static).update(services_table(snap))
        self._show_detail()
        self._show_status()

    def _follow_hop(self, snap: Snapshot) -> None:
        hops = snap.trace_hops(self.trace_id)
        live = [h for h in hops if h.state in ("in_flight", "waiting", "running")]
        pick = (live or hops)[-1] if hops else None
        if pick is not None and pick.hop_id != self.selected_hop:
            self.selected_hop = pick.hop_id
            self.selected_span = None

    def watch_selected_hop(self, hop_id: str | None) -> None:
        for widget in self.query("ServiceGraph, Timeline, SequenceView"):
            widget.selected = hop_id  # type: ignore[attr-defined]
        self._show_detail()

    def watch_lang(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        if not self._is_mounted:  # App.is_mounted(widget) is a method, always truthy
            return
        try:
            pane = self.query_one(DetailPane)
        except Exception:  # noqa: BLE001 - during shutdown
            return
        snap = self.snapshot
        if self.mode == "walkthrough" and self._pending:
            pane.show(describe_pending(self._pending[0], self.lang))
            pane.border_title = f"held by the gate ({len(self._pending)} waiting)"
            return
        span = snap.spans.get(self.selected_span) if self.selected_span else None
        hop = snap.hop(self.selected_hop)
        if span is not None and hop is None:
            pane.show(describe_span(snap, span, self.lang))
            pane.border_title = "span"
        elif hop is not None:
            pane.show(describe_hop(snap, hop, self.lang))
            pane.border_title = f"hop · {hop.style}"
        else:
            pane.show(Text("Waiting for the first hop… ([ ] select, click a bar)",
                           style="dim"))
            pane.border_title = "hop"

    def _show_status(self) -> None:
        snap = self.snapshot
        trace = snap.traces.get(self.trace_id) if self.trace_id else None
        text = Text()
        text.append(f" {self.mode.upper()} ", style="bold reverse")
        if self.mode == "walkthrough":
            text.append("  gate ", style="bold")
            text.append("ON" if self.gate_enabled else "OFF (free run)",
                        style="bold green" if self.gate_enabled else "bold yellow")
            text.append(f" · {len(self._pending)} held")
        if self.mode == "replay" and self._replay is not None:
            r = self._replay
            text.append(f"  {'▶ playing' if self.playing else '⏸ paused'} ×{r.speed:g}",
                        style="bold")
            t = r.time_of(r.position - 1) - r.time_of(0) if r.position else 0
            text.append(f"  {r.position:,}/{len(r):,} +{fmt_ns(t)}")
            self._draw_scrub()
        else:
            text.append(f"  {snap.seq:,} events")
        if trace is not None:
            text.append(f"  {trace.root_name} ({trace.n_spans} spans, "
                        f"{fmt_ns(trace.end_ns - trace.start_ns)})")
        if len(snap.traces) > 1:
            text.append(f"  trace {self._trace_index() + 1}/{len(snap.traces)} (< >)")
        if snap.malformed or snap.unknown:
            text.append(f"  skipped {snap.malformed + snap.unknown}", style="bold red")
        if not self.follow:
            text.append("  (follow off: a)", style="dim")
        self.query_one("#status", Static).update(text)

    def _trace_index(self) -> int:
        ids = [t.trace_id for t in sorted(self.snapshot.traces.values(),
                                          key=lambda t: t.start_ns)]
        return ids.index(self.trace_id) if self.trace_id in ids else 0

    def _draw_scrub(self) -> None:
        r = self._replay
        try:
            bar = self.query_one("#scrub", ScrubBar)
        except Exception:  # noqa: BLE001 - not mounted yet
            return
        if r is None:
            return
        bar.fraction = r.position / len(r) if len(r) else 0.0

    # -- selection -------------------------------------------------------------------

    def on_service_graph_hop_clicked(self, message: ServiceGraph.HopClicked) -> None:
        self._select(message.hop_id)

    def on_sequence_view_hop_clicked(self, message: SequenceView.HopClicked) -> None:
        self._select(message.hop_id)

    def on_timeline_span_clicked(self, message: Timeline.SpanClicked) -> None:
        span = self.snapshot.spans.get(message.span_id)
        if span is None:
            return
        hop = hop_for_span(self.snapshot, span)
        self.follow = False
        self.selected_span = span.span_id
        if hop is not None:
            self.selected_hop = hop.hop_id
        else:
            self.selected_hop = None
            self._show_detail()

    def _select(self, hop_id: str) -> None:
        self.follow = False
        self.selected_span = None
        hop = self.snapshot.hop(hop_id)
        if hop is not None and hop.trace_id != self.trace_id:
            self.trace_id = hop.trace_id
            self._apply(self.snapshot)
        self.selected_hop = hop_id

    def action_select_hop(self, delta: int) -> None:
        hops = self.snapshot.trace_hops(self.trace_id)
        if not hops:
            return
        ids = [h.hop_id for h in hops]
        i = ids.index(self.selected_hop) if self.selected_hop in ids else (
            -1 if delta > 0 else len(ids))
        self._select(ids[max(0, min(len(ids) - 1, i + delta))])

    def action_select_trace(self, delta: int) -> None:
        traces = sorted(self.snapshot.traces.values(), key=lambda t: t.start_ns)
        if not traces:
            return
        ids = [t.trace_id for t in traces]
        i = ids.index(self.trace_id) if self.trace_id in ids else 0
        self.follow = False
        self.trace_id = ids[(i + delta) % len(ids)]
        self.selected_hop = None
        self._apply(self.snapshot)

    def action_follow(self) -> None:
        self.follow = not self.follow
        self._apply(self.snapshot)

    def action_switch_view(self) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = "tab-sequence" if tabs.active == "tab-timeline" else "tab-timeline"

    def action_toggle_lang(self) -> None:
        self.lang = "zh" if self.lang == "en" else "en"

    def action_toggle_dark(self) -> None:
        dark = self.current_theme.dark if self.current_theme else True
        self.theme = "textual-light" if dark else "textual-dark"
        self.refresh(layout=True)
        for widget in self.query("ServiceGraph, Timeline, SequenceView"):
            widget.refresh()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.mode, self._help_rows(), intro=self.intro))

    def _help_rows(self) -> list[tuple[str, str]]:
        rows = []
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            name = binding.action.split("(")[0]
            if self.check_action(name, ()) is False:
                continue
            rows.append((self.get_key_display(binding), binding.description))
        return rows

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        for mode, actions in _MODE_ACTIONS.items():
            if action in actions and self.mode != mode:
                return False
        return True

    # -- walkthrough -----------------------------------------------------------------

    def notify_pending(self, hop_id: str, hop: Mapping[str, Any]) -> None:
        """Usable as GateController(on_pending=app.notify_pending); any thread."""
        if threading.current_thread() is threading.main_thread():
            self._poll_gate()
        else:
            self.call_from_thread(self._poll_gate)

    def _poll_gate(self) -> None:
        if self.gate is None:
            return
        try:
            pending = list(self.gate.pending())
        except Exception as exc:  # noqa: BLE001 - a broker hiccup must not kill the UI
            self.notify(f"gate: {exc}", severity="error")
            return
        if pending != self._pending:
            self._pending = pending
            self._mark_held()
            self._show_detail()
            self._show_status()

    def _mark_held(self) -> None:
        """Light the held message's edge: the gate's hop names its sender span."""
        held = set()
        for item in self._pending:
            hop = item.get("hop") if isinstance(item, Mapping) else None
            if isinstance(hop, Mapping) and hop.get("parent_span_id"):
                held.add(str(hop["parent_span_id"]))
        self.query_one(ServiceGraph).held = frozenset(held)

    def action_step_gate(self) -> None:
        """Release exactly one held hop (the oldest)."""
        if self.gate is None:
            return
        released = self.gate.release_next()
        if released is None:
            self.notify("nothing is held right now", timeout=2)
        if self._pending:
            self._pending = self._pending[1:]
        self._mark_held()
        self._show_detail()
        self._show_status()

    def action_toggle_gate(self) -> None:
        if self.gate is None:
            return
        self.gate_enabled = not self.gate_enabled
        self.gate.set_enabled(self.gate_enabled)
        if not self.gate_enabled:
            self._pending = []
            self._mark_held()
        self.notify("gate on: each hop waits for n/space" if self.gate_enabled
                    else "gate off: the flow runs free", timeout=3)
        self._show_detail()
        self._show_status()

    # -- replay ----------------------------------------------------------------------

    def _replay_op(self, op: Callable[[Replay], Any]) -> None:
        self._replay_busy = True
        self._replay_worker(op)

    @work(thread=True, name="replay-seek", group="replay")
    def _replay_worker(self, op: Callable[[Replay], Any]) -> None:
        assert self._replay is not None
        with self._lock:
            op(self._replay)
            snap = self._replay.snapshot()
        self._replay_busy = False
        self.post_message(SnapshotReady(snap))

    def action_play_pause(self) -> None:
        r = self._replay
        if r is None:
            return
        if r.at_end and not self.playing:
            self._replay_op(lambda rr: rr.seek(0))
        self.playing = not self.playing
        self._play_wall = time.monotonic()
        self._play_t = r.time_of(max(0, r.position - 1)) if r.position else r.time_of(0)
        self._show_status()

    def _play_tick(self) -> None:
        r = self._replay
        if r is None or not self.playing or self._replay_busy:
            return
        now = time.monotonic()
        self._play_t += int((now - self._play_wall) * r.speed * 1e9)
        self._play_wall = now
        if not r.at_end and r.time_of(r.position) > self._play_t + 1_000_000_000:
            self._play_t = r.time_of(r.position)  # skip idle gaps longer than 1 s
        target = self._play_t
        self._replay_op(lambda rr: rr.seek_time(target))
        if r.at_end:
            self.playing = False
            self._show_status()

    def action_step(self, n: int) -> None:
        self.playing = False
        self._replay_op(lambda r: r.step(n))

    def action_scrub(self, fraction: float) -> None:
        r = self._replay
        if r is None:
            return
        target = r.position + int(fraction * len(r)) or (1 if fraction > 0 else -1)
        self._replay_op(lambda rr: rr.seek(target))

    def action_seek_end(self, end: int) -> None:
        self.playing = False
        self._replay_op(lambda r: r.seek(len(r) if end else 0))

    def on_scrub_bar_seek(self, message: ScrubBar.Seek) -> None:
        self.playing = False
        self._replay_op(lambda r: r.seek_fraction(message.fraction))

    def action_speed(self, direction: int) -> None:
        r = self._replay
        if r is None:
            return
        r.faster() if direction > 0 else r.slower()
        # the status line shows the speed; a toast per key press stacked up over the panes
        self._show_status()
