"""Notifier: oslo.messaging's notification sender (oslo_messaging/notify/).

Why it is not an RPCClient: a notification is published to ``<topic>.<priority>`` on the
control exchange and nobody is waited for, nobody is addressed. Like oslo's rabbit
driver, the first publish to a routing key declares a queue of that name bound to it,
so notifications sent before any consumer exists are kept, not dropped.

Each publish is a PRODUCER span named after the event type with ``rpc.style`` =
``notify``, ``messaging.operation`` = ``publish`` and ``bootflow.hop`` =
``notification``: the third kind of arrow, next to call and cast, that no server answers.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from typing import Any

import kombu

from services.messaging import wire
from services.messaging.serializer import NoOpSerializer, Serializer
from services.messaging.transport import Transport
from tracer.instrument import api as trace
from tracer.instrument.redact import redact_json

# [oslo_messaging_notifications] driver: the ones that publish, with the message format
_DRIVERS = {"messagingv2": 2.0, "messaging": 1.0}
PRIORITIES = ("AUDIT", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL", "SAMPLE")


class Notifier:
    """``Notifier(transport, publisher_id=None, driver=None, serializer=None, topics=None)``.

    *driver* ``None``/``"noop"`` sends nothing (Stein's default), ``"messagingv2"`` sends
    the 2.0 envelope, ``"messaging"`` the bare 1.0 message. *topics* defaults to
    ``["notifications"]`` ([oslo_messaging_notifications] topics).
    """

    def __init__(self, transport: Transport, publisher_id: str | None = None,
                 driver: str | list[str] | None = None, serializer: Serializer | None = None,
                 topics: list[str] | None = None) -> None:
        self.transport = transport
        self.publisher_id = publisher_id
        drivers = [driver] if isinstance(driver, str) else list(driver or [])
        self._versions = [_DRIVERS[d] for d in drivers if d in _DRIVERS]
        self._drivers = drivers
        self._serializer = serializer or NoOpSerializer()
        self._topics = list(topics) if topics is not None else ["notifications"]
        self._declared: set[tuple[str, str]] = set()
        self._declare_lock = threading.Lock()

    def prepare(self, publisher_id: str | None = None) -> Notifier:
        """The same notifier with another ``publisher_id`` (``<service>.<host>``)."""
        sub = Notifier.__new__(Notifier)
        sub.__dict__.update(self.__dict__)
        sub.publisher_id = publisher_id or self.publisher_id
        return sub

    def is_enabled(self) -> bool:
        return bool(self._versions)

    # -- the priorities ---------------------------------------------------------------
    def audit(self, ctxt: Any, event_type: str, payload: Any) -> None:
        self._notify(ctxt, event_type, payload, "AUDIT")

    def debug(self, ctxt: Any, event_type: str, payload: Any) -> None:
        self._notify(ctxt, event_type, payload, "DEBUG")

    def info(self, ctxt: Any, event_type: str, payload: Any) -> None:
        self._notify(ctxt, event_type, payload, "INFO")

    def warn(self, ctxt: Any, event_type: str, payload: Any) -> None:
        self._notify(ctxt, event_type, payload, "WARN")

    warning = warn

    def error(self, ctxt: Any, event_type: str, payload: Any) -> None:
        self._notify(ctxt, event_type, payload, "ERROR")

    def critical(self, ctxt: Any, event_type: str, payload: Any) -> None:
        self._notify(ctxt, event_type, payload, "CRITICAL")

    def sample(self, ctxt: Any, event_type: str, payload: Any) -> None:
        self._notify(ctxt, event_type, payload, "SAMPLE")

    # -- sending ----------------------------------------------------------------------
    def _notify(self, ctxt: Any, event_type: str, payload: Any, priority: str) -> None:
        if not self._versions:
            return
        payload = self._serializer.serialize_entity(ctxt, payload)
        context = self._serializer.serialize_context(ctxt)
        msg: dict[str, Any] = {
            "message_id": str(uuid.uuid4()), "publisher_id": self.publisher_id,
            "event_type": event_type, "priority": priority, "payload": payload,
            "timestamp": str(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
        }
        for version in self._versions:
            for topic in self._topics:
                self._send(dict(msg), context, f"{topic}.{priority.lower()}", version)

    def _send(self, msg: dict[str, Any], context: Any, routing_key: str,
              version: float) -> None:
        msg["_unique_id"] = wire.new_id()
        wire.pack_context(msg, context or {})
        body = wire.pack(msg) if version == 2.0 else json.dumps(msg)
        exchange = self.transport.control_exchange
        span = None
        if trace.enabled():
            span = trace.start_span(msg["event_type"], "PRODUCER", {
                "rpc.system": "oslo.messaging", "rpc.style": "notify",
                "messaging.operation": "publish", "bootflow.hop": "notification",
                "messaging.destination.name": exchange,
                "messaging.rabbitmq.destination.routing_key": routing_key,
                "messaging.message.id": msg["message_id"],
                "messaging.message.body.size": len(body.encode()),
                "rpc.topic": routing_key.rpartition(".")[0],
                "notification.event_type": msg["event_type"],
                "notification.priority": msg["priority"],
                "notification.publisher_id": msg["publisher_id"],
                "bootflow.envelope": redact_json(msg, default=repr),
            })
        headers: dict[str, Any] = {}
        if span is not None:
            trace.inject(headers, span.context)
        try:
            self._declare_default_queue(exchange, routing_key)
            self.transport.publish(exchange, routing_key, body, headers=headers)
        except Exception as exc:  # oslo logs a failed notification, goes on
            if span is not None:
                span.set_status("ERROR", f"{type(exc).__name__}: {exc}")
            trace.annotate("log", {"level": "ERROR",
                                   "message": f"Could not send notification to "
                                              f"{routing_key}: {exc!r}"})
        finally:
            if span is not None:
                span.end()

    def _declare_default_queue(self, exchange: str, routing_key: str) -> None:
        """Once per routing key: a queue named after it (impl_rabbit's
        ``_publish_and_creates_default_queue``), so nothing is lost before a listener."""
        key = (exchange, routing_key)
        if key in self._declared:
            return
        with self._declare_lock:
            if key in self._declared:
                return
            with self.transport.connection() as conn:
                kombu.Queue(routing_key, kombu.Exchange(exchange, type="topic",
                                                        durable=False),
                            routing_key=routing_key, durable=False)(conn.default_channel
                                                                     ).declare()
            self._declared.add(key)


def get_notifier(transport: Transport, publisher_id: str, driver: str | None = None,
                 topics: list[str] | None = None,
                 serializer: Serializer | None = None) -> Notifier:
    """A notifier for *publisher_id* (nova's ``rpc.get_notifier`` builds on it)."""
    return Notifier(transport, publisher_id=publisher_id, driver=driver, topics=topics,
                    serializer=serializer)
