"""Consumes the trace exchange and hands each valid event to a callback (live view, record).

Bytes from the broker are foreign: anything that is not JSON or not a valid event is
logged in one line and dropped, so one bad publisher cannot stop a live view.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from tracer.instrument.broker import kombu_url
from tracer.instrument.emitter import (
    DEFAULT_EXCHANGE,
    ROUTES_HEADER,
    _safe,
    transport_options,
)
from tracer.instrument.events import Event, EventError, parse_body, validate

log = logging.getLogger(__name__)


QUEUE_EXPIRES_MS = 60_000  # a queue without a consumer this long is deleted


class CollectorError(RuntimeError):
    """The collector could not start (broker unreachable, declare refused)."""


def topic_matches(binding: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` zero or more, words split on dots."""
    return _match(tuple(binding.split(".")), tuple(key.split(".")))


def _match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    return bool(words) and head in ("*", words[0]) and _match(rest, words[1:])


class Collector:
    """Binds a queue to *exchange* with *binding* (default ``#``: every event) and calls
    ``on_event(event)`` in its thread.

    A batch routed to several keys at once (``bootflow-routes`` header, see
    ``BrokerEmitter``) reaches a narrower binding whole: only the events whose own key
    matches are passed on.

    *queue* ``None`` makes a queue with a unique name (a viewer), deleted by ``stop()``;
    a name makes a shared one that survives this consumer's restarts (as long as the
    broker runs). Neither is exclusive or auto-deleted: a collector that loses its
    connection for a moment (a network blip, the broker busy) finds its queue, and the
    events published meanwhile, when it reconnects, where an exclusive queue would have
    gone with the connection and the events with it. One left by a collector that died
    expires after ``QUEUE_EXPIRES_MS`` without a consumer (RabbitMQ ``x-expires``).
    """

    def __init__(self, url: str, on_event: Callable[[Event], Any],
                 exchange: str = DEFAULT_EXCHANGE, queue: str | None = None, *,
                 binding: str = "#", options: dict[str, Any] | None = None,
                 reconnect_interval: float = 0.5) -> None:
        self.url = url
        self.on_event = on_event
        self.exchange_name = exchange
        self.queue_name = queue or f"{exchange}.collector.{uuid.uuid4().hex[:12]}"
        self._named = queue is not None
        self.binding = binding
        self._matches: dict[str, bool] = {}   # routing key -> matches binding
        self.options = transport_options(url, options)
        self.options.pop("confirm_publish", None)
        self.reconnect_interval = reconnect_interval
        self.received = 0
        self.dropped = 0
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> Collector:
        """Return once the queue is declared and bound: events emitted later are seen."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="bootflow-collector",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            self.stop()
            why = self._error or "timed out"
            raise CollectorError(f"cannot consume {self.exchange_name} at "
                                 f"{_safe(self.url)}: {why}")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self) -> Collector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- background thread -----------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._consume()
            except Exception as exc:  # keep the view alive across outages
                if not self._ready.is_set():
                    self._error = exc
                    self._ready.set()
                    return
                log.warning("trace collector lost %s (%s); reconnecting",
                            _safe(self.url), exc)
                self._stop.wait(self.reconnect_interval)

    def _consume(self) -> None:
        from kombu import Connection, Consumer, Exchange, Queue

        url = kombu_url(self.url)
        with Connection(url, transport_options=self.options, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.1,
                                    interval_max=0.1)  # we retry ourselves, never sleep here
            channel = conn.channel()
            exchange = Exchange(self.exchange_name, type="topic", durable=False)
            args = {} if url.startswith("memory") else {"x-expires": QUEUE_EXPIRES_MS}
            queue = Queue(self.queue_name, exchange=exchange, routing_key=self.binding,
                          durable=False, exclusive=False, auto_delete=False,
                          queue_arguments=args)
            consumer = Consumer(channel, queues=[queue], no_ack=True,
                                on_message=self._on_message)
            consumer.declare()
            with consumer:
                self._ready.set()
                while not self._stop.is_set():
                    try:
                        conn.drain_events(timeout=0.2)
                    except TimeoutError:
                        continue
            if not self._named:  # a viewer's queue is its own: gone with it
                try:
                    queue(channel).delete()
                except Exception:  # it expires anyway
                    pass

    def _on_message(self, message: Any) -> None:
        key = (message.delivery_info or {}).get("routing_key", "?")
        try:
            items = parse_body(message.body)
        except EventError as exc:
            self.dropped += 1
            log.warning("trace collector dropped a malformed message (routing key %s): %s",
                        key, exc)
            return
        if self.binding != "#":
            items = self._mine(items, (message.headers or {}).get(ROUTES_HEADER), key)
        for item in items:
            try:
                event = validate(item)
            except EventError as exc:
                self.dropped += 1
                log.warning("trace collector dropped an invalid event (routing key %s): %s",
                            key, exc)
                continue
            self.received += 1
            try:
                self.on_event(event)
            except Exception:  # a broken consumer callback must not stop us
                log.exception("trace collector: on_event failed")

    def _mine(self, items: list[Any], runs: Any, key: str) -> list[Any]:
        """The events of a multi-key batch whose own routing key matches our binding."""
        if runs is None:
            return items
        try:
            pairs = [(str(k), int(n)) for k, n in runs]
        except (TypeError, ValueError):
            pairs = []
        keys = ([k for k, n in pairs for _ in range(n)]
                if sum(n for _, n in pairs) == len(items) else [])
        if len(keys) != len(items):
            log.warning("trace collector: a message (routing key %s) has a malformed %s "
                        "header; all its events are kept", key, ROUTES_HEADER)
            return items
        matches = self._matches
        for k in set(keys) - matches.keys():
            if len(matches) > 10_000:
                matches.clear()
            matches[k] = topic_matches(self.binding, k)
        return [item for k, item in zip(keys, items, strict=True) if matches[k]]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.01) -> bool:
    """Poll *predicate* until true or *timeout* (tests and the CLI waiting on a collector)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
