"""After a broker restart the queues are gone until their consumers come back: a message
sent meanwhile must wait for its queue, never vanish.

RabbitMQ drops a message published to an exchange with no queue bound, without a word.
Here the restart's effect on one topic is made directly (its server stopped, its queues
deleted, as a restart deletes every transient queue) on the shared broker; the topics
are unique to each test, so nobody else is touched.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import kombu
import pytest
from support.endpoints import EchoManager

from services.messaging import (
    MessagingException,
    RPCClient,
    Target,
    Transport,
    get_rpc_server,
    get_transport,
    wire,
)
from tracer.instrument.broker import kombu_url


@pytest.fixture
def transport(rabbit_url: str, control_exchange: str) -> Iterator[Transport]:
    tr = get_transport(rabbit_url, control_exchange=control_exchange)
    yield tr
    tr.cleanup()


def _delete_queues(url: str, *names: str) -> None:
    with kombu.Connection(kombu_url(url)) as conn:
        channel = conn.channel()
        for name in names:
            channel.queue_delete(name)


def test_a_cast_sent_before_its_server_redeclares_its_queue_is_delivered(
        rabbit_url: str, transport: Transport, control_exchange: str) -> None:
    """The finding: nova-api's cast retried across a restart reached the exchange before
    the conductor had redeclared its queue, and the instance stayed BUILD for good."""
    topic = f"rs_{wire.new_id()[:8]}"
    server_tr = get_transport(rabbit_url, control_exchange=control_exchange)
    m = EchoManager()
    srv = get_rpc_server(server_tr, Target(topic=topic, server="h1"), [m])
    srv.start()
    client = RPCClient(transport, Target(topic=topic, version="1.0"))
    client.cast({}, "record", value="before")
    assert m.casts.get(timeout=10) == "before"
    srv.stop()
    srv.wait()
    server_tr.cleanup()
    _delete_queues(rabbit_url, topic, f"{topic}.h1")  # what the restart did
    transport.cleanup()  # and the publisher's connection broke with it

    client.cast({}, "record", value="to the topic")
    client.prepare(server="h1").cast({}, "record", value="to the host")

    server_tr = get_transport(rabbit_url, control_exchange=control_exchange)
    srv = get_rpc_server(server_tr, Target(topic=topic, server="h1"), [m])
    srv.start()
    try:
        got = sorted(m.casts.get(timeout=10) for _ in range(2))
        assert got == ["to the host", "to the topic"]
    finally:
        srv.stop()
        srv.wait()
        server_tr.cleanup()
        _delete_queues(rabbit_url, topic, f"{topic}.h1")


def test_a_mandatory_message_waits_for_its_queue(rabbit_url: str,
                                                 transport: Transport) -> None:
    """A reply sent while the caller's reply queue is being redeclared: RabbitMQ returns
    it unroutable; it is published again until the queue is there (Stein's reply retry,
    ``missing_destination_retry_timeout``), not dropped."""
    name = f"reply_{wire.new_id()}"
    outcome: dict[str, Any] = {}

    def reply() -> None:
        try:
            transport.publish("", name, wire.pack({"result": 42, "_msg_id": "m1"}),
                              declare=False, mandatory=True, retry_for=20)
            outcome["sent"] = time.monotonic()
        except Exception as e:
            outcome["error"] = e

    sender = threading.Thread(target=reply)
    sender.start()
    time.sleep(1.5)
    assert sender.is_alive(), f"the reply went nowhere at once: {outcome}"
    got: queue.Queue[Any] = queue.Queue()
    with kombu.Connection(kombu_url(rabbit_url)) as conn:
        q = kombu.Queue(name, durable=False, auto_delete=True)
        with kombu.Consumer(conn.channel(), queues=[q], no_ack=True,
                            on_message=lambda message: got.put(message.body)):
            sender.join(10)
            assert "sent" in outcome, outcome
            deadline = time.monotonic() + 5
            while got.empty() and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=0.2)
                except TimeoutError:
                    pass
    body = got.get_nowait()
    assert wire.unpack(body)[0]["result"] == 42


def test_a_mandatory_message_to_a_queue_that_never_comes_fails_loudly(
        transport: Transport) -> None:
    """After the retry time the sender hears of it (a caller that went away); the next
    message there fails at once instead of waiting again."""
    name = f"reply_{wire.new_id()}"
    t0 = time.monotonic()
    with pytest.raises(MessagingException, match="no queue for routing key"):
        transport.publish("", name, "{}", declare=False, mandatory=True, retry_for=1.0)
    assert 0.9 < time.monotonic() - t0 < 5
    t0 = time.monotonic()
    with pytest.raises(MessagingException, match="gave up on it before"):
        transport.publish("", name, "{}", declare=False, mandatory=True, retry_for=1.0)
    assert time.monotonic() - t0 < 0.5


def test_a_queue_declared_with_other_arguments_still_gets_the_cast(
        rabbit_url: str, transport: Transport, control_exchange: str) -> None:
    """A server of another version may declare its topic queue with other arguments:
    the publisher's declaration is refused (PRECONDITION_FAILED), which only tells it
    the queue exists; the cast goes there all the same, now and later."""
    topic = f"rs_{wire.new_id()[:8]}"
    x = kombu.Exchange(control_exchange, type="topic", durable=False)
    q = kombu.Queue(topic, x, routing_key=topic, durable=False, auto_delete=False,
                    queue_arguments={"x-max-length": 1000})
    with kombu.Connection(kombu_url(rabbit_url)) as conn:
        q(conn.channel()).declare()
    try:
        client = RPCClient(transport, Target(topic=topic, version="1.0"))
        client.cast({}, "record", value=1)
        transport.cleanup()  # a new connection: the declaration is tried again
        client.cast({}, "record", value=2)
        with kombu.Connection(kombu_url(rabbit_url)) as conn:
            got = [q(conn.channel()).get(no_ack=True) for _ in range(2)]
        assert [wire.unpack(m.body)[0]["args"]["value"] for m in got if m] == [1, 2]
    finally:
        _delete_queues(rabbit_url, topic)
