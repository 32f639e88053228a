"""One run of the embedded cloud with its events collected: what demo, TUI and scenarios share.

Events take the path the design gives them even here: the services emit to the
``bootflow.trace`` exchange of the run's transport and a collector consumes it, so the
demo exercises the same emitter → broker → collector chain as a deployment.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracer.collector import Collector
from tracer.instrument import api as trace
from tracer.instrument.api import Event
from tracer.instrument.emitter import BrokerEmitter
from tracer.instrument.redact import redact_url
from tracer.recording import RecordingWriter


class CollectedEvents:
    """Every event the collector delivered, in arrival order, plus live listeners."""

    def __init__(self, record: Path | None = None, **header: Any) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._listeners: list[Callable[[Event], None]] = []
        self._writer = RecordingWriter(record, **header) if record else None

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)
            if self._writer is not None:
                self._writer(event)
            listeners = tuple(self._listeners)
        for listener in listeners:
            listener(event)

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Add a listener; it is first handed every event so far (no gap, no double)."""
        with self._lock:
            for event in self._events:
                listener(event)
            self._listeners.append(listener)

    @property
    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def is_trace_root(event: Mapping[str, Any]) -> bool:
    """The span_start that opens a trace (no parent)."""
    return event.get("type") == "span_start" and not event.get("parent_id")


def is_request_root(event: Mapping[str, Any]) -> bool:
    """The root of a trace that starts at the REST API (a boot, a delete), as opposed to
    start-up, heartbeat and periodic-task traces: the one rule demo, record and the
    walkthrough gate share."""
    return (is_trace_root(event) and event.get("kind") == "HTTP"
            and event.get("service") == "nova-api")


def request_trace_ids(events: Iterable[Event]) -> set[str]:
    """Traces that start at the REST API, as opposed to service start-up traces."""
    return {e["trace_id"] for e in events if is_request_root(e)}


UNKNOWN_TRACE_GRACE_S = 2.0  # a held hop of a trace whose root has not come yet


class RequestTraces:
    """Which traces are REST requests, learnt from their root spans: the walkthrough's
    gate shows the learner only a request's hops.

    The gate announces a held message at once, while its trace's root span may still
    be on its way (the emitter batches for up to 0.1 s): after a boot, each heartbeat
    and periodic task would flash up as the next hop. A hop of a trace not seen yet is
    therefore not shown until its root says it is a request, or until
    ``UNKNOWN_TRACE_GRACE_S`` has passed (a root that never comes must not hide a
    held hop for good).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._roots: dict[str, bool] = {}  # trace id → rooted at an HTTP request?
        self._first_seen: dict[str, float] = {}  # held hop id → when first asked about
        self._lock = threading.Lock()

    def observe(self, event: Mapping[str, Any]) -> None:
        """Feed every collected event (it learns which traces are requests)."""
        if is_trace_root(event):
            with self._lock:
                self._roots[str(event.get("trace_id"))] = is_request_root(event)

    def is_background(self, item: Mapping[str, Any]) -> bool:
        """A held item (``{"hop_id", "hop"}``) of a start-up or periodic trace."""
        hop = item.get("hop") or {}
        with self._lock:
            return self._roots.get(str(hop.get("trace_id"))) is False

    def shown(self, items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The held items a learner steps through, oldest first: those of a request
        trace, of no named trace, or of a trace still unknown after the grace time."""
        now = self.clock()
        items = list(items)  # a generator may ask is_background: not under the lock
        out = []
        with self._lock:
            held = set()
            for item in items:
                hop_id = str(item.get("hop_id"))
                held.add(hop_id)
                trace_id = (item.get("hop") or {}).get("trace_id")
                request = self._roots.get(str(trace_id)) if trace_id else True
                if request is None:
                    first = self._first_seen.setdefault(hop_id, now)
                    request = now - first >= UNKNOWN_TRACE_GRACE_S or None
                if request:
                    out.append(item)
            for gone in set(self._first_seen) - held:
                del self._first_seen[gone]
        return out


def request_events(events: list[Event]) -> list[Event]:
    """The events of request traces; span_end events carry only ids, so match by trace."""
    ids = request_trace_ids(events)
    return [e for e in events if e.get("trace_id") in ids]


def open_spans(events: Iterable[Event], trace_ids: set[str]) -> int:
    started: set[str] = set()
    ended: set[str] = set()
    for e in events:
        if e.get("trace_id") not in trace_ids:
            continue
        if e.get("type") == "span_start":
            started.add(e["span_id"])
        elif e.get("type") == "span_end":
            ended.add(e["span_id"])
    return len(started - ended)


def wait_quiet(events: Callable[[], list[Event]], timeout: float, settle: float,
               poll: float) -> bool:
    """Poll *events* until every span of the request traces has ended and no event has
    arrived for *settle* seconds; False if *timeout* passes first."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        current = events()
        if len(current) != last:
            last, since = len(current), time.monotonic()
        elif (open_spans(current, request_trace_ids(current)) == 0
              and time.monotonic() - since >= settle):
            return True
        time.sleep(poll)
    return False


class EventPipe:
    """Emitter and collector on one transport, installed as this process's trace sink."""

    def __init__(self, transport_url: str, sink: Callable[[Event], None],
                 exchange: str = "bootflow.trace") -> None:
        self.collector = Collector(transport_url, sink, exchange=exchange)
        self.emitter = BrokerEmitter(transport_url, exchange=exchange)

    def start(self) -> None:
        self.collector.start()
        trace.set_emitter(self.emitter)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop emitting, then wait until the collector holds all that was published."""
        trace.set_emitter(None)
        self.emitter.flush(timeout)
        deadline = time.monotonic() + timeout
        while (self.collector.received < self.emitter.published
               and time.monotonic() < deadline):
            time.sleep(0.01)
        self.emitter.close()
        self.collector.stop()


@dataclass
class DemoResult:
    servers: list[dict[str, Any]]
    final: list[dict[str, Any]]
    events: list[Event] = field(default_factory=list)
    finished: bool = True


class DemoRun:
    """Start the embedded cloud, boot, wait until the flow is quiet, stop; keep the events."""

    def __init__(self, transport_url: str, record: Path | None = None, computes: int = 1,
                 config_overrides: dict[str, Any] | None = None) -> None:
        self.transport_url = transport_url
        self.computes = tuple(f"compute{i}" for i in range(1, computes + 1))
        self.sink = CollectedEvents(record, source="demo",
                                    transport=redact_url(transport_url),
                                    computes=list(self.computes))
        self.config_overrides = config_overrides or {}
        self.cloud: Any = None
        self._state_dir: tempfile.TemporaryDirectory[str] | None = None
        self._pipe: EventPipe | None = None

    def start(self) -> None:
        from services.conf import Config
        from tracer.cloud.embedded import EmbeddedCloud

        self._state_dir = tempfile.TemporaryDirectory(prefix="bootflow-demo-")
        config = Config.load(state_dir=self._state_dir.name, transport_url=self.transport_url,
                             **self.config_overrides)
        self._pipe = EventPipe(self.transport_url, self.sink)
        self._pipe.start()
        try:
            self.cloud = EmbeddedCloud(config, computes=self.computes,
                                       transport_url=self.transport_url)
        except BaseException:
            self.stop()
            raise

    def boot(self, flavor: str, image: str, count: int, timeout: float,
             name: str = "demo-vm") -> DemoResult:
        servers = self.cloud.boot(name, flavor=flavor, image=image, count=count)
        uuids = [s["id"] for s in servers]
        try:
            final = self.cloud.wait_for_instances(uuids, timeout=timeout)
            finished = True
        except TimeoutError:
            final = [self.cloud.instance_state(u) or {"uuid": u} for u in uuids]
            finished = False
        self.wait_quiet(timeout=min(timeout, 10.0))
        return DemoResult(servers, final, finished=finished)

    def wait_quiet(self, timeout: float, settle: float = 0.2) -> bool:
        """Wait until every span of the request traces has ended and nothing new arrives."""
        return wait_quiet(lambda: self.sink.events, timeout, settle, poll=0.02)

    def stop(self) -> None:
        if self.cloud is not None:
            self.cloud.stop()
            self.cloud = None
        if self._pipe is not None:
            self._pipe.stop()
            self._pipe = None
        self.sink.close()
        if self._state_dir is not None:
            self._state_dir.cleanup()
            self._state_dir = None

    def run(self, flavor: str = "m1.tiny", image: str = "bootflow-guest", count: int = 1,
            timeout: float = 60.0) -> DemoResult:
        self.start()
        try:
            result = self.boot(flavor, image, count, timeout)
        finally:
            self.stop()
        result.events = self.sink.events
        return result
