"""Fuzzing the consuming side of services.messaging, no broker: ``wire.unpack`` and the RPC
server's whole handling of a delivery (decode, checks, ack or reject, duplicate check,
RPCDispatcher to real endpoints with Nova's serializer, span, call-monitor heartbeat,
reply), with a fixed seed and ``FUZZ_EXAMPLES`` messages (2,000; ``make fuzz`` 10,000).

Invariants (issue 11): a delivery is settled exactly once, acked or rejected, never
requeued; a rejected one is logged once; ``on_message`` never raises (that would unwind
the consumer); no thread dies; an acked call is answered exactly once, at its reply queue;
a redelivered duplicate never runs a handler twice; a good call is always answered with
its value. Plus the findings' own regression tests (poison, ``_reply_q``, ``_timeout``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.wire_fuzz import (
    FUZZ_EXAMPLES,
    FUZZ_SETTINGS,
    REPLY_Q,
    FakeDelivery,
    Probe,
    Published,
    bodies,
    good_calls,
    json_values,
)

from services import rpc
from services.baserpc import BaseRPCAPI
from services.messaging import RPCServer, Target, Transport, wire
from services.messaging.gate import ControlGate
from services.messaging.reply import ReplyWaiter
from tracer.instrument import api as trace
from tracer.instrument.emitter import ListEmitter


class RecordingTransport(Transport):
    """Publishes nowhere: records, after the checks py-amqp makes on a routing key (a
    str of at most 255 UTF-8 bytes, else TypeError/struct.error as on RabbitMQ)."""

    def __init__(self) -> None:
        super().__init__("memory://", "nova")
        self.published: list[Published] = []
        self.lock = threading.Lock()

    def publish(self, exchange: str, routing_key: str, body: str, **kw: Any) -> None:
        if not isinstance(routing_key, str):
            raise TypeError(f"object of type {type(routing_key).__name__!r} has no len()")
        if len(routing_key.encode("utf-8", "surrogatepass")) > 255:
            raise ValueError("ubyte format requires 0 <= number <= 255")
        json.loads(body)
        with self.lock:
            self.published.append(Published(exchange, routing_key, body, kw))

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            out, self.published = self.published, []
        return [dict(json.loads(json.loads(p.body)["oslo.message"]), _to=p.routing_key)
                for p in out]


class ThreadDeaths:
    """Counts threads that die of an exception (threading.excepthook)."""

    def __init__(self) -> None:
        self.deaths: list[str] = []

    def __call__(self, args: Any) -> None:
        self.deaths.append(f"{args.thread.name if args.thread else '?'}: "
                           f"{args.exc_type.__name__}: {args.exc_value}")


@pytest.fixture
def deaths(monkeypatch: pytest.MonkeyPatch) -> ThreadDeaths:
    hook = ThreadDeaths()
    monkeypatch.setattr(threading, "excepthook", hook)
    return hook


@pytest.fixture
def traced() -> Iterator[ListEmitter]:
    """Spans on (into a list): the server's span code runs on every fuzzed message."""
    events = ListEmitter()
    trace.set_emitter(events)
    yield events
    trace.set_emitter(None)


class Harness:
    """An RPC server (not started) fed deliveries by hand, exactly as its consumer
    connection would: ``on_message`` in the leader, then each taken message processed."""

    def __init__(self) -> None:
        self.transport = RecordingTransport()
        self.probe = Probe()
        self.server = RPCServer(self.transport, Target(topic="conductor", server="c1"),
                                [BaseRPCAPI("conductor"), self.probe],
                                serializer=rpc.get_serializer(), service="nova-conductor",
                                host="c1")

    def deliver(self, delivery: FakeDelivery) -> None:
        self.server._on_message(delivery)  # raising here is a failure of the test
        batch, self.server._batch = self.server._batch, []
        for inc in batch:
            self.server._process(inc)


def _refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "rejected a message" in r.getMessage()]


def _call_fields(body: bytes) -> tuple[Any, Any] | None:
    """(_msg_id, _reply_q) of an acked body if it is a call, else None."""
    msg, _ = wire.unpack(body)
    return (msg["_msg_id"], msg["_reply_q"]) if msg.get("_msg_id") else None


@pytest.mark.timeout(max(300, FUZZ_EXAMPLES // 10))
def test_fuzzed_deliveries_settle_once_and_calls_are_answered(
        caplog: pytest.LogCaptureFixture, deaths: ThreadDeaths, traced: ListEmitter,
        capsys: pytest.CaptureFixture[str]) -> None:
    h = Harness()
    counts: Counter[str] = Counter()
    caplog.set_level(logging.ERROR, logger="services.messaging")

    @settings(FUZZ_SETTINGS, max_examples=FUZZ_EXAMPLES)
    @given(body=bodies(), redeliver=st.booleans())
    def one(body: bytes, redeliver: bool) -> None:
        caplog.clear()
        runs_before = h.probe.runs
        # hypothesis draws the same ids in many examples: each example starts with no
        # ids seen, so the only duplicate is the redelivery below
        h.server._dups = wire.MsgIdCache()
        first = FakeDelivery(body)
        h.deliver(first)
        deliveries = [first]
        if redeliver:  # the broker delivers the same message again
            again = FakeDelivery(body, redelivered=True)
            h.deliver(again)
            deliveries.append(again)
        replies = h.transport.take()
        counts["messages"] += len(deliveries)
        for d in deliveries:
            assert len(d.ops) == 1, f"settled {d.ops} (must be exactly once)"
            assert d.ops[0] in ("ack", "reject"), d.ops
            counts[d.ops[0]] += 1
        rejected = sum(d.ops == ["reject"] for d in deliveries)
        assert len(_refusals(caplog)) == rejected  # each refusal logged once
        assert h.probe.runs - runs_before <= 1  # a duplicate never runs twice
        if first.ops == ["ack"]:
            call = _call_fields(body)
            final = [r for r in replies if r.get("ending", True) or r.get("failure")]
            if call is None:
                assert replies == []
            else:
                counts["calls answered"] += 1
                assert len(final) == 1, replies
                assert (final[0]["_msg_id"], final[0]["_to"]) == call
        else:
            assert replies == []
        traced.events.clear()

    one()
    h.server.wait()
    assert deaths.deaths == []
    assert counts["messages"] >= FUZZ_EXAMPLES
    assert counts["ack"] > FUZZ_EXAMPLES // 10 and counts["reject"] > FUZZ_EXAMPLES // 10
    assert h.server.stats["received"] == counts["messages"]
    with capsys.disabled():
        print(f"\n[fuzz] wire+server: {counts['messages']} deliveries, {counts['ack']} acked "
              f"({counts['calls answered']} calls answered), {counts['reject']} rejected, "
              f"0 requeued, {h.server.stats['duplicates']} duplicates dropped, "
              f"{len(deaths.deaths)} dead threads")


def test_good_calls_are_always_answered_with_their_value(deaths: ThreadDeaths) -> None:
    """Whatever its value and ``_timeout``, a well-formed call gets its value back."""
    h = Harness()

    @settings(FUZZ_SETTINGS, max_examples=max(FUZZ_EXAMPLES // 4, 200))
    @given(call=good_calls())
    def one(call: tuple[dict[str, Any], Any]) -> None:
        msg, value = call
        # never a dup (uuid4: hypothesis seeds `random`, which wire.new_id draws from)
        msg["_msg_id"], msg["_unique_id"] = uuid.uuid4().hex, uuid.uuid4().hex
        d = FakeDelivery(wire.pack(msg).encode())
        h.deliver(d)
        assert d.ops == ["ack"]
        (reply,) = h.transport.take()
        assert reply["failure"] is None and reply["ending"] is True
        assert json.dumps(reply["result"]) == json.dumps(value)
        assert (reply["_msg_id"], reply["_to"]) == (msg["_msg_id"], REPLY_Q)

    one()
    assert deaths.deaths == []


# -- finding 1: the poison message ------------------------------------------------------
def test_deeply_nested_body_is_rejected_and_its_neighbours_run_once(
        caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    good = [FakeDelivery(wire.pack({"method": "echo", "version": "4.0", "args": {"value": i},
                                    "_unique_id": wire.new_id()}).encode())
            for i in range(4)]
    poison = FakeDelivery(b"[" * 100_000)
    for d in good[:2] + [poison] + good[2:]:
        h.deliver(d)  # an exception here is what halted the conductor queue
    assert poison.ops == ["reject"]
    assert [d.ops for d in good] == [["ack"]] * 4
    assert h.probe.runs == 4
    assert len(_refusals(caplog)) == 1


def test_refusal_is_logged_once_with_the_message_id(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    uid = wire.new_id()
    inner = json.dumps({"method": "echo", "_unique_id": uid, "args": {"value": "@"}})
    body = json.dumps({"oslo.version": "2.0",
                       "oslo.message": inner.replace('"@"', "[" * 5000 + "]" * 5000)})
    d = FakeDelivery(body.encode())
    h.deliver(d)
    assert d.ops == ["reject"]
    (record,) = _refusals(caplog)
    assert f"_unique_id={uid}" in record.getMessage()
    assert "nests 5002 deep" in record.getMessage()


def test_limits_are_checked_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parse(*a: Any, **k: Any) -> Any:
        raise AssertionError("parsed a body beyond the limits")

    monkeypatch.setattr(wire.json, "loads", no_parse)
    with pytest.raises(wire.BadMessage, match="larger than"):
        wire.unpack(b" " * (wire.MAX_BODY_BYTES + 1))
    with pytest.raises(wire.BadMessage, match="nests 129 deep"):
        wire.unpack("[" * 129 + "]" * 129)


def test_unpack_raises_only_bad_message() -> None:
    for body in (b"[" * 100_000, b"\xff", b"", b"1e400", b'{"oslo.message": 5}',
                 b'"' + b"\\" * 1000, b"9" * 5000, b'{"oslo.message": "' + b"{" * 200 + b'"}'):
        with pytest.raises(wire.BadMessage):
            wire.unpack(body)


def test_redelivered_duplicates_never_rerun_a_handler() -> None:
    """The broker redelivers everything unacked after a connection loss: far more than
    oslo's 16-id window. 100 messages delivered twice run 100 times."""
    h = Harness()
    batch = [wire.pack({"method": "echo", "version": "4.0", "args": {"value": i},
                        "_unique_id": wire.new_id()}).encode() for i in range(100)]
    for body in batch + batch:
        h.deliver(FakeDelivery(body))
    assert h.probe.runs == 100
    assert h.server.stats["duplicates"] == 100


# -- finding 8: _reply_q of the wrong type, garbled _timeout -----------------------------
@pytest.mark.parametrize("reply_q", [5, ["reply_x"], {"q": 1}, None, "", "q" * 256])
def test_call_with_a_bad_reply_queue_is_refused_cleanly(
        reply_q: Any, caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    msg_id = wire.new_id()
    d = FakeDelivery(wire.pack({"method": "echo", "version": "4.0", "args": {"value": 1},
                                "_msg_id": msg_id, "_reply_q": reply_q,
                                "_unique_id": wire.new_id()}).encode())
    h.deliver(d)
    assert d.ops == ["reject"]
    assert h.probe.runs == 0
    assert [r for r in caplog.records if r.exc_info] == []  # no TypeError traceback
    (record,) = _refusals(caplog)
    assert f"_msg_id={msg_id}" in record.getMessage()


@pytest.mark.parametrize("timeout", ["Infinity", "1e400", "-Infinity", "NaN",
                                     "1" + "0" * 300, "9" * 400, '"9999"', "[]", "true"])
def test_garbled_timeout_kills_no_heartbeat_thread(timeout: str,
                                                   deaths: ThreadDeaths) -> None:
    h = Harness()
    msg_id = wire.new_id()
    inner = json.dumps({"method": "echo", "version": "4.0", "args": {"value": 7}, "_msg_id": msg_id,
                        "_reply_q": REPLY_Q, "_timeout": "@", "_unique_id": wire.new_id()})
    body = json.dumps({"oslo.version": "2.0",
                       "oslo.message": inner.replace('"@"', timeout)}).encode()
    h.deliver(FakeDelivery(body))
    time.sleep(0.05)  # a heartbeat thread that dies does so at once
    assert deaths.deaths == []
    (reply,) = h.transport.take()
    assert (reply["result"], reply["ending"], reply["_msg_id"]) == (7, True, msg_id)


def test_reply_queue_consumer_never_raises_on_fuzzed_replies() -> None:
    """The caller's side: a garbled reply is dropped; the waiting caller still gets its
    own reply (an exception would have cost every caller the reply connection)."""
    transport = Transport("memory://", "nova")
    waiter = ReplyWaiter(transport)
    try:
        msg_id = uuid.uuid4().hex
        waiter.listen(msg_id)
        seen = 0

        @settings(FUZZ_SETTINGS, max_examples=max(FUZZ_EXAMPLES // 10, 200))
        @given(body=bodies() | st.builds(
            lambda r, f, e: wire.pack({"result": r, "failure": f, "ending": e,
                                       "_msg_id": msg_id}).encode(),
            json_values, json_values, json_values))
        def one(body: bytes) -> None:
            nonlocal seen
            waiter._on_message(FakeDelivery(body))  # raising here fails the test
            seen += 1

        one()
        waiter._dups = wire.MsgIdCache()
        waiter._on_message(FakeDelivery(wire.pack(
            {"result": "mine", "failure": None, "ending": True, "_msg_id": msg_id,
             "_unique_id": uuid.uuid4().hex}).encode()))
        replies = []
        slot = waiter._waiters[msg_id]
        while not slot.q.empty():
            replies.append(slot.q.get())
        assert replies[-1]["result"] == "mine"
        assert seen >= 200
    finally:
        waiter.stop()
        transport.cleanup()


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_tricky_text = st.text(alphabet='[]{}"\\\\/ab\n\u2028', max_size=12)
_nested = st.recursive(
    st.none() | st.integers() | _tricky_text,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(_tricky_text, c, max_size=3),
    max_leaves=30)


def test_depth_check_agrees_with_the_parser() -> None:
    """The pre-parse depth scan is exact on any JSON document, whatever brackets,
    quotes and backslashes its strings hold (so it refuses nothing a parse would take
    within the limit, and lets nothing deeper through)."""

    @settings(FUZZ_SETTINGS, max_examples=max(FUZZ_EXAMPLES // 4, 200))
    @given(value=_nested, ensure_ascii=st.booleans())
    def one(value: Any, ensure_ascii: bool) -> None:
        text = json.dumps(value, ensure_ascii=ensure_ascii)
        assert wire.json_depth(text) == _depth(value)
        assert wire.json_depth(json.dumps(text)) == 0  # the same document as a string

    one()


def test_walkthrough_control_bus_survives_any_message() -> None:
    """The gate's control bus consumer (a ConsumerThread: an exception in its
    on_message drops and reopens the connection) logs and drops what it cannot use."""
    gate = ControlGate("memory://")
    try:
        for body in (b"[" * 100_000, b"\xff", b'{"event": "pending", "hop_id": [1]}',
                     b'{"event": "released", "hop_id": {"a": 1}}', b"1e400", b""):
            d = FakeDelivery(body)
            gate._bus._on_message(d)  # raising here fails the test
            assert d.ops == ["ack"]
    finally:
        gate.close()
