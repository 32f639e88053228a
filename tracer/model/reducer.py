"""Fold span events into one immutable picture: the single model every view draws.

Live (collector), replay (a file) and tests all feed this one reducer, so replay shows
exactly what live showed. Pure: no I/O, no Textual, no clock of its own (time is the
largest ``ts_ns`` seen). Events may come out of order (several services publish to one
broker), twice (a resent spool) or broken; none of that raises, it is counted.

Cost: ``feed`` is O(1) amortised; ``snapshot`` shares unchanged collections with the last
snapshot and copies a collection only once after it changed (copy-on-write), so a view
that snapshots 20 times a second does not pay O(all events) per frame in the common case.
"""

from __future__ import annotations

import bisect
import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, TypeGuard

SENDING_KINDS = ("CLIENT", "PRODUCER")
HANDLING_KINDS = ("SERVER", "CONSUMER")
RPC_STYLES = ("call", "cast", "fanout")
HOP_STATES = ("in_flight", "running", "waiting", "done", "error")
DEFAULT_SERVICE_DOWN_TIME_S = 60.0
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SpanView:
    """One span as known so far; ``end_ns`` is None while it is open."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    host: str
    kind: str
    start_ns: int
    end_ns: int | None = None
    status: str = "UNSET"
    attrs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    links: tuple[str, ...] = ()
    seq: int = 0

    @property
    def endpoint(self) -> tuple[str, str]:
        return (self.service, self.host)

    @property
    def finished(self) -> bool:
        return self.end_ns is not None

    def duration_ns(self, now_ns: int) -> int:
        return max(0, (self.end_ns if self.end_ns is not None else now_ns) - self.start_ns)


@dataclass(frozen=True, slots=True)
class HopView:
    """One message between services: a sending span paired with its handler span(s).

    ``state``: in_flight (published, nobody picked it up yet), waiting (a call whose
    handler runs or whose reply travels: the caller is blocked), running (a cast/fanout
    consumer at work, the sender long gone), done, error.
    """

    hop_id: str
    trace_id: str
    key: str
    method: str
    style: str
    version: str
    namespace: str
    exchange: str
    routing_key: str
    src_service: str
    src_host: str
    dst_service: str
    dst_host: str
    sent_ns: int
    recv_ns: int | None
    done_ns: int | None
    handled_ns: int | None
    waiting_ns: int
    state: str
    client_span_id: str
    server_span_ids: tuple[str, ...] = ()
    seq: int = 0

    @property
    def blocking(self) -> bool:
        return self.style == "call"

    def label(self) -> str:
        if self.style == "http":
            return self.method
        return f"{self.method} ({self.style}, {self.version or '?'})"


@dataclass(frozen=True, slots=True)
class TraceView:
    """One request end to end (a boot is one trace): its time range and span count."""

    trace_id: str
    root_name: str
    start_ns: int
    end_ns: int
    n_spans: int
    open_spans: int
    errors: int
    span_ids: tuple[str, ...] = ()
    root_kind: str = ""
    rpc_hops: int = 0


@dataclass(frozen=True, slots=True)
class InstanceChange:
    ts_ns: int
    vm_state: str | None
    task_state: str | None
    host: str | None


@dataclass(frozen=True, slots=True)
class InstanceView:
    uuid: str
    vm_state: str | None
    task_state: str | None
    host: str | None
    display_name: str | None
    updated_ns: int
    history: tuple[InstanceChange, ...]


@dataclass(frozen=True, slots=True)
class ServiceView:
    """A service's heartbeat: ``up`` is judged against the snapshot clock (servicegroup)."""

    binary: str
    host: str
    last_report_ns: int | None
    report_count: int
    up: bool
    forced_down: bool = False


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a view draws, immutable; ``seq`` = number of events fed so far."""

    seq: int
    t0_ns: int
    t_last_ns: int
    spans: Mapping[str, SpanView]
    traces: Mapping[str, TraceView]
    hops: tuple[HopView, ...]
    instances: Mapping[str, InstanceView]
    services: Mapping[tuple[str, str], ServiceView]
    logs: tuple[tuple[int, str, str, str], ...] = ()
    unknown: int = 0
    malformed: int = 0
    duplicates: int = 0

    def hop(self, hop_id: str | None) -> HopView | None:
        if hop_id is None:
            return None
        for hop in self.hops:
            if hop.hop_id == hop_id:
                return hop
        return None

    def trace_spans(self, trace_id: str | None) -> list[SpanView]:
        """Spans of one trace, by start time (what the timeline and sequence draw)."""
        tv = self.traces.get(trace_id) if trace_id else None
        if tv is None:
            return []
        spans = [self.spans[sid] for sid in tv.span_ids if sid in self.spans]
        spans.sort(key=lambda s: (s.start_ns, s.seq))
        return spans

    def trace_hops(self, trace_id: str | None) -> list[HopView]:
        return [h for h in self.hops if h.trace_id == trace_id]

    def latest_trace(self) -> str | None:
        """The trace worth showing first: the newest request that sent rpc messages."""
        best, best_key = None, (0, 0, 0)
        for tv in self.traces.values():
            # a user request that sent rpc messages (a boot) beats start-up chatter and
            # GET polls; among those the newest; otherwise the biggest
            request = tv.root_kind == "HTTP" and tv.rpc_hops > 0
            key = (1, tv.start_ns, tv.n_spans) if request else (0, tv.n_spans, tv.end_ns)
            if best is None or key > best_key:
                best, best_key = tv, key
        return best.trace_id if best else None


EMPTY_SNAPSHOT = Snapshot(0, 0, 0, _EMPTY, _EMPTY, (), _EMPTY, MappingProxyType({}))


def _hop_order(hop: HopView) -> tuple[int, int]:
    return (hop.sent_ns, hop.seq)


def hop_key(style: str, name: str) -> str:
    """Narration key of a hop: ``call:select_destinations``, ``http:POST /v2.1/servers``."""
    return f"{style}:{name}"


class _Cow:
    """A dict shared with snapshots: copied once on the first write after sharing."""

    __slots__ = ("data", "shared", "proxy")

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}
        self.shared = False
        self.proxy: Mapping[Any, Any] = MappingProxyType(self.data)

    def set(self, key: Any, value: Any) -> None:
        if self.shared:
            self.data = dict(self.data)
            self.proxy = MappingProxyType(self.data)
            self.shared = False
        self.data[key] = value

    def share(self) -> Mapping[Any, Any]:
        self.shared = True
        return self.proxy


class ChunkedMapping(Mapping[str, Any]):
    """A read-only view of a ``_Chunked`` store as it was when shared (see there)."""

    __slots__ = ("_index", "_chunks", "_len")

    def __init__(self, index: dict[str, int], chunks: tuple[dict[str, Any], ...]) -> None:
        self._index = index
        self._chunks = chunks
        self._len = sum(len(c) for c in chunks)

    def __getitem__(self, key: str) -> Any:
        no = self._index.get(key)
        if no is None or no >= len(self._chunks):
            raise KeyError(key)
        return self._chunks[no][key]

    def __contains__(self, key: object) -> bool:
        no = self._index.get(key)  # type: ignore[call-overload]
        return no is not None and no < len(self._chunks) and key in self._chunks[no]

    def __iter__(self) -> Iterator[str]:
        for chunk in self._chunks:
            yield from chunk

    def __len__(self) -> int:
        return self._len


class _Chunked:
    """Spans by id in chunks of ``CHUNK`` by arrival; a snapshot shares the chunks and a
    write after that copies only the one chunk it touches (recent spans, mostly), so a
    snapshot of 100,000 spans costs a few small copies instead of one big one."""

    CHUNK = 1024
    __slots__ = ("index", "chunks", "shared")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.chunks: list[dict[str, Any]] = []
        self.shared: list[bool] = []

    def get(self, key: str) -> Any:
        no = self.index.get(key)
        return None if no is None else self.chunks[no].get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def set(self, key: str, value: Any) -> None:
        no = self.index.get(key)
        if no is None:
            if not self.chunks or len(self.chunks[-1]) >= self.CHUNK:
                self.chunks.append({})
                self.shared.append(False)
            no = len(self.chunks) - 1
            self.index[key] = no
        if self.shared[no]:
            self.chunks[no] = dict(self.chunks[no])
            self.shared[no] = False
        self.chunks[no][key] = value

    def share(self) -> ChunkedMapping:
        self.shared = [True] * len(self.chunks)
        return ChunkedMapping(self.index, tuple(self.chunks))

    def copy(self) -> _Chunked:
        new = _Chunked()
        new.index = dict(self.index)
        new.chunks = list(self.chunks)
        new.shared = [True] * len(self.chunks)
        self.shared = [True] * len(self.chunks)
        return new


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _is_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value)


def _event_ts(ev: Any) -> int:
    """An event's ``ts_ns`` (0 when it has none) for the replay clock."""
    ts = ev.get("ts_ns") if isinstance(ev, Mapping) else None
    return ts if isinstance(ts, int) else 0


class TraceState:
    """The reducer: ``feed`` events, ``snapshot`` the picture."""

    def __init__(self, service_down_time_s: float = DEFAULT_SERVICE_DOWN_TIME_S,
                 max_logs: int = 500) -> None:
        self.service_down_time_ns = int(service_down_time_s * 1e9)
        self.max_logs = max_logs
        self.seq = 0
        self.t0_ns = 0
        self.t_last_ns = 0
        self.unknown = 0
        self.malformed = 0
        self.duplicates = 0
        self._spans = _Chunked()
        self._hop_list: list[HopView] = []
        self._hop_pos: dict[str, int] = {}
        self._trace_span_ids: dict[str, list[str]] = {}
        self._instances = _Cow()
        self._traces: dict[str, dict[str, Any]] = {}
        self._traces_dirty: set[str] = set()
        self._trace_views = _Cow()
        self._services: dict[tuple[str, str], dict[str, Any]] = {}
        self._logs: list[tuple[int, str, str, str]] = []
        self._pending_end: dict[str, Mapping[str, Any]] = {}
        self._handlers: dict[str, list[str]] = {}  # sending span id -> handler span ids
        self._dirty_hops: set[str] = set()
        self._open_calls: set[str] = set()
        self._hops_tuple: tuple[HopView, ...] = ()
        self._hops_dirty = False
        self._last: Snapshot | None = None

    # -- feeding ---------------------------------------------------------------------

    def feed_all(self, events: Iterable[Any]) -> None:
        for event in events:
            self.feed(event)

    def feed(self, event: Any) -> None:
        """Apply one event; anything unusable is counted, never raised."""
        self.seq += 1
        self._last = None
        if not isinstance(event, Mapping):
            self.malformed += 1
            return
        etype = event.get("type")
        if etype is None and event.get("format") == "bootflow-trace":
            return  # a recording header passed along: harmless
        ts = event.get("ts_ns")
        if not isinstance(ts, int) or isinstance(ts, bool) or ts < 0:
            if etype in ("span_start", "span_end", "annotate"):
                self.malformed += 1
            else:
                self.unknown += 1
            return
        try:
            if etype == "span_start":
                self._start(event, ts)
            elif etype == "span_end":
                self._end(event, ts)
            elif etype == "annotate":
                self._annotate(event, ts)
            else:
                self.unknown += 1
                return
        except (TypeError, ValueError, AttributeError):
            self.malformed += 1
            return
        if self.t0_ns == 0 or ts < self.t0_ns:
            self.t0_ns = ts
        if ts > self.t_last_ns:
            self.t_last_ns = ts

    def _start(self, ev: Mapping[str, Any], ts: int) -> None:
        sid, tid = ev.get("span_id"), ev.get("trace_id")
        if not _is_id(sid) or not _is_id(tid):
            raise ValueError("span ids")
        if sid in self._spans:
            self.duplicates += 1
            return
        attrs = ev.get("attrs") or {}
        if not isinstance(attrs, Mapping):
            raise ValueError("attrs")
        links = tuple(lk["span_id"] for lk in (ev.get("links") or ())
                      if isinstance(lk, Mapping) and _is_id(lk.get("span_id")))
        parent = ev.get("parent_id") if _is_id(ev.get("parent_id")) else None
        span = SpanView(tid, sid, parent, _str(ev.get("name"), "?"),
                        _str(ev.get("service"), "?"), _str(ev.get("host"), "?"),
                        _str(ev.get("kind"), "INTERNAL").upper(), ts,
                        attrs=MappingProxyType(dict(attrs)), links=links, seq=self.seq)
        pending = self._pending_end.pop(sid, None)
        if pending is not None:
            span = self._ended(span, pending)
        self._spans.set(sid, span)
        self._touch_trace(span, new=True, old=None)
        self._relink(span)

    def _ended(self, span: SpanView, ev: Mapping[str, Any]) -> SpanView:
        extra = ev.get("attrs") or {}
        attrs = span.attrs
        if isinstance(extra, Mapping) and extra:
            attrs = MappingProxyType({**span.attrs, **extra})
        return SpanView(span.trace_id, span.span_id, span.parent_id, span.name, span.service,
                        span.host, span.kind, span.start_ns, max(span.start_ns, ev["ts_ns"]),
                        _str(ev.get("status"), "OK").upper(), attrs, span.links, span.seq)

    def _end(self, ev: Mapping[str, Any], ts: int) -> None:
        sid = ev.get("span_id")
        if not _is_id(sid):
            raise ValueError("span id")
        span = self._spans.get(sid)
        if span is None:
            if sid in self._pending_end:
                self.duplicates += 1
            self._pending_end[sid] = ev  # its start is still on the way
            return
        if span.end_ns is not None:
            self.duplicates += 1
            return
        new = self._ended(span, ev)
        self._spans.set(sid, new)
        self._touch_trace(new, new=False, old=span)
        self._relink(new)

    def _relink(self, span: SpanView) -> None:
        """Recompute the hop this span belongs to (as sender or as handler)."""
        if span.kind in HANDLING_KINDS:
            ref = span.parent_id
            if ref is None and span.links:
                ref = span.links[0]
            if ref is not None:
                handlers = self._handlers.setdefault(ref, [])
                if span.span_id not in handlers:
                    handlers.append(span.span_id)
                self._rebuild_hop(ref)
        elif span.kind in SENDING_KINDS or span.kind == "HTTP":
            self._rebuild_hop(span.span_id)

    def _rebuild_hop(self, sender_id: str) -> None:
        """Defer: hops are rebuilt at snapshot time, once per change burst."""
        self._dirty_hops.add(sender_id)

    def _flush_hops(self) -> None:
        fresh: list[HopView] = []
        for sender_id in self._dirty_hops:
            client = self._spans.get(sender_id)
            if client is None:
                continue
            hop = self._make_hop(client)
            if hop is None:
                continue
            if hop.done_ns is None and hop.style in ("call", "http"):
                self._open_calls.add(sender_id)
            else:
                self._open_calls.discard(sender_id)
            pos = self._hop_pos.get(sender_id)
            if pos is not None:
                self._hop_list[pos] = hop
            else:
                fresh.append(hop)
                trace = self._traces.get(hop.trace_id)
                if trace is not None and hop.style in RPC_STYLES:
                    trace["hops"] += 1
                    self._traces_dirty.add(hop.trace_id)
            self._hops_dirty = True
        self._dirty_hops.clear()
        if not fresh:
            return
        fresh.sort(key=_hop_order)
        last = self._hop_list[-1] if self._hop_list else None
        base = len(self._hop_list)
        self._hop_list.extend(fresh)
        if last is not None and _hop_order(fresh[0]) < _hop_order(last):
            # a hop whose sending span came late: rare, pay for a full sort
            self._hop_list.sort(key=_hop_order)
            self._hop_pos = {h.hop_id: i for i, h in enumerate(self._hop_list)}
        else:
            for i, hop in enumerate(fresh):
                self._hop_pos[hop.hop_id] = base + i

    def _make_hop(self, c: SpanView) -> HopView | None:
        a = c.attrs
        style = _str(a.get("rpc.style")).lower()
        http = c.kind == "HTTP" or (c.kind == "CLIENT" and "http.method" in a and not style)
        if not http and (c.kind not in SENDING_KINDS or style not in RPC_STYLES):
            return None
        servers = [self._spans.get(s) for s in self._handlers.get(c.span_id, ())
                   if s in self._spans]
        servers.sort(key=lambda s: s.start_ns)
        if http:
            return self._make_http_hop(c, servers)
        method = _str(a.get("rpc.method")) or c.name
        if servers:
            dst_service, dst_host = servers[0].service, servers[0].host
        else:
            topic = _str(a.get("rpc.topic")) or _str(a.get("messaging.destination.name"), "?")
            dst_service = topic if topic.startswith("nova-") else f"nova-{topic}"
            dst_host = _str(a.get("rpc.server"), "?") or "?"
        recv = servers[0].start_ns if servers else None
        handled = None
        if servers and all(s.end_ns is not None for s in servers):
            handled = max(s.end_ns or 0 for s in servers)
        error = c.status == "ERROR" or any(s.status == "ERROR" for s in servers)
        if style == "call":
            done = c.end_ns
            waiting = (c.end_ns if c.end_ns is not None else self.t_last_ns) - c.start_ns
        else:
            done = handled
            waiting = 0
        if error:
            state = "error"
        elif done is not None:
            state = "done"
        elif not servers:
            state = "in_flight"
        else:
            state = "waiting" if style == "call" else "running"
        return HopView(
            hop_id=c.span_id, trace_id=c.trace_id, key=hop_key(style, method),
            method=method, style=style, version=_str(a.get("rpc.version")),
            namespace=_str(a.get("rpc.namespace")),
            exchange=_str(a.get("messaging.destination.name")),
            routing_key=_str(a.get("messaging.rabbitmq.destination.routing_key")),
            src_service=c.service, src_host=c.host, dst_service=dst_service,
            dst_host=dst_host, sent_ns=c.start_ns, recv_ns=recv, done_ns=done,
            handled_ns=handled, waiting_ns=max(0, waiting), state=state,
            client_span_id=c.span_id, server_span_ids=tuple(s.span_id for s in servers),
            seq=c.seq)

    def _make_http_hop(self, c: SpanView, servers: Sequence[SpanView]) -> HopView:
        a = c.attrs
        verb = _str(a.get("http.method")) or _str(a.get("http.request.method"))
        route = _str(a.get("http.route")) or _str(a.get("url.path")) or _str(a.get("http.target"))
        name = f"{verb} {route}".strip() if verb and route else c.name
        if c.kind == "HTTP":  # a server span: the caller is its parent's service or the user
            parent = self._spans.get(c.parent_id) if c.parent_id else None
            src = (parent.service, parent.host) if parent else (
                _str(a.get("http.client"), "client"), "")
            dst = (c.service, c.host)
        else:
            src = (c.service, c.host)
            dst = (_str(a.get("peer.service")) or _str(a.get("server.address"), "placement"),
                   "")
            if servers:
                dst = (servers[0].service, servers[0].host)
        done = c.end_ns
        state = "error" if c.status == "ERROR" else ("done" if done is not None else "waiting")
        return HopView(
            hop_id=c.span_id, trace_id=c.trace_id, key=hop_key("http", name), method=name,
            style="http", version="", namespace="", exchange="", routing_key="",
            src_service=src[0], src_host=src[1], dst_service=dst[0], dst_host=dst[1],
            sent_ns=c.start_ns, recv_ns=c.start_ns, done_ns=done, handled_ns=done,
            waiting_ns=max(0, (done if done is not None else self.t_last_ns) - c.start_ns),
            state=state, client_span_id=c.span_id,
            server_span_ids=tuple(s.span_id for s in servers), seq=c.seq)

    def _touch_trace(self, span: SpanView, new: bool, old: SpanView | None) -> None:
        t = self._traces.get(span.trace_id)
        if t is None:
            t = self._traces[span.trace_id] = {
                "root": "", "root_start": None, "root_kind": "", "start": span.start_ns,
                "end": span.start_ns, "n": 0, "open": 0, "errors": 0, "hops": 0}
        if new:
            self._trace_span_ids.setdefault(span.trace_id, []).append(span.span_id)
            t["n"] += 1
            t["open"] += 1
            # the root: a span without a parent; until one is seen, the earliest span
            rank = (0 if span.parent_id is None else 1, span.start_ns)
            if t["root_start"] is None or rank < t["root_start"]:
                t["root"], t["root_start"], t["root_kind"] = span.name, rank, span.kind
        if span.end_ns is not None:
            t["open"] -= 1
            if span.status == "ERROR":
                t["errors"] += 1
            t["end"] = max(t["end"], span.end_ns)
        t["start"] = min(t["start"], span.start_ns)
        t["end"] = max(t["end"], span.start_ns)
        self._traces_dirty.add(span.trace_id)

    def _annotate(self, ev: Mapping[str, Any], ts: int) -> None:
        name = ev.get("name")
        attrs = ev.get("attrs") or {}
        if not isinstance(name, str) or not isinstance(attrs, Mapping):
            raise ValueError("annotation")
        if name == "instance.state":
            self._instance(attrs, ts)
        elif name in ("service.report", "service.down"):
            binary = _str(attrs.get("binary")) or _str(ev.get("service"), "?")
            host = _str(attrs.get("host")) or _str(ev.get("host"), "?")
            svc = self._services.setdefault((binary, host), {
                "last": None, "count": 0, "down": False})
            if name == "service.down":
                svc["down"] = True
            else:
                if svc["last"] is None or ts >= svc["last"]:
                    svc["last"] = ts
                svc["count"] += 1
                svc["down"] = False
        elif name == "log":
            self._logs.append((ts, _str(ev.get("service"), "?"),
                               _str(attrs.get("level"), "info"),
                               _str(attrs.get("message"), str(attrs.get("message", "")))))
            if len(self._logs) > self.max_logs * 2:
                del self._logs[: -self.max_logs]
        else:
            self.unknown += 1

    def _instance(self, attrs: Mapping[str, Any], ts: int) -> None:
        uuid = attrs.get("instance_uuid")
        if not _is_id(uuid):
            raise ValueError("instance_uuid")
        old: InstanceView | None = self._instances.data.get(uuid)
        change = InstanceChange(ts, attrs.get("vm_state"), attrs.get("task_state"),
                                attrs.get("host"))
        history = old.history if old else ()
        # keep history in time order even when events arrive out of order
        keys = [h.ts_ns for h in history]
        pos = bisect.bisect_right(keys, ts)
        history = history[:pos] + (change,) + history[pos:]
        latest = history[-1]
        host = latest.host or next((h.host for h in reversed(history) if h.host), None)
        name = attrs.get("display_name") if isinstance(attrs.get("display_name"), str) else (
            old.display_name if old else None)
        self._instances.set(uuid, InstanceView(
            uuid, latest.vm_state, latest.task_state, host, name, latest.ts_ns, history))

    # -- reading ---------------------------------------------------------------------

    def snapshot(self, now_ns: int | None = None) -> Snapshot:
        """The current picture; *now_ns* (default: last event time) judges heartbeats."""
        if self._last is not None and now_ns is None:
            return self._last
        clock = self.t_last_ns if now_ns is None else now_ns
        self._flush_hops()
        if self._hops_dirty:
            self._hops_tuple = tuple(self._hop_list)
            self._hops_dirty = False
        for tid in self._traces_dirty:
            t = self._traces[tid]
            self._trace_views.set(tid, TraceView(tid, t["root"] or "?", t["start"], t["end"],
                                                 t["n"], t["open"], t["errors"],
                                                 tuple(self._trace_span_ids.get(tid, ())),
                                                 t["root_kind"], t["hops"]))
        self._traces_dirty.clear()
        hops = self._hops_tuple
        if self._open_calls:
            # an open call's waiting time grows with the clock
            grown = list(hops)
            for hop_id in self._open_calls:
                i = self._hop_pos[hop_id]
                grown[i] = replace(grown[i], waiting_ns=max(0, clock - grown[i].sent_ns))
            hops = tuple(grown)
        services = MappingProxyType({
            key: ServiceView(key[0], key[1], s["last"], s["count"],
                             up=(not s["down"] and s["last"] is not None
                                 and clock - s["last"] <= self.service_down_time_ns),
                             forced_down=s["down"])
            for key, s in self._services.items()})
        snap = Snapshot(
            seq=self.seq, t0_ns=self.t0_ns, t_last_ns=self.t_last_ns,
            spans=self._spans.share(), traces=self._trace_views.share(), hops=hops,
            instances=self._instances.share(), services=services,
            logs=tuple(self._logs[-self.max_logs:]), unknown=self.unknown,
            malformed=self.malformed, duplicates=self.duplicates)
        if now_ns is None:
            self._last = snap
        return snap


@dataclass
class Replay:
    """A cursor over a recorded event list: step, seek, play at a speed.

    Stepping back rebuilds from the nearest checkpoint (a reducer copy every
    ``checkpoint_every`` events), so a step costs at most that many feeds.
    """

    events: Sequence[Mapping[str, Any]]
    checkpoint_every: int = 2000
    speed: float = 1.0
    position: int = 0
    _state: TraceState = field(default_factory=TraceState)
    _checkpoints: dict[int, TraceState] = field(default_factory=dict)

    SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)

    def __post_init__(self) -> None:
        self.events = [e for e in self.events
                       if not (isinstance(e, Mapping) and e.get("format") == "bootflow-trace")]
        self._times = [_event_ts(e) for e in self.events]
        # recordings are written in arrival order; seeking wants a monotone clock
        for i in range(1, len(self._times)):
            if self._times[i] < self._times[i - 1]:
                self._times[i] = self._times[i - 1]
        # about 25 checkpoints whatever the length: a step back replays <= 4% of the file
        self.checkpoint_every = max(self.checkpoint_every, len(self.events) // 25 or 1)
        self._checkpoints[0] = _copy_state(self._state)

    def __len__(self) -> int:
        return len(self.events)

    @property
    def state(self) -> TraceState:
        return self._state

    @property
    def at_end(self) -> bool:
        return self.position >= len(self.events)

    def snapshot(self) -> Snapshot:
        return self._state.snapshot()

    def step(self, n: int = 1) -> int:
        """Move *n* events forward (negative: back); returns the new position."""
        return self.seek(self.position + n)

    def seek(self, position: int) -> int:
        position = max(0, min(len(self.events), position))
        if abs(position - self.position) < 5000 or not gc.isenabled():
            return self._seek(position)
        # a long jump allocates ~1 object per event, none cyclic: the cyclic GC would only
        # rescan them again and again (measured: 1.4 s -> 0.7 s for 100,000 events)
        gc.disable()
        try:
            return self._seek(position)
        finally:
            gc.enable()

    def _seek(self, position: int) -> int:
        if position < self.position:
            base = (position // self.checkpoint_every) * self.checkpoint_every
            self._state = _copy_state(self._checkpoints[base])
            self.position = base
        while self.position < position:
            self._state.feed(self.events[self.position])
            self.position += 1
            if self.position % self.checkpoint_every == 0 and \
                    self.position not in self._checkpoints:
                self._checkpoints[self.position] = _copy_state(self._state)
        return self.position

    def time_of(self, position: int) -> int:
        if not self._times:
            return 0
        return self._times[max(0, min(len(self._times) - 1, position))]

    def seek_time(self, ts_ns: int) -> int:
        """Seek to just after the last event at or before *ts_ns*."""
        return self.seek(bisect.bisect_right(self._times, ts_ns))

    def seek_fraction(self, fraction: float) -> int:
        return self.seek(round(max(0.0, min(1.0, fraction)) * len(self.events)))

    def faster(self) -> float:
        i = self._speed_index()
        self.speed = self.SPEEDS[min(len(self.SPEEDS) - 1, i + 1)]
        return self.speed

    def slower(self) -> float:
        i = self._speed_index()
        self.speed = self.SPEEDS[max(0, i - 1)]
        return self.speed

    def _speed_index(self) -> int:
        return min(range(len(self.SPEEDS)), key=lambda i: abs(self.SPEEDS[i] - self.speed))


def _copy_state(state: TraceState) -> TraceState:
    """A deep-enough copy: views are immutable, so only the containers are copied."""
    new = TraceState.__new__(TraceState)
    new.__dict__.update(state.__dict__)
    new._spans = state._spans.copy()
    new._hop_list = list(state._hop_list)
    new._hop_pos = dict(state._hop_pos)
    new._open_calls = set(state._open_calls)
    new._trace_span_ids = {k: list(v) for k, v in state._trace_span_ids.items()}
    for name in ("_instances", "_trace_views"):
        cow = _Cow()
        cow.data = dict(getattr(state, name).data)
        cow.proxy = MappingProxyType(cow.data)
        setattr(new, name, cow)
    new._traces = {k: dict(v) for k, v in state._traces.items()}
    new._traces_dirty = set(state._traces_dirty)
    new._services = {k: dict(v) for k, v in state._services.items()}
    new._logs = list(state._logs)
    new._pending_end = dict(state._pending_end)
    new._handlers = {k: list(v) for k, v in state._handlers.items()}
    new._dirty_hops = set(state._dirty_hops)
    new._last = None
    return new
