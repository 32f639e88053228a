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
from tracer.instrument.events import Event, dumpb

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
MAX_QUEUE = 100_000            # events waiting for the sender thread; beyond: dropped
MAX_SPOOL_BYTES = 64 * 2**20   # spool file; beyond: new events dropped (counted)
UNROUTABLE_GRACE = 30.0        # after a reconnect, unroutable events are retried this long
DROPPED_ANNOTATION = "trace.dropped"
# a broker that holds a publish this long (frozen, or a path to it paused) is given up
# for the spool: a sender stuck waiting for a confirm would let the queue fill up
CONFIRM_TIMEOUT = 10.0


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

    After a broker restart the collectors' queues are gone until they reconnect, and
    RabbitMQ drops what no queue takes: events are published *mandatory*, and for
    *unroutable_grace* seconds after a reconnect the ones that come back unroutable are
    kept in the spool and sent again. (Unroutable otherwise means nobody records: they
    go, as before.)

    Nothing a caller emits can stop the thread (``events.dumpb`` encodes any value) and
    memory stays bounded: beyond *max_queue* waiting events, or a spool file of
    *max_spool_bytes*, new events are dropped and counted (``dropped``); the count is
    logged and sent as a ``trace.dropped`` annotation (attrs ``dropped``: total so far,
    ``queue_full``, ``spool_full``, ``failed``) once the broker takes events again.
    """

    def __init__(self, url: str, exchange: str = DEFAULT_EXCHANGE,
                 spool_path: str | os.PathLike[str] | None = None, *,
                 max_batch: int = 512, retry_interval: float = 0.5, linger: float = 0.1,
                 options: dict[str, Any] | None = None, max_queue: int = MAX_QUEUE,
                 max_spool_bytes: int = MAX_SPOOL_BYTES,
                 unroutable_grace: float = UNROUTABLE_GRACE) -> None:
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
        self._mandatory = self._sender_selected  # RabbitMQ returns what no queue takes
        self.max_queue = max_queue
        self.max_spool_bytes = max_spool_bytes
        self.unroutable_grace = unroutable_grace
        self.published = 0          # events confirmed by the broker (for tests, stats)
        self.spooled = 0            # events that went through the spool file
        self.unroutable = 0         # events no queue took (nobody recording), gone
        self.drops: dict[str, int] = {"queue_full": 0, "spool_full": 0, "failed": 0}
        self._drop_lock = threading.Lock()
        self._reported_drops = 0    # self.dropped when the last trace.dropped went out
        self._identity: tuple[str, str] | None = None  # service, host seen in events
        self._returned = False      # set by basic.return during a publish
        self._grace_until = 0.0     # retry unroutable events until then (a reconnect)
        self._had_failure = False
        self._spool_bytes = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._conn: Any = None
        self._producer: Any = None
        self._next_try = 0.0
        self._routes: dict[str, str] = {}        # open span_id -> routing key
        self._waiting: list[_Marker] = []        # flushes waiting for the spool to drain
        self._closing = False
        self._closed = False
        self._has_spool = self._spool_on_disk()   # a previous process's leftovers count
        if self._has_spool:
            self._spool_bytes = self.spool_path.stat().st_size
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
        if self._queue.qsize() >= self.max_queue:  # the sender cannot keep up (or is
            self._drop("queue_full", 1)            # stuck): memory stays bounded
            return
        self._queue.put(event)

    @property
    def dropped(self) -> int:
        """Events dropped so far (full queue, full spool, a failure in the sender)."""
        return sum(self.drops.values())

    def _drop(self, why: str, n: int) -> None:
        with self._drop_lock:  # callers' threads and the sender count here
            before = self.dropped
            self.drops[why] += n
        if before == 0 or before // 10_000 != self.dropped // 10_000:
            log.warning("trace emitter dropped %d events so far (%s)", self.dropped,
                        ", ".join(f"{k} {v}" for k, v in self.drops.items() if v))

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
        self._grace_until = 0.0  # closing: no collector coming back is worth waiting for
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
                try:
                    if self._handle(items):
                        break
                except Exception:  # the sender must outlive any event
                    log.exception("trace emitter: sending %d items failed; dropped",
                                  len(items))
                    self._drop("failed", sum(isinstance(i, dict) for i in items))
                    for item in items:
                        if isinstance(item, _Marker):
                            item.settled.set()
                            item.done.set()
                        elif item is _STOP:
                            return
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
        if self.dropped != self._reported_drops and self.connected \
                and not self._spool_pending():
            self._report_drops()
        if not self._spool_pending():
            for marker in self._waiting:
                marker.done.set()
            self._waiting.clear()
        return False

    def _report_drops(self) -> None:
        """A ``trace.dropped`` annotation with the counts, so a viewer sees the gap."""
        service, host = self._identity or ("unknown", "unknown")
        event: Event = {"type": "annotate", "trace_id": None, "span_id": None,
                        "name": DROPPED_ANNOTATION, "service": service, "host": host,
                        "ts_ns": time.time_ns(),
                        "attrs": {"dropped": self.dropped, **self.drops}}
        if not self._publish([event]):
            self._reported_drops = self.dropped

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
        self._returned = False
        try:
            self._producer.publish(body, routing_key=keys[0], headers=headers,
                                   content_type="application/json",
                                   content_encoding="utf-8", retry=False,
                                   mandatory=self._mandatory,
                                   confirm_timeout=CONFIRM_TIMEOUT)
        except Exception as exc:  # any broker failure means: spool
            self._broker_failed(exc)
            return False
        if self._returned:  # confirmed, but no queue took it
            if time.monotonic() < self._grace_until:
                return False  # a collector's queue may not be back yet: spool, retry
            self.unroutable += len(events)
            return True
        self.published += len(events)
        return True

    def _on_return(self, exc: Exception, exchange: str, routing_key: str,
                   message: Any) -> None:
        self._returned = True

    def _route(self, event: Event) -> str:
        """Routing key; ``span_end`` has no service/host, so remember them per span.

        Looked up, not popped, so that an event routed again after a spool keeps its key;
        the oldest entries are dropped past ``_MAX_ROUTES``.
        """
        span_id = str(event.get("span_id"))
        if event.get("type") == "span_end":
            return self._routes.get(span_id) or routing_key(None, None)
        key = routing_key(event.get("service"), event.get("host"))
        if self._identity is None and event.get("service") and event.get("host"):
            self._identity = (str(event["service"]), str(event["host"]))
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
            self._producer = Producer(channel, exchange=exchange, auto_declare=True,
                                      on_return=self._on_return if self._mandatory else None)
        except Exception as exc:
            _release(conn)
            self._broker_failed(exc)
            return False
        if self._had_failure or self._has_spool:  # after an outage (or a restart)
            self._grace_until = time.monotonic() + self.unroutable_grace
        self._had_failure = False
        self._conn = conn
        log.info("trace emitter connected to %s", _safe(self.url))
        return True

    def _broker_failed(self, exc: BaseException) -> None:
        if self._producer is not None or self._next_try == 0.0:
            log.warning("trace broker %s unreachable (%s); spooling to %s", _safe(self.url),
                        exc, self.spool_path)
        self._disconnect(abandon=True)
        self._had_failure = True
        self._next_try = time.monotonic() + self.retry_interval

    def _disconnect(self, abandon: bool = False) -> None:
        """Close the connection; a failed one is *abandoned*: its socket closed without
        the AMQP close handshake, which a frozen broker would never answer."""
        self._producer = None
        if self._conn is not None:
            if abandon:
                _abandon(self._conn)
            else:
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
        """Append to the spool file, up to ``max_spool_bytes``; the rest is dropped."""
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        size = self._spool_bytes
        full = 0
        for event in events:
            line = dumpb(event) + b"\n"
            if size + len(line) > self.max_spool_bytes:
                full += 1
                continue
            size += len(line)
            lines.append(line)
        if lines:
            with self.spool_path.open("ab") as fh:
                fh.write(b"".join(lines))
            self.spooled += len(lines)
            self._has_spool = True
        self._spool_bytes = size
        if full:
            self._drop("spool_full", full)

    def _drain_spool(self) -> bool:
        """Resend the spool in order, a batch at a time (a full spool is never all in
        memory at once); True when it is empty afterwards."""
        if not self._ensure_connected():
            return False
        sent = 0
        number = 0
        with self.spool_path.open("rb") as fh:
            while True:
                lines = list(itertools.islice(fh, self.max_batch))
                if not lines:
                    break
                events: list[Event] = []
                for line in lines:
                    number += 1
                    try:
                        event = json.loads(line)
                    except ValueError:
                        event = None
                    if isinstance(event, dict):
                        events.append(event)
                    else:
                        log.warning("dropping corrupt line %d of spool %s", number,
                                    self.spool_path)
                unsent = self._publish(events) if events else []
                if unsent:
                    self._rewrite_spool(b"".join(dumpb(e) + b"\n" for e in unsent)
                                        + fh.read())
                    return False
                sent += len(events)
        self.spool_path.unlink(missing_ok=True)
        self._has_spool = False
        self._spool_bytes = 0
        log.info("trace emitter resent %d spooled events", sent)
        return True

    def _rewrite_spool(self, data: bytes) -> None:
        tmp = self.spool_path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.spool_path)
        self._spool_bytes = len(data)


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


def _abandon(conn: Any) -> None:
    try:
        conn.collect()
    except Exception:  # already broken
        pass


def _safe(url: str) -> str:
    from tracer.instrument.redact import redact_url

    return redact_url(url)
