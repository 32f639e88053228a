"""The walkthrough gate: a held message is not dispatched until released, one per release."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from services.messaging import RPCClient, Target, Transport, get_rpc_server, get_transport, wire
from services.messaging.gate import ControlGate, GateController, get_gate, set_gate


class Recorder:
    target = Target(version="1.0")

    def __init__(self) -> None:
        self.got: queue.Queue[Any] = queue.Queue()

    def record(self, ctxt: Any, value: Any) -> None:
        self.got.put(value)

    def echo(self, ctxt: Any, value: Any) -> Any:
        return value


@pytest.fixture
def setup(transport_url: str, control_exchange: str) -> Iterator[tuple[Transport, str, Any]]:
    tr = get_transport(transport_url, control_exchange=control_exchange)
    topic = f"g_{wire.new_id()[:8]}"
    rec = Recorder()
    srv = get_rpc_server(tr, Target(topic=topic, server="h"), [rec], service="svc", host="h")
    srv.start()
    yield tr, topic, rec
    set_gate(None)
    srv.stop()
    srv.wait()
    tr.cleanup()


def _wait_pending(ctl: GateController, n: int, timeout: float = 5) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = ctl.pending()
        if len(p) >= n:
            return p
        time.sleep(0.02)
    return ctl.pending()


def test_cast_held_until_release_one_per_release(setup: Any, transport_url: str) -> None:
    tr, topic, rec = setup
    gate = ControlGate(transport_url)
    seen: list[str] = []
    ctl = GateController(transport_url, on_pending=lambda hid, hop: seen.append(hid))
    set_gate(gate)
    try:
        assert get_gate() is gate
        c = RPCClient(tr, Target(topic=topic, version="1.0"))
        c.cast({}, "record", value=1)
        c.cast({}, "record", value=2)
        pending = _wait_pending(ctl, 1)
        assert pending and pending[0]["hop"]["method"] == "record"
        hop = pending[0]["hop"]
        assert hop["style"] == "cast" and hop["topic"] == topic and hop["service"] == "svc"
        time.sleep(0.3)
        assert rec.got.empty(), "dispatched while held"
        assert gate.clock_held()
        assert ctl.release_next() == pending[0]["hop_id"]
        assert rec.got.get(timeout=5) == 1
        _wait_pending(ctl, 1)
        time.sleep(0.3)
        assert rec.got.empty(), "one release let through more than one hop"
        ctl.release_next()
        assert rec.got.get(timeout=5) == 2
        assert len(seen) == 2
        # gate off: everything passes; a call waits beyond its timeout while held
        ctl.set_enabled(False)
        time.sleep(0.3)
        c.cast({}, "record", value=3)
        assert rec.got.get(timeout=5) == 3
        ctl.set_enabled(True)
        time.sleep(0.3)

        result: list[Any] = []
        t = threading.Thread(target=lambda: result.append(
            c.prepare(timeout=0.5).call({}, "echo", value="late")))
        t.start()
        _wait_pending(ctl, 1)
        time.sleep(1.0)            # longer than the call's timeout: the clock is held
        ctl.release_next()
        t.join(timeout=10)
        assert result == ["late"]
    finally:
        set_gate(None)
        ctl.close()
        gate.close()


def test_callable_gate(setup: Any) -> None:
    tr, topic, rec = setup
    hops: list[dict[str, Any]] = []
    set_gate(hops.append)
    RPCClient(tr, Target(topic=topic, version="1.0")).cast({}, "record", value="x")
    assert rec.got.get(timeout=5) == "x"
    assert hops[0]["method"] == "record" and hops[0]["server"] == "h"
