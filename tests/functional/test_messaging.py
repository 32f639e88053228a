"""services.messaging against kombu's memory transport and RabbitMQ (both, every test)."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from services import exception as nova_exc
from services.messaging import (
    MessagingTimeout,
    NoSuchMethod,
    RemoteError,
    RPCClient,
    RPCVersionCapError,
    Target,
    Transport,
    UnsupportedVersion,
    expected_exceptions,
    get_rpc_server,
    get_transport,
    wire,
)
from tracer.instrument import api as trace
from tracer.instrument.emitter import ListEmitter


class NotAllowedError(Exception):
    """Lives in a module the client does not allow: arrives as RemoteError."""


class Manager:
    target = Target(version="4.5")
    STEIN_LOCATION = "nova/scheduler/manager.py:SchedulerManager"

    def __init__(self, name: str = "m") -> None:
        self.name = name
        self.casts: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.calls = 0

    def echo(self, ctxt: Any, value: Any) -> Any:
        self.calls += 1
        return {"value": value, "ctxt": ctxt, "server": self.name}

    def record(self, ctxt: Any, value: Any) -> None:
        with trace.span("inside"):
            pass
        self.casts.put((self.name, value))

    def sleep(self, ctxt: Any, seconds: float) -> str:
        time.sleep(seconds)
        return "slept"

    def boom(self, ctxt: Any) -> None:
        raise nova_exc.NoValidHost(reason="no hosts")

    def not_allowed(self, ctxt: Any) -> None:
        raise NotAllowedError("secret module")

    @expected_exceptions(nova_exc.InstanceNotFound)
    def expected(self, ctxt: Any) -> None:
        raise nova_exc.InstanceNotFound(instance_id="abc")

    def _private(self, ctxt: Any) -> str:
        return "must not run"


class TaskManager:
    target = Target(namespace="compute_task", version="1.20")
    STEIN_LOCATION = "nova/conductor/manager.py:ComputeTaskManager"

    def schedule_and_build_instances(self, ctxt: Any, n: int) -> str:
        return f"task:{n}"


@pytest.fixture
def transport(transport_url: str, control_exchange: str) -> Iterator[Transport]:
    t = get_transport(transport_url, control_exchange=control_exchange)
    yield t
    t.cleanup()


@pytest.fixture
def serve(transport: Transport, topic: str) -> Iterator[Any]:
    servers = []

    def start(endpoints: list[Any], server: str = "h1", **kw: Any) -> Any:
        srv = get_rpc_server(transport, Target(topic=topic, server=server), endpoints, **kw)
        srv.start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()
        srv.wait()


def client(transport: Transport, topic: str, **kw: Any) -> RPCClient:
    kw.setdefault("timeout", 10)
    return RPCClient(transport, Target(topic=topic, version=kw.pop("version", "4.0")), **kw)


def test_call_returns_result_and_context(transport: Transport, topic: str, serve: Any) -> None:
    serve([Manager()])
    ctxt = {"user_id": "u1", "project_id": "p1", "request_id": "req-1"}
    assert client(transport, topic).call(ctxt, "echo", value=[1, "a"]) == {
        "value": [1, "a"], "ctxt": ctxt, "server": "m"}


def test_cast_is_dispatched_and_returns_at_once(transport: Transport, topic: str,
                                                serve: Any) -> None:
    m = Manager()
    serve([m])
    client(transport, topic).cast({}, "record", value=7)
    assert m.casts.get(timeout=5) == ("m", 7)


def test_server_targeted_call(transport: Transport, topic: str, serve: Any) -> None:
    serve([Manager("one")], server="h1")
    serve([Manager("two")], server="h2")
    cctxt = client(transport, topic).prepare(server="h2")
    assert all(cctxt.call({}, "echo", value=i)["server"] == "two" for i in range(5))


def test_fanout_reaches_every_server(transport: Transport, topic: str, serve: Any) -> None:
    a, b = Manager("a"), Manager("b")
    serve([a], server="h1")
    serve([b], server="h2")
    client(transport, topic).prepare(fanout=True).cast({}, "record", value="all")
    assert a.casts.get(timeout=5) == ("a", "all")
    assert b.casts.get(timeout=5) == ("b", "all")


def test_namespace_picks_the_endpoint(transport: Transport, topic: str, serve: Any) -> None:
    serve([Manager(), TaskManager()])
    c = client(transport, topic)
    assert c.prepare(namespace="compute_task", version="1.17").call(
        {}, "schedule_and_build_instances", n=2) == "task:2"
    with pytest.raises(NoSuchMethod):  # None namespace matches only None
        c.call({}, "schedule_and_build_instances", n=1)
    with pytest.raises(UnsupportedVersion):
        c.prepare(namespace="other").call({}, "echo", value=1)


def test_version_refusal_and_cap(transport: Transport, topic: str, serve: Any) -> None:
    serve([Manager()])
    c = client(transport, topic)
    assert c.prepare(version="4.5").call({}, "echo", value=1)["value"] == 1
    with pytest.raises(UnsupportedVersion) as err:
        c.prepare(version="4.10").call({}, "echo", value=1)   # 10 > 5 as integers
    assert "4.10" in str(err.value)
    with pytest.raises(UnsupportedVersion):
        c.prepare(version="5.0").call({}, "echo", value=1)
    capped = client(transport, topic, version_cap="4.2")
    assert capped.can_send_version("4.2") and not capped.can_send_version("4.3")
    assert not capped.can_send_version("5.0")
    with pytest.raises(RPCVersionCapError):
        capped.prepare(version="4.3").call({}, "echo", value=1)


def test_private_and_unknown_methods_refused(transport: Transport, topic: str,
                                             serve: Any) -> None:
    serve([Manager()])
    c = client(transport, topic)
    for method in ("_private", "no_such_thing"):
        with pytest.raises(NoSuchMethod):
            c.call({}, method)


def test_remote_exceptions(transport: Transport, topic: str, serve: Any,
                           caplog: pytest.LogCaptureFixture) -> None:
    serve([Manager()])
    c = client(transport, topic)
    with pytest.raises(nova_exc.NoValidHost) as err:
        c.call({}, "boom")
    assert type(err.value).__name__ == "NoValidHost_Remote"
    assert type(err.value).__module__ == "services.exception_Remote"
    assert "No valid host was found. no hosts" in str(err.value)
    with pytest.raises(RemoteError) as rerr:
        c.call({}, "not_allowed")
    assert rerr.value.exc_type == "NotAllowedError"
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="services.messaging.server"), \
            pytest.raises(nova_exc.InstanceNotFound):
        c.call({}, "expected")
    assert not [r for r in caplog.records if r.exc_info], "expected exceptions: no traceback"


def test_timeout_without_server(transport: Transport, topic: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(MessagingTimeout):
        client(transport, topic, timeout=0.5).call({}, "echo", value=1)
    assert 0.4 < time.monotonic() - t0 < 3


def test_call_monitor_heartbeats_keep_a_long_call_alive(transport: Transport, topic: str,
                                                        serve: Any) -> None:
    serve([Manager()])
    # heartbeat every _timeout/2 = 1 s; the call takes 3.2 s > call_monitor_timeout 2 s
    c = client(transport, topic, timeout=20).prepare(call_monitor_timeout=2)
    assert c.call({}, "sleep", seconds=3.2) == "slept"


def test_call_monitor_timeout_without_heartbeat(transport: Transport, topic: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(MessagingTimeout):
        client(transport, topic, timeout=30).prepare(call_monitor_timeout=1).call(
            {}, "echo", value=1)
    assert time.monotonic() - t0 < 5


def test_long_call_does_not_block_others(transport: Transport, topic: str,
                                         serve: Any) -> None:
    serve([Manager()])
    c = client(transport, topic)
    slow = threading.Thread(target=c.call, args=({}, "sleep"), kwargs={"seconds": 2})
    slow.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    assert c.call({}, "echo", value=1)["value"] == 1
    assert time.monotonic() - t0 < 1.5
    slow.join()


def _raw_cast(transport: Transport, topic: str, msg: dict[str, Any]) -> None:
    transport.publish(transport.control_exchange, topic, wire.pack(msg))


def test_duplicate_unique_id_dropped(transport: Transport, topic: str, serve: Any) -> None:
    m = Manager()
    serve([m])
    msg = {"method": "record", "args": {"value": "once"}, "version": "4.0",
           "_unique_id": wire.new_id()}
    _raw_cast(transport, topic, msg)
    _raw_cast(transport, topic, msg)
    _raw_cast(transport, topic, dict(msg, _unique_id=wire.new_id(), args={"value": "two"}))
    assert m.casts.get(timeout=5) == ("m", "once")
    assert m.casts.get(timeout=5) == ("m", "two")
    assert m.casts.empty()


def test_bad_input_is_logged_and_server_keeps_serving(
        transport: Transport, topic: str, serve: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    m = Manager()
    serve([m])
    x = transport.control_exchange
    with caplog.at_level(logging.ERROR, logger="services.messaging.server"):
        transport.publish(x, topic, "this is not json {")
        transport.publish(x, topic, json.dumps({"no": "envelope"}))
        transport.publish(x, topic, json.dumps({"oslo.version": "2.0", "oslo.message": "{{"}))
        _raw_cast(transport, topic, {"method": "nope", "args": {}, "_unique_id": "u1"})
        _raw_cast(transport, topic, {"method": "record", "args": {"value": 1},
                                     "version": "9.0", "_unique_id": "u2"})
        assert client(transport, topic).call({}, "echo", value="alive")["value"] == "alive"
        deadline = time.monotonic() + 5
        while len(caplog.records) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(caplog.records) >= 5, [r.getMessage() for r in caplog.records]
    assert m.casts.empty()


def test_spans_for_call_and_cast(transport: Transport, topic: str, serve: Any) -> None:
    events = ListEmitter()
    trace.set_emitter(events)
    try:
        m = Manager()
        serve([m], service="nova-scheduler", host="sched1")
        c = client(transport, topic, code_location="nova/scheduler/rpcapi.py:SchedulerAPI")
        ctxt = {"user_id": "u", "auth_token": "s3cr3t"}
        c.call(ctxt, "echo", value=1)
        c.cast(ctxt, "record", value=2)
        m.casts.get(timeout=5)
        time.sleep(0.1)
        with pytest.raises(nova_exc.NoValidHost):
            c.call(ctxt, "boom")
    finally:
        trace.set_emitter(None)
    evs = events.events
    starts = {e["span_id"]: e for e in evs if e["type"] == "span_start"}
    ends = {e["span_id"]: e for e in evs if e["type"] == "span_end"}
    by = {(e["name"], e["kind"]): e for e in starts.values()}
    cl, sv = by[("echo", "CLIENT")], by[("echo", "SERVER")]
    assert sv["parent_id"] == cl["span_id"] and sv["trace_id"] == cl["trace_id"]
    assert (sv["service"], sv["host"]) == ("nova-scheduler", "sched1")
    a = sv["attrs"]
    assert a["rpc.system"] == "oslo.messaging" and a["rpc.style"] == "call"
    assert a["rpc.method"] == "echo" and a["rpc.version"] == "4.0"
    assert a["code.location"] == "nova/scheduler/manager.py:SchedulerManager.echo"
    assert a["messaging.destination.name"] == transport.control_exchange
    assert a["messaging.rabbitmq.destination.routing_key"] == topic
    assert a["rpc.reply_q"].startswith("reply_") and a["messaging.message.id"]
    assert cl["attrs"]["code.location"] == "nova/scheduler/rpcapi.py:SchedulerAPI.echo"
    assert cl["attrs"]["rpc.timeout"] == 10
    env = json.loads(cl["attrs"]["bootflow.envelope"])
    assert env["_context_auth_token"] == "***" and env["_context_user_id"] == "u"
    assert "bootflow.envelope" not in a  # the traced client's span has the message
    assert "s3cr3t" not in json.dumps(evs)
    # the client span encloses the server span
    assert ends[cl["span_id"]]["ts_ns"] >= ends[sv["span_id"]]["ts_ns"]
    pr, co = by[("record", "PRODUCER")], by[("record", "CONSUMER")]
    assert co["parent_id"] == pr["span_id"]
    assert co["links"] == [{"trace_id": pr["trace_id"], "span_id": pr["span_id"]}]
    assert co["attrs"]["rpc.style"] == "cast"
    inside = by[("inside", "INTERNAL")]
    assert inside["parent_id"] == co["span_id"] and inside["service"] == "nova-scheduler"
    boom_client = by[("boom", "CLIENT")]
    assert ends[boom_client["span_id"]]["status"] == "ERROR"
    assert ends[by[("boom", "SERVER")]["span_id"]]["status"] == "ERROR"


def test_many_concurrent_callers_and_long_calls(transport: Transport, topic: str,
                                                serve: Any) -> None:
    """Callers share one reply connection (whoever holds it drains for the others) and
    the server runs long calls side by side (a stuck leader hands the connection on)."""
    serve([Manager()])
    c = client(transport, topic, timeout=20)
    results: dict[int, Any] = {}

    def one(i: int) -> None:
        results[i] = c.call({}, "sleep", seconds=0.5) if i % 2 else \
            c.call({}, "echo", value=i)["value"]

    t0 = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    elapsed = time.monotonic() - t0
    assert results == {i: "slept" if i % 2 else i for i in range(24)}
    assert elapsed < 4, f"12 calls of 0.5 s took {elapsed:.1f} s: not run concurrently"


def test_replies_and_heartbeats_are_recorded_as_messages(transport: Transport, topic: str,
                                                         serve: Any) -> None:
    """Each reply (``ending: true``) and each call-monitor heartbeat (``ending: false``) is
    an event on the handler's span with the message as sent: the model puts them on the
    call's hop, between the handler's end and the caller's wake-up."""
    from tracer.model import snapshot_of

    events = ListEmitter()
    trace.set_emitter(events)
    try:
        serve([Manager()], service="nova-scheduler", host="sched1")
        c = client(transport, topic, timeout=20).prepare(call_monitor_timeout=2)
        assert c.call({}, "sleep", seconds=2.6) == "slept"   # heartbeats every 1 s
        with pytest.raises(nova_exc.NoValidHost):
            client(transport, topic).call({}, "boom")
    finally:
        trace.set_emitter(None)
    evs = events.events
    replies = [e for e in evs if e["type"] == "annotate" and e["name"] == "rpc.reply"]
    beats = [e for e in evs if e["type"] == "annotate" and e["name"] == "rpc.heartbeat"]
    assert len(replies) == 2 and len(beats) >= 2
    slept = json.loads(replies[0]["attrs"]["bootflow.envelope"])
    assert slept["result"] == "slept" and slept["ending"] is True and slept["failure"] is None
    assert json.loads(beats[0]["attrs"]["bootflow.envelope"])["ending"] is False
    assert replies[0]["attrs"]["messaging.rabbitmq.destination.routing_key"].startswith(
        "reply_")
    assert replies[1]["attrs"]["rpc.reply.failure"] == "NoValidHost"
    assert "NoValidHost" in json.loads(replies[1]["attrs"]["bootflow.envelope"])["failure"]

    hops = [h for h in snapshot_of(evs).hops if h.style == "call"]
    sleep_hop, boom_hop = hops
    reply = sleep_hop.reply
    assert reply is not None and reply.size == replies[0]["attrs"][
        "messaging.message.body.size"] > 0
    assert reply.sender == ("nova-scheduler", "sched1")
    assert len(sleep_hop.heartbeats) == len(beats)
    assert all(b.ts_ns < reply.ts_ns for b in sleep_hop.heartbeats)
    assert sleep_hop.handled_ns is not None and sleep_hop.done_ns is not None
    assert sleep_hop.handled_ns <= reply.ts_ns <= sleep_hop.done_ns
    assert boom_hop.reply is not None and boom_hop.reply.failure == "NoValidHost"
