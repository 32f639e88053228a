"""UI words the panes and the status line share, in one place (English literals, to be
translated with the rest of the screen): what a learner reads where the picture needs
an explanation, and the small formatters that say ages and trace counts in words."""

from __future__ import annotations

from collections.abc import Mapping

from tracer.model import TraceView
from tracer.tui.i18n import t

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
STATE_PATH = "vm_state(task_state): "
# the scheduler's decision in the select_destinations hop pane
DECISION_TITLE = "scheduler's decision"
DECISION_FROM_PLACEMENT = "hosts from placement: "
DECISION_WEIGHERS = "weighers (weight per host, 0..1; ×multiplier when not 1):"
DECISION_CHOSEN = "⇒ chosen "
DECISION_NONE = "⇒ no host left: NoValidHost"
# the status line's trace counter: REST requests, and everything else (the services'
# start-up, heartbeats, periodic tasks)
REQUEST = "request"
BACKGROUND = "background"


def fmt_age(ns: float, lang: str = "en") -> str:
    """How long ago, for a person: ``just now`` under a second, else whole seconds
    (``3s ago``), minutes past a minute (``2m 05s ago``); never microseconds."""
    if ns < 1e9:
        return t(JUST_NOW, lang)
    s = int(ns // 1e9)
    if s < 60:
        return t("{s}s ago", lang, s=s)
    return t("{m}m {s}s ago", lang, m=s // 60, s=f"{s % 60:02d}")


def is_request(tv: TraceView) -> bool:
    """Rooted at a REST call (a boot, a delete, a GET), as opposed to the services'
    start-up and background work (heartbeats, periodic tasks) no request started."""
    return tv.root_kind == "HTTP"


def trace_counter(traces: Mapping[str, TraceView], trace_id: str | None,
                  lang: str = "en") -> str:
    """Where the shown trace stands among its own kind, and how many of the other
    kind there are: ``request 1/2 (+45 background, < >)``."""
    ordered = sorted(traces.values(), key=lambda t: t.start_ns)
    mine = next((is_request(t) for t in ordered if t.trace_id == trace_id), True)
    same = [t.trace_id for t in ordered if is_request(t) == mine]
    position = same.index(trace_id) + 1 if trace_id in same else 0
    others = len(ordered) - len(same)
    kind, other = (REQUEST, BACKGROUND) if mine else (BACKGROUND, REQUEST)
    plural = "s" if other == REQUEST and others != 1 else ""
    return t("{kind} {i}/{n} (+{others} {other}, < >)", lang, kind=t(kind, lang),
             i=position, n=len(same), others=others, other=t(other + plural, lang))
