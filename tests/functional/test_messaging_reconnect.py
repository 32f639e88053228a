"""A broker that goes away and comes back: nothing lost, nothing broken.

A TCP forwarder on loopback (``tracer.cloud.netfault.Forwarder``, the one the scenario
runner breaks a deployment's broker path with) sits between our transports and the
shared RabbitMQ; the test cuts every connection through it (and refuses new ones) for a
while, then lets them through again. Other developers' connections to the broker are
never touched.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.endpoints import EchoManager
from support.rabbit import HOST, PORT, RABBIT_URL

from services.messaging import (
    MessagingException,
    MessagingTimeout,
    RPCClient,
    Target,
    Transport,
    get_rpc_server,
    get_transport,
    wire,
)
from tracer.cloud.netfault import Forwarder


@pytest.fixture
def proxy(rabbit_url: str) -> Iterator[Forwarder]:
    p = Forwarder((HOST, PORT))
    yield p
    p.close()


@pytest.fixture
def transports(proxy: Forwarder, control_exchange: str) -> Iterator[tuple[Transport, Transport]]:
    """(server side, client side): two transports, as two services would have."""
    server_tr = get_transport(proxy.url(RABBIT_URL), control_exchange=control_exchange)
    client_tr = get_transport(proxy.url(RABBIT_URL), control_exchange=control_exchange)
    yield server_tr, client_tr
    client_tr.cleanup()
    server_tr.cleanup()


def _drain(q: queue.Queue[Any], n: int, timeout: float) -> list[Any]:
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        try:
            got.append(q.get(timeout=max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            break
    return got


def test_broker_connections_cut_and_restored(proxy: Forwarder,
                                             transports: tuple[Transport, Transport]) -> None:
    server_tr, client_tr = transports
    topic = f"rc_{wire.new_id()[:8]}"
    m = EchoManager()
    srv = get_rpc_server(server_tr, Target(topic=topic, server="h1"), [m])
    srv.start()
    try:
        c = RPCClient(client_tr, Target(topic=topic, version="1.0"), timeout=15)
        assert c.call({}, "echo", value="before") == "before"
        c.cast({}, "record", value="before")
        assert m.casts.get(timeout=5) == "before"
        fan = c.prepare(fanout=True)
        accepted = proxy.accepted

        proxy.cut()
        # a cast and a call sent while the broker is away: retried, not dropped
        during: dict[str, Any] = {}

        def cast_during() -> None:
            try:
                c.cast({}, "record", value="during")
                during["cast"] = "sent"
            except Exception as e:
                during["cast"] = e

        def call_during() -> None:
            try:
                during["call"] = c.call({}, "echo", value="during")
            except Exception as e:
                during["call"] = e

        threads = [threading.Thread(target=cast_during), threading.Thread(target=call_during)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        assert "cast" not in during, "a cast returned while the broker was unreachable"
        proxy.restore()
        for t in threads:
            t.join(20)
        assert during["cast"] == "sent"
        # the call succeeds after the reconnect, or (its reply lost with the old
        # connection) times out cleanly; it never hangs or raises anything else
        assert during["call"] == "during" or isinstance(during["call"], MessagingTimeout), \
            during["call"]
        assert proxy.accepted > accepted, "nobody reconnected"

        # the server serves again and every cast arrives (the one sent during the cut too)
        deadline = time.monotonic() + 20
        while True:
            try:
                assert c.prepare(timeout=2).call({}, "echo", value="after") == "after"
                break
            except MessagingTimeout:
                assert time.monotonic() < deadline, "the server never came back"
        c.cast({}, "record", value="after")
        fan.cast({}, "record", value="fanout-after")
        got = _drain(m.casts, 3, 10)
        assert sorted(got) == ["after", "during", "fanout-after"], got
        assert c.call({}, "echo", value=[1, 2]) == [1, 2]
    finally:
        srv.stop()
        srv.wait()


def test_cast_while_broker_stays_away_raises(proxy: Forwarder, control_exchange: str) -> None:
    tr = get_transport(proxy.url(RABBIT_URL), control_exchange=control_exchange)
    tr.publish_retry_timeout = 1.0
    try:
        c = RPCClient(tr, Target(topic=f"rc_{wire.new_id()[:8]}", version="1.0"), timeout=1)
        c.cast({}, "record", value="warm")  # connected once
        proxy.cut()
        t0 = time.monotonic()
        with pytest.raises(MessagingException, match="could not publish"):
            c.cast({}, "record", value="lost?")
        assert time.monotonic() - t0 < 10
        with pytest.raises(MessagingTimeout):
            c.call({}, "echo", value=1)
    finally:
        proxy.restore()
        tr.cleanup()


def test_server_started_while_the_broker_is_away_comes_up_when_it_returns(
        proxy: Forwarder, transports: tuple[Transport, Transport]) -> None:
    """A service started during a network blip retries (as oslo.messaging does) instead of
    dying, and serves once the path is back."""
    server_tr, client_tr = transports
    topic = f"rc_{wire.new_id()[:8]}"
    srv = get_rpc_server(server_tr, Target(topic=topic, server="h1"), [EchoManager()])
    proxy.cut()
    starter = threading.Thread(target=srv.start)
    starter.start()
    time.sleep(1.0)
    assert starter.is_alive()  # still trying, not crashed
    proxy.restore()
    starter.join(timeout=15)
    assert not starter.is_alive()
    try:
        c = RPCClient(client_tr, Target(topic=topic, version="1.0"), timeout=15)
        assert c.call({}, "echo", value=7) == 7
    finally:
        srv.stop()
