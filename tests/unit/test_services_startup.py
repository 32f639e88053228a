"""Service start-up: spans per step, compute waits for the conductor, heartbeats."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from support.boot_flow import Spans

from services import rpc
from services.conf import Config
from services.db import api as db
from services.launcher import start_service
from tracer.instrument import api as trace


def test_compute_waits_for_conductor_then_starts(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    trace.set_emitter(events.append)
    cfg = Config.load(env={}, state_dir=str(tmp_path), early_timeout=0.3, report_interval=0.2,
                      virt_type="fake", control_exchange=f"startup-{time.time_ns()}")
    db.configure(cfg)
    started: list[Any] = []
    logs: list[str] = []
    compute = threading.Thread(target=lambda: started.append(
        start_service("nova-compute", "compute1", cfg, log=logs.append)), daemon=True)
    services = []
    try:
        compute.start()
        time.sleep(1.0)  # the compute pings an absent conductor meanwhile
        assert not started
        services.append(start_service("nova-conductor", "conductor", cfg))
        compute.join(timeout=10)
        assert started, "compute never finished starting"
        services.append(started[0])
        time.sleep(0.7)
    finally:
        for svc in services:
            svc.stop()
        trace.set_emitter(None)

    assert logs and "Timed out waiting for nova-conductor" in logs[0]
    spans = Spans(events)
    pings = spans.find("ping", "CLIENT", "nova-compute")
    assert len(pings) >= 2
    assert [p.status for p in pings][-1] == "OK"
    assert any(p.status == "ERROR" for p in pings)
    for binary in ("nova-compute", "nova-conductor"):
        (root,) = spans.find(f"start {binary}")
        steps = {s.name for s in spans.find(trace_id=root.trace_id)}
        assert {"Service.create", "Service.start", "init_host", "pre_start_hook",
                "rpcserver.start", "post_start_hook", "servicegroup.join"} <= steps
    reports = [e["attrs"]["report_count"] for e in events
               if e["type"] == "annotate" and e["name"] == "service.report"
               and e["attrs"]["binary"] == "nova-compute"]
    assert reports and reports == sorted(reports) and reports[0] == 1
    # the compute's heartbeat is an object_action call to the conductor
    assert spans.find("object_action", "SERVER", "nova-conductor")


def test_rpc_transport_tuned_for_memory() -> None:
    cfg = Config.load(env={})
    t = rpc.get_transport(cfg)
    try:
        assert t.is_memory and t.control_exchange == "nova"
        assert "services.exception" in t.allowed_remote_exmods
    finally:
        t.cleanup()
