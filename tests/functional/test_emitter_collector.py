"""Events travel emitter -> broker -> collector complete and in order, over memory:// and
RabbitMQ; a broker outage spools to a file and nothing is lost."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.rabbit import HOST as RABBIT_HOST
from support.rabbit import PORT as RABBIT_PORT
from support.rabbit import RABBIT_URL, rabbit_reachable, require_rabbit
from support.sink import Sink

from tracer.collector import Collector, CollectorError, topic_matches, wait_for
from tracer.instrument import api as trace
from tracer.instrument.broker import kombu_url
from tracer.instrument.emitter import BrokerEmitter, ListEmitter, TeeEmitter


@pytest.fixture
def url(transport_url: str) -> str:
    """memory:// and RabbitMQ (conftest); each test binds its own exchange and queue."""
    return transport_url


@pytest.fixture
def exchange() -> Iterator[str]:
    name = f"bootflow.trace.test_{uuid.uuid4().hex[:8]}"
    yield name
    _delete_exchange(name)


def _delete_exchange(name: str) -> None:
    """Leave no test exchanges behind in a real broker."""
    if not rabbit_reachable(timeout=1):
        return
    from kombu import Connection, Exchange

    try:
        with Connection(kombu_url(RABBIT_URL), connect_timeout=2) as conn:
            Exchange(name, type="topic", durable=False)(conn.channel()).delete()
    except Exception:  # cleanup only
        pass


def _event(i: int, host: str = "compute1", service: str = "nova-compute") -> dict[str, Any]:
    return {"type": "annotate", "trace_id": "a" * 32, "span_id": "b" * 16, "name": "log",
            "service": service, "host": host, "ts_ns": i,
            "attrs": {"i": i, "message": "x" * 64}}


def test_list_and_tee_emitters() -> None:
    a, b = ListEmitter(), ListEmitter()
    tee = TeeEmitter(a, b)
    trace.set_emitter(tee)
    try:
        with trace.identity("nova-scheduler", "sched"), trace.span("select_destinations"):
            trace.annotate("log", {"message": "hi"})
    finally:
        trace.set_emitter(None)
    assert [e["type"] for e in a.events] == ["span_start", "annotate", "span_end"]
    assert a.events == b.events and len(a) == 3
    assert tee.flush(1) is True


def test_spans_roundtrip_with_routing_keys(url: str, exchange: str) -> None:
    everything, compute_only = Sink(), Sink()
    with Collector(url, everything, exchange=exchange), \
            Collector(url, compute_only, exchange=exchange, binding="nova-compute.#"):
        emitter = BrokerEmitter(url, exchange=exchange)
        trace.set_emitter(emitter)
        try:
            with trace.identity("nova-conductor", "conductor"):
                with trace.span("build_instances", kind="CLIENT", attrs={"rpc.style": "call"}):
                    with trace.identity("nova-compute", "compute1"), \
                            trace.span("build_and_run_instance", kind="CONSUMER"):
                        trace.annotate("instance.state", {"instance_uuid": "u",
                                                          "vm_state": "active"})
            assert emitter.flush(10)
        finally:
            trace.set_emitter(None)
            emitter.close()
        got = everything.wait(5)
        compute = compute_only.wait(3)
    assert [(e["type"], e.get("name")) for e in got] == [
        ("span_start", "build_instances"), ("span_start", "build_and_run_instance"),
        ("annotate", "instance.state"), ("span_end", None), ("span_end", None)]
    # span_end carries no service/host: the emitter routes it like its span_start.
    assert [e["type"] for e in compute] == ["span_start", "annotate", "span_end"]
    assert compute[2]["span_id"] == compute[0]["span_id"]


def test_burst_of_10000_complete_and_in_order(url: str, exchange: str) -> None:
    n, hosts = 10_000, ("compute1", "compute2")
    sink = Sink()
    with Collector(url, sink, exchange=exchange):
        emitters = [BrokerEmitter(url, exchange=exchange) for _ in hosts]

        def burst(emitter: BrokerEmitter, host: str) -> None:
            for i in range(n):
                emitter(_event(i, host))

        threads = [threading.Thread(target=burst, args=(e, h))
                   for e, h in zip(emitters, hosts, strict=True)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        put_s = time.perf_counter() - t0
        assert all(e.flush(60) for e in emitters)
        got = sink.wait(n * len(hosts), timeout=60)
        elapsed = time.perf_counter() - t0
        for e in emitters:
            e.close()
    assert put_s < 5.0, "the caller must not wait for the broker"
    for host in hosts:
        assert [e["ts_ns"] for e in got if e["host"] == host] == list(range(n))
    assert len(got) == n * len(hosts)
    print(f"\n{url}: {len(got) / elapsed:,.0f} events/s end to end")


def test_malformed_messages_are_dropped(url: str, exchange: str,
                                        caplog: pytest.LogCaptureFixture) -> None:
    from kombu import Connection, Exchange, Producer

    sink = Sink()
    caplog.set_level(logging.WARNING, logger="tracer.collector")
    with Collector(url, sink, exchange=exchange) as collector:
        with Connection(kombu_url(url), transport_options={"polling_interval": 0.01}) as conn:
            producer = Producer(conn.channel(), exchange=Exchange(exchange, type="topic",
                                                                  durable=False))
            for body in (b"not json at all", b'{"type": "bogus", "ts_ns": 1}', b"42",
                         json.dumps([_event(1), {"type": "span_end"}, _event(2)]).encode(),
                         json.dumps(_event(3)).encode()):
                producer.publish(body, routing_key="evil.host", content_type="application/json",
                                 content_encoding="binary")
        got = sink.wait(3)
        assert wait_for(lambda: collector.dropped >= 4, 5)
    assert [e["ts_ns"] for e in got] == [1, 2, 3]
    drops = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(drops) == 4 and all("\n" not in r.getMessage() for r in drops)


@pytest.mark.parametrize(("binding", "key", "matches"), [
    ("#", "nova-compute.compute1", True), ("nova-compute.#", "nova-compute.compute1", True),
    ("nova-compute.#", "nova-compute", True), ("nova-compute.*", "nova-compute", False),
    ("*.compute1", "nova-compute.compute1", True), ("*.compute1", "nova-api.api", False),
    ("#.compute1", "a.b.compute1", True), ("nova-compute.#", "nova-conductor.c", False),
    ("a.#.z", "a.z", True), ("a.#.z", "a.b.c.z", True), ("a.#.z", "a.b.c", False),
])
def test_topic_matching_follows_amqp(binding: str, key: str, matches: bool) -> None:
    assert topic_matches(binding, key) is matches


def test_a_mixed_batch_is_one_message_on_rabbitmq(exchange: str) -> None:
    """Many services in one process: one message per drain, CC'd to every key, and a
    consumer bound to one service keeps only its events (sender-selected distribution)."""
    require_rabbit()
    from kombu import Connection, Consumer, Exchange, Queue

    raw: list[Any] = []
    compute_only = Sink()
    with Connection(kombu_url(RABBIT_URL), connect_timeout=2) as conn, \
            Collector(RABBIT_URL, compute_only, exchange=exchange, binding="nova-compute.#"):
        queue = Queue(f"{exchange}.raw", Exchange(exchange, type="topic", durable=False),
                      routing_key="#", exclusive=True, auto_delete=True)
        with Consumer(conn.channel(), queues=[queue], no_ack=True,
                      on_message=raw.append):
            emitter = BrokerEmitter(RABBIT_URL, exchange=exchange)
            try:
                for i, (service, host) in enumerate([("nova-conductor", "c"),
                                                     ("nova-compute", "compute1"),
                                                     ("nova-compute", "compute2"),
                                                     ("nova-conductor", "c")]):
                    emitter(_event(i, host, service))
                assert emitter.flush(10)
            finally:
                emitter.close()
            deadline = time.monotonic() + 5
            while not raw and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=0.2)
                except TimeoutError:
                    pass
            time.sleep(0.1)
            try:
                conn.drain_events(timeout=0.2)   # a second message would show up now
            except TimeoutError:
                pass
        got = compute_only.wait(2, timeout=5)
    assert len(raw) == 1
    message = raw[0]
    assert message.delivery_info["routing_key"] == "nova-conductor.c"
    assert message.headers["CC"] == ["nova-compute.compute1", "nova-compute.compute2"]
    assert message.headers["bootflow-routes"] == [["nova-conductor.c", 1],
                                                  ["nova-compute.compute1", 1],
                                                  ["nova-compute.compute2", 1],
                                                  ["nova-conductor.c", 1]]
    assert [e["ts_ns"] for e in json.loads(message.body)] == [0, 1, 2, 3]
    assert [(e["service"], e["ts_ns"]) for e in got] == [("nova-compute", 1),
                                                         ("nova-compute", 2)]


def test_a_malformed_routes_header_loses_nothing(url: str, exchange: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    from kombu import Connection, Exchange, Producer

    sink = Sink()
    caplog.set_level(logging.WARNING, logger="tracer.collector")
    with Collector(url, sink, exchange=exchange, binding="nova-compute.#"):
        with Connection(kombu_url(url), transport_options={"polling_interval": 0.01}) as conn:
            producer = Producer(conn.channel(), exchange=Exchange(exchange, type="topic",
                                                                  durable=False))
            for i, runs in enumerate(([["nova-compute.compute1", 5]], "junk",
                                      [["nova-compute.compute1", "x"]])):
                producer.publish(json.dumps([_event(2 * i), _event(2 * i + 1)]),
                                 routing_key="nova-compute.compute1",
                                 headers={"bootflow-routes": runs},
                                 content_type="application/json")
        got = sink.wait(6)
    assert [e["ts_ns"] for e in got] == [0, 1, 2, 3, 4, 5]
    warnings = [r.getMessage() for r in caplog.records if "bootflow-routes" in r.getMessage()]
    assert len(warnings) == 3 and "all its events are kept" in warnings[0]


def test_collector_reports_an_unreachable_broker() -> None:
    port = _free_port()
    with pytest.raises(CollectorError, match=f"127.0.0.1:{port}"):
        Collector(f"rabbit://guest:guest@127.0.0.1:{port}/", lambda e: None).start(timeout=10)


# -- broker outage -------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TcpProxy:
    """A loopback TCP forwarder we can cut and restore: a broker outage on demand."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and reset the open ones."""
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._socks += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    require_rabbit()
    p = TcpProxy((RABBIT_HOST, RABBIT_PORT))
    yield p
    p.stop()


def _emit(emitter: Callable[[dict[str, Any]], None], start: int, count: int) -> None:
    for i in range(start, start + count):
        emitter(_event(i))


def test_outage_spools_and_resends_in_order(proxy: TcpProxy, exchange: str,
                                            tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    sink = Sink()
    with Collector(RABBIT_URL, sink, exchange=exchange):  # straight to the broker
        emitter = BrokerEmitter(f"rabbit://guest:guest@127.0.0.1:{proxy.port}/",
                                exchange=exchange, spool_path=spool, retry_interval=0.1)
        try:
            # 1. broker unreachable from the start: the caller still never blocks
            t0 = time.perf_counter()
            _emit(emitter, 0, 500)
            assert time.perf_counter() - t0 < 0.5
            assert wait_for(lambda: emitter.spooled == 500, 10)
            assert len(spool.read_text().splitlines()) == 500
            assert emitter.flush(0.3) is False
            # 2. the broker comes back: the spool goes first, then new events
            proxy.start()
            _emit(emitter, 500, 500)
            assert emitter.flush(20)
            assert not spool.exists()
            # 3. the connection is cut while connected, then restored
            proxy.stop()
            _emit(emitter, 1000, 500)
            assert wait_for(lambda: spool.exists(), 10)
            proxy.start()
            _emit(emitter, 1500, 500)
            assert emitter.flush(20)
        finally:
            emitter.close()
        got = sink.wait(2000)
    assert [e["ts_ns"] for e in got] == list(range(2000))
    assert emitter.spooled >= 501


def test_spool_left_by_a_previous_process_is_resent(exchange: str, tmp_path: Path) -> None:
    url = require_rabbit()
    spool = tmp_path / "spool.jsonl"
    spool.write_text("".join(json.dumps(_event(i)) + "\n" for i in range(3)))
    sink = Sink()
    with Collector(url, sink, exchange=exchange):
        with BrokerEmitter(url, exchange=exchange, spool_path=spool) as emitter:
            emitter(_event(3))
            assert emitter.flush(10)
        got = sink.wait(4)
    assert [e["ts_ns"] for e in got] == [0, 1, 2, 3]
    assert not spool.exists()


def test_close_with_the_broker_down_is_quick_and_keeps_everything(tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    emitter = BrokerEmitter(f"rabbit://guest:guest@127.0.0.1:{_free_port()}/",
                            spool_path=spool)
    _emit(emitter, 0, 100)
    t0 = time.perf_counter()
    assert emitter.close(timeout=10) is False  # not delivered ...
    assert time.perf_counter() - t0 < 2.0
    emitter(_event(100))  # a straggler after close
    lines = spool.read_text().splitlines()
    assert [json.loads(line)["ts_ns"] for line in lines] == list(range(101))  # ... but kept
