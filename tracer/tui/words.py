"""UI words the panes and the status line share, in one place (English literals, to be
translated with the rest of the screen): what a learner reads where the picture needs
an explanation, and the small formatters that say ages and trace counts in words."""

from __future__ import annotations

from collections.abc import Mapping

from tracer.model import TraceView

# the hop pane's border when its text goes on below the fold (the wire facts and the
# envelope of a hop, the narration of a held one)
MORE_BELOW = "↓ more below: h, PgDn, wheel"
# the services pane's state for a service that sends no heartbeat (nova-api)
NO_HEARTBEAT = "no hb"
LAST_HOP = "last hop"
JUST_NOW = "just now"
# the envelope in the hop pane
ENVELOPE_TITLE = "envelope (oslo.message, secrets redacted)"
# the recording keeps the inner message; the body on the wire wraps it (oslo's rabbit
# driver, every rpc message)
ENVELOPE_OUTER = ('body on the wire: {"oslo.version": "2.0", "oslo.message": '
                  '<this message as a JSON string>}')
ENVELOPE_ARGS = "args"
ENVELOPE_CONTEXT = "request context"
TRUNCATED = "… truncated: {n} more characters"
COLLAPSED = "(shortened: values nested deeper than {depth} levels shown as {{… N keys}})"
# the instances pane's trail of states, and its label in a narrow pane
STATE_PATH = "vm_state/task_state: "
STATE_PATH_SHORT = "vm/task: "
# the scheduler's decision in the select_destinations hop pane
DECISION_TITLE = "scheduler's decision"
DECISION_FROM_PLACEMENT = "hosts from placement: "
DECISION_WEIGHERS = "weighers (weight per host, 0..1; ×multiplier when not 1):"
DECISION_CHOSEN = "⇒ chosen "
DECISION_NONE = "⇒ no host left: NoValidHost"
# the status line's trace counter
TRACE_KINDS = {"request": "request", "start-up": "start-up", "background": "background"}


def fmt_age(ns: float) -> str:
    """How long ago, for a person: ``just now`` under a second, else whole seconds
    (``3s ago``), minutes past a minute (``2m 05s ago``); never microseconds."""
    if ns < 1e9:
        return JUST_NOW
    s = int(ns // 1e9)
    if s < 60:
        return f"{s}s ago"
    return f"{s // 60}m {s % 60:02d}s ago"


def trace_kind(tv: TraceView) -> str:
    """``request`` (rooted at a REST call), ``start-up`` (a service starting) or
    ``background`` (heartbeats, periodic tasks: work no request started)."""
    if tv.root_kind == "HTTP":
        return "request"
    if tv.root_name.startswith("start "):
        return "start-up"
    return "background"


def trace_counter(traces: Mapping[str, TraceView], trace_id: str | None) -> str:
    """Where the shown trace stands among its own kind, and what the others are:
    ``trace: request 1/1, +5 start-up, +45 background (< >)``."""
    ordered = sorted(traces.values(), key=lambda t: t.start_ns)
    kinds = [trace_kind(t) for t in ordered]
    ids = [t.trace_id for t in ordered]
    mine = kinds[ids.index(trace_id)] if trace_id in ids else "request"
    same = [t for t, k in zip(ids, kinds, strict=True) if k == mine]
    position = same.index(trace_id) + 1 if trace_id in same else 0
    others = [f"+{kinds.count(k)} {TRACE_KINDS[k]}" for k in TRACE_KINDS
              if k != mine and kinds.count(k)]
    return ", ".join([f"trace: {TRACE_KINDS[mine]} {position}/{len(same)}", *others]) + " (< >)"
