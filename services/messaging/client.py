"""RPCClient: call (blocks for the reply) and cast / fanout cast (return after publish)."""

from __future__ import annotations

import time
from typing import Any

from services.messaging import wire
from services.messaging.exceptions import (
    MessagingException,
    MessagingTimeout,
    RPCVersionCapError,
)
from services.messaging.reply import ReplyWaiter
from services.messaging.serializer import NoOpSerializer, Serializer
from services.messaging.target import Target
from services.messaging.transport import Transport
from tracer.instrument import api as trace
from tracer.instrument.redact import redact_json

RPC_RESPONSE_TIMEOUT = 60  # nova's rpc_response_timeout
_MARKER: Any = object()


class _CallContext:
    """A prepared client: target + timeouts + version cap, as oslo's _CallContext."""

    def __init__(self, transport: Transport, target: Target, serializer: Serializer,
                 timeout: float | None, version_cap: str | None,
                 call_monitor_timeout: float | None, code_location: str | None) -> None:
        self.transport = transport
        self.target = target
        self.serializer = serializer
        self.timeout = timeout
        self.version_cap = version_cap
        self.call_monitor_timeout = call_monitor_timeout
        self.code_location = code_location

    def prepare(self, exchange: Any = _MARKER, topic: Any = _MARKER, namespace: Any = _MARKER,
                version: Any = _MARKER, server: Any = _MARKER, fanout: Any = _MARKER,
                timeout: Any = _MARKER, version_cap: Any = _MARKER,
                call_monitor_timeout: Any = _MARKER, retry: Any = _MARKER) -> _CallContext:
        kw = {k: v for k, v in (("exchange", exchange), ("topic", topic),
                                ("namespace", namespace), ("version", version),
                                ("server", server), ("fanout", fanout)) if v is not _MARKER}
        if "version" in kw and kw["version"] is not None:
            wire.version_is_compatible(kw["version"], kw["version"])  # parsable?
        return _CallContext(
            self.transport, self.target(**kw), self.serializer,
            self.timeout if timeout is _MARKER else timeout,
            self.version_cap if version_cap is _MARKER else version_cap,
            self.call_monitor_timeout if call_monitor_timeout is _MARKER
            else call_monitor_timeout,
            self.code_location)

    def can_send_version(self, version: Any = _MARKER) -> bool:
        version = self.target.version if version is _MARKER else version
        return wire.version_is_compatible(self.version_cap, version)

    # -- the message -----------------------------------------------------------------
    def _make_message(self, ctxt: Any, method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        ser = self.serializer
        msg: dict[str, Any] = {
            "method": method,
            "args": {k: ser.serialize_entity(ctxt, v) for k, v in kwargs.items()},
        }
        if self.target.namespace is not None:
            msg["namespace"] = self.target.namespace
        if self.target.version is not None:
            msg["version"] = self.target.version
        if not wire.version_is_compatible(self.version_cap, msg.get("version")):
            raise RPCVersionCapError(msg.get("version"), self.version_cap)
        return msg

    def _route(self) -> tuple[str, str, str]:
        """(exchange, routing key, exchange type) for this target."""
        t = self.target
        if not t.topic:
            raise MessagingException("A topic is required to send a message")
        if t.fanout:
            return f"{t.topic}_fanout", t.topic, "fanout"
        key = f"{t.topic}.{t.server}" if t.server else t.topic
        return t.exchange or self.transport.control_exchange, key, "topic"

    def _span(self, method: str, style: str, msg: dict[str, Any], body: str,
              exchange: str, key: str, timeout: float | None) -> trace.Span | None:
        if not trace.enabled():
            return None
        t = self.target
        attrs: dict[str, Any] = {
            "rpc.system": "oslo.messaging", "rpc.method": method, "rpc.style": style,
            "rpc.version": msg.get("version", "1.0"),
            "messaging.destination.name": exchange,
            "messaging.rabbitmq.destination.routing_key": key,
            "messaging.message.id": msg.get("_msg_id") or msg.get("_unique_id"),
            "rpc.topic": t.topic, "rpc.server": t.server,
            "messaging.message.body.size": len(body.encode()),
            "bootflow.envelope": redact_json(msg, default=repr),
        }
        if t.namespace is not None:
            attrs["rpc.namespace"] = t.namespace
        if self.code_location:
            attrs["code.location"] = f"{self.code_location}.{method}"
        if style == "call":
            attrs["rpc.reply_q"] = msg.get("_reply_q")
            attrs["rpc.timeout"] = timeout
            if self.call_monitor_timeout:
                attrs["rpc.call_monitor_timeout"] = self.call_monitor_timeout
        return trace.start_span(method, "CLIENT" if style == "call" else "PRODUCER", attrs)

    def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        """Publish and return: nobody answers a cast."""
        msg = self._make_message(ctxt, method, kwargs)
        msg["_unique_id"] = wire.new_id()
        wire.pack_context(msg, self.serializer.serialize_context(ctxt))
        exchange, key, etype = self._route()
        body = wire.pack(msg)
        style = "fanout" if self.target.fanout else "cast"
        span = self._span(method, style, msg, body, exchange, key, None)
        headers: dict[str, Any] = {}
        if span is not None:
            trace.inject(headers, span.context)
        try:
            # a topic cast waits in its queue even if the server has not redeclared it
            # yet after a broker restart (Transport.publish, declare_queue)
            self.transport.publish(exchange, key, body, exchange_type=etype,
                                   declare_always=etype == "fanout", headers=headers,
                                   declare_queue=etype == "topic")
        except BaseException as e:
            if span is not None:
                span.set_status("ERROR", f"{type(e).__name__}: {e}")
                span.end()
            raise
        if span is not None:
            span.end()

    def call(self, ctxt: Any, method: str, **kwargs: Any) -> Any:
        """Publish, then block until the reply (or MessagingTimeout)."""
        msg = self._make_message(ctxt, method, kwargs)
        timeout = self.transport.rpc_response_timeout if self.timeout is None else self.timeout
        waiter = self.transport.reply_waiter(ReplyWaiter)
        msg_id = wire.new_id()
        msg["_msg_id"] = msg_id
        msg["_reply_q"] = waiter.reply_q
        msg["_timeout"] = self.call_monitor_timeout
        msg["_unique_id"] = wire.new_id()
        wire.pack_context(msg, self.serializer.serialize_context(ctxt))
        exchange, key, etype = self._route()
        body = wire.pack(msg)
        span = self._span(method, "call", msg, body, exchange, key, timeout)
        headers: dict[str, Any] = {}
        if span is not None:
            trace.inject(headers, span.context)
        waiter.listen(msg_id)
        started = time.monotonic()
        try:
            # a reply queue lost with a restarted broker is back before the request goes
            waiter.check(min(timeout, self.transport.publish_retry_timeout))
            try:
                self.transport.publish(
                    exchange, key, body, exchange_type=etype,
                    declare_always=etype == "fanout", headers=headers, expiration=timeout,
                    retry_for=min(timeout, self.transport.publish_retry_timeout),
                    declare_queue=etype == "topic")
            except MessagingException as e:  # the broker stayed away for the whole timeout
                raise MessagingTimeout(
                    f"Timed out sending message ID {msg_id}: {e}") from e
            sent_after = time.monotonic() - started  # > 0 only if the broker was away
            data = waiter.wait(msg_id, max(timeout - sent_after, 0.001) if sent_after > 1
                               else timeout, self.call_monitor_timeout)
            if data.get("failure"):
                raise wire.deserialize_failure(data["failure"],
                                               self.transport.allowed_remote_exmods)
            result = self.serializer.deserialize_entity(ctxt, data.get("result"))
        except BaseException as e:
            if span is not None:
                span.set_status("ERROR", f"{type(e).__name__}: {e}")
                span.set_attr("exception.type", type(e).__name__)
                span.end()
            raise
        finally:
            waiter.unlisten(msg_id)
        if span is not None:
            span.end()
        return result


class RPCClient(_CallContext):
    """``RPCClient(transport, target, version_cap=, serializer=, timeout=, code_location=)``.

    *code_location* (e.g. ``nova/conductor/rpcapi.py:ComputeTaskAPI``) prefixes the client
    span's ``code.location``.
    """

    def __init__(self, transport: Transport, target: Target, version_cap: str | None = None,
                 serializer: Serializer | None = None, timeout: float | None = None,
                 code_location: str | None = None,
                 call_monitor_timeout: float | None = None) -> None:
        super().__init__(transport, target, serializer or NoOpSerializer(), timeout,
                         version_cap, call_monitor_timeout, code_location)
