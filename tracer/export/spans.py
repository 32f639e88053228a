"""Spans and hops as the export formats want them, read from the one trace model.

Events travel as ``span_start`` / ``span_end`` / ``annotate`` (ARCHITECTURE.md, "Events")
so that a live view can show a call *waiting*; the export formats want whole spans. The
reducer (``tracer.model``) folds them, tolerating disorder and duplicates, and pairs
every rpc message with its handlers; this module only checks that the input is an event
list (an export names what is wrong instead of drawing half a picture) and closes what is
still open: an unfinished span ends at the last timestamp and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tracer.model import (
    AnnotationView,
    Endpoint,
    HopView,
    Snapshot,
    SpanView,
    TraceState,
    TraceView,
    endpoint_order,
)
from tracer.model.views import Link

__all__ = ["Endpoint", "ExportError", "ExportSpan", "ExportView", "pack_rows", "read"]


class ExportError(ValueError):
    """The format is unknown or the events cannot be exported (the message says why)."""


@dataclass(frozen=True)
class ExportSpan:
    """A model span closed for export: ``end_ns`` is the last timestamp while it is open
    (``finished`` False, attribute ``bootflow.unfinished``); its annotations attached."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    host: str
    kind: str
    start_ns: int
    end_ns: int
    status: str
    status_message: str
    attrs: Mapping[str, Any]
    links: tuple[Link, ...]
    annotations: tuple[AnnotationView, ...]
    finished: bool

    @classmethod
    def of(cls, span: SpanView, t_last_ns: int,
           annotations: Sequence[AnnotationView]) -> ExportSpan:
        attrs = dict(span.attrs)
        if not span.finished:
            attrs["bootflow.unfinished"] = True
        return cls(span.trace_id, span.span_id, span.parent_id, span.name, span.service,
                   span.host, span.kind, span.start_ns,
                   span.end_ns if span.end_ns is not None else t_last_ns,
                   span.status, span.status_message, attrs,
                   span.links, tuple(annotations), span.finished)

    @property
    def endpoint(self) -> Endpoint:
        return (self.service, self.host)

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)


@dataclass
class ExportView:
    """Everything an exporter needs: spans by start time, annotations by time, the rpc
    hops (the model's ``HopView``; ``http_hops`` the HTTP ones), the time range, and the
    model's traces by start time with the one worth showing first (``default_trace``: the
    newest user request that sent rpc messages)."""

    spans: list[ExportSpan]
    annotations: list[AnnotationView]
    hops: list[HopView]
    t0_ns: int
    t_last_ns: int
    by_id: dict[str, ExportSpan] = field(default_factory=dict)
    traces: list[TraceView] = field(default_factory=list)
    default_trace: str | None = None
    http_hops: list[HopView] = field(default_factory=list)

    @classmethod
    def of(cls, snap: Snapshot) -> ExportView:
        owned: dict[str, list[AnnotationView]] = {}
        annotations: list[AnnotationView] = []
        for ann in snap.annotations:
            owner = snap.spans.get(ann.span_id) if ann.span_id else None
            ann = replace(
                ann, trace_id=ann.trace_id or (owner.trace_id if owner else None),
                service=ann.service or (owner.service if owner else "?"),
                host=ann.host or (owner.host if owner else "?"))
            annotations.append(ann)
            if owner is not None:
                owned.setdefault(owner.span_id, []).append(ann)
        annotations.sort(key=lambda a: a.ts_ns)
        spans = [ExportSpan.of(s, snap.t_last_ns,
                               sorted(owned.get(s.span_id, ()), key=lambda a: a.ts_ns))
                 for s in snap.spans.values()]
        spans.sort(key=lambda s: (s.start_ns, -s.end_ns))
        by_id = {s.span_id: s for s in spans}
        order = {s.span_id: i for i, s in enumerate(spans)}
        hops = sorted(snap.rpc_hops(), key=lambda h: order[h.client_span_id])
        t0 = min([s.start_ns for s in spans] + [a.ts_ns for a in annotations])
        traces = sorted(snap.traces.values(), key=lambda t: (t.start_ns, t.trace_id))
        http = [h for h in snap.hops if not h.is_rpc and h.client_span_id in by_id]
        return cls(spans, annotations, hops, t0, snap.t_last_ns, by_id, traces,
                   snap.latest_trace(), http)

    def client(self, hop: HopView) -> ExportSpan:
        """The span that sent *hop*."""
        return self.by_id[hop.client_span_id]

    def servers(self, hop: HopView) -> list[ExportSpan]:
        """The spans that handled *hop*, by start time."""
        return [self.by_id[sid] for sid in hop.server_span_ids]

    def endpoints(self) -> list[Endpoint]:
        """Every (service, host) that emitted something, in a stable, readable order."""
        seen = {s.endpoint for s in self.spans} | {a.endpoint for a in self.annotations}
        for hop in self.hops:
            seen.update(hop.receivers)
        return sorted(seen, key=endpoint_order)


def _need(ev: Mapping[str, Any], key: str, idx: int, types: type | tuple[type, ...]) -> Any:
    if key not in ev:
        raise ExportError(f"event {idx} ({ev.get('type')}): missing field {key!r}")
    val = ev[key]
    if not isinstance(val, types) or isinstance(val, bool) and types is int:
        raise ExportError(f"event {idx} ({ev.get('type')}): field {key!r} has bad value {val!r}")
    return val


def check_events(events: Iterable[Mapping[str, Any]]) -> None:
    """Raise ExportError naming the first event an export cannot use, or when none is."""
    if isinstance(events, (str, bytes)) or not isinstance(events, Iterable):
        raise ExportError("events must be a list of event dicts (the recording minus its header)")
    usable = False
    for idx, ev in enumerate(events):
        if not isinstance(ev, Mapping):
            raise ExportError(f"event {idx} is a {type(ev).__name__}, not a dict")
        if "type" not in ev and ev.get("format") == "bootflow-trace":
            continue  # a header line passed along by mistake: harmless
        kind = ev.get("type")
        _need(ev, "ts_ns", idx, int)
        if kind == "span_start":
            _need(ev, "span_id", idx, str)
            _need(ev, "trace_id", idx, str)
        elif kind == "span_end":
            _need(ev, "span_id", idx, str)
        elif kind != "annotate":
            continue  # unknown event types are newer than this exporter: skip, don't fail
        usable = True
    if not usable:
        raise ExportError("no span or annotation events to export")


def read(events: Sequence[Mapping[str, Any]]) -> ExportView:
    """Check *events*, feed them to the model, and close its snapshot for export."""
    check_events(events)
    state = TraceState()
    state.feed_all(events)
    return ExportView.of(state.snapshot())


def pack_rows(spans: Iterable[ExportSpan]) -> dict[str, int]:
    """Row per span inside its lane so that spans on one row nest strictly.

    Chrome's trace format and the HTML timeline need properly nested slices per thread; two
    greenthreads of one service can overlap without nesting, so those go on another row.
    """
    rows: dict[str, int] = {}
    stacks: dict[Endpoint, list[list[int]]] = {}
    for span in sorted(spans, key=lambda s: (s.start_ns, -s.end_ns)):
        lanes = stacks.setdefault(span.endpoint, [])
        for i, stack in enumerate(lanes):
            while stack and stack[-1] <= span.start_ns and stack[-1] < span.end_ns:
                stack.pop()
            if not stack or stack[-1] >= span.end_ns:
                stack.append(span.end_ns)
                rows[span.span_id] = i
                break
        else:
            lanes.append([span.end_ns])
            rows[span.span_id] = len(lanes) - 1
    return rows
