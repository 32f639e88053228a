"""The model's frozen views: what every reader (TUI, exports, scenario checks, headless
tree, tests) gets from a ``Snapshot``. Immutable, so a snapshot can be shared between
threads and kept while the reducer goes on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from types import MappingProxyType
from typing import Any, NamedTuple

from tracer.model.constants import RPC_STYLES, SERVICE_ORDER, UNKNOWN, HopState

_EMPTY: Mapping[str, Any] = MappingProxyType({})

Endpoint = tuple[str, str]
"""(service, host): one lane / participant / node in every view."""


_START_ORDER = attrgetter("start_ns", "seq")  # spans by start time, then arrival


class Link(NamedTuple):
    """A span link (OTel): the span this one follows from, possibly in another trace."""

    trace_id: str
    span_id: str


@dataclass(frozen=True, slots=True)
class SpanView:
    """One span as known so far; ``end_ns`` is None while it is open.

    ``attrs`` are the start's attributes updated by the end's; ``status`` is UNSET while
    open, then the end's (OK when it names none)."""

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
    links: tuple[Link, ...] = ()
    seq: int = 0
    status_message: str = ""

    @property
    def endpoint(self) -> Endpoint:
        return (self.service, self.host)

    @property
    def finished(self) -> bool:
        return self.end_ns is not None

    def duration_ns(self, now_ns: int) -> int:
        return max(0, (self.end_ns if self.end_ns is not None else now_ns) - self.start_ns)


@dataclass(frozen=True, slots=True)
class ReplyView:
    """A message back to a caller's reply queue: the reply (``ending``) or one of the
    call-monitor heartbeats sent while a long call runs, as the handler sent it."""

    ts_ns: int
    ending: bool
    size: int
    failure: str | None
    envelope: str
    sender: Endpoint


@dataclass(frozen=True, slots=True)
class HopView:
    """One message between services: a sending span paired with its handler span(s).

    ``receivers`` are the handlers' endpoints in start order, or, while nobody handled it,
    the one endpoint ``unanswered_destination`` names; ``dst_service``/``dst_host`` are
    the first of them. ``status`` is the sending span's (UNSET while it is open);
    ``state`` says where the message is (see ``constants.HopState``).
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
    state: HopState
    client_span_id: str
    server_span_ids: tuple[str, ...] = ()
    seq: int = 0
    status: str = "UNSET"
    receivers: tuple[Endpoint, ...] = ()
    replies: tuple[ReplyView, ...] = ()

    @property
    def reply(self) -> ReplyView | None:
        """The reply that ended a call (``ending: true``), once it was sent."""
        return next((r for r in self.replies if r.ending), None)

    @property
    def heartbeats(self) -> tuple[ReplyView, ...]:
        """The call-monitor heartbeats (``ending: false``) sent while the call ran."""
        return tuple(r for r in self.replies if not r.ending)

    @property
    def src(self) -> Endpoint:
        return (self.src_service, self.src_host)

    @property
    def is_rpc(self) -> bool:
        """An oslo.messaging message (call/cast/fanout), not an HTTP request."""
        return self.style in RPC_STYLES

    def label(self) -> str:
        """``method (style, version)`` for rpc, the request line for HTTP."""
        if self.style == "http":
            return self.method
        return f"{self.method} ({self.style}, {self.version or '?'})"


def unanswered_destination(attrs: Mapping[str, Any]) -> Endpoint:
    """Where a message nobody handled (yet) went: Nova's binary for its topic, and the
    server it was addressed to (``compute.compute1`` → ``(nova-compute, compute1)``)."""
    topic = attrs.get("rpc.topic") or attrs.get("messaging.destination.name")
    server = attrs.get("rpc.server")
    if isinstance(topic, str) and topic:
        service = topic if topic.startswith("nova-") else f"nova-{topic}"
    else:
        service = UNKNOWN
    return (service, server if isinstance(server, str) and server else UNKNOWN)


def hop_key(style: str, name: str) -> str:
    """Narration key of a hop: ``call:select_destinations``, ``http:POST /v2.1/servers``."""
    return f"{style}:{name}"


def endpoint_order(ep: Endpoint) -> tuple[int, str, str]:
    """Order lanes like the boot flow reads: api, conductor, scheduler, computes."""
    svc, host = ep
    rank = SERVICE_ORDER.index(svc) if svc in SERVICE_ORDER else len(SERVICE_ORDER)
    return (rank, svc, host)


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


def state_name(vm_state: Any, task_state: Any) -> str:
    """``vm_state/task_state``: ``building/spawning``; ``active/-`` when no task runs
    (``-`` is how ``nova list`` prints a None task_state)."""
    return f"{vm_state}/{task_state or '-'}"


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

    def path(self) -> list[str]:
        """The distinct states it went through, in time order (repeats folded)."""
        out: list[str] = []
        for change in self.history:
            name = state_name(change.vm_state, change.task_state)
            if not out or out[-1] != name:
                out.append(name)
        return out


def group_states(steps: list[str]) -> list[tuple[str, list[str]]]:
    """``vm_state/task_state`` steps grouped by vm_state, in order: the task states an
    instance went through while it stayed in one vm_state (``-`` left out)."""
    groups: list[tuple[str, list[str]]] = []
    for step in steps:
        vm, _, task = step.partition("/")
        if not groups or groups[-1][0] != vm:
            groups.append((vm, []))
        if task and task != "-":
            groups[-1][1].append(task)
    return groups


def trail_text(groups: list[tuple[str, list[str]]]) -> str:
    """``building(scheduling → spawning) → active``: the vm_state outside, the task
    states it went through inside."""
    return " → ".join(f"{vm}({' → '.join(tasks)})" if tasks else vm for vm, tasks in groups)


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
class AnnotationView:
    """A point event (state change, heartbeat, log line) as sent: ``span_id`` names the
    span it happened in, when there was one; ``service``/``host`` are "" when not sent."""

    trace_id: str | None
    span_id: str | None
    name: str
    service: str
    host: str
    ts_ns: int
    attrs: Mapping[str, Any]
    seq: int = 0

    @property
    def endpoint(self) -> Endpoint:
        return (self.service, self.host)

    def label(self) -> str:
        """Short human text: ``building/spawning`` for a state change, else the name."""
        if self.name == "instance.state":
            return state_name(self.attrs.get("vm_state"), self.attrs.get("task_state"))
        if self.name == "log":
            return f"{self.attrs.get('level', 'log')}: {self.attrs.get('message', '')}"
        return self.name


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a view draws, immutable; ``seq`` = number of events fed so far.

    ``hops`` are in send order (every hop, HTTP included; ``rpc_hops()`` the rpc ones);
    ``annotations`` every distinct annotation in arrival order (``logs`` the last
    ``max_logs`` log lines, for the TUI's log pane)."""

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
    annotations: Sequence[AnnotationView] = ()

    def hop(self, hop_id: str | None) -> HopView | None:
        if hop_id is None:
            return None
        for hop in self.hops:
            if hop.hop_id == hop_id:
                return hop
        return None

    def rpc_hops(self) -> list[HopView]:
        """The oslo.messaging hops (call, cast, fanout) in send order."""
        return [h for h in self.hops if h.is_rpc]

    def trace_spans(self, trace_id: str | None) -> list[SpanView]:
        """Spans of one trace, by start time (what the timeline and sequence draw)."""
        tv = self.traces.get(trace_id) if trace_id else None
        if tv is None:
            return []
        values_of = getattr(self.spans, "values_of", None)  # the reducer's: one pass
        spans: list[SpanView] = (values_of(tv.span_ids) if values_of is not None else
                                 [self.spans[sid] for sid in tv.span_ids if sid in self.spans])
        spans.sort(key=_START_ORDER)
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
