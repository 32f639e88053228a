"""Walkthrough mode: live, and a gate holds each hop until the learner lets it go."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive

from tracer.model.feed import LiveFeed
from tracer.tui.graph import ServiceGraph
from tracer.tui.panes import describe_pending
from tracer.tui.screens.base import TraceScreen, mode_keys

GATE_POLL_S = 0.2


class WalkthroughScreen(TraceScreen):
    """``n``/space releases the oldest held hop, ``g`` turns the gate off and on.

    ``gate`` is a ``services.messaging.gate.GateController`` (or anything with
    ``pending()``, ``release_next()`` and ``set_enabled(bool)``).
    """

    MODE = "walkthrough"
    SUB_TITLE = "one hop at a time"
    BINDINGS = mode_keys(
        Binding("n,space", "step_gate", "Release hop", id="walk.step", priority=True),
        Binding("g", "toggle_gate", "Gate on/off", id="walk.gate", priority=True),
    )

    gate_enabled: reactive[bool] = reactive(True)

    def __init__(self, feed: LiveFeed, gate: Any, *, intro: str | None = None) -> None:
        super().__init__(feed, intro=intro)
        self.gate = gate
        self.pending: list[Mapping[str, Any]] = []  # held hops, oldest first

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
        """The held hop comes first: what will happen when the learner steps."""
        if self.pending:
            return (describe_pending(self.pending[0], self.lang),
                    f"held by the gate ({len(self.pending)} waiting)")
        return super().detail()

    def status_mode(self, text: Text) -> None:
        text.append("  gate ", style="bold")
        text.append("ON" if self.gate_enabled else "OFF (free run)",
                    style="bold green" if self.gate_enabled else "bold yellow")
        text.append(f" · {len(self.pending)} held")

    def _show_pending(self) -> None:
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
        if pending != self.pending:
            self.pending = pending
            self._show_pending()

    def notify_pending(self, hop_id: str, hop: Mapping[str, Any]) -> None:
        """Usable as GateController(on_pending=screen.notify_pending); any thread."""
        if threading.current_thread() is threading.main_thread():
            self.poll_gate()
        else:
            self.app.call_from_thread(self.poll_gate)

    def action_step_gate(self) -> None:
        """Release exactly one held hop (the oldest)."""
        if self.gate.release_next() is None:
            self.notify("nothing is held right now", timeout=2)
        self.pending = self.pending[1:]
        self._show_pending()

    def action_toggle_gate(self) -> None:
        self.gate_enabled = not self.gate_enabled
        self.gate.set_enabled(self.gate_enabled)
        if not self.gate_enabled:
            self.pending = []
        self.notify("gate on: each hop waits for n/space" if self.gate_enabled
                    else "gate off: the flow runs free", timeout=3)
        self._show_pending()
