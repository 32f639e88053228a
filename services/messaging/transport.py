"""The transport: kombu connections for one broker URL and one control exchange.

kombu connections are not thread-safe, so: one shared *publishing* connection guarded by
a lock (publishing is a socket write, the lock is held for microseconds), and one
consuming connection per RPC server, per reply queue and per gate, each used by one
thread at a time (the server's and the reply queue's by whichever thread currently
leads, see server.py and reply.py). A broken publishing connection is reopened and the
message retried for ``publish_retry_timeout`` s, then MessagingException.

A cast or call also declares its destination queue (named by the routing key, as the RPC
server declares it) before the first publish on a connection, as oslo.messaging's
notifier does (``_publish_and_creates_default_queue``): after a broker restart the
publisher may reconnect before the server has redeclared its queue, and a message
published to an exchange with no queue bound is dropped by the broker without a word.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import kombu

from services.messaging import wire
from services.messaging.exceptions import MessagingException
from tracer.instrument.broker import kombu_url

LOG = logging.getLogger(__name__)

# kombu's memory transport polls its queues. 1 s (kombu's default) makes a call take
# ~1 s; 0 spins a core per consumer. Measured here with 5 idle consumers: 1 ms -> call
# p50 1.1 ms, 10.5 % of a core idle; 2 ms -> 2.1 ms, 6.8 %; 5 ms -> 5.2 ms, 4.2 %.
# 2 ms it is; change it per transport with polling_interval=.
DEFAULT_MEMORY_POLLING_INTERVAL = 0.002
PUBLISH_RETRY_TIMEOUT = 60.0  # how long a publish retries while the broker is away
CONFIRM_TIMEOUT = 30.0  # a broker that does not confirm a publish in this long is lost
UNROUTABLE_RETRY = 0.25  # Stein's reply retry interval while the reply queue is missing
OBSOLETE_CACHE = 200  # destinations given up on (Stein: _obsolete_reply_queues, 200)
PRECONDITION_FAILED = 406  # AMQP reply code: declared before with other arguments
DRAIN_TIMEOUT = 0.25  # how often an idle consumer thread looks at its stop flag


def rpc_queue(name: str, exchange: kombu.Exchange) -> kombu.Queue:
    """The topic queue *name* bound to *exchange* by routing key *name*: what the RPC
    server consumes (``conductor``, ``compute.compute1``) and what a publisher declares
    before sending there. Both sides must declare it alike, or RabbitMQ refuses the
    second (PRECONDITION_FAILED)."""
    return kombu.Queue(name, exchange, routing_key=name, durable=False, auto_delete=False)


class Transport:
    """Owns the connections; one lazily created reply queue per transport."""

    # oslo's conf.rpc_response_timeout: what a call with timeout=None waits
    rpc_response_timeout: float = 60

    def __init__(self, url: str, control_exchange: str = "nova",
                 polling_interval: float | None = None, executor_size: int = 64,
                 allowed_remote_exmods: Iterable[str] = (),
                 publish_retry_timeout: float = PUBLISH_RETRY_TIMEOUT) -> None:
        self.url = url
        self.publish_retry_timeout = publish_retry_timeout
        self.control_exchange = control_exchange
        self.is_memory = url.startswith("memory://")
        self.executor_size = executor_size
        self.allowed_remote_exmods = tuple(wire.DEFAULT_ALLOWED_EXMODS) + tuple(
            allowed_remote_exmods)
        self._kombu_url = kombu_url(url)
        self._transport_options: dict[str, Any] = {}
        if self.is_memory:
            self._transport_options["polling_interval"] = (
                DEFAULT_MEMORY_POLLING_INTERVAL if polling_interval is None
                else polling_interval)
        self._pub_lock = threading.Lock()
        self._pub_conn: kombu.Connection | None = None
        self._pub_channel: Any = None
        self._declared: set[str] = set()   # exchanges declared on this connection
        self._declared_queues: set[str] = set()  # destination queues, likewise
        self._foreign_queues: set[str] = set()  # declared elsewhere with other arguments
        self._obsolete: dict[tuple[str, str], None] = {}  # gave up: no queue there
        self._returned: str | None = None  # set by basic.return during a publish
        # oslo.messaging publishes with confirms (impl_rabbit: confirm_publish=True):
        # without them a publish into a dying socket "succeeds" and the message is gone
        self.confirms = not self.is_memory
        self._pub_options = dict(self._transport_options)
        if self.confirms:
            self._pub_options["confirm_publish"] = True
        self._reply_lock = threading.Lock()
        self._reply_waiter: Any = None

    # -- connections -------------------------------------------------------------
    def connection(self) -> kombu.Connection:
        """A new connection, for a thread that will own it."""
        return kombu.Connection(self._kombu_url, transport_options=self._transport_options)

    def consume(self, queues: list[kombu.Queue], on_message: Callable[[Any], None], *,
                no_ack: bool) -> kombu.Connection:
        """A new connection (one attempt) consuming *queues*; released if any step fails."""
        conn = self.connection()
        try:
            conn.ensure_connection(max_retries=1, interval_start=0.1, interval_step=0.1)
            consumer = kombu.Consumer(conn.channel(), queues=queues, on_message=on_message,
                                      no_ack=no_ack)
            consumer.consume()
        except BaseException:
            release(conn)
            raise
        return conn

    def _channel(self) -> Any:
        if self._pub_channel is None:
            conn = kombu.Connection(self._kombu_url, transport_options=self._pub_options)
            try:
                conn.ensure_connection(max_retries=1, interval_start=0.1,
                                       interval_step=0.1)
                channel: Any = conn.default_channel
                if self.confirms:  # an unroutable mandatory message comes back here
                    channel.events["basic_return"].add(self._on_return)
            except BaseException:
                release(conn)
                raise
            self._pub_conn = conn
            self._pub_channel = channel
            self._declared.clear()
            self._declared_queues.clear()
        return self._pub_channel

    def _on_return(self, exc: Exception, exchange: str, routing_key: str,
                   message: Any) -> None:
        """basic.return (in the publishing thread, before the confirm of that message)."""
        self._returned = f"{exc}"

    def _reset_publisher(self, abandon: bool = False) -> None:
        """Drop the publishing connection; a failed one is *abandoned* (its socket
        closed without the AMQP close handshake, which a frozen broker never answers,
        and this runs under ``_pub_lock``)."""
        conn, self._pub_conn, self._pub_channel = self._pub_conn, None, None
        self._declared.clear()
        self._declared_queues.clear()
        if conn is not None:
            if abandon:
                abandon_connection(conn)
            else:
                release(conn)

    def publish(self, exchange: str, routing_key: str, body: str, *,
                exchange_type: str = "topic", declare: bool = True,
                declare_always: bool = False, headers: dict[str, Any] | None = None,
                expiration: float | None = None, mandatory: bool = False,
                retry_for: float | None = None, declare_queue: bool = False) -> None:
        """Publish one oslo message and wait for the broker's confirm; on a broken
        connection reconnect and retry.

        The topic exchange is declared once per connection; an auto-delete fanout
        exchange is declared on every publish (it may have vanished meanwhile). With
        *declare_queue* the queue named *routing_key* is declared (``rpc_queue``) once per
        connection too, so a message sent right after a broker restart waits there for
        its server instead of being dropped (see the module doc). While the
        broker is away it retries (backing off 0.1 s .. 1 s) for *retry_for* seconds
        (default ``publish_retry_timeout``), then raises MessagingException: a message is
        never dropped silently.

        On RabbitMQ every publish waits for the broker's confirm, as oslo.messaging's
        connections do (``confirm_publish``). A *mandatory* message that no queue takes
        comes back (basic.return): it is published again every 0.25 s for *retry_for*
        seconds, as Stein's reply does while the reply queue is missing
        (``missing_destination_retry_timeout``), since the queue may be being redeclared
        after a broker restart; then MessagingException, and later messages to that
        destination fail at once (Stein's obsolete reply queues).
        """
        props: dict[str, Any] = {"delivery_mode": wire.DELIVERY_MODE}
        if expiration is not None:
            props["expiration"] = str(int(expiration * 1000))
        budget = self.publish_retry_timeout if retry_for is None else retry_for
        destination = (exchange, routing_key)
        if mandatory and not exchange and not routing_key:
            raise MessagingException("no queue to send to (empty routing key)")
        if mandatory and destination in self._obsolete:
            raise MessagingException(
                f"no queue for routing key {routing_key!r} on exchange {exchange!r} "
                f"(gave up on it before)")
        deadline: float | None = None
        delay = 0.1
        attempt = 0
        while True:
            attempt += 1
            unroutable_wait: float | None = None
            with self._pub_lock:
                try:
                    channel = self._channel()
                    if declare and exchange and (declare_always
                                                 or exchange not in self._declared):
                        kombu.Exchange(exchange, type=exchange_type, durable=False,
                                       auto_delete=exchange_type == "fanout"
                                       )(channel).declare()
                        self._declared.add(exchange)
                    if declare_queue and exchange and \
                            routing_key not in self._declared_queues:
                        self._declare_queue(channel, exchange, exchange_type, routing_key)
                        channel = self._channel()
                    msg = channel.prepare_message(
                        body, None, wire.CONTENT_TYPE, wire.CONTENT_ENCODING,
                        headers or {}, props)
                    self._returned = None
                    if self.confirms:
                        channel.basic_publish(msg, exchange=exchange, routing_key=routing_key,
                                              mandatory=mandatory,
                                              confirm_timeout=CONFIRM_TIMEOUT)
                    else:
                        channel.basic_publish(msg, exchange=exchange, routing_key=routing_key,
                                              mandatory=mandatory)
                    returned, self._returned = self._returned, None
                    if returned is None:
                        if attempt > 1:
                            LOG.info("published to %r after %d attempts", exchange, attempt)
                        return
                except Exception as e:
                    conn = self._pub_conn
                    recoverable = conn is None or isinstance(
                        e, conn.connection_errors + conn.channel_errors + (OSError,)) or \
                        type(e).__name__ == "MessageNacked"
                    self._reset_publisher(abandon=True)
                    if not recoverable:
                        raise
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + budget
                    if attempt > 1 and now >= deadline:
                        raise MessagingException(
                            f"could not publish to exchange {exchange!r} (routing key "
                            f"{routing_key!r}) after {attempt} attempts in {budget:g} s: "
                            f"{type(e).__name__}: {e}") from e
                    LOG.warning("publish to %r failed (%s); reconnecting", exchange, e)
                else:  # confirmed, but returned unroutable: no queue (yet)
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + budget
                        LOG.info("no queue for routing key %r on exchange %r (%s); "
                                 "retrying for %g s", routing_key, exchange, returned, budget)
                    if now >= deadline:
                        self._obsolete[destination] = None
                        while len(self._obsolete) > OBSOLETE_CACHE:
                            del self._obsolete[next(iter(self._obsolete))]
                        raise MessagingException(
                            f"no queue for routing key {routing_key!r} on exchange "
                            f"{exchange!r} after {attempt} attempts in {budget:g} s "
                            f"({returned})")
                    unroutable_wait = max(0.0, min(UNROUTABLE_RETRY, deadline - now))
            if unroutable_wait is not None:  # outside the lock: others may publish
                time.sleep(unroutable_wait)
                continue
            if attempt > 1:  # the first retry is immediate (a stale connection)
                time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
                delay = min(delay * 2, 1.0)

    def _declare_queue(self, channel: Any, exchange: str, exchange_type: str,
                       name: str) -> None:
        """Declare the destination queue (caller holds ``_pub_lock``). A queue that
        exists with other arguments (declared by a server of another version) refuses:
        it exists, which is all a publisher needs, so note it and go on."""
        if name in self._foreign_queues:
            self._declared_queues.add(name)
            return
        x = kombu.Exchange(exchange, type=exchange_type, durable=False, auto_delete=False)
        try:
            rpc_queue(name, x)(channel).declare()
        except Exception as e:
            if getattr(e, "reply_code", None) != PRECONDITION_FAILED:
                raise
            LOG.warning("queue %r exists with other arguments (%s); publishing anyway",
                        name, e)
            self._foreign_queues.add(name)
            self._reset_publisher()  # the broker closed the channel
            return
        self._declared_queues.add(name)

    # -- replies -------------------------------------------------------------------
    def reply_waiter(self, factory: Callable[[Transport], Any]) -> Any:
        """The transport's one reply queue and consumer thread, made by *factory* on first
        call (``reply.ReplyWaiter``: the reply layer sits above the transport)."""
        waiter = self._reply_waiter
        if waiter is not None:
            return waiter
        with self._reply_lock:
            if self._reply_waiter is None:
                self._reply_waiter = factory(self)
            return self._reply_waiter

    def cleanup(self) -> None:
        """Stop the reply consumer and close the publishing connection."""
        with self._reply_lock:
            if self._reply_waiter is not None:
                self._reply_waiter.stop()
                self._reply_waiter = None
        with self._pub_lock:
            self._reset_publisher()


def release(conn: kombu.Connection) -> None:
    """Release *conn*, ignoring the errors of one already broken."""
    try:
        conn.release()
    except Exception:  # already broken
        pass


def abandon_connection(conn: kombu.Connection) -> None:
    """Close *conn*'s socket without the AMQP close handshake (a broken or frozen
    broker would never answer it)."""
    try:
        conn.collect()
    except Exception:  # already broken
        pass


def get_transport(url: str, control_exchange: str = "nova", **kwargs: Any) -> Transport:
    """``memory://`` or ``rabbit://user:pw@host:port/``; control_exchange as Nova sets it."""
    if not (url.startswith("memory://") or url.startswith("rabbit://")
            or url.startswith("amqp://")):
        raise ValueError(f"unsupported transport URL {url!r}")
    return Transport(url, control_exchange, **kwargs)


OnMessage = Callable[[Any], None]


class ConsumerThread(threading.Thread):
    """A thread owning one connection that consumes some queues until stopped.

    *on_message* runs in this thread with the raw kombu message (ack it here: the
    channel belongs to this thread). On a lost connection it reconnects and redeclares.
    """

    def __init__(self, transport: Transport, name: str,
                 queues: Callable[[], list[kombu.Queue]], on_message: OnMessage) -> None:
        super().__init__(name=name, daemon=True)
        self.transport = transport
        self._queues = queues
        self._on_message = on_message
        self._stop_flag = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._conn: kombu.Connection | None = None
        self._setup()

    def _setup(self) -> None:
        conn = self.transport.connection()
        conn.ensure_connection(max_retries=3)
        channel = conn.channel()
        consumer = kombu.Consumer(channel, queues=self._queues(),
                                  on_message=self._on_message, no_ack=False)
        consumer.consume()
        self._conn, self._consumer = conn, consumer

    def run(self) -> None:
        self.ready.set()
        while not self._stop_flag.is_set():
            conn = self._conn
            try:
                if conn is None:
                    self._setup()
                    continue
                conn.drain_events(timeout=DRAIN_TIMEOUT)
            except TimeoutError:
                continue
            except Exception as e:
                if self._stop_flag.is_set():
                    break
                LOG.warning("%s: consumer connection lost (%s); reconnecting", self.name, e)
                self._close()
                time.sleep(1.0)
        self._close()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            release(conn)

    def stop(self, join: bool = True) -> None:
        self._stop_flag.set()
        if join and self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=5)
