"""Names the whole tracer agrees on: span kinds, hop styles and states, service order.

Defined once here (span kinds once in the instrumentation package, which stands alone and
may not import this one), so the reducer, the exports, the scenario checks and the
headless tree cannot drift apart.
"""

from __future__ import annotations

from typing import Literal

from tracer.instrument.events import KINDS

SPAN_KINDS: tuple[str, ...] = KINDS
"""Every span kind an event may carry (anything else is read as INTERNAL)."""
SENDING_KINDS = ("CLIENT", "PRODUCER")
"""A span that sends a message: a call's client, a cast's or fanout's producer."""
HANDLING_KINDS = ("SERVER", "CONSUMER")
"""A span that handles a message; its sender is its parent, else its first link that is a
sending span (``tracer.model.reducer`` applies the rule)."""

RPC_STYLES = ("call", "cast", "fanout")
"""oslo.messaging's ways to send: call waits for a reply, cast and fanout do not."""
HOP_STYLES = (*RPC_STYLES, "http")

HopState = Literal["in_flight", "running", "waiting", "done", "error"]
"""in_flight: published, nobody picked it up yet; waiting: a call whose handler runs or
whose reply travels (the caller is blocked); running: a cast/fanout consumer at work, the
sender long gone; done; error."""
LIVE_HOP_STATES: tuple[HopState, ...] = ("in_flight", "waiting", "running")
"""The states of a hop that is still under way."""

SERVICE_ORDER = ("client", "nova-api", "nova-conductor", "nova-scheduler", "nova-compute",
                 "placement")
"""Services in the order the boot flow reads (lanes, participants, graph layers)."""

UNKNOWN = "?"
"""The name of a destination nobody answered for (no topic or no server in the message)."""
