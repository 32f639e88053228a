"""The walkthrough gate: a server holds each incoming message until the learner steps on.

The server calls ``hold(hop)`` before acking and dispatching a message (the broker keeps
it meanwhile). Callers do not time out while ``clock_held()`` is true. ``ControlGate`` is
the service side over the topic exchange ``bootflow.control``; ``GateController`` is the
TUI side. Events (JSON): ``pending`` {hop_id, hop}, ``released`` {hop_id}, ``release``
{hop_id}, ``free`` (gate off: all pass), ``on`` (gate on again), ``sync`` (re-announce).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import kombu

from services.messaging import wire

LOG = logging.getLogger(__name__)
CONTROL_EXCHANGE = "bootflow.control"


@runtime_checkable
class Gate(Protocol):
    def hold(self, hop: dict[str, Any]) -> None: ...
    def clock_held(self) -> bool: ...


class _CallableGate:
    """Adapts a plain ``gate(hop)`` callable (ARCHITECTURE.md's first form)."""

    def __init__(self, fn: Callable[[dict[str, Any]], Any]) -> None:
        self._fn = fn
        self._held = 0
        self._lock = threading.Lock()

    def hold(self, hop: dict[str, Any]) -> None:
        with self._lock:
            self._held += 1
        try:
            self._fn(hop)
        finally:
            with self._lock:
                self._held -= 1

    def clock_held(self) -> bool:
        return self._held > 0


_gate: Gate | None = None


def set_gate(g: Gate | Callable[[dict[str, Any]], Any] | None) -> None:
    """Install the process-wide gate (``None``: messages pass straight through)."""
    global _gate
    if g is not None and not isinstance(g, Gate):
        g = _CallableGate(g)
    _gate = g


def get_gate() -> Gate | None:
    return _gate


class _ControlBus:
    """A private queue bound to every event on ``bootflow.control``, plus a publisher."""

    def __init__(self, transport_url: str, on_event: Callable[[dict[str, Any]], None],
                 name: str) -> None:
        from services.messaging.transport import ConsumerThread, get_transport

        self.transport = get_transport(transport_url, control_exchange=CONTROL_EXCHANGE)
        self._on_event = on_event
        exchange = kombu.Exchange(CONTROL_EXCHANGE, type="topic", durable=False)
        qname = f"{CONTROL_EXCHANGE}.{name}.{wire.new_id()[:12]}"
        self._thread = ConsumerThread(
            self.transport, f"gate-{name}",
            lambda: [kombu.Queue(qname, exchange, routing_key="#", durable=False,
                                 auto_delete=True)],
            self._on_message)
        self._thread.start()

    def _on_message(self, message: Any) -> None:
        """Never raises (that would cost the bus its connection): a control message that
        cannot be decoded or handled is logged and dropped (it is acked already)."""
        message.ack()
        try:
            body = message.body
            if len(body) > wire.MAX_BODY_BYTES or wire.json_depth(
                    body.decode() if isinstance(body, bytes) else body) > wire.MAX_DEPTH:
                raise ValueError("too large or too deeply nested")
            event = json.loads(body)
        except Exception as e:  # any body (RecursionError, bad UTF-8, ...)
            LOG.warning("gate: ignoring a control message that is not JSON (%s)", e)
            return
        if isinstance(event, dict):
            try:
                self._on_event(event)
            except Exception:
                LOG.exception("gate: a control message could not be handled")

    def send(self, event: dict[str, Any]) -> None:
        self.transport.publish(CONTROL_EXCHANGE, str(event.get("event")), json.dumps(event))

    def close(self) -> None:
        self._thread.stop()
        self.transport.cleanup()


class ControlGate:
    """Service side: announce each hop as pending, block until released (or gate off)."""

    def __init__(self, transport_url: str, enabled: bool = True) -> None:
        self._cond = threading.Condition()
        self._enabled = enabled
        self._held: dict[str, dict[str, Any]] = {}  # held here
        self._pending_anywhere: set[str] = set()
        self._released: set[str] = set()
        self._bus = _ControlBus(transport_url, self._on_event, "gate")

    def _on_event(self, event: dict[str, Any]) -> None:
        kind, hop_id = event.get("event"), event.get("hop_id")
        with self._cond:
            if kind == "pending" and hop_id:
                self._pending_anywhere.add(hop_id)
            elif kind == "released" and hop_id:
                self._pending_anywhere.discard(hop_id)
            elif kind == "release" and hop_id in self._held:
                self._released.add(hop_id)
            elif kind == "free":
                self._enabled = False
                self._pending_anywhere.clear()
            elif kind == "on":
                self._enabled = True
            elif kind == "sync":
                for hid, hop in self._held.items():
                    self._bus.send({"event": "pending", "hop_id": hid, "hop": hop})
            self._cond.notify_all()

    def hold(self, hop: dict[str, Any]) -> None:
        with self._cond:
            if not self._enabled:
                return
            hop_id = wire.new_id()
            self._held[hop_id] = hop
        self._bus.send({"event": "pending", "hop_id": hop_id, "hop": hop})
        with self._cond:
            while self._enabled and hop_id not in self._released:
                self._cond.wait()
            self._released.discard(hop_id)
            self._held.pop(hop_id, None)
        self._bus.send({"event": "released", "hop_id": hop_id})

    def clock_held(self) -> bool:
        with self._cond:
            return self._enabled and bool(self._pending_anywhere or self._held)

    @property
    def enabled(self) -> bool:
        """Whether hops are held now (the TUI turns it on and off over the control bus)."""
        with self._cond:
            return self._enabled

    def close(self) -> None:
        with self._cond:
            self._enabled = False
            self._cond.notify_all()
        self._bus.close()


class GateController:
    """TUI side: the list of held hops; release one, the next, or switch the gate."""

    def __init__(self, transport_url: str,
                 on_pending: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._on_pending = on_pending
        self._bus = _ControlBus(transport_url, self._on_event, "controller")
        self._bus.send({"event": "sync"})

    def _on_event(self, event: dict[str, Any]) -> None:
        kind, hop_id = event.get("event"), event.get("hop_id")
        if kind == "pending" and hop_id:
            with self._lock:
                new = hop_id not in self._pending
                self._pending[hop_id] = event.get("hop") or {}
            if new and self._on_pending is not None:
                self._on_pending(hop_id, event.get("hop") or {})
        elif kind in ("released", "release") and hop_id:
            with self._lock:
                self._pending.pop(hop_id, None)
        elif kind == "free":
            with self._lock:
                self._pending.clear()

    def pending(self) -> list[dict[str, Any]]:
        """Held hops, oldest first: ``[{"hop_id": ..., "hop": {...}}]``."""
        with self._lock:
            return [{"hop_id": k, "hop": v} for k, v in self._pending.items()]

    def release(self, hop_id: str) -> None:
        with self._lock:
            self._pending.pop(hop_id, None)
        self._bus.send({"event": "release", "hop_id": hop_id})

    def release_next(self) -> str | None:
        """Release the oldest held hop; its id, or None when nothing is held."""
        with self._lock:
            if not self._pending:
                return None
            hop_id = next(iter(self._pending))
        self.release(hop_id)
        return hop_id

    def set_enabled(self, enabled: bool) -> None:
        self._bus.send({"event": "on" if enabled else "free"})

    def close(self) -> None:
        self._bus.close()


class GateObserver:
    """Read-only view of the gate (a classroom viewer): which hops are held, whether the
    gate is on. It listens on the control bus and can only ask the services to re-announce
    what they hold (``sync``); it has no way to release a hop or switch the gate."""

    def __init__(self, transport_url: str) -> None:
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._enabled: bool | None = None  # unknown until an event says
        self._bus = _ControlBus(transport_url, self._on_event, "observer")
        self._bus.send({"event": "sync"})

    def _on_event(self, event: dict[str, Any]) -> None:
        kind, hop_id = event.get("event"), event.get("hop_id")
        with self._lock:
            if kind == "pending" and hop_id:
                self._pending[hop_id] = event.get("hop") or {}
                self._enabled = True
            elif kind in ("released", "release") and hop_id:
                self._pending.pop(hop_id, None)
            elif kind == "free":
                self._pending.clear()
                self._enabled = False
            elif kind == "on":
                self._enabled = True

    def pending(self) -> list[dict[str, Any]]:
        """Held hops, oldest first: ``[{"hop_id": ..., "hop": {...}}]``."""
        with self._lock:
            return [{"hop_id": k, "hop": v} for k, v in self._pending.items()]

    @property
    def enabled(self) -> bool | None:
        """Whether the teacher's gate holds hops (None: not known yet)."""
        with self._lock:
            return self._enabled

    def close(self) -> None:
        self._bus.close()
