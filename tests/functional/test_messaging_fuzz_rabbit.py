"""Hostile bodies published raw to a live RPC server's topic queue on RabbitMQ (a vhost of
the test's own): the queue keeps its one consumer, nothing is requeued or left behind,
neighbours of a poison message run once, and a good call after them still answers.
Issue 11 finding 1 (``[`` x 100,000 to ``conductor`` halted the queue) and the live part
of the messaging fuzz harness (``FUZZ_EXAMPLES // 5`` bodies: 400, ``make fuzz`` 2,000).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import kombu
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.wire_fuzz import FUZZ_EXAMPLES, FUZZ_SETTINGS, Probe, bodies

from services import rpc
from services.baserpc import BaseRPCAPI
from services.messaging import (
    RPCClient,
    RPCServer,
    Target,
    get_rpc_server,
    get_transport,
    wire,
)
from tracer.instrument.broker import kombu_url

TOPIC = "conductor"  # the queue the poison halted


class Live:
    """A conductor-like RPC server on its own vhost, a client, and a raw publisher."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.transport = get_transport(url, control_exchange="nova")
        self.probe = Probe()
        self.server: RPCServer = get_rpc_server(
            self.transport, Target(topic=TOPIC, server="c1"),
            [BaseRPCAPI("conductor"), self.probe], serializer=rpc.get_serializer())
        self.server.start()
        self.client = RPCClient(self.transport, Target(topic=TOPIC, version="4.0"),
                                serializer=rpc.get_serializer(), timeout=10)
        self.conn = kombu.Connection(kombu_url(url))
        self.producer = self.conn.Producer()
        self.published = 0
        self.calls = 0

    def publish_raw(self, body: bytes) -> None:
        """As any peer could: bytes onto the topic queue, no checks."""
        self.producer.publish(body, exchange="nova", routing_key=TOPIC,
                              content_type=wire.CONTENT_TYPE,
                              content_encoding=wire.CONTENT_ENCODING, retry=True)
        self.published += 1

    def cast_body(self, value: Any) -> bytes:
        return wire.pack({"method": "echo", "version": "4.0", "args": {"value": value},
                          "_unique_id": uuid.uuid4().hex}).encode()

    def good_call(self) -> None:
        """A call through the same queue: answered only if the consumer survived all
        that was published before it (the queue is FIFO, one consumer)."""
        value = uuid.uuid4().hex
        assert self.client.call({"user_id": "u1"}, "echo", value=value) == value
        self.calls += 1

    def queue_state(self) -> tuple[int, int]:
        """(ready messages, consumers) of the topic queue, from the broker."""
        _, ready, consumers = self.conn.default_channel.queue_declare(queue=TOPIC,
                                                                      passive=True)
        return ready, consumers

    def close(self) -> None:
        self.server.stop()
        self.server.wait()
        self.transport.cleanup()
        self.conn.release()


@pytest.fixture
def live(rabbit_vhost_url: str) -> Iterator[Live]:
    lv = Live(rabbit_vhost_url)
    yield lv
    lv.close()


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "rejected a message" in r.getMessage()]


def test_poison_message_is_rejected_once_and_the_queue_keeps_consuming(
        live: Live, caplog: pytest.LogCaptureFixture) -> None:
    uid = uuid.uuid4().hex
    deep = "[" * 100_000 + "]" * 100_000
    deep_inner = json.dumps({"method": "echo", "_unique_id": uid, "args": {"value": "@"}}
                            ).replace('"@"', deep)
    poisons = [b"[" * 100_000 + b"]" * 100_000,  # 200 KB, as in issue 11
               json.dumps({"oslo.version": "2.0", "oslo.message": deep_inner}).encode()]
    for i in range(3):
        live.publish_raw(live.cast_body(i))
    live.publish_raw(poisons[0])
    for i in range(3, 6):
        live.publish_raw(live.cast_body(i))
    live.publish_raw(poisons[1])
    live.good_call()  # the old consumer reconnected forever: this timed out
    time.sleep(3)  # the old consumer replayed the neighbours on every reconnect (1 s)
    assert live.probe.runs == 7  # 6 casts and the call, each once
    assert live.queue_state() == (0, 1)  # nothing requeued, still one consumer
    assert live.server.stats["rejected"] == 2
    refusals = _refusals(caplog)
    assert len(refusals) == 2
    assert any(f"_unique_id={uid}" in r for r in refusals)


@pytest.mark.timeout(max(300, FUZZ_EXAMPLES // 10))
def test_fuzzed_bodies_never_cost_the_queue_its_consumer(
        live: Live, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.WARNING, logger="services.messaging")
    deaths: list[str] = []
    monkeypatch.setattr(threading, "excepthook",
                        lambda a: deaths.append(f"{a.exc_type.__name__}: {a.exc_value}"))
    batch = 10
    examples = max(FUZZ_EXAMPLES // 5 // batch, 10)

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(st.lists(bodies(), min_size=batch, max_size=batch))
    def one(found: list[bytes]) -> None:
        for body in found:
            live.publish_raw(body)
        live.good_call()

    started = time.monotonic()
    one()
    elapsed = time.monotonic() - started
    stats = dict(live.server.stats)
    ready, consumers = live.queue_state()
    lost = [r.getMessage() for r in caplog.records if r.name == "services.messaging.server"
            and ("connection lost" in r.getMessage() or "reconnect" in r.getMessage())]
    # a reply to a fuzzed _reply_q no queue has comes back (mandatory) as Basic.return,
    # which py-amqp raises on the publisher's next publish: reset and retried, not lost
    returned = [r for r in caplog.records if "NO_ROUTE" in r.getMessage()]
    with capsys.disabled():
        print(f"\n[fuzz] RabbitMQ: {live.published} raw bodies + {live.calls} good calls "
              f"in {elapsed:.1f} s: {stats['acked']} acked, {stats['rejected']} rejected, "
              f"0 requeued (received {stats['received']}), {len(lost)} consumer losses, "
              f"{len(deaths)} dead threads, "
              f"queue: {ready} ready, {consumers} consumer; {len(returned)} replies to "
              f"missing reply queues returned")
    assert live.published >= FUZZ_EXAMPLES // 5
    assert lost == []
    assert deaths == []
    assert (ready, consumers) == (0, 1)
    # every delivery was the first of its message: nothing was requeued and redelivered
    assert stats["received"] == live.published + live.calls
    assert stats["acked"] + stats["rejected"] == stats["received"]
    assert stats["rejected"] > 0
    live.good_call()
