"""The caller's side of a call: one reply queue per transport, drained by the callers.

Leader/follower: there is no reply-consumer thread. A caller that finds the reply
connection free takes it (before it publishes its request) and drains it itself until
its own final reply arrives, handing any other caller's reply to that caller's
``SimpleQueue``; callers that find it taken wait on their queue. A leader that is done
passes the connection on to a still-waiting caller (a ``_LEAD`` token in its queue). So
a lone caller's reply goes from the socket to the caller with no thread hand-off, and
many concurrent callers still share one connection. A broken connection is reopened
(and the queue redeclared) by whoever leads next; every caller checks it before
publishing, so a reply never races a redeclaration after a broker restart.
"""

from __future__ import annotations

import logging
import queue
import select
import socket
import threading
import time
from typing import Any

import kombu

from services.messaging import gate, wire
from services.messaging.exceptions import MessagingTimeout
from services.messaging.transport import Transport, release

LOG = logging.getLogger(__name__)
GATE_SLICE = 0.2  # while a gate is set, wait in slices to notice a held clock
FOLLOW_SLICE = 1.0  # a follower re-checks the reply connection at least this often
RECONNECT_DELAY = 0.5  # between attempts to reopen a lost reply connection
_LEAD = object()  # queue token: "the reply connection is free, take it"


class _Slot:
    """One pending call: its replies, and whether it was offered the lead."""

    __slots__ = ("q", "done", "offered")

    def __init__(self) -> None:
        self.q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.done = False      # its final reply is queued
        self.offered = False   # a _LEAD token is in q, not yet taken


class ReplyWaiter:
    """``reply_<uuid hex>`` on the default exchange; replies routed to per-call slots."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.reply_q = "reply_" + wire.new_id()
        self._waiters: dict[str, _Slot] = {}
        self._lock = threading.Lock()        # _waiters, slot flags
        self._conn_lock = threading.Lock()   # held by the leader: owns the connection
        self._dups = wire.MsgIdCache()
        self._conn: kombu.Connection | None = None
        self._next_connect = 0.0
        self._stopped = False
        try:
            self._connect()  # the queue exists before any request names it
        except Exception as e:  # broker away: check() retries before a call
            LOG.warning("reply queue %s: cannot connect yet (%s)", self.reply_q, e)

    # -- the connection (only with _conn_lock held, or in __init__) ----------------
    def _queues(self) -> list[kombu.Queue]:
        return [kombu.Queue(self.reply_q, durable=False, auto_delete=False,
                            queue_arguments={"x-expires": wire.TRANSIENT_QUEUE_TTL_MS})]

    def _connect(self) -> None:
        self._conn = self.transport.consume(self._queues(), self._on_message, no_ack=True)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            release(conn)

    def _ensure(self, budget: float) -> bool:
        """Have a live connection (reconnecting if it is known lost); False if not now."""
        if self._conn is not None:
            return True
        wait = self._next_connect - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, max(budget, 0.0)))
            if self._next_connect > time.monotonic():
                return False
        try:
            self._connect()
            LOG.info("reply queue %s: reconnected", self.reply_q)
            return True
        except Exception as e:  # broker still away
            LOG.warning("reply queue %s: reconnect failed (%s)", self.reply_q, e)
            self._next_connect = time.monotonic() + RECONNECT_DELAY
            return False

    def _drain(self, timeout: float) -> None:
        """One event (or nothing within *timeout*); a broken connection is dropped."""
        conn = self._conn
        if conn is None:
            return
        try:
            conn.drain_events(timeout=timeout)
        except TimeoutError:
            return
        except Exception as e:
            if self._stopped:
                return
            LOG.warning("reply queue %s: connection lost (%s); reconnecting",
                        self.reply_q, e)
            self._close()
            self._next_connect = time.monotonic()

    def check(self, timeout: float) -> None:
        """Before publishing a call: if the reply connection is free, notice a dead one
        (broker restarted: the socket reads EOF) and redeclare the queue now, so the
        reply has a queue to go to; MessagingTimeout if that is impossible in *timeout*.
        One zero-timeout poll() when all is well."""
        deadline = time.monotonic() + timeout
        while True:
            if not self._conn_lock.acquire(blocking=False):
                return  # someone is draining it right now: it is alive or being fixed
            try:
                conn = self._conn
                if conn is not None:
                    sock = _socket_of(conn)
                    if sock is None or _readable(sock):
                        self._drain(0)
                if self._ensure(deadline - time.monotonic()):
                    return
            finally:
                self._conn_lock.release()
                self._offer_lead()
            if time.monotonic() >= deadline:
                raise MessagingTimeout(
                    f"reply queue {self.reply_q}: no connection to the broker")

    # -- routing ---------------------------------------------------------------------
    def _on_message(self, message: Any) -> None:
        # consumed with no_ack: a reply has exactly one reader, in this process, and an
        # ack per reply would cost a socket write on every call. Never raises: that would
        # unwind the drain and cost every waiting caller the connection.
        try:
            self._route(message)
        except Exception as e:  # whatever a reply's body provokes
            LOG.warning("reply queue %s: dropping a bad reply (%s): %s", self.reply_q,
                        _ids(message), e)

    def _route(self, message: Any) -> None:
        data, _ = wire.unpack(message.body)  # BadMessage: see _on_message
        if self._dups.seen(data.get("_unique_id")):
            LOG.info("reply queue %s: duplicate reply dropped", self.reply_q)
            return
        msg_id = data.pop("_msg_id", None)
        if not isinstance(msg_id, str):
            msg_id = None
        with self._lock:
            slot = self._waiters.get(msg_id) if msg_id else None
            if slot is not None and (data.get("failure") or data.get("ending", False)):
                slot.done = True
        if slot is None:
            LOG.info("No calling threads waiting for msg_id : %.80r", msg_id)
            return
        slot.q.put(data)

    def _offer_lead(self) -> None:
        """The connection is free: wake one caller still waiting for a reply to take it."""
        with self._lock:
            for slot in self._waiters.values():
                if slot.offered:
                    return  # already offered to someone who has not taken it yet
            for slot in self._waiters.values():
                if not slot.done:
                    slot.offered = True
                    slot.q.put(_LEAD)
                    return

    def listen(self, msg_id: str) -> None:
        with self._lock:
            self._waiters[msg_id] = _Slot()

    def unlisten(self, msg_id: str) -> None:
        with self._lock:
            slot = self._waiters.pop(msg_id, None)
        if slot is not None and slot.offered:
            self._offer_lead()  # it was offered the lead and left: pass it on

    def _get(self, slot: _Slot, timeout: float) -> Any:
        """The next reply for *slot* within *timeout*, draining the connection ourselves
        whenever it is free; raises queue.Empty."""
        deadline = time.monotonic() + timeout
        owe = False  # we took a _LEAD token and have not led since: pass it on
        try:
            while True:
                try:
                    item = slot.q.get_nowait()
                except queue.Empty:
                    item = None
                if item is _LEAD:
                    with self._lock:
                        slot.offered = False
                    owe = True
                elif item is not None:
                    return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise queue.Empty
                if self._conn_lock.acquire(blocking=False):
                    owe = False
                    try:
                        while slot.q.empty() and not self._stopped:
                            if not self._ensure(remaining):
                                break
                            self._drain(min(remaining, FOLLOW_SLICE))
                            remaining = deadline - time.monotonic()
                            if remaining <= 0:
                                break
                    finally:
                        self._conn_lock.release()
                        self._offer_lead()
                    continue
                try:
                    item = slot.q.get(timeout=min(remaining, FOLLOW_SLICE))
                except queue.Empty:
                    continue
                if item is _LEAD:
                    with self._lock:
                        slot.offered = False
                    owe = True
                    continue
                return item
        finally:
            if owe:
                self._offer_lead()

    def wait(self, msg_id: str, timeout: float,
             call_monitor_timeout: float | None) -> dict[str, Any]:
        """The final reply (``ending`` true); heartbeats renew the call-monitor deadline.

        While the walkthrough gate holds the clock, neither deadline runs out.
        """
        slot = self._waiters[msg_id]
        now = time.monotonic()
        deadline = now + timeout
        cm_deadline = now + call_monitor_timeout if call_monitor_timeout else None
        while True:
            limit = deadline if cm_deadline is None else min(deadline, cm_deadline)
            remaining = limit - time.monotonic()
            g = gate.get_gate()
            if g is not None:
                remaining = max(0.0, min(remaining, GATE_SLICE))
            try:
                if remaining <= 0:
                    raise queue.Empty
                data = self._get(slot, remaining)
            except queue.Empty:
                if g is not None and g.clock_held():
                    held = GATE_SLICE if remaining <= 0 else remaining
                    deadline += held
                    if cm_deadline is not None:
                        cm_deadline += held
                    if remaining <= 0:
                        time.sleep(GATE_SLICE)
                    continue
                if time.monotonic() < limit:
                    continue
                raise MessagingTimeout(
                    f"Timed out waiting for a reply to message ID {msg_id}.") from None
            if data.get("failure") or data.get("ending", False):
                return data
            if cm_deadline is not None:  # a call-monitor heartbeat
                cm_deadline = time.monotonic() + call_monitor_timeout  # type: ignore[operator]

    def stop(self) -> None:
        self._stopped = True
        if self._conn_lock.acquire(timeout=5):
            try:
                self._close()
            finally:
                self._conn_lock.release()


def _ids(message: Any) -> str:
    try:
        return wire.ids_in(message.body)
    except Exception:
        return "no message id"


def _socket_of(conn: kombu.Connection) -> socket.socket | None:
    """The TCP socket under a py-amqp connection (None for the memory transport)."""
    try:
        return conn.connection.transport.sock
    except AttributeError:
        return None


def _readable(sock: socket.socket) -> bool:
    """Data or EOF waiting on *sock* (or it is closed)."""
    try:
        p = select.poll()
        p.register(sock, select.POLLIN)
        return bool(p.poll(0))
    except (OSError, ValueError):
        return True
