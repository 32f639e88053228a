"""The small instrumentation API that services/ uses: spans, annotations, context.

Events, not finished spans, leave the process (``span_start`` / ``span_end`` /
``annotate``): that is what lets a viewer show a call that is still *waiting*.
With no emitter set the calls cost little and emit nothing.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from tracer.instrument.redact import redact

TRACEPARENT = "traceparent"

Event = dict[str, Any]
Emitter = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class SpanContext:
    """What crosses a process or thread boundary: the W3C trace and span ids."""

    trace_id: str
    span_id: str

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"


_current: ContextVar[SpanContext | None] = ContextVar("bootflow_span", default=None)
_identity: ContextVar[tuple[str, str] | None] = ContextVar("bootflow_identity", default=None)
_process_identity: tuple[str, str] = ("bootflow", socket.gethostname())
_emitter: Emitter | None = None


# Ids need to be unique, not secret (as wire.new_id). A private generator: a caller that
# seeds the global one (hypothesis does, per example) must not make trace ids repeat;
# reseeded in a forked child so two workers never draw the same ids.
_rng = random.Random()
os.register_at_fork(after_in_child=_rng.seed)
_getrandbits = _rng.getrandbits


def new_trace_id() -> str:
    return "%032x" % (_getrandbits(128) or 1)


def new_span_id() -> str:
    return "%016x" % (_getrandbits(64) or 1)


def set_emitter(emitter: Emitter | None) -> None:
    """Send every event of this process to *emitter* (``None`` turns tracing off)."""
    global _emitter
    _emitter = emitter


def enabled() -> bool:
    return _emitter is not None


def emit(event: Event) -> None:
    """Hand one event to the emitter, secrets masked."""
    emitter = _emitter
    if emitter is None:
        return
    if event.get("attrs"):
        try:
            event["attrs"] = redact(event["attrs"])
        except RecursionError:  # nesting deeper than Python's stack: the traced code
            event["attrs"] = {"bootflow.attrs_error": "nested too deeply to record"}
    emitter(event)


@contextlib.contextmanager
def identity(service: str, host: str) -> Iterator[None]:
    """Within this block (this thread / context) events are emitted as *service* on *host*."""
    token = _identity.set((service, host))
    try:
        yield
    finally:
        _identity.reset(token)


def whoami() -> tuple[str, str]:
    return _identity.get() or _process_identity


_worker: int | None = None


def set_worker(index: int | None) -> None:
    """This process is worker *index* of a service forked by a ProcessLauncher."""
    global _worker
    _worker = index


def worker() -> int | None:
    """The worker index set by ``set_worker`` (None in a one-process service)."""
    return _worker


def current() -> SpanContext | None:
    return _current.get()


@contextlib.contextmanager
def use(ctx: SpanContext | None) -> Iterator[None]:
    """Make *ctx* the current span context (a thread picking up another's work)."""
    token = _current.set(ctx)
    try:
        yield
    finally:
        _current.reset(token)


def inject(headers: MutableMapping[str, Any], ctx: SpanContext | None = None) -> None:
    """Write ``traceparent`` for *ctx* (default: the current span) into message headers."""
    ctx = ctx or current()
    if ctx is not None:
        headers[TRACEPARENT] = ctx.traceparent


def extract(headers: Mapping[str, Any] | None) -> SpanContext | None:
    """Read a W3C ``traceparent``; anything malformed is ignored (a plain peer sends none)."""
    if not headers:
        return None
    value = headers.get(TRACEPARENT)
    if not isinstance(value, str):
        return None
    parts = value.strip().split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        int(parts[1], 16), int(parts[2], 16)
    except ValueError:
        return None
    if parts[1] == "0" * 32 or parts[2] == "0" * 16:
        return None
    return SpanContext(parts[1], parts[2])


_UNSET: Any = object()


class Span:
    """A span being recorded; ``span_start`` went out when it was created."""

    __slots__ = ("name", "kind", "context", "parent_id", "service", "host", "_ended", "_token",
                 "_status", "_end_attrs")

    def __init__(self, name: str, kind: str, context: SpanContext, parent_id: str | None,
                 service: str, host: str) -> None:
        self.name = name
        self.kind = kind
        self.context = context
        self.parent_id = parent_id
        self.service = service
        self.host = host
        self._ended = False
        self._token: Any = None
        self._status = "OK"
        self._end_attrs: dict[str, Any] = {}

    @property
    def trace_id(self) -> str:
        return self.context.trace_id

    @property
    def span_id(self) -> str:
        return self.context.span_id

    def set_attr(self, key: str, value: Any) -> None:
        """Attributes learned after the start travel with ``span_end``."""
        self._end_attrs[key] = value

    def set_status(self, status: str, message: str | None = None) -> None:
        self._status = status
        if message is not None:
            self._end_attrs["status.message"] = message

    def annotate(self, name: str, attrs: Mapping[str, Any]) -> None:
        _annotate(self.context, name, attrs, self.service, self.host)

    def end(self, status: str | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        if status is not None:
            self._status = status
        if _emitter is None:
            return
        event: Event = {"type": "span_end", "trace_id": self.trace_id, "span_id": self.span_id,
                        "ts_ns": time.time_ns(), "status": self._status}
        if self._end_attrs:
            event["attrs"] = self._end_attrs
        emit(event)

    def __enter__(self) -> Span:
        self._token = _current.set(self.context)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        if exc is not None:
            self.set_status("ERROR", f"{type(exc).__name__}: {exc}")
            self._end_attrs.setdefault("exception.type", type(exc).__name__)
        self.end()


def start_span(name: str, kind: str = "INTERNAL", attrs: Mapping[str, Any] | None = None,
               parent: SpanContext | None = _UNSET, links: Sequence[SpanContext] = (),
               service: str | None = None, host: str | None = None) -> Span:
    """Open a span (child of *parent*, default the current span; a new trace if none).

    The span is not made current; use it as a context manager for that.
    """
    if parent is _UNSET:
        parent = current()
    me_service, me_host = whoami()
    ctx = SpanContext(parent.trace_id if parent else new_trace_id(), new_span_id())
    span = Span(name, kind, ctx, parent.span_id if parent else None,
                service or me_service, host or me_host)
    if _emitter is not None:
        emit({
            "type": "span_start", "trace_id": ctx.trace_id, "span_id": ctx.span_id,
            "parent_id": span.parent_id, "name": name, "service": span.service,
            "host": span.host, "kind": kind, "ts_ns": time.time_ns(),
            "attrs": dict(attrs) if attrs else {},
            "links": [{"trace_id": lk.trace_id, "span_id": lk.span_id} for lk in links],
        })
    return span


def span(name: str, kind: str = "INTERNAL", attrs: Mapping[str, Any] | None = None,
         parent: SpanContext | None = _UNSET, links: Sequence[SpanContext] = (),
         service: str | None = None, host: str | None = None) -> Span:
    """Start a span; in ``with trace.span("filter RamFilter"):`` it is current inside the block.

    Only the ``with`` makes it current (``Span.__enter__``); called bare it is ``start_span``.
    """
    return start_span(name, kind, attrs, parent, links, service, host)


def stein_step(location: str, name: str, *, qualified: bool = False, kind: str = "INTERNAL",
               **attrs: Any) -> Span:
    """A span for one step of Stein's code: ``code.location`` is ``<location>.<name>``.

    *location* is the module's ``STEIN_LOCATION``, e.g.
    ``"nova/compute/manager.py:ComputeManager"``. The span is named *name*, or
    ``Class.name`` when *qualified*.
    """
    span_name = f"{location.rpartition(':')[2]}.{name}" if qualified else name
    return start_span(span_name, kind, {"code.location": f"{location}.{name}", **attrs})


def _annotate(ctx: SpanContext | None, name: str, attrs: Mapping[str, Any],
              service: str | None = None, host: str | None = None) -> None:
    if _emitter is None:
        return
    me_service, me_host = whoami()
    emit({
        "type": "annotate", "trace_id": ctx.trace_id if ctx else None,
        "span_id": ctx.span_id if ctx else None, "name": name,
        "service": service or me_service, "host": host or me_host,
        "ts_ns": time.time_ns(), "attrs": dict(attrs),
    })


def annotate(name: str, attrs: Mapping[str, Any]) -> None:
    """Record a point event (a state change, a heartbeat) on the current span."""
    _annotate(current(), name, attrs)

