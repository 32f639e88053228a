"""Real oslo.messaging (threading executor) and services.messaging over RabbitMQ, both ways."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from typing import Any

import kombu
import oslo_messaging as om
import oslo_messaging.opts
import pytest
from oslo_config import cfg
from oslo_messaging._metrics import client as _oslo_metrics
from oslo_messaging._tracing import client as _oslo_tracing

from services import exception as nova_exc
from services.messaging import (
    RPCClient,
    Target,
    Transport,
    UnsupportedVersion,
    get_rpc_server,
    get_transport,
    wire,
)
from tracer.instrument import api as trace
from tracer.instrument.emitter import ListEmitter


class _Manager:
    """The same endpoint on either side; *tag* marks its casts, *where* its failures."""

    tag = where = ""

    def __init__(self) -> None:
        self.casts: queue.Queue[Any] = queue.Queue()

    def echo(self, ctxt: Any, value: Any) -> Any:
        return {"value": value, "user_id": ctxt.get("user_id")}

    def record(self, ctxt: Any, value: Any) -> None:
        self.casts.put((self.tag, value))

    def boom(self, ctxt: Any) -> None:
        raise nova_exc.NoValidHost(reason=self.where)

    def sleep(self, ctxt: Any, seconds: float) -> str:
        time.sleep(seconds)
        return "slept"


class _TaskManager:
    prefix = ""

    def schedule_and_build_instances(self, ctxt: Any, n: int) -> str:
        return f"{self.prefix}-task:{n}"


class OsloManager(_Manager):
    """An endpoint served by real oslo.messaging."""

    target = om.Target(version="4.5")
    tag, where = "oslo", "oslo side"


class OsloTaskManager(_TaskManager):
    target = om.Target(namespace="compute_task", version="1.20")
    prefix = "oslo"


class OurManager(_Manager):
    target = Target(version="4.5")
    tag, where = "ours", "our side"


class OurTaskManager(_TaskManager):
    target = Target(namespace="compute_task", version="1.20")
    prefix = "our"


@pytest.fixture
def ours(rabbit_url: str, control_exchange: str) -> Iterator[Transport]:
    t = get_transport(rabbit_url, control_exchange=control_exchange)
    yield t
    t.cleanup()


def _oslo_transport(url: str, exchange: str, allowed: list[str] | None = None) -> Any:
    conf = cfg.ConfigOpts()
    conf([], project="bootflow-interop")
    om.set_transport_defaults(control_exchange="nova")  # Nova's, as in nova/rpc.py
    # oslo 18 registers some options (tracing, metrics) on cfg.CONF only
    for group, opts in om.opts.list_opts():
        conf.register_opts(list(opts), group=group)
    conf.register_opts(_oslo_tracing.oslo_messaging_tracing, group="oslo_messaging_tracing")
    conf.register_opts(_oslo_metrics.oslo_messaging_metrics, group="oslo_messaging_metrics")
    conf.set_override("control_exchange", exchange)  # this test's own
    return om.get_rpc_transport(conf, url=url, allowed_remote_exmods=allowed or [])


@pytest.fixture
def oslo(rabbit_url: str, control_exchange: str) -> Iterator[Any]:
    made: list[Any] = []

    def make(allowed: list[str] | None = None) -> Any:
        tr = _oslo_transport(rabbit_url, control_exchange, allowed)
        made.append(tr)
        return tr

    yield make
    for tr in made:
        tr.cleanup()


@pytest.fixture
def oslo_server(oslo: Any, topic: str) -> Iterator[Any]:
    servers = []

    def start(endpoints: list[Any], server: str = "h1") -> Any:
        srv = om.get_rpc_server(oslo(), om.Target(topic=topic, server=server), endpoints,
                                executor="threading")
        srv.start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()
        srv.wait()


@pytest.fixture
def our_server(ours: Transport, topic: str) -> Iterator[Any]:
    servers = []

    def start(endpoints: list[Any], server: str = "h1") -> Any:
        srv = get_rpc_server(ours, Target(topic=topic, server=server), endpoints)
        srv.start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()
        srv.wait()


# -- our client -> real oslo server ---------------------------------------------------

def test_our_client_to_oslo_server(ours: Transport, topic: str, oslo_server: Any) -> None:
    m = OsloManager()
    oslo_server([m, OsloTaskManager()])
    c = RPCClient(ours, Target(topic=topic, version="4.0"), timeout=10)
    assert c.call({"user_id": "u1"}, "echo", value=[1, 2]) == {"value": [1, 2],
                                                              "user_id": "u1"}
    c.cast({}, "record", value="cast")
    assert m.casts.get(timeout=5) == ("oslo", "cast")
    c.prepare(server="h1").cast({}, "record", value="direct")
    assert m.casts.get(timeout=5) == ("oslo", "direct")
    c.prepare(fanout=True).cast({}, "record", value="fan")
    assert m.casts.get(timeout=5) == ("oslo", "fan")
    assert c.prepare(namespace="compute_task", version="1.17").call(
        {}, "schedule_and_build_instances", n=3) == "oslo-task:3"


def test_our_client_sees_oslo_refusals_and_exceptions(ours: Transport, topic: str,
                                                      oslo_server: Any) -> None:
    oslo_server([OsloManager()])
    c = RPCClient(ours, Target(topic=topic, version="4.0"), timeout=10)
    with pytest.raises(UnsupportedVersion) as err:
        c.prepare(version="4.6").call({}, "echo", value=1)
    assert type(err.value).__name__ == "UnsupportedVersion_Remote"
    with pytest.raises(nova_exc.NoValidHost) as boom:
        c.call({}, "boom")
    assert type(boom.value).__name__ == "NoValidHost_Remote"
    assert "oslo side" in str(boom.value)


def test_our_call_monitor_with_oslo_heartbeats(ours: Transport, topic: str,
                                               oslo_server: Any) -> None:
    oslo_server([OsloManager()])
    c = RPCClient(ours, Target(topic=topic, version="4.0"), timeout=20)
    assert c.prepare(call_monitor_timeout=2).call({}, "sleep", seconds=3.2) == "slept"


# -- real oslo client -> our server -----------------------------------------------------

def test_oslo_client_to_our_server(oslo: Any, topic: str, our_server: Any) -> None:
    m = OurManager()
    our_server([m, OurTaskManager()])
    c = om.get_rpc_client(oslo(), om.Target(topic=topic, version="4.0"), timeout=10)
    events = ListEmitter()
    trace.set_emitter(events)
    try:
        assert c.call({"user_id": "u2", "auth_token": "s3cr3t"}, "echo", value="x") == \
            {"value": "x", "user_id": "u2"}
    finally:
        trace.set_emitter(None)
    # oslo traces nothing: our server span is the only record of the message, so it
    # carries the envelope (secrets masked)
    server = next(e for e in events.events if e["type"] == "span_start")
    assert server["kind"] == "SERVER" and server["parent_id"] is None
    envelope = json.loads(server["attrs"]["bootflow.envelope"])
    assert envelope["method"] == "echo" and envelope["_context_auth_token"] == "***"
    assert "s3cr3t" not in json.dumps(events.events)
    c.cast({}, "record", value="cast")
    assert m.casts.get(timeout=5) == ("ours", "cast")
    c.prepare(fanout=True).cast({}, "record", value="fan")
    assert m.casts.get(timeout=5) == ("ours", "fan")
    assert c.prepare(namespace="compute_task", version="1.17").call(
        {}, "schedule_and_build_instances", n=4) == "our-task:4"


def test_oslo_client_sees_our_refusals_and_exceptions(oslo: Any, topic: str,
                                                      our_server: Any) -> None:
    our_server([OurManager()])
    allowed = om.get_rpc_client(
        oslo(["services.exception", "oslo_messaging.rpc.dispatcher"]),
        om.Target(topic=topic, version="4.0"), timeout=10)
    with pytest.raises(om.UnsupportedVersion):
        allowed.prepare(version="4.6").call({}, "echo", value=1)
    with pytest.raises(nova_exc.NoValidHost) as boom:
        allowed.call({}, "boom")
    assert type(boom.value).__name__ == "NoValidHost_Remote"
    plain = om.get_rpc_client(oslo(), om.Target(topic=topic, version="4.0"), timeout=10)
    with pytest.raises(om.RemoteError) as err:
        plain.prepare(version="5.0").call({}, "echo", value=1)
    assert err.value.exc_type == "UnsupportedVersion"
    with pytest.raises(om.RemoteError) as err2:
        plain.call({}, "boom")
    assert err2.value.exc_type == "NoValidHost"
    with pytest.raises(om.RemoteError) as err3:
        plain.call({}, "no_such_method")
    assert err3.value.exc_type == "NoSuchMethod"


def test_oslo_call_monitor_with_our_heartbeats(oslo: Any, topic: str,
                                               our_server: Any) -> None:
    our_server([OurManager()])
    c = om.get_rpc_client(oslo(), om.Target(topic=topic, version="4.0"), timeout=20,
                          call_monitor_timeout=2)
    assert c.call({}, "sleep", seconds=3.2) == "slept"


def test_fanout_reaches_oslo_and_our_servers_on_one_topic(
        ours: Transport, topic: str, oslo_server: Any, our_server: Any) -> None:
    om_m, our_m = OsloManager(), OurManager()
    oslo_server([om_m], server="oslo-host")
    our_server([our_m], server="our-host")   # shares queue `topic` with the oslo server
    c = RPCClient(ours, Target(topic=topic, version="4.0"), timeout=10)
    assert c.prepare(server="oslo-host").call({}, "echo", value=0)["value"] == 0  # it is up
    c.prepare(fanout=True).cast({}, "record", value="f")
    assert om_m.casts.get(timeout=5) == ("oslo", "f")
    assert our_m.casts.get(timeout=5) == ("ours", "f")


# -- what is on the wire ----------------------------------------------------------------

def _spy(rabbit_url: str, exchange: str, key: str) -> tuple[kombu.Connection, kombu.Queue]:
    conn = kombu.Connection(rabbit_url.replace("rabbit://", "amqp://"))
    q = kombu.Queue(f"spy_{wire.new_id()[:8]}", kombu.Exchange(exchange, "topic",
                                                                durable=False),
                    routing_key=key, auto_delete=True, durable=False)
    q(conn.default_channel).declare()
    return conn, q


def test_wire_properties_match_oslo(rabbit_url: str, control_exchange: str, ours: Transport,
                                    oslo: Any, topic: str, our_server: Any) -> None:
    srv = our_server([OurManager()])
    conn, q = _spy(rabbit_url, control_exchange, topic)
    try:
        ctxt = {"user_id": "u", "request_id": "req-1"}
        RPCClient(ours, Target(topic=topic, version="4.1", namespace=None), timeout=7).call(
            ctxt, "echo", value=1)
        om.get_rpc_client(oslo(), om.Target(topic=topic, version="4.1"), timeout=7).call(
            ctxt, "echo", value=1)
        bound = q(conn.default_channel)
        got = [bound.get(no_ack=True) for _ in range(2)]
        for m in got:
            assert m is not None
            p = m.properties
            assert m.content_type == "application/json"
            assert m.content_encoding == "utf-8"
            assert p["delivery_mode"] == 2
            assert p["expiration"] == "7000"
            outer = json.loads(m.body)
            assert outer["oslo.version"] == "2.0"
            inner = json.loads(outer["oslo.message"])
            assert set(inner) >= {"method", "args", "version", "_msg_id", "_reply_q",
                                  "_timeout", "_unique_id", "_context_user_id",
                                  "_context_request_id"}
            assert inner["_reply_q"].startswith("reply_") and len(inner["_reply_q"]) == 38
            assert "namespace" not in inner
        ours_keys, oslo_keys = (set(json.loads(json.loads(m.body)["oslo.message"]))
                                for m in got)
        assert ours_keys == oslo_keys
        # the queues a Stein server consumes, declared passively (they must exist)
        ch = conn.channel()
        for name in (topic, f"{topic}.h1", srv.fanout_queue,
                     json.loads(json.loads(got[0].body)["oslo.message"])["_reply_q"]):
            kombu.Queue(name, channel=ch).queue_declare(passive=True)
        assert srv.fanout_queue.startswith(f"{topic}_fanout_") and len(srv.fanout_queue) == len(
            topic) + 8 + 32
    finally:
        conn.release()
