"""The caller's side of a call: one reply queue per transport, one consumer thread
handing each reply to the waiting caller by ``_msg_id``."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import kombu

from services.messaging import gate, wire
from services.messaging.exceptions import MessagingTimeout
from services.messaging.transport import ConsumerThread, Transport

LOG = logging.getLogger(__name__)
GATE_SLICE = 0.2  # while a gate is set, wait in slices to notice a held clock


class ReplyWaiter:
    """``reply_<uuid hex>`` on the default exchange; replies routed to per-call queues."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.reply_q = "reply_" + wire.new_id()
        self._waiters: dict[str, queue.SimpleQueue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._dups = wire.MsgIdCache()
        self._thread = ConsumerThread(transport, f"reply-{self.reply_q[6:14]}",
                                      self._queues, self._on_message)
        self._thread.start()

    def _queues(self) -> list[kombu.Queue]:
        return [kombu.Queue(self.reply_q, durable=False, auto_delete=False,
                            queue_arguments={"x-expires": wire.TRANSIENT_QUEUE_TTL_MS})]

    def _on_message(self, message: Any) -> None:
        message.ack()
        try:
            data, _ = wire.unpack(message.body)
        except wire.BadMessage as e:
            LOG.warning("reply queue %s: dropping a bad reply: %s", self.reply_q, e)
            return
        if self._dups.seen(data.get("_unique_id")):
            LOG.info("reply queue %s: duplicate reply dropped", self.reply_q)
            return
        msg_id = data.pop("_msg_id", None)
        waiter = self._waiters.get(msg_id) if msg_id else None
        if waiter is None:
            LOG.info("No calling threads waiting for msg_id : %s", msg_id)
            return
        waiter.put(data)

    def listen(self, msg_id: str) -> None:
        self._waiters[msg_id] = queue.SimpleQueue()

    def unlisten(self, msg_id: str) -> None:
        self._waiters.pop(msg_id, None)

    def wait(self, msg_id: str, timeout: float, call_monitor_timeout: float | None) -> dict:
        """The final reply (``ending`` true); heartbeats renew the call-monitor deadline.

        While the walkthrough gate holds the clock, neither deadline runs out.
        """
        q = self._waiters[msg_id]
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
                data = q.get(timeout=remaining)
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
        self._thread.stop()
