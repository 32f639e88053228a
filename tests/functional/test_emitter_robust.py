"""The trace sender outlives whatever it is given and whatever the broker does.

A lone surrogate in a server name once killed nova-api's sender thread: no span after
it, the queue grew to 977 MB, a restart resent 1.2 million spooled events. And after a
broker restart, events resent before the collector had redeclared its queue went
nowhere. Here: any value is sent (what UTF-8 cannot hold replaced), memory and spool
are bounded with every drop counted and reported, and resent events wait for the
collector's queue to come back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.rabbit import HOST, PORT, RABBIT_URL, require_rabbit
from support.sink import Sink

from tracer.cloud.netfault import Forwarder
from tracer.collector import Collector, wait_for
from tracer.instrument.emitter import DROPPED_ANNOTATION, BrokerEmitter


@pytest.fixture
def exchange() -> str:
    require_rabbit()
    return f"bootflow.trace.test_{uuid.uuid4().hex[:8]}"


def _event(i: int, **attrs: Any) -> dict[str, Any]:
    return {"type": "annotate", "trace_id": "a" * 32, "span_id": "b" * 16, "name": "log",
            "service": "nova-api", "host": "api", "ts_ns": i,
            "attrs": {"i": i, "message": "x" * 64, **attrs}}


def test_any_attribute_value_is_sent_and_the_sender_lives_on(exchange: str,
                                                             tmp_path: Path) -> None:
    deep: list[Any] = []
    cur = deep
    for _ in range(2000):
        cur.append([])
        cur = cur[0]

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

        __repr__ = __str__

    sink = Sink()
    with Collector(RABBIT_URL, sink, exchange=exchange):
        with BrokerEmitter(RABBIT_URL, exchange=exchange,
                           spool_path=tmp_path / "spool.jsonl") as emitter:
            emitter(_event(0, name="\ud800"))  # what `"name":"\ud800"` in JSON gives
            emitter(_event(1, name="ok \udfff\U0001f600", big=2**80, deep=deep,
                           odd={(1, 2): Unprintable()}))
            emitter(_event(2))
            assert emitter.flush(10), "the sender stopped"
            assert emitter._thread.is_alive()
        assert wait_for(lambda: len(sink.get()) == 3, 10)
    got = sink.get()
    assert [e["ts_ns"] for e in got] == [0, 1, 2]
    assert got[0]["attrs"]["name"] == "\ufffd"
    assert got[1]["attrs"]["name"] == "ok \ufffd\U0001f600"
    assert got[1]["attrs"]["big"] == 2**80
    assert got[1]["attrs"]["odd"] == {"(1, 2)": "<unprintable Unprintable>"}
    assert emitter.dropped == 0


def test_a_stuck_sender_keeps_memory_bounded_and_reports_the_drops(
        exchange: str, tmp_path: Path) -> None:
    sink = Sink()
    with Collector(RABBIT_URL, sink, exchange=exchange):
        emitter = BrokerEmitter(RABBIT_URL, exchange=exchange, max_queue=100, linger=0,
                                spool_path=tmp_path / "spool.jsonl")
        stuck = threading.Event()
        deliver = emitter._deliver

        def slow_deliver(events: list[dict[str, Any]]) -> None:
            stuck.wait(30)
            deliver(events)

        emitter._deliver = slow_deliver  # type: ignore[method-assign]
        try:
            for i in range(5000):
                emitter(_event(i))
            assert emitter._queue.qsize() <= 100
            assert emitter.dropped >= 5000 - 100 - emitter.max_batch
            dropped = emitter.dropped
            stuck.set()
            assert emitter.flush(20)
        finally:
            emitter.close()
        assert wait_for(lambda: any(e["name"] == DROPPED_ANNOTATION for e in sink.get()), 10)
    got = sink.get()
    note = next(e for e in got if e["name"] == DROPPED_ANNOTATION)
    assert note["attrs"]["dropped"] == dropped == note["attrs"]["queue_full"]
    assert (note["service"], note["host"]) == ("nova-api", "api")
    assert len(got) - 1 == 5000 - dropped  # everything not counted as dropped arrived


def test_the_spool_is_bounded_and_counts_what_did_not_fit(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    spool = tmp_path / "spool.jsonl"
    with caplog.at_level(logging.WARNING, logger="tracer.instrument.emitter"):
        emitter = BrokerEmitter("rabbit://guest:guest@127.0.0.1:1/", spool_path=spool,
                                max_spool_bytes=10_000)
        for i in range(500):
            emitter(_event(i))
        assert wait_for(lambda: emitter.spooled + emitter.dropped == 500, 10)
        emitter.close(timeout=2)
    assert 0 < spool.stat().st_size <= 10_000
    assert emitter.drops["spool_full"] == 500 - emitter.spooled > 0
    assert any("trace emitter dropped" in r.getMessage() for r in caplog.records)


@pytest.fixture
def forwarder() -> Iterator[Forwarder]:
    require_rabbit()
    fwd = Forwarder((HOST, PORT))
    yield fwd
    fwd.close()


def test_events_resent_after_a_restart_wait_for_the_collector_queue(
        exchange: str, forwarder: Forwarder, tmp_path: Path) -> None:
    """The broker restarts: the collector's queue is gone with it; the services' senders
    reconnect and resend their spools before the collector has declared its queue
    again. Those events are returned unroutable and sent again, not lost."""
    first = Sink()
    emitter = BrokerEmitter(forwarder.url(RABBIT_URL), exchange=exchange,
                            spool_path=tmp_path / "spool.jsonl", retry_interval=0.1)
    try:
        with Collector(RABBIT_URL, first, exchange=exchange):
            emitter(_event(0))
            assert emitter.flush(10)
            assert wait_for(lambda: len(first.get()) == 1, 10)
            forwarder.cut()  # the restart: senders cut off ...
        # ... and the collector's queue gone (it went with its connection)
        for i in range(1, 101):
            emitter(_event(i))
        assert wait_for(lambda: emitter.spooled == 100, 10)
        forwarder.restore()
        assert wait_for(lambda: emitter.connected, 10)
        time.sleep(1.0)  # the sender is back well before the collector
        second = Sink()
        with Collector(RABBIT_URL, second, exchange=exchange):
            for i in range(101, 111):
                emitter(_event(i))
            assert emitter.flush(20)
            assert wait_for(lambda: len(second.get()) >= 110, 10)
        assert [e["ts_ns"] for e in second.get()] == list(range(1, 111))
    finally:
        emitter.close()


def test_the_collector_refuses_only_the_bad_event_of_a_batch(
        exchange: str, caplog: pytest.LogCaptureFixture) -> None:
    """One event holding ``1e400`` (or ``NaN``, or a lone surrogate escape) no longer
    takes its batch with it; a span named "" (an RPC message with method "") is kept."""
    from kombu import Connection, Exchange, Producer

    from tracer.instrument.broker import kombu_url

    unnamed = {"type": "span_start", "trace_id": "c" * 32, "span_id": "d" * 16,
               "parent_id": None, "name": "", "service": "nova-conductor",
               "host": "conductor", "kind": "CONSUMER", "ts_ns": 5, "attrs": {}}
    batch = ("[" + ",".join([
        json.dumps(_event(1)), json.dumps(_event(2)).replace('"i": 2', '"i": 1e400'),
        json.dumps(_event(3)), json.dumps(_event(4)).replace('"i": 4', '"i": NaN'),
        json.dumps(_event(6)).replace('"x', '"\\ud800x', 1), json.dumps(unnamed),
        json.dumps(_event(7))]) + "]").encode()
    sink = Sink()
    caplog.set_level(logging.WARNING, logger="tracer.collector")
    with Collector(RABBIT_URL, sink, exchange=exchange) as collector:
        with Connection(kombu_url(RABBIT_URL)) as conn:
            Producer(conn.channel(), exchange=Exchange(exchange, type="topic",
                                                       durable=False)).publish(
                batch, routing_key="evil.host", content_type="application/json",
                content_encoding="binary")
        assert wait_for(lambda: len(sink.get()) >= 4 and collector.dropped >= 3, 10)
        time.sleep(0.2)
        assert collector.dropped == 3
    assert [e["ts_ns"] for e in sink.get()] == [1, 3, 5, 7]
    assert sink.get()[2]["name"] == ""
    reasons = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(reasons) == 3
    assert "finite double (inf)" in reasons[0] and "(nan)" in reasons[1]
    assert "lone surrogate" in reasons[2]


def test_a_corrupt_spool_is_resent_without_its_bad_lines(exchange: str,
                                                        tmp_path: Path) -> None:
    """A spool (a file: a crash mid-write, a hand edit) with lines that are not events
    loses those lines only, and never wedges the sender."""
    spool = tmp_path / "spool.jsonl"
    spool.write_text(json.dumps(_event(0)) + "\n42\n{not json\n[]\n"
                     + json.dumps(_event(1)) + "\n")
    sink = Sink()
    with Collector(RABBIT_URL, sink, exchange=exchange):
        with BrokerEmitter(RABBIT_URL, exchange=exchange, spool_path=spool) as emitter:
            emitter(_event(2))
            assert emitter.flush(10)
        assert wait_for(lambda: len(sink.get()) == 3, 10)
    assert [e["ts_ns"] for e in sink.get()] == [0, 1, 2]
    assert not spool.exists()


def test_a_collector_that_loses_its_connection_for_a_moment_misses_nothing(
        exchange: str, forwarder: Forwarder, tmp_path: Path) -> None:
    """The broker stays up, the collector's own connection drops (a blip): its queue
    stays, keeps what is published meanwhile, and the collector reads on after its
    reconnect. (Its queue was exclusive: gone with the connection, events with it.)"""
    sink = Sink()
    collector = Collector(forwarder.url(RABBIT_URL), sink, exchange=exchange,
                          reconnect_interval=0.1)
    with collector, BrokerEmitter(RABBIT_URL, exchange=exchange,
                                  spool_path=tmp_path / "spool.jsonl") as emitter:
        emitter(_event(0))
        assert emitter.flush(10)
        assert wait_for(lambda: len(sink.get()) == 1, 10)
        forwarder.cut()
        time.sleep(0.5)  # the broker notices the closed connection
        for i in range(1, 51):
            emitter(_event(i))
        assert emitter.flush(10)
        forwarder.restore()
        assert wait_for(lambda: len(sink.get()) >= 51, 15)
    assert [e["ts_ns"] for e in sink.get()] == list(range(51))
    assert emitter.unroutable == 0


def test_a_frozen_broker_sends_events_to_the_spool_not_to_memory(
        exchange: str, forwarder: Forwarder, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The path to the broker freezes (every byte held): a publish waiting for its
    confirm gives up after CONFIRM_TIMEOUT and the events go to the spool, instead of
    the sender waiting for ever while its queue fills up; all arrive after the thaw."""
    from tracer.instrument import emitter as emitter_mod

    monkeypatch.setattr(emitter_mod, "CONFIRM_TIMEOUT", 1.0)
    sink = Sink()
    with Collector(RABBIT_URL, sink, exchange=exchange):
        emitter = BrokerEmitter(forwarder.url(RABBIT_URL), exchange=exchange, linger=0,
                                spool_path=tmp_path / "spool.jsonl", retry_interval=0.2)
        try:
            emitter(_event(0))
            assert emitter.flush(10)
            forwarder.pause()
            for i in range(1, 201):
                emitter(_event(i))
                time.sleep(0.01)
            assert wait_for(lambda: emitter.spooled > 0, 10), "stuck on the frozen broker"
            # and keeps spooling: reconnecting does not hang on the frozen path either
            assert wait_for(lambda: emitter.spooled == 200, 15), emitter.spooled
            forwarder.resume()
            assert emitter.flush(30)
        finally:
            emitter.close()
        assert wait_for(lambda: len({e["ts_ns"] for e in sink.get()}) == 201, 15)
    assert emitter.dropped == 0
