"""Fold span events into finished spans and rpc hops, once, for every exporter.

Events travel as ``span_start`` / ``span_end`` / ``annotate`` (ARCHITECTURE.md, "Events")
so that a live view can show a call *waiting*; the export formats want whole spans. Events
may arrive out of order (several services publish to one broker) or twice (a spool resent
after a broker outage), so folding is order-independent and keeps the first copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("CLIENT", "SERVER", "PRODUCER", "CONSUMER", "INTERNAL", "HTTP")
RPC_STYLES = ("call", "cast", "fanout")

Endpoint = tuple[str, str]
"""(service, host): one lane / participant / node in every export."""


class ExportError(ValueError):
    """The format is unknown or the events cannot be exported (the message says why)."""


@dataclass(frozen=True)
class Annotation:
    """A point event (state change, heartbeat, log line), attached to a span when known."""

    trace_id: str | None
    span_id: str | None
    name: str
    service: str
    host: str
    ts_ns: int
    attrs: Mapping[str, Any]

    @property
    def endpoint(self) -> Endpoint:
        return (self.service, self.host)

    def label(self) -> str:
        """Short human text: ``building/spawning`` for a state change, else the name."""
        if self.name == "instance.state":
            return f"{self.attrs.get('vm_state')}/{self.attrs.get('task_state')}"
        if self.name == "log":
            return f"{self.attrs.get('level', 'log')}: {self.attrs.get('message', '')}"
        return self.name


@dataclass
class Span:
    """A span folded from its start and end events; ``finished`` is False without an end."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    host: str
    kind: str
    start_ns: int
    end_ns: int
    status: str = "UNSET"
    status_message: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)
    finished: bool = False

    @property
    def endpoint(self) -> Endpoint:
        return (self.service, self.host)

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)


@dataclass(frozen=True)
class Hop:
    """One rpc message: the sending span and the span(s) that handled it."""

    style: str
    method: str
    version: str
    namespace: str
    client: Span
    servers: tuple[Span, ...]
    src: Endpoint
    dst: tuple[Endpoint, ...]

    def label(self) -> str:
        """``method (style, version)``: what Mermaid and DOT print on an arrow."""
        return f"{self.method} ({self.style}, {self.version or '?'})"


@dataclass
class Folded:
    """Everything an exporter needs: spans by start time, annotations, hops, time range."""

    spans: list[Span]
    annotations: list[Annotation]
    hops: list[Hop]
    t0_ns: int
    t_last_ns: int
    by_id: dict[str, Span]

    def endpoints(self) -> list[Endpoint]:
        """Every (service, host) that emitted something, in a stable, readable order."""
        seen = {s.endpoint for s in self.spans} | {a.endpoint for a in self.annotations}
        for hop in self.hops:
            seen.update(hop.dst)
        return sorted(seen, key=_endpoint_order)


_SERVICE_ORDER = ("client", "nova-api", "nova-conductor", "nova-scheduler", "nova-compute")


def _endpoint_order(ep: Endpoint) -> tuple[int, str, str]:
    """Order lanes like the boot flow reads: api, conductor, scheduler, computes."""
    svc, host = ep
    rank = _SERVICE_ORDER.index(svc) if svc in _SERVICE_ORDER else len(_SERVICE_ORDER)
    return (rank, svc, host)


def _need(ev: Mapping[str, Any], key: str, idx: int, types: type | tuple[type, ...]) -> Any:
    if key not in ev:
        raise ExportError(f"event {idx} ({ev.get('type')}): missing field {key!r}")
    val = ev[key]
    if not isinstance(val, types) or isinstance(val, bool) and types is int:
        raise ExportError(f"event {idx} ({ev.get('type')}): field {key!r} has bad value {val!r}")
    return val


def fold(events: Iterable[Mapping[str, Any]]) -> Folded:
    """Fold *events* into spans; raise ExportError for input that is not an event list."""
    if isinstance(events, (str, bytes)) or not isinstance(events, Iterable):
        raise ExportError("events must be a list of event dicts (the recording minus its header)")
    starts: list[tuple[int, Mapping[str, Any]]] = []
    ends: list[tuple[int, Mapping[str, Any]]] = []
    notes: list[tuple[int, Mapping[str, Any]]] = []
    last = None
    for idx, ev in enumerate(events):
        if not isinstance(ev, Mapping):
            raise ExportError(f"event {idx} is a {type(ev).__name__}, not a dict")
        if "type" not in ev and ev.get("format") == "bootflow-trace":
            continue  # a header line passed along by mistake: harmless
        kind = ev.get("type")
        ts = _need(ev, "ts_ns", idx, int)
        if kind == "span_start":
            starts.append((idx, ev))
        elif kind == "span_end":
            ends.append((idx, ev))
        elif kind == "annotate":
            notes.append((idx, ev))
        else:
            continue  # unknown event types are newer than this exporter: skip, don't fail
        last = ts if last is None else max(last, ts)
    if last is None:
        raise ExportError("no span or annotation events to export")

    by_id: dict[str, Span] = {}
    for idx, ev in starts:
        sid = _need(ev, "span_id", idx, str)
        if sid in by_id:
            continue
        kind = str(ev.get("kind") or "INTERNAL").upper()
        links = [
            {"trace_id": str(lk.get("trace_id", "")), "span_id": str(lk.get("span_id", ""))}
            for lk in ev.get("links") or ()
            if isinstance(lk, Mapping) and lk.get("span_id")
        ]
        by_id[sid] = Span(
            trace_id=_need(ev, "trace_id", idx, str),
            span_id=sid,
            parent_id=ev.get("parent_id") or None,
            name=str(ev.get("name") or "?"),
            service=str(ev.get("service") or "?"),
            host=str(ev.get("host") or "?"),
            kind=kind if kind in KINDS else "INTERNAL",
            start_ns=ev["ts_ns"],
            end_ns=last,
            attrs=dict(ev.get("attrs") or {}),
            links=links,
        )
    for idx, ev in ends:
        span = by_id.get(_need(ev, "span_id", idx, str))
        if span is None or span.finished:
            continue  # an end whose start was never recorded has nothing to draw
        span.finished = True
        span.end_ns = max(span.start_ns, ev["ts_ns"])
        span.status = str(ev.get("status") or "OK").upper()
        span.status_message = str(ev.get("status_message") or ev.get("message") or "")
        span.attrs.update(ev.get("attrs") or {})
    for span in by_id.values():
        if not span.finished:
            span.attrs["bootflow.unfinished"] = True

    annotations: list[Annotation] = []
    seen_notes: set[tuple[Any, ...]] = set()
    for _idx, ev in notes:
        owner = by_id.get(ev.get("span_id") or "")
        attrs = dict(ev.get("attrs") or {})
        key = (ev.get("span_id"), ev.get("name"), ev["ts_ns"], repr(sorted(attrs.items())))
        if key in seen_notes:
            continue
        seen_notes.add(key)
        ann = Annotation(
            trace_id=ev.get("trace_id") or (owner.trace_id if owner else None),
            span_id=ev.get("span_id") or None,
            name=str(ev.get("name") or "annotate"),
            service=str(ev.get("service") or (owner.service if owner else "?")),
            host=str(ev.get("host") or (owner.host if owner else "?")),
            ts_ns=ev["ts_ns"],
            attrs=attrs,
        )
        annotations.append(ann)
        if owner is not None:
            owner.annotations.append(ann)
    annotations.sort(key=lambda a: a.ts_ns)
    for span in by_id.values():
        span.annotations.sort(key=lambda a: a.ts_ns)

    spans = sorted(by_id.values(), key=lambda s: (s.start_ns, -s.end_ns))
    t0 = min([s.start_ns for s in spans] + [a.ts_ns for a in annotations])
    return Folded(spans, annotations, _hops(spans, by_id), t0, last, by_id)


def rpc_style(span: Span) -> str | None:
    """call / cast / fanout for a sending span, None for anything else."""
    if span.kind not in ("CLIENT", "PRODUCER"):
        return None
    style = str(span.attrs.get("rpc.style") or "").lower()
    if style in RPC_STYLES:
        return style
    return "call" if span.kind == "CLIENT" else "cast"


def _hops(spans: list[Span], by_id: Mapping[str, Span]) -> list[Hop]:
    """Pair each CLIENT/PRODUCER span with its SERVER/CONSUMER spans (parent or link)."""
    handlers: dict[str, list[Span]] = {}
    for span in spans:
        if span.kind not in ("SERVER", "CONSUMER"):
            continue
        refs = [span.parent_id] + [lk["span_id"] for lk in span.links]
        for ref in refs:
            if ref is not None and ref in by_id and by_id[ref].kind in ("CLIENT", "PRODUCER"):
                handlers.setdefault(ref, []).append(span)
                break
    services = {s.service for s in spans}
    hops = []
    for span in spans:
        style = rpc_style(span)
        if style is None:
            continue
        servers = tuple(handlers.get(span.span_id, ()))
        dst = tuple(dict.fromkeys(s.endpoint for s in servers))
        if not dst:
            dst = (_guess_destination(span, services),)
        hops.append(
            Hop(
                style=style,
                method=str(span.attrs.get("rpc.method") or span.name),
                version=str(span.attrs.get("rpc.version") or ""),
                namespace=str(span.attrs.get("rpc.namespace") or ""),
                client=span,
                servers=servers,
                src=span.endpoint,
                dst=dst,
            )
        )
    return hops


def _guess_destination(span: Span, services: set[str]) -> Endpoint:
    """Where an unanswered message went: Nova's binary for the topic (nova-<topic>)."""
    topic = str(span.attrs.get("rpc.topic") or span.attrs.get("messaging.destination.name") or "?")
    server = str(span.attrs.get("rpc.server") or "")
    service = f"nova-{topic}" if f"nova-{topic}" in services else topic
    return (service, server or "?")


def pack_rows(spans: Iterable[Span]) -> dict[str, int]:
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
