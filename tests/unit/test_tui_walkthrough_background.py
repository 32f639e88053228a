"""The walkthrough shows the learner only the request's hops (issue 14, item 10): after
the boot, heartbeats and periodic tasks go on in traces of their own; their held
messages are let go, never shown as the next hop (not even in the moment before their
trace's root span arrives), and the status line says what the other traces are."""

from __future__ import annotations

from typing import Any

from support.tui import FakeGate

from tracer.commands.live import RequestOnlyGate
from tracer.session import UNKNOWN_TRACE_GRACE_S, RequestTraces


def _root(trace_id: str, kind: str, service: str, name: str) -> dict[str, Any]:
    return {"type": "span_start", "trace_id": trace_id, "span_id": f"root-{trace_id}",
            "parent_id": None, "kind": kind, "service": service, "name": name,
            "host": "h", "ts_ns": 1, "attrs": {}, "links": []}


HEARTBEAT_HOP = {"method": "object_action", "style": "call", "service": "nova-conductor",
                 "host": "conductor", "trace_id": "beat1", "parent_span_id": "c1"}
BOOT_HOP = {"method": "select_destinations", "style": "call", "service": "nova-scheduler",
            "host": "scheduler", "trace_id": "boot1", "parent_span_id": "c2"}


def test_request_only_gate_never_lists_a_heartbeat_even_before_its_root_arrives() -> None:
    now = [100.0]
    fake = FakeGate([HEARTBEAT_HOP, BOOT_HOP])
    gate = RequestOnlyGate(fake)
    gate.traces = RequestTraces(clock=lambda: now[0])
    gate.observe(_root("boot1", "HTTP", "nova-api", "POST /v2.1/servers"))
    # the heartbeat's root is still on its way: held, but not the learner's next hop
    assert [p["hop"]["method"] for p in gate.pending()] == ["select_destinations"]
    assert fake.released == []
    gate.observe(_root("beat1", "INTERNAL", "nova-compute", "_report_state"))
    assert [p["hop"]["method"] for p in gate.pending()] == ["select_destinations"]
    assert fake.released == ["h0"]  # let go once known as background
    # a trace whose root never comes is shown after the grace time, not held unseen
    lost = FakeGate([dict(BOOT_HOP, trace_id="lost")])
    gate = RequestOnlyGate(lost)
    gate.traces = RequestTraces(clock=lambda: now[0])
    assert gate.pending() == []
    now[0] += UNKNOWN_TRACE_GRACE_S
    assert [p["hop_id"] for p in gate.pending()] == ["h0"]
