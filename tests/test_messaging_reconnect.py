"""A broker that goes away and comes back: nothing lost, nothing broken.

A small TCP proxy on loopback sits between our transports and the shared RabbitMQ; the
test cuts every connection through it (and refuses new ones) for a while, then lets them
through again. Other developers' connections to the broker are never touched.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rabbit import HOST, PORT

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


class CutProxy:
    """127.0.0.1:<port> -> RabbitMQ. ``cut()``: close every connection and refuse new
    ones (accept, then close at once); ``restore()``: pass them through again."""

    def __init__(self, upstream: tuple[str, int] = (HOST, PORT)) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._up = True
        self._closed = False
        self.accepted = 0
        threading.Thread(target=self._accept, name="cut-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"rabbit://guest:guest@127.0.0.1:{self.port}/"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                up = self._up and not self._closed
            if not up:
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._socks |= {client, server}
                self.accepted += 1
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            _close(s)
        with self._lock:
            self._socks -= {src, dst}

    def cut(self) -> None:
        with self._lock:
            self._up = False
            socks, self._socks = list(self._socks), set()
        for s in socks:
            _close(s)

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self._listener)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


class Manager:
    target = Target(version="1.0")

    def __init__(self) -> None:
        self.casts: queue.Queue[Any] = queue.Queue()

    def echo(self, ctxt: Any, value: Any) -> Any:
        return value

    def record(self, ctxt: Any, value: Any) -> None:
        self.casts.put(value)


@pytest.fixture
def proxy(rabbit_url: str) -> Iterator[CutProxy]:
    p = CutProxy()
    yield p
    p.close()


@pytest.fixture
def transports(proxy: CutProxy, control_exchange: str) -> Iterator[tuple[Transport, Transport]]:
    """(server side, client side): two transports, as two services would have."""
    server_tr = get_transport(proxy.url, control_exchange=control_exchange)
    client_tr = get_transport(proxy.url, control_exchange=control_exchange)
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


def test_broker_connections_cut_and_restored(proxy: CutProxy,
                                             transports: tuple[Transport, Transport]) -> None:
    server_tr, client_tr = transports
    topic = f"rc_{wire.new_id()[:8]}"
    m = Manager()
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
            except Exception as e:  # noqa: BLE001
                during["cast"] = e

        def call_during() -> None:
            try:
                during["call"] = c.call({}, "echo", value="during")
            except Exception as e:  # noqa: BLE001
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


def test_cast_while_broker_stays_away_raises(proxy: CutProxy, control_exchange: str) -> None:
    tr = get_transport(proxy.url, control_exchange=control_exchange)
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
