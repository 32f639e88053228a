"""Fold span events into one immutable picture: the single model every reader draws.

Live (collector), replay (a file), the exports, the scenario checks, the headless tree and
the tests all feed this one reducer, so they cannot disagree. Pure: no I/O, no Textual,
no clock of its own (time is the largest ``ts_ns`` seen). Events may come out of order
(several services publish to one broker), twice (a resent spool) or broken; none of that
raises, it is counted.

Rules decided here, once: a handler span (SERVER/CONSUMER) belongs to its parent when
that is a sending span (CLIENT/PRODUCER), else to the first of its links that is; an rpc
hop is a sending span with an ``rpc.style`` of call/cast/fanout; an unanswered message
goes to ``views.unanswered_destination``.

Cost: ``feed`` is O(1) amortised; ``snapshot`` shares unchanged collections with the last
snapshot and copies a collection only once after it changed (copy-on-write), so a view
that snapshots 20 times a second does not pay O(all events) per frame in the common case.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any, TypeGuard

from tracer.model.constants import (
    HANDLING_KINDS,
    RPC_STYLES,
    SENDING_KINDS,
    SPAN_KINDS,
    HopState,
)
from tracer.model.store import AppendOnly, Chunked, CowDict, fork
from tracer.model.views import (
    AnnotationView,
    HopView,
    InstanceChange,
    InstanceView,
    Link,
    ReplyView,
    ServiceView,
    Snapshot,
    SpanView,
    TraceView,
    hop_key,
    unanswered_destination,
)

DEFAULT_SERVICE_DOWN_TIME_S = 60.0


def _hop_order(hop: HopView) -> tuple[int, int]:
    return (hop.sent_ns, hop.seq)


def _mapping(value: Any) -> bool:
    """A Mapping; a plain dict (every parsed event) without the ABC's slow check."""
    return type(value) is dict or isinstance(value, Mapping)


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _is_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value)


def _refs(span: SpanView) -> tuple[str, ...]:
    """The spans a handler may answer, in the order the pairing rule tries them."""
    first = (span.parent_id,) if span.parent_id is not None else ()
    if not span.links:
        return first
    return first + tuple([lk.span_id for lk in span.links])


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
        self._spans = Chunked()
        self._hop_list: list[HopView] = []
        self._hop_pos: dict[str, int] = {}
        self._trace_span_ids: dict[str, list[str]] = {}
        self._instances = CowDict()
        self._traces: dict[str, dict[str, Any]] = {}
        self._traces_dirty: dict[str, None] = {}  # an ordered set: first appearance first
        self._trace_views = CowDict()
        self._services: dict[tuple[str, str], dict[str, Any]] = {}
        self._logs: list[tuple[int, str, str, str]] = []
        self._annotations = AppendOnly()
        self._annotation_keys: set[tuple[Any, ...]] = set()
        self._pending_end: dict[str, Mapping[str, Any]] = {}
        # span id -> handler span ids naming it as parent or link (its sender or not)
        # (tuples, not lists: a replay checkpoint copies an immutable value by reference)
        self._handlers: dict[str, tuple[str, ...]] = {}
        self._replies: dict[str, tuple[ReplyView, ...]] = {}  # handler span id -> replies
        self._dirty_hops: set[str] = set()
        self._open_calls: set[str] = set()
        self._hops_tuple: tuple[HopView, ...] = ()
        self._hops_dirty = False
        self._last: Snapshot | None = None

    def fork(self) -> TraceState:
        """An independent copy (a replay checkpoint): every field, none forgotten."""
        new = TraceState.__new__(TraceState)
        new.__dict__.update({name: fork(value) for name, value in self.__dict__.items()})
        return new

    # -- feeding ---------------------------------------------------------------------

    def feed_all(self, events: Iterable[Any]) -> None:
        for event in events:
            self.feed(event)

    def feed(self, event: Any) -> None:
        """Apply one event; anything unusable is counted, never raised."""
        self.seq += 1
        self._last = None
        if not _mapping(event):
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
        if not _mapping(attrs):
            raise ValueError("attrs")
        links = tuple(Link(_str(lk.get("trace_id")), lk["span_id"])
                      for lk in (ev.get("links") or ())
                      if isinstance(lk, Mapping) and _is_id(lk.get("span_id")))
        parent = ev.get("parent_id") if _is_id(ev.get("parent_id")) else None
        kind = _str(ev.get("kind")).upper()
        span = SpanView(tid, sid, parent, _str(ev.get("name")) or "?",
                        _str(ev.get("service")) or "?", _str(ev.get("host")) or "?",
                        kind if kind in SPAN_KINDS else "INTERNAL", ts,
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
        if _mapping(extra) and extra:
            attrs = MappingProxyType({**span.attrs, **extra})
        message = _str(ev.get("status_message")) or _str(ev.get("message"))
        return SpanView(span.trace_id, span.span_id, span.parent_id, span.name, span.service,
                        span.host, span.kind, span.start_ns, max(span.start_ns, ev["ts_ns"]),
                        (_str(ev.get("status")) or "OK").upper(), attrs, span.links, span.seq,
                        message)

    def _end(self, ev: Mapping[str, Any], ts: int) -> None:
        sid = ev.get("span_id")
        if not _is_id(sid):
            raise ValueError("span id")
        span = self._spans.get(sid)
        if span is None:
            if sid in self._pending_end:
                self.duplicates += 1  # the first end stays, as for a started span
            else:
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
        """Recompute the hop(s) this span belongs to (as sender or as handler)."""
        if span.kind in HANDLING_KINDS:
            for ref in _refs(span):  # its sender among them may not have arrived yet
                handlers = self._handlers.get(ref, ())
                if span.span_id not in handlers:
                    self._handlers[ref] = (*handlers, span.span_id)
                self._rebuild_hop(ref)
        elif span.kind in SENDING_KINDS or span.kind == "HTTP":
            self._rebuild_hop(span.span_id)
            if span.kind in SENDING_KINDS:
                # a sender that came late may take handlers from a later candidate
                for hid in self._handlers.get(span.span_id, ()):
                    handler = self._spans.get(hid)
                    for ref in _refs(handler) if handler is not None else ():
                        self._rebuild_hop(ref)

    def _sender_of(self, handler: SpanView) -> str | None:
        """The one pairing rule: the parent if it is a sending span, else the first link
        that is; None while none of them has arrived."""
        for ref in _refs(handler):
            span = self._spans.get(ref)
            if span is not None and span.kind in SENDING_KINDS:
                return ref
        return None

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
                    self._traces_dirty[hop.trace_id] = None
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
        servers = [h for h in (self._spans.get(s) for s in self._handlers.get(c.span_id, ()))
                   if h is not None and self._sender_of(h) == c.span_id]
        servers.sort(key=lambda s: (s.start_ns, s.seq))
        if http:
            return self._make_http_hop(c, servers)
        method = _str(a.get("rpc.method")) or c.name
        replies = tuple(sorted((r for s in servers for r in self._replies.get(s.span_id, ())),
                               key=lambda r: r.ts_ns))
        receivers = (tuple(dict.fromkeys(s.endpoint for s in servers)) if servers
                     else (unanswered_destination(a),))
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
        state: HopState
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
            src_service=c.service, src_host=c.host, dst_service=receivers[0][0],
            dst_host=receivers[0][1], sent_ns=c.start_ns, recv_ns=recv, done_ns=done,
            handled_ns=handled, waiting_ns=max(0, waiting), state=state,
            client_span_id=c.span_id, server_span_ids=tuple(s.span_id for s in servers),
            seq=c.seq, status=c.status, receivers=receivers, replies=replies)

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
        state: HopState = ("error" if c.status == "ERROR" else
                           "done" if done is not None else "waiting")
        return HopView(
            hop_id=c.span_id, trace_id=c.trace_id, key=hop_key("http", name), method=name,
            style="http", version="", namespace="", exchange="", routing_key="",
            src_service=src[0], src_host=src[1], dst_service=dst[0], dst_host=dst[1],
            sent_ns=c.start_ns, recv_ns=c.start_ns, done_ns=done, handled_ns=done,
            waiting_ns=max(0, (done if done is not None else self.t_last_ns) - c.start_ns),
            state=state, client_span_id=c.span_id,
            server_span_ids=tuple(s.span_id for s in servers), seq=c.seq, status=c.status,
            receivers=(dst,))

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
        self._traces_dirty[span.trace_id] = None

    def _annotate(self, ev: Mapping[str, Any], ts: int) -> None:
        name = ev.get("name")
        attrs = ev.get("attrs") or {}
        if not isinstance(name, str) or not _mapping(attrs):
            raise ValueError("annotation")
        span_id = ev.get("span_id") if _is_id(ev.get("span_id")) else None
        key = (span_id, name, ts, repr(sorted(attrs.items())))
        if key in self._annotation_keys:
            self.duplicates += 1  # a resent spool
            return
        self._annotation_keys.add(key)
        trace_id = ev.get("trace_id") if _is_id(ev.get("trace_id")) else None
        self._annotations.append(AnnotationView(
            trace_id, span_id, name, _str(ev.get("service")), _str(ev.get("host")), ts,
            MappingProxyType(dict(attrs)), self.seq))
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
        elif name in ("rpc.reply", "rpc.heartbeat") and span_id is not None:
            self._reply(span_id, name, attrs, ev, ts)
        elif name == "log":
            self._logs.append((ts, _str(ev.get("service"), "?"),
                               _str(attrs.get("level"), "info"),
                               _str(attrs.get("message"), str(attrs.get("message", "")))))
            if len(self._logs) > self.max_logs * 2:
                del self._logs[: -self.max_logs]
        else:
            self.unknown += 1

    def _reply(self, span_id: str, name: str, attrs: Mapping[str, Any],
               ev: Mapping[str, Any], ts: int) -> None:
        """A reply or heartbeat the handler *span_id* sent: it joins that message's hop."""
        size = attrs.get("messaging.message.body.size")
        failure = attrs.get("rpc.reply.failure")
        self._replies[span_id] = (*self._replies.get(span_id, ()), ReplyView(
            ts, name == "rpc.reply", size if isinstance(size, int) else 0,
            failure if isinstance(failure, str) else None,
            _str(attrs.get("bootflow.envelope")),
            (_str(ev.get("service"), "?"), _str(ev.get("host"), "?"))))
        handler = self._spans.get(span_id)
        sender = self._sender_of(handler) if handler is not None else None
        if sender is not None:
            self._rebuild_hop(sender)

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
            malformed=self.malformed, duplicates=self.duplicates,
            annotations=self._annotations.share())
        if now_ns is None:
            self._last = snap
        return snap


