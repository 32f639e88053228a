"""Where events go once ``tracer.instrument.api`` has made them: a list, a file, the broker.

An emitter is any callable taking one event dict. ``BrokerEmitter`` is the one the
services use: the traced code must never wait for (or fail because of) the trace
broker, so the caller only does a queue put and a thread does the rest.
"""

from __future__ import annotations

import atexit
import itertools
import json
import logging
import os
import queue
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tracer.instrument.broker import kombu_url
from tracer.instrument.events import Event, dumpb, dumps

log = logging.getLogger(__name__)

Emitter = Callable[[Event], None]
DEFAULT_EXCHANGE = "bootflow.trace"
# memory:// polls; with kombu's default a poll costs 1 s (DESIGN.md). 10 ms keeps a
# viewer live without spinning a core per consumer.
MEMORY_POLLING_INTERVAL = 0.01


class ListEmitter:
    """Keeps events in memory (tests, the embedded headless demo)."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    @property
    def events(self) -> list[Event]:
        """A copy, safe to iterate while other threads keep emitting."""
        with self._lock:
            return list(self._events)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)


class TeeEmitter:
    """Sends each event to several emitters (broker and a local recording, say)."""

    def __init__(self, *emitters: Emitter) -> None:
        self.emitters = emitters

    def __call__(self, event: Event) -> None:
        for emitter in self.emitters:
            emitter(event)

    def flush(self, timeout: float | None = None) -> bool:
        return all(_call(e, "flush", timeout) is not False for e in self.emitters)

    def close(self) -> None:
        for emitter in self.emitters:
            _call(emitter, "close")


def _call(obj: Any, name: str, *args: Any) -> Any:
    method = getattr(obj, name, None)
    return method(*args) if callable(method) else None


def transport_options(url: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Options for a kombu connection to *url*, chosen deliberately (see DESIGN.md)."""
    options: dict[str, Any] = {}
    if url.startswith("memory://"):
        options["polling_interval"] = MEMORY_POLLING_INTERVAL
    else:
        # Without confirms a publish into a dead socket "succeeds" and the event is lost.
        options["confirm_publish"] = True
    options.update(extra or {})
    return options


def routing_key(service: str | None, host: str | None) -> str:
    """``<service>.<host>``; dots inside a host name would split the topic, so mask them."""
    return f"{service or 'unknown'}.{(host or 'unknown').replace('.', '_')}"


ROUTES_HEADER = "bootflow-routes"


def route_runs(routes: Iterable[str]) -> list[tuple[str, int]]:
    """``[(key, count), ...]`` for consecutive runs of equal routing keys."""
    return [(key, sum(1 for _ in group)) for key, group in itertools.groupby(routes)]


class _Marker:
    """Put in the queue by ``flush``: set once everything before it reached the broker."""

    def __init__(self) -> None:
        self.done = threading.Event()       # published and confirmed
        self.settled = threading.Event()    # published, or safe in the spool file


_STOP = object()
_MAX_ROUTES = 100_000


class BrokerEmitter:
    """Publishes events to a topic exchange from a background thread; spools when down.

    Wire format: each AMQP message body is compact JSON, either one event object or an
    array of events (a batch; with publisher confirms one round trip per batch instead
    of per event). ``tracer.collector`` accepts both. The thread lets a burst gather for
    *linger* seconds (a service's ``trace_linger``), then sends it as one message, in
    emission order: each message costs a publish + confirm here, broker work and a frame
    parse in every consumer, and their number, not the bytes, is what tracing costs at
    scale (BENCHMARKS.md, Scale).

    Every event still has its routing key ``<service>.<host>``. A batch whose events
    have several (the embedded cloud runs many services in one process) goes out under
    the first, with the others in RabbitMQ's ``CC`` header (sender-selected
    distribution: each bound queue gets the message once) and the key of each event in
    the ``bootflow-routes`` header as ``[[key, count], ...]`` runs, so that a consumer
    bound to ``nova-compute.#`` keeps only its own events (``Collector`` does). On a
    transport without ``CC`` (``memory://``) such a batch goes out as one message per
    run of consecutive events with one key.

    When the broker is unreachable, events are appended to *spool_path* (JSON Lines) and
    resent in order once a connection succeeds; a spool left by a previous process on the
    same path is resent too. Delivery is at-least-once: a batch whose confirm was lost
    with the connection is sent again.
    """

    def __init__(self, url: str, exchange: str = DEFAULT_EXCHANGE,
                 spool_path: str | os.PathLike[str] | None = None, *,
                 max_batch: int = 512, retry_interval: float = 0.5, linger: float = 0.1,
                 options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.exchange_name = exchange
        if spool_path is None:
            spool_path = Path(tempfile.gettempdir()) / (
                f"bootflow-spool-{exchange}-{os.getpid()}-{id(self):x}.jsonl")
        self.spool_path = Path(spool_path)
        self.max_batch = max_batch
        self.linger = linger
        self.retry_interval = retry_interval
        self.options = transport_options(url, options)
        self._sender_selected = kombu_url(url).startswith("pyamqp://")   # RabbitMQ: CC
        self.published = 0          # events confirmed by the broker (for tests, stats)
        self.spooled = 0            # events that went through the spool file
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._conn: Any = None
        self._producer: Any = None
        self._next_try = 0.0
        self._routes: dict[str, str] = {}        # open span_id -> routing key
        self._waiting: list[_Marker] = []        # flushes waiting for the spool to drain
        self._closing = False
        self._closed = False
        self._has_spool = self._spool_on_disk()   # a previous process's leftovers count
        self._thread = threading.Thread(target=self._run, name=f"bootflow-emitter-{exchange}",
                                        daemon=True)
        self._thread.start()
        atexit.register(_close_at_exit, weakref.ref(self))

    # -- caller side -----------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        """Hot path: one queue put, nothing else."""
        if self._closed:  # late events of a closing process: keep them for the next one
            self._spool([event])
            return
        self._queue.put(event)

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every event emitted so far is confirmed by the broker."""
        if not self._thread.is_alive():
            return False
        marker = _Marker()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Flush, then stop the thread. With the broker down this does not wait out
        *timeout*: once everything is in the spool file it returns False at once (the
        spool is resent by the next emitter on the same ``spool_path``)."""
        if self._closing:
            return True
        self._closing = True
        ok = False
        if self._thread.is_alive():
            marker = _Marker()
            self._queue.put(marker)
            deadline = time.monotonic() + timeout
            while not (ok := marker.done.wait(0.02)):
                if marker.settled.is_set() and not self.connected:
                    break
                if time.monotonic() > deadline:
                    break
            self._queue.put(_STOP)
            self._thread.join(max(0.1, deadline - time.monotonic()))
        if not self._thread.is_alive():
            # From here on the caller's thread owns the spool: stragglers go straight there.
            self._closed = True
            leftovers = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, dict):
                    leftovers.append(item)
            if leftovers:
                self._spool(leftovers)
        return ok

    def __enter__(self) -> BrokerEmitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._producer is not None

    # -- background thread -----------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                try:
                    # While a spool waits for the broker, wake up to retry it.
                    wait = self.retry_interval if self._spool_pending() else None
                    first = self._queue.get(timeout=wait)
                except queue.Empty:
                    self._handle([])
                    continue
                items = [first]
                self._take(items)
                if self.linger and isinstance(first, dict) and len(items) < self.max_batch \
                        and isinstance(items[-1], dict):
                    # Let a burst gather: far fewer, larger messages (each costs a
                    # publish + confirm here, a frame parse in the collector).
                    time.sleep(self.linger)
                    self._take(items)
                if self._handle(items):
                    break
        finally:
            self._disconnect()

    def _take(self, items: list[Any]) -> None:
        """Move queued items into *items* up to ``max_batch``, stopping after a marker."""
        while len(items) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            items.append(item)
            if not isinstance(item, dict):
                return
    def _handle(self, items: list[Any]) -> bool:
        events: list[Event] = []
        for item in items:
            if item is _STOP:
                self._deliver(events)
                return True
            if isinstance(item, _Marker):
                self._deliver(events)
                events = []
                item.settled.set()
                self._waiting.append(item)
            else:
                events.append(item)
        self._deliver(events)
        if not events and self._spool_pending():
            self._drain_spool()
        if not self._spool_pending():
            for marker in self._waiting:
                marker.done.set()
            self._waiting.clear()
        return False

    def _deliver(self, events: list[Event]) -> None:
        """Publish *events* after the spool (order), or append them to it."""
        if not events:
            return
        if self._spool_pending() and not self._drain_spool():
            self._spool(events)
            return
        unsent = self._publish(events) if self._ensure_connected() else events
        if unsent:
            self._spool(unsent)

    def _publish(self, events: list[Event]) -> list[Event]:
        """Publish *events*; return those the broker did not confirm, in order."""
        routes = [self._route(e) for e in events]
        runs = route_runs(routes)
        if len(runs) == 1 or self._sender_selected:
            return [] if self._send(events, runs) else events
        start = 0
        for run in runs:  # no CC: a message per run of one key
            if not self._send(events[start:start + run[1]], [run]):
                return events[start:]
            start += run[1]
        return []

    def _send(self, events: list[Event], runs: list[tuple[str, int]]) -> bool:
        """One message: routed by the first key, ``CC`` the others (see the class doc)."""
        headers: dict[str, Any] = {}
        keys = list(dict.fromkeys(key for key, _ in runs))
        if len(keys) > 1:
            headers = {"CC": keys[1:], ROUTES_HEADER: [[key, n] for key, n in runs]}
        body = dumpb(events[0]) if len(events) == 1 else dumpb(events)
        try:
            self._producer.publish(body, routing_key=keys[0], headers=headers,
                                   content_type="application/json",
                                   content_encoding="utf-8", retry=False)
        except Exception as exc:  # any broker failure means: spool
            self._broker_failed(exc)
            return False
        self.published += len(events)
        return True

    def _route(self, event: Event) -> str:
        """Routing key; ``span_end`` has no service/host, so remember them per span.

        Looked up, not popped, so that an event routed again after a spool keeps its key;
        the oldest entries are dropped past ``_MAX_ROUTES``.
        """
        span_id = str(event.get("span_id"))
        if event.get("type") == "span_end":
            return self._routes.get(span_id) or routing_key(None, None)
        key = routing_key(event.get("service"), event.get("host"))
        if event.get("type") == "span_start":
            self._routes[span_id] = key
            if len(self._routes) > _MAX_ROUTES:
                for old in list(itertools.islice(self._routes, _MAX_ROUTES // 10)):
                    del self._routes[old]
        return key

    def _ensure_connected(self) -> bool:
        if self._producer is not None:
            return True
        if time.monotonic() < self._next_try:
            return False
        from kombu import Connection, Exchange, Producer

        conn = Connection(kombu_url(self.url), transport_options=self.options, connect_timeout=2)
        try:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.1,
                                    interval_max=0.1)  # we retry ourselves, never sleep here
            channel = conn.channel()
            exchange = Exchange(self.exchange_name, type="topic", durable=False)
            self._producer = Producer(channel, exchange=exchange, auto_declare=True)
        except Exception as exc:
            _release(conn)
            self._broker_failed(exc)
            return False
        self._conn = conn
        log.info("trace emitter connected to %s", _safe(self.url))
        return True

    def _broker_failed(self, exc: BaseException) -> None:
        if self._producer is not None or self._next_try == 0.0:
            log.warning("trace broker %s unreachable (%s); spooling to %s", _safe(self.url),
                        exc, self.spool_path)
        self._disconnect()
        self._next_try = time.monotonic() + self.retry_interval

    def _disconnect(self) -> None:
        self._producer = None
        if self._conn is not None:
            _release(self._conn)
            self._conn = None

    # -- spool -----------------------------------------------------------------------
    def _spool_pending(self) -> bool:
        return self._has_spool

    def _spool_on_disk(self) -> bool:
        try:
            return self.spool_path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def _spool(self, events: Iterable[Event]) -> None:
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        n = 0
        with self.spool_path.open("a", encoding="utf-8") as fh:
            for event in events:
                fh.write(dumps(event) + "\n")
                n += 1
        self.spooled += n
        self._has_spool = True

    def _drain_spool(self) -> bool:
        """Resend the spool in order; True when it is empty afterwards."""
        if not self._ensure_connected():
            return False
        events: list[Event] = []
        with self.spool_path.open("r", encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    log.warning("dropping corrupt line %d of spool %s", number, self.spool_path)
        for start in range(0, len(events), self.max_batch):
            unsent = self._publish(events[start:start + self.max_batch])
            if unsent:
                self._rewrite_spool(unsent + events[start + self.max_batch:])
                return False
        self.spool_path.unlink(missing_ok=True)
        self._has_spool = False
        log.info("trace emitter resent %d spooled events", len(events))
        return True

    def _rewrite_spool(self, events: list[Event]) -> None:
        tmp = self.spool_path.with_suffix(".tmp")
        tmp.write_text("".join(dumps(e) + "\n" for e in events), encoding="utf-8")
        os.replace(tmp, self.spool_path)


def _close_at_exit(ref: weakref.ref[BrokerEmitter]) -> None:
    """A process that forgot ``close()`` still hands its queue to the broker or spool."""
    emitter = ref()
    if emitter is not None:
        emitter.close(timeout=2.0)


def _release(conn: Any) -> None:
    try:
        conn.release()
    except Exception:  # already broken
        pass


def _safe(url: str) -> str:
    from tracer.instrument.redact import redact_url

    return redact_url(url)
