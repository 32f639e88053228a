"""Walkthrough mode: live, and a gate holds each hop until the learner lets it go."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive

from tracer.model import ServiceView, Snapshot
from tracer.model.feed import LiveFeed
from tracer.model.views import state_name
from tracer.tui.graph import ServiceGraph
from tracer.tui.i18n import t
from tracer.tui.layout import node_label, node_of
from tracer.tui.panes import STEP_HINT, describe_pending, reply_summary
from tracer.tui.screens.base import TraceScreen, mode_keys
from tracer.tui.timeline import Timeline

GATE_POLL_S = 0.2
MIN_CUT_NS = 500_000_000  # a hold shorter than this is not worth a cut mark


@dataclass
class Released:
    """A hop the learner let go: the sender span it names, and the instances' states at
    that moment (what changed since is its consequence)."""

    hop_id: str | None
    method: str
    style: str
    states: dict[str, str] = field(default_factory=dict)


class HeldClock:
    """Wall time with the gate's holds cut out: ``holds`` are (start, end) wall times,
    end None while the gate holds. The timeline cuts them; the services pane does not
    count them against a heartbeat."""

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self.clock = clock
        self.holds: list[list[int | None]] = []

    def hold(self) -> None:
        if not self.holds or self.holds[-1][1] is not None:
            self.holds.append([self.clock(), None])

    def release(self) -> None:
        if self.holds and self.holds[-1][1] is None:
            self.holds[-1][1] = self.clock()

    def cuts(self, now_ns: int | None = None) -> tuple[tuple[int, int], ...]:
        """The holds long enough to cut, an open one up to *now_ns*."""
        now = self.clock() if now_ns is None else now_ns
        out = []
        for start, end in self.holds:
            assert start is not None
            stop = end if end is not None else now
            if stop - start >= MIN_CUT_NS:
                out.append((start, stop))
        return tuple(out)


class WalkthroughScreen(TraceScreen):
    """``n``/space releases the oldest held hop, ``g`` turns the gate off and on.

    ``gate`` is a ``services.messaging.gate.GateController`` (or anything with
    ``pending()``, ``release_next()`` and ``set_enabled(bool)``).
    """

    step_hint = STEP_HINT   # how a held hop moves on, said in its pane

    MODE = "walkthrough"
    SUB_TITLE = "one hop at a time"
    BINDINGS = mode_keys(
        Binding("n,space", "step_gate", "Release", tooltip="Release the held hop",
                id="walk.step", priority=True),
        Binding("g", "toggle_gate", "Gate", tooltip="Gate on/off", id="walk.gate",
                priority=True),
        hide=("app.follow", "app.lang"),  # 80 columns: the gate's keys and [ ] first
    )

    gate_enabled: reactive[bool] = reactive(True)

    def __init__(self, feed: LiveFeed, gate: Any, *, intro: str | None = None) -> None:
        super().__init__(feed, intro=intro)
        self.gate = gate
        self.pending: list[Mapping[str, Any]] = []  # held hops, oldest first
        self.released: list[Released] = []  # hops let go, oldest first
        self.held_clock = HeldClock()

    @classmethod
    def create(cls, source: Any, *, gate: Any = None, service_down_time_s: float = 60.0,
               clock: Callable[[], int] | None = None,
               intro: str | None = None) -> WalkthroughScreen:
        if gate is None:
            raise ValueError("walkthrough mode needs a gate (GateController)")
        return cls(LiveFeed(service_down_time_s=service_down_time_s, wall_clock=clock), gate,
                   intro=intro)

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(GATE_POLL_S, self.poll_gate, name="gate-poll")
        self.poll_gate()

    # -- drawing ---------------------------------------------------------------------

    def detail(self) -> tuple[RenderableType, str]:
        """Following the flow: what the last release did, then the held hop (what will
        happen on the next step). Browsing (``[``/``]``): the chosen hop, with a note
        that the gate still holds the next one."""
        if not self.follow and (self.selected_hop or self.selected_span):
            body, title = super().detail()
            if not self.pending:
                return body, title
            note = Text()
            note.append(t("‖ the gate still holds {method}", self.lang,
                          method=self._pending_method()), style="bold")
            note.append(t("  (a: back to it, n: let it go)\n", self.lang), style="dim")
            return Group(note, body), t("{title} · browsing", self.lang, title=title)
        blocks: list[RenderableType] = []
        just = self.just_happened()
        if just is not None:
            blocks.append(just)
        if self.pending:
            blocks.append(describe_pending(self.pending[0], self.lang,
                                           t(self.step_hint, self.lang)))
            title = t("held by the gate ({n} waiting)", self.lang, n=len(self.pending))
        else:
            body, title = super().detail()
            blocks.append(body)
        return Group(*blocks), title

    def narration_line(self) -> str:
        """While the gate holds a message and the picture follows: what it is."""
        if not self.pending or not self.follow:
            return super().narration_line()
        item = self.pending[0]
        hop = item.get("hop") if isinstance(item.get("hop"), Mapping) else item
        assert isinstance(hop, Mapping)
        sender = self.snapshot.hop(str(hop.get("parent_span_id") or "")) or None
        lang = self.lang
        src = node_label(node_of(sender.src_service, sender.src_host)) if sender else \
            t("the caller", lang)
        dst = node_label(node_of(str(hop.get("service") or ""), str(hop.get("host") or "")))
        style = str(hop.get("style") or "call")
        verb = t("WAITS for" if style == "call" else "SENDS to", lang)
        return t("‖ HELD: {src} {verb} {dst} — {what}  ·  n lets it go", lang, src=src,
                 verb=verb, dst=dst, what=f"{hop.get('method')} ({style})")

    def _pending_method(self) -> str:
        hop = self.pending[0].get("hop") if self.pending else None
        return str(hop.get("method") or "?") if isinstance(hop, Mapping) else "?"

    def just_happened(self) -> Text | None:
        """The last released hop's consequence: its reply in one line, the instance
        state it changed."""
        if not self.released:
            return None
        rel = self.released[-1]
        snap = self.snapshot
        hop = snap.hop(rel.hop_id)
        lang = self.lang
        text = Text()
        text.append(t("JUST HAPPENED", lang), style="bold reverse")
        text.append(f"  {rel.method} ({rel.style})\n", style="bold")
        if hop is not None:
            text.append(f"{node_label(node_of(hop.src_service, hop.src_host))} → "
                        f"{node_label(node_of(hop.dst_service, hop.dst_host))}  ")
            reply = hop.reply
            if reply is not None:
                text.append(reply_summary(reply.envelope, reply.failure),
                            style="bold red" if reply.failure else "bold green")
            elif hop.style == "call" and hop.done_ns is None:
                text.append(t("… the caller still waits for the reply", lang),
                            style="italic")
            elif hop.style in ("cast", "fanout"):
                text.append(t("a cast: no reply, the sender went on", lang), style="italic")
            else:
                text.append(t("done", lang) if hop.done_ns is not None else hop.state)
            text.append("\n")
        for uuid, inst in snap.instances.items():
            now = state_name(inst.vm_state, inst.task_state)
            before = rel.states.get(uuid)
            if before != now:
                name = inst.display_name or uuid[:8]
                text.append(f"{name}: {before or t('new', lang)} → {now}\n",
                            style="bold yellow")
        return text

    def status_mode(self, text: Text) -> None:
        text.append("  " + t("gate ", self.lang), style="bold")
        text.append(t("ON" if self.gate_enabled else "OFF (free run)", self.lang),
                    style="bold green" if self.gate_enabled else "bold yellow")
        text.append(t(" · {n} held", self.lang, n=len(self.pending)))

    def _show_pending(self) -> None:
        if self.presenting:
            self.show_present()
        self._show_pending_panes()

    def _show_pending_panes(self) -> None:
        """Light the held message's edge (the gate's hop names its sender span)."""
        held = set()
        for item in self.pending:
            hop = item.get("hop") if isinstance(item, Mapping) else None
            if isinstance(hop, Mapping) and hop.get("parent_span_id"):
                held.add(str(hop["parent_span_id"]))
        self.query_one(ServiceGraph).held = frozenset(held)
        self.show_detail()
        self.show_status()

    # -- the gate --------------------------------------------------------------------

    def poll_gate(self) -> None:
        try:
            pending = list(self.gate.pending())
        except Exception as exc:  # a broker hiccup must not kill the UI
            self.notify(f"gate: {exc}", severity="error", markup=False)
            return
        if pending:
            self.held_clock.hold()  # the flow waits for the learner from now
        switched = getattr(self.gate, "enabled", None)  # by the runner, not the g key
        if isinstance(switched, bool) and switched != self.gate_enabled:
            self.gate_enabled = switched
            self.show_status()
        if pending != self.pending:
            self.pending = pending
            self._show_pending()

    def service_up(self, svc: ServiceView, snap: Snapshot) -> bool:
        """A heartbeat late only because the gate held the flow does not count: up if
        its age less the held time is within the service down time."""
        if svc.up or svc.forced_down or svc.last_report_ns is None:
            return svc.up
        now = max(self.held_clock.clock(), snap.t_last_ns)
        age = now - svc.last_report_ns - self.held_ns_since(svc.last_report_ns, now)
        down = getattr(getattr(self.feed, "state", None), "service_down_time_ns", 60 * 10**9)
        return bool(age <= down)

    def draw(self, snap: Any) -> None:
        """The timeline with the gate's holds cut out (talking time is not flow time)."""
        if self._laid_out:
            self.query_one(Timeline).cuts = self.held_clock.cuts()
        super().draw(snap)

    def cut_ns(self, start_ns: int, end_ns: int) -> int:
        return self.held_ns_since(start_ns, end_ns)

    def held_ns_since(self, since_ns: int, now_ns: int) -> int:
        """How long the gate held the flow between two wall times."""
        total = 0
        for start, end in self.held_clock.cuts(now_ns):
            total += max(0, min(end, now_ns) - max(start, since_ns))
        return total

    def notify_pending(self, hop_id: str, hop: Mapping[str, Any]) -> None:
        """Usable as GateController(on_pending=screen.notify_pending); any thread."""
        if threading.current_thread() is threading.main_thread():
            self.poll_gate()
        else:
            self.app.call_from_thread(self.poll_gate)

    def action_step_gate(self) -> None:
        """Release exactly one held hop (the oldest); the picture follows the flow again
        and says what the release did."""
        first = self.pending[0] if self.pending else None
        if self.gate.release_next() is None:
            self.notify(t("nothing is held right now", self.lang), timeout=2)
        elif first is not None:
            hop = first.get("hop") if isinstance(first.get("hop"), Mapping) else first
            assert isinstance(hop, Mapping)
            states = {uuid: state_name(i.vm_state, i.task_state)
                      for uuid, i in self.snapshot.instances.items()}
            self.released.append(Released(
                str(hop["parent_span_id"]) if hop.get("parent_span_id") else None,
                str(hop.get("method") or "?"), str(hop.get("style") or "call"), states))
        self.held_clock.release()
        self.pending = self.pending[1:]
        if self.pending:
            self.held_clock.hold()
        self.follow = True
        self.draw(self.snapshot)
        self._show_pending()

    def action_toggle_gate(self) -> None:
        self.gate_enabled = not self.gate_enabled
        self.gate.set_enabled(self.gate_enabled)
        if not self.gate_enabled:
            self.pending = []
        self.notify(t("gate on: each hop waits for n/space" if self.gate_enabled
                      else "gate off: the flow runs free", self.lang), timeout=3)
        self._show_pending()
