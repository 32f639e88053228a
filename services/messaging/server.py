"""The RPC server: consumes ``T``, ``T.H`` and ``T_fanout_<uuid>``, dispatches in a pool.

Per message (the worker currently draining the connection): parse, walkthrough gate
``hold``, ack, drop duplicates; then that worker hands the connection to another worker
and processes the message itself: span, dispatch, heartbeats for a call-monitored call,
reply. The server keeps serving whatever it is sent, and reconnects (redeclaring its
queues) when the broker goes away and comes back.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import kombu

from services.messaging import gate, wire
from services.messaging.dispatcher import RPCDispatcher
from services.messaging.exceptions import ExpectedException, MessagingException
from services.messaging.serializer import Serializer
from services.messaging.target import Target
from services.messaging.transport import DRAIN_TIMEOUT, Transport, release, rpc_queue
from tracer.instrument import api as trace
from tracer.instrument.redact import redact_json

LOG = logging.getLogger(__name__)
IDLE_WORKERS = 2      # idle worker threads kept; more retire after DRAIN_TIMEOUT
INLINE_STALL = 0.01   # a leader running one message this long gets a follower promoted
WATCH_LINGER = 2.0    # the stall watch ticks while there was traffic this recently
RECONNECT_DELAY = 1.0  # between attempts to reopen a lost consumer connection
START_CONNECT_TIMEOUT = 60.0  # how long start() keeps trying a broker that is away


class _Incoming:
    """One received message, unpacked; what the pool worker needs."""

    __slots__ = ("msg", "envelope", "ctxt", "msg_id", "unique_id", "reply_q",
                 "client_timeout", "headers", "exchange", "routing_key", "size")

    def __init__(self, msg: dict[str, Any], message: Any) -> None:
        """*msg* passed ``wire.check_ids``: ids are strings, a call has a reply queue."""
        self.msg = msg
        self.envelope = dict(msg)  # as received, before the pops below (for the span)
        self.msg_id: str | None = msg.pop("_msg_id", None) or None
        self.unique_id: str | None = msg.get("_unique_id") or None
        self.reply_q: str | None = msg.pop("_reply_q", None)
        self.client_timeout: Any = msg.pop("_timeout", None)
        self.ctxt = wire.unpack_context(msg)
        headers = message.headers
        self.headers = headers if isinstance(headers, dict) else {}
        info = message.delivery_info or {}
        self.exchange = info.get("exchange", "")
        self.routing_key = info.get("routing_key", "")
        self.size = len(message.body)

    @property
    def style(self) -> str:
        if self.msg_id:
            return "call"
        return "fanout" if self.exchange.endswith("_fanout") else "cast"


class RPCServer:
    """``start()`` declares and consumes; ``stop()`` stops consuming; ``wait()`` drains."""

    def __init__(self, transport: Transport, target: Target, endpoints: list[Any],
                 serializer: Serializer | None = None, service: str | None = None,
                 host: str | None = None, executor_size: int | None = None) -> None:
        if not target.topic or not target.server:
            raise ValueError("an RPC server needs a target with topic and server")
        self.transport = transport
        self.target = target
        self.dispatcher = RPCDispatcher(endpoints, serializer)
        self.service = service
        self.host = host or target.server
        self._executor_size = executor_size or transport.executor_size
        self._started = False
        self._stopping = threading.Event()
        self._lead_lock = threading.Lock()    # held by the thread draining _conn
        self._count_lock = threading.Lock()   # _followers, _threads
        self._threads: set[threading.Thread] = set()
        self._followers = 0  # workers waiting for a promotion
        self._tickets = threading.Semaphore(0)  # promotions handed out by the stall watch
        self._inline: tuple[float, threading.Thread] | None = None  # leader running a msg
        self._spawned = 0
        self._conn: kombu.Connection | None = None
        self._next_connect = 0.0
        self._batch: list[_Incoming] = []
        self._dups = wire.MsgIdCache()
        # what _on_message did (updated by the leader only); the fuzz tests report them
        self.stats = {"received": 0, "acked": 0, "rejected": 0, "duplicates": 0}
        self.fanout_queue = f"{target.topic}_fanout_{wire.new_id()}"

    # -- lifecycle -------------------------------------------------------------------
    def _queues(self) -> list[kombu.Queue]:
        t = self.target
        topic_x = kombu.Exchange(t.exchange or self.transport.control_exchange, type="topic",
                                 durable=False, auto_delete=False)
        fanout_x = kombu.Exchange(f"{t.topic}_fanout", type="fanout", durable=False,
                                  auto_delete=True)
        topic = str(t.topic)   # an RPC server's target always names its topic
        return [   # the topic queues as publishers declare them too (transport.rpc_queue)
            rpc_queue(topic, topic_x),
            rpc_queue(f"{t.topic}.{t.server}", topic_x),
            kombu.Queue(self.fanout_queue, fanout_x, routing_key=t.topic, durable=False,
                        auto_delete=False,
                        queue_arguments={"x-expires": wire.TRANSIENT_QUEUE_TTL_MS}),
        ]

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._stopping.clear()
        self._connect_at_start()  # declared and consuming before start() returns
        _WATCH.add(self)
        for _ in range(IDLE_WORKERS):
            self._spawn()

    def stop(self) -> None:
        """Stop consuming: no message is taken after this returns (in-flight ones run)."""
        if not self._started:
            return
        self._started = False
        self._stopping.set()
        _WATCH.discard(self)
        if self._lead_lock.acquire(timeout=5):  # the leader leaves drain within 0.25 s
            try:
                self._close()
            finally:
                self._lead_lock.release()

    def wait(self) -> None:
        """Wait for the messages already taken to be processed."""
        while True:
            with self._count_lock:
                threads = list(self._threads)
            threads = [t for t in threads if t is not threading.current_thread()]
            if not threads:
                return
            for t in threads:
                t.join()
            with self._count_lock:
                self._threads -= set(threads)

    def _connect_at_start(self) -> None:
        """Like oslo.messaging, a broker that is away at start-up is retried (logged),
        not fatal: a service started during a network blip comes up when it clears."""
        deadline = time.monotonic() + START_CONNECT_TIMEOUT
        delay = 0.2
        while True:
            try:
                self._connect()
                return
            except Exception as exc:  # kombu/socket errors alike
                if time.monotonic() + delay > deadline:
                    self._started = False
                    raise MessagingException(
                        f"cannot consume {self.target.topic!r} on the broker after "
                        f"{START_CONNECT_TIMEOUT:g} s: {exc}") from exc
                LOG.warning("broker unreachable while starting the %s server (%s); "
                            "trying again in %.1f s", self.target.topic, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    # -- the connection (used only by the thread holding _lead_lock) ----------------
    def _connect(self) -> None:
        self._conn = self.transport.consume(self._queues(), self._on_message, no_ack=False)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            release(conn)

    # -- leader/follower pool ----------------------------------------------------------
    # One worker at a time holds _lead_lock and drains the connection. The leader that
    # receives a message releases the lock and runs the message itself, then takes the
    # lock back and drains on. Nobody else is woken for that: followers wait for a
    # *promotion*, which the process's stall watch hands out only when a leader has been
    # running one message for INLINE_STALL. So a quick request is served by the thread
    # that read it from the socket with no thread hand-off, and a long call still never
    # keeps the server from consuming for more than ~2 * INLINE_STALL.
    def _spawn(self) -> None:
        """One more worker, a follower (caller holds no lock); at most executor_size."""
        with self._count_lock:
            if len(self._threads) >= self._executor_size or self._stopping.is_set():
                return
            n = self._spawned = self._spawned + 1
            t = threading.Thread(target=self._worker, daemon=True,
                                 name=f"rpc-{self.target.topic}.{self.target.server}-{n}")
            self._threads.add(t)
        t.start()

    def _worker(self) -> None:
        me = threading.current_thread()
        leading = False  # we hold _lead_lock
        try:
            while not self._stopping.is_set():
                if not leading:
                    taken = self._follow()
                    if taken is None:
                        return  # retired
                    leading = taken
                    if not leading:
                        continue
                batch: list[_Incoming] = []
                try:
                    if self._stopping.is_set():
                        break
                    self._lead_once()
                    batch, self._batch = self._batch, []
                finally:
                    if batch or self._stopping.is_set():
                        self._lead_lock.release()
                        leading = False
                if not batch:
                    continue
                self._inline = (time.monotonic(), me)
                _WATCH.active(self)
                try:
                    for inc in batch:
                        self._process(inc)
                finally:
                    if self._inline is not None and self._inline[1] is me:
                        self._inline = None
                # carry on leading if nobody was promoted meanwhile, else follow
                leading = self._lead_lock.acquire(blocking=False)
        finally:
            if leading:
                self._lead_lock.release()
            with self._count_lock:
                self._threads.discard(me)

    def _follow(self) -> bool | None:
        """Take a free lead, or wait for a promotion. True: we lead now; False: try again;
        None: retire (an idle follower beyond the one we keep)."""
        if self._lead_lock.acquire(blocking=False):
            return True
        with self._count_lock:
            self._followers += 1
        promoted = self._tickets.acquire(timeout=DRAIN_TIMEOUT)
        with self._count_lock:
            self._followers -= 1
            if not promoted and self._followers >= IDLE_WORKERS - 1:
                self._threads.discard(threading.current_thread())
                return None
        if promoted:
            return self._lead_lock.acquire(timeout=DRAIN_TIMEOUT)
        return False

    def _promote(self) -> None:
        """The leader is stuck in a long message: a follower takes the connection."""
        inline = self._inline
        if inline is None:
            return
        self._inline = None  # one promotion per stall
        with self._count_lock:
            spare = self._followers > 0
        if not spare:
            self._spawn()
        self._tickets.release()

    def _lead_once(self) -> None:
        """Drain one event; on a lost connection reconnect (queues redeclared)."""
        if self._conn is None:
            if time.monotonic() < self._next_connect:
                time.sleep(min(DRAIN_TIMEOUT, self._next_connect - time.monotonic()))
                return
            try:
                self._connect()
                LOG.info("%s: reconnected", self.target.topic)
            except Exception as e:  # broker still away
                LOG.warning("%s: reconnect failed (%s)", self.target.topic, e)
                self._next_connect = time.monotonic() + RECONNECT_DELAY
            return
        try:
            self._conn.drain_events(timeout=DRAIN_TIMEOUT)
        except TimeoutError:
            pass
        except Exception as e:
            if self._stopping.is_set():
                return
            LOG.warning("%s: consumer connection lost (%s); reconnecting",
                        self.target.topic, e)
            self._close()
            self._next_connect = time.monotonic() + RECONNECT_DELAY / 5

    # -- the leader, inside drain_events -----------------------------------------------
    def _on_message(self, message: Any) -> None:
        """Take one delivery. Never raises: an exception here would unwind kombu's drain,
        drop the connection and have the broker redeliver the message to the next
        consumer (a poison message halting the queue). What cannot be decoded or made
        ready for dispatch is rejected (``basic.reject``, not requeued, as oslo's
        ``_callback`` does) and logged once with its ids; everything else is acked
        before it runs (as oslo does), and a redelivered duplicate is dropped."""
        self.stats["received"] += 1
        try:
            inc = self._take(message)
        except Exception as e:  # whatever the body provokes
            self._refuse(message, e)
            return
        try:
            message.ack()
        except Exception as e:  # connection lost: drain_events will say so
            LOG.warning("%s: cannot ack message %s, not processing it (%s)",
                        self.target.topic, inc.msg_id or inc.unique_id, e)
            return
        self.stats["acked"] += 1
        if self._dups.seen(inc.unique_id or inc.msg_id):
            self.stats["duplicates"] += 1
            LOG.warning("%s: duplicate message %s dropped", self.target.topic,
                        inc.unique_id or inc.msg_id)
            return
        self._batch.append(inc)

    def _take(self, message: Any) -> _Incoming:
        """Decode and check a delivery (BadMessage or anything else: refuse it), then
        hold it at the walkthrough gate (a failing gate lets it through, logged: the
        message is good, only the walkthrough missed a step)."""
        msg, _inner_json = wire.unpack(message.body)
        wire.check_ids(msg)
        inc = _Incoming(msg, message)
        g = gate.get_gate()
        if g is not None:
            try:
                g.hold(self._hop(inc))
            except Exception:
                LOG.exception("%s: the walkthrough gate failed on message %s",
                              self.target.topic, inc.msg_id or inc.unique_id)
        return inc

    def _refuse(self, message: Any, error: BaseException) -> None:
        """Reject *message* without requeueing it and say so once, with its ids."""
        try:
            body = message.body
            ids = wire.ids_in(body)
            size = len(body)
        except Exception:
            ids, size = "no message id", -1
        reason = str(error) if isinstance(error, wire.BadMessage) else (
            f"{type(error).__name__}: {error}")
        LOG.error("%s: rejected a message that cannot be dispatched (%s, %d bytes): %s",
                  self.target.topic, ids, size, reason[:300])
        try:
            if not message.acknowledged:
                message.reject(requeue=False)
                self.stats["rejected"] += 1
        except Exception as e:  # connection lost: drain_events will say so
            LOG.warning("%s: cannot reject a message (%s)", self.target.topic, e)

    def _hop(self, inc: _Incoming) -> dict[str, Any]:
        parent = trace.extract(inc.headers)
        return {
            "method": inc.msg.get("method"), "style": inc.style, "topic": self.target.topic,
            "server": self.target.server, "namespace": inc.msg.get("namespace"),
            "version": inc.msg.get("version", "1.0"), "msg_id": inc.msg_id,
            "unique_id": inc.msg.get("_unique_id"),
            "trace_id": parent.trace_id if parent else None,
            "parent_span_id": parent.span_id if parent else None,
            "exchange": inc.exchange, "routing_key": inc.routing_key,
            "service": self.service, "host": self.host,
        }

    # -- pool ------------------------------------------------------------------------
    def _process(self, inc: _Incoming) -> None:
        try:
            if self.service is not None:
                with trace.identity(self.service, self.host):
                    self._dispatch(inc)
            else:
                self._dispatch(inc)
        except Exception:  # a worker must never die silently
            LOG.exception("%s: failed to process a message", self.target.topic)

    def _span(self, inc: _Incoming, method: Any, endpoint: Any) -> trace.Span | None:
        if not trace.enabled():
            return None
        parent = trace.extract(inc.headers)
        kind = "SERVER" if inc.msg_id else "CONSUMER"
        attrs: dict[str, Any] = {
            "rpc.system": "oslo.messaging", "rpc.method": _attr(method),
            "rpc.style": inc.style, "rpc.version": _attr(inc.msg.get("version", "1.0")),
            "messaging.destination.name": inc.exchange,
            "messaging.rabbitmq.destination.routing_key": inc.routing_key,
            "messaging.message.id": inc.msg_id or inc.msg.get("_unique_id"),
            "rpc.topic": self.target.topic, "rpc.server": self.target.server,
            "messaging.message.body.size": inc.size,
        }
        if inc.msg.get("namespace") is not None:
            attrs["rpc.namespace"] = _attr(inc.msg["namespace"])
        if inc.msg_id:
            attrs["rpc.reply_q"] = inc.reply_q
            attrs["rpc.timeout"] = _attr(inc.client_timeout)
        location = getattr(endpoint, "STEIN_LOCATION", None)
        if location:
            attrs["code.location"] = f"{location}.{method}"  # a method the endpoint has
        worker = trace.worker()
        if worker is not None:   # one of [conductor] workers: which process took it
            attrs["bootflow.worker"] = worker
            attrs["process.pid"] = os.getpid()
        if parent is None:
            # A traced sender put the same message in its client span already; record it
            # here only for a sender that traces nothing (plain oslo.messaging).
            attrs["bootflow.envelope"] = redact_json(inc.envelope)
        links = (parent,) if parent is not None and kind == "CONSUMER" else ()
        return trace.start_span(_attr(method), kind, attrs, parent=parent, links=links,
                                service=self.service, host=self.host)

    def _dispatch(self, inc: _Incoming) -> None:
        msg = inc.msg
        method = str(msg.get("method") or "")  # "" is no method: NoSuchMethod
        endpoint: Any = None
        failure: BaseException | None = None
        result: Any = None
        lookup_error: BaseException | None = None
        try:
            endpoint = self.dispatcher.find(method, msg.get("namespace"),
                                            msg.get("version", "1.0"))
        except Exception as e:  # NoSuchMethod / UnsupportedVersion
            lookup_error = e
        try:
            span = self._span(inc, method, endpoint)
        except Exception:  # tracing must not cost the caller its reply
            LOG.exception("%s: cannot trace message %s", self.target.topic,
                          inc.msg_id or inc.unique_id)
            span = None
        done: threading.Event | None = None
        watchdog = None
        if inc.msg_id and inc.client_timeout:
            done = threading.Event()
            watchdog = self._start_watchdog(inc, done, span)
        try:
            if lookup_error is not None:
                raise lookup_error
            if span is None:  # tracing off: no context to install
                result = self.dispatcher.invoke(endpoint, method, inc.ctxt,
                                                msg.get("args") or {})
            else:
                with trace.use(span.context):
                    result = self.dispatcher.invoke(endpoint, method, inc.ctxt,
                                                    msg.get("args") or {})
        except ExpectedException as e:
            failure = e.exc_info[1]
            LOG.debug("Expected exception during message handling (%s)", failure)
        except Exception as e:
            failure = e
            if lookup_error is not None:
                LOG.error("%s: refused %s: %s", self.target.topic, method, e)
            else:
                LOG.exception("Exception during message handling")
        finally:
            if done is not None:
                done.set()
            if watchdog is not None:
                watchdog.join()
        if span is not None:  # ended before the reply: the caller may wake at once
            if failure is not None:
                span.set_status("ERROR", f"{type(failure).__name__}: {failure}")
                span.set_attr("exception.type", type(failure).__name__)
            span.end()
        if inc.msg_id:
            self._reply(inc, result, failure, span)

    def _start_watchdog(self, inc: _Incoming, done: threading.Event,
                        span: trace.Span | None = None) -> threading.Thread | None:
        """Heartbeat replies (``ending: false``) every ``_timeout/2`` s while it runs.

        ``_timeout`` comes from the wire: ``wire.heartbeat_interval`` turns any value
        into a period a wait can hold, or None (logged, as oslo does, no heartbeat), and
        the thread catches everything, so no value of it can kill the thread.
        """
        interval = wire.heartbeat_interval(inc.client_timeout)
        if interval is None:
            LOG.warning("Client provided an invalid timeout value of %.80r",
                        inc.client_timeout)
            return None

        def beat() -> None:
            try:
                while not done.wait(interval):
                    try:
                        self._send_reply(inc, None, None, ending=False, span=span)
                    except Exception:
                        LOG.exception("heartbeat for %s failed", inc.msg_id)
            except Exception:  # never a dead thread
                LOG.exception("heartbeat for %s stopped", inc.msg_id)

        thread = threading.Thread(target=beat, name=f"heartbeat-{inc.msg_id}", daemon=True)
        thread.start()
        return thread

    def _reply(self, inc: _Incoming, result: Any, failure: BaseException | None,
               span: trace.Span | None = None) -> None:
        try:
            try:
                self._send_reply(inc, result, failure, span=span)
            except (TypeError, ValueError) as e:  # result not JSON-able: send that instead
                self._send_reply(inc, None, e, span=span)
        except Exception:
            LOG.exception("Can not send reply for message %s", inc.msg_id)

    def _send_reply(self, inc: _Incoming, result: Any, failure: BaseException | None,
                    ending: bool = True, span: trace.Span | None = None) -> None:
        """The reply (``ending: true``) or a call-monitor heartbeat (``ending: false``),
        to the caller's ``_reply_q`` on the default exchange; recorded on the handler's
        span as an ``rpc.reply`` / ``rpc.heartbeat`` event with the message as sent."""
        reply = {"result": result,
                 "failure": wire.serialize_failure(failure) if failure is not None else None,
                 "ending": ending, "_msg_id": inc.msg_id, "_unique_id": wire.new_id()}
        body = wire.pack(reply)
        if span is not None:   # recorded as it leaves: before the caller can wake on it
            span.annotate("rpc.reply" if ending else "rpc.heartbeat", {
                "messaging.message.id": _attr(inc.msg_id),
                "messaging.destination.name": "",
                "messaging.rabbitmq.destination.routing_key": _attr(inc.reply_q),
                "messaging.message.body.size": len(body),
                "rpc.reply.ending": ending,
                "rpc.reply.failure": (type(failure).__name__ if failure is not None
                                      else None),
                "bootflow.envelope": redact_json(reply, default=repr)})
        self.transport.publish("", inc.reply_q or "", body, declare=False, mandatory=True)


def _attr(value: Any, limit: int = 255) -> Any:
    """A span attribute from a wire value: scalars as they are (long strings cut), any
    other value (a list, a dict, Infinity) as its short repr."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and -2**63 <= value < 2**63:
        return value
    if isinstance(value, float) and value - value == 0:  # finite
        return value
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _StallWatch:
    """One thread per process. While RPC servers are busy (and for WATCH_LINGER after)
    it looks every INLINE_STALL at each server whose leader is running a message and
    promotes a follower when that has lasted INLINE_STALL; with no traffic it sleeps.
    Ticking instead of being told about each message keeps the per-message path free of
    thread wake-ups."""

    def __init__(self) -> None:
        self._servers: set[RPCServer] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._last = 0.0
        self._thread: threading.Thread | None = None

    def add(self, server: RPCServer) -> None:
        with self._lock:
            self._servers.add(server)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="rpc-stall-watch",
                                                daemon=True)
                self._thread.start()

    def discard(self, server: RPCServer) -> None:
        with self._lock:
            self._servers.discard(server)

    def active(self, server: RPCServer) -> None:
        self._last = time.monotonic()
        if not self._wake.is_set():  # only after a quiet spell: a wake-up
            self._wake.set()

    def _run(self) -> None:
        while True:
            if time.monotonic() - self._last > WATCH_LINGER:
                self._wake.clear()
                if time.monotonic() - self._last > WATCH_LINGER:
                    self._wake.wait()
            time.sleep(INLINE_STALL)
            now = time.monotonic()
            with self._lock:
                servers = list(self._servers)
            for server in servers:
                inline = server._inline
                if inline is not None and now - inline[0] >= INLINE_STALL:
                    try:
                        server._promote()
                    except Exception:  # the watch must not die
                        LOG.exception("stall watch: promoting a follower failed")


_WATCH = _StallWatch()


def get_rpc_server(transport: Transport, target: Target, endpoints: list[Any],
                   serializer: Serializer | None = None, service: str | None = None,
                   host: str | None = None, executor_size: int | None = None) -> RPCServer:
    """An RPC server; *service*/*host* name who emits its spans."""
    return RPCServer(transport, target, endpoints, serializer, service, host, executor_size)
