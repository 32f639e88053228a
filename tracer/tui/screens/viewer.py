"""Viewer mode: a classroom browser's read-only picture of the teacher's walkthrough.

The viewer sees what the teacher sees (the live flow, the hops the gate holds) and may
select, scroll, switch views and language, but it cannot step the gate: the screen has
no gate keys, its gate actions refuse, and its gate object (``ViewerGate``) has no way to
release a hop or switch the gate (it wraps ``services.messaging.gate.GateObserver``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rich.text import Text

from tracer.model.feed import LiveFeed
from tracer.session import RequestTraces
from tracer.tui.i18n import t
from tracer.tui.screens.base import mode_keys
from tracer.tui.screens.walkthrough import WalkthroughScreen

READ_ONLY = "read-only viewer: the teacher releases the hops"


class GateRefused(PermissionError):
    """A viewer asked its gate to release a hop or to switch the gate."""


class ViewerGate:
    """The held hops of the teacher's gate, as the teacher's ``RequestOnlyGate`` shows
    them (start-up and periodic chatter left out), and nothing that could change them.

    ``observer`` is a ``GateObserver`` (or anything with ``pending()``, ``enabled`` and
    ``close()``); ``release``, ``release_next`` and ``set_enabled`` raise ``GateRefused``.
    """

    def __init__(self, observer: Any) -> None:
        self.observer = observer
        self.traces = RequestTraces()

    def observe(self, event: Mapping[str, Any]) -> None:
        """Feed every collected event (it learns which traces are requests)."""
        self.traces.observe(event)

    def pending(self) -> list[dict[str, Any]]:
        return [dict(item) for item in self.traces.shown(
            item for item in self.observer.pending() if not self.traces.is_background(item))]

    @property
    def enabled(self) -> bool | None:
        return getattr(self.observer, "enabled", None)

    def release(self, hop_id: str) -> None:
        raise GateRefused(READ_ONLY)

    def release_next(self) -> str | None:
        raise GateRefused(READ_ONLY)

    def set_enabled(self, enabled: bool) -> None:
        raise GateRefused(READ_ONLY)

    def close(self) -> None:
        self.observer.close()


class ViewerScreen(WalkthroughScreen, inherit_bindings=False):
    """The walkthrough's picture without its gate keys (see the module docstring)."""

    step_hint = "the teacher lets it go"

    MODE = "viewer"
    SUB_TITLE = "watching the teacher's walkthrough"
    BINDINGS = mode_keys()

    @classmethod
    def create(cls, source: Any, *, gate: Any = None, service_down_time_s: float = 60.0,
               clock: Callable[[], int] | None = None,
               intro: str | None = None) -> ViewerScreen:
        if gate is None:
            raise ValueError("viewer mode needs a ViewerGate (it shows the held hops)")
        return cls(LiveFeed(service_down_time_s=service_down_time_s, wall_clock=clock), gate,
                   intro=intro)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The gate's actions do not exist here, whatever calls them."""
        if action in ("step_gate", "toggle_gate"):
            return False
        return True

    def action_step_gate(self) -> None:
        self.notify(t(READ_ONLY, self.lang), timeout=3)

    def action_toggle_gate(self) -> None:
        self.notify(t(READ_ONLY, self.lang), timeout=3)

    def poll_gate(self) -> None:
        super().poll_gate()
        enabled = getattr(self.gate, "enabled", None)
        if enabled is not None and enabled != self.gate_enabled:
            self.gate_enabled = bool(enabled)
            self.show_status()

    def status_mode(self, text: Text) -> None:
        text.append("  " + t("teacher's gate ", self.lang), style="bold")
        text.append(t("ON" if self.gate_enabled else "OFF (free run)", self.lang),
                    style="bold green" if self.gate_enabled else "bold yellow")
        text.append(t(" · {n} held · read-only", self.lang, n=len(self.pending)))
