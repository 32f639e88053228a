"""Support for the boot-flow tests (no tests here): a traced EmbeddedCloud, span lookups
on the trace model."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.conf import Config
from tracer.cloud.embedded import EmbeddedCloud
from tracer.instrument import api as trace
from tracer.model import Snapshot, SpanView, snapshot_of


class Spans:
    """Span lookups on the one trace model (the reducer fed *events*), as the TUI sees it."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        # the emitter may still append from the services' threads: read a copy
        self.snapshot: Snapshot = snapshot_of(list(events))

    def find(self, name: str | None = None, kind: str | None = None,
             service: str | None = None, trace_id: str | None = None) -> list[SpanView]:
        return [s for s in self.snapshot.spans.values()
                if (name is None or s.name == name) and (kind is None or s.kind == kind)
                and (service is None or s.service == service)
                and (trace_id is None or s.trace_id == trace_id)]

    def states(self, uuid: str) -> list[tuple[str | None, str | None]]:
        """(vm_state, task_state) of one instance as it went, repeats folded."""
        inst = self.snapshot.instances.get(uuid)
        out: list[tuple[str | None, str | None]] = []
        for change in inst.history if inst is not None else ():
            pair = (change.vm_state, change.task_state)
            if not out or out[-1] != pair:
                out.append(pair)
        return out


def wait_all_ended(events: list[dict[str, Any]], trace_id: str, timeout: float = 10.0) -> None:
    """The instance turns active before the compute's last hops (fanout, event_finish)
    are sent: wait until every span of the trace has ended before looking at it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        spans = Spans(events).find(trace_id=trace_id)
        if spans and all(s.end_ns is not None for s in spans):
            return
        time.sleep(0.02)
    raise AssertionError(f"spans of trace {trace_id} still open after {timeout}s")


@contextlib.contextmanager
def traced_cloud(tmp_path: Path, computes: tuple[str, ...] = ("compute1",),
                 transport_url: str = "memory://", **config: Any
                 ) -> Iterator[tuple[EmbeddedCloud, list[dict[str, Any]]]]:
    events: list[dict[str, Any]] = []
    trace.set_emitter(events.append)
    cfg = Config.load(env={}, state_dir=str(tmp_path), **config)
    try:
        with EmbeddedCloud(cfg, computes=computes, transport_url=transport_url) as cloud:
            yield cloud, events
    finally:
        trace.set_emitter(None)
