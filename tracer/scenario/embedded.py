"""Run one scenario on the embedded cloud: topology, faults, requests, then the checks.

Why a subclass of EmbeddedCloud: scenarios need what the default cloud fixes (start
order, services left out, per-compute resources and version caps), but the very same
Service/manager code must run, so only the start-up sequence is ours. Events go
emitter → broker → collector exactly as in ``bootflow demo`` (DemoRun is reused).
"""

from __future__ import annotations

import dataclasses
import tempfile
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services import rpc
from services.api.router import build_app
from services.conf import Config
from services.db import api as db
from services.db import models
from services.launcher import start_service
from services.messaging.gate import get_gate
from tracer.cloud.embedded import EmbeddedCloud
from tracer.instrument import api as trace
from tracer.instrument.redact import redact_url
from tracer.scenario.spec import Scenario, ScenarioRunError, faults_of, named
from tracer.session import CollectedEvents, DemoRun, EventPipe

KNOWN_IMAGES = ("bootflow-guest",)
SERVICE_HOSTS = {"nova-conductor": "conductor", "nova-scheduler": "scheduler"}
GATE_SLICE_S = 0.5  # how often a wait looks whether the gate holds a hop


def wait_unheld(step: Callable[[float], bool], timeout: float) -> bool:
    """Call ``step(seconds)`` until it is True or *timeout* has run out, counting only
    time in which no hop was held (a learner may look at one hop for minutes in
    ``--walkthrough``; ``--pace`` holds every hop). Without a gate: one plain step."""
    if get_gate() is None:
        return step(timeout)
    spent = 0.0
    while spent < timeout:
        t0 = time.monotonic()
        if step(min(GATE_SLICE_S, timeout - spent)):
            return True
        if not _gate_holds():
            spent += time.monotonic() - t0
    return False


def _gate_holds() -> bool:
    """Whether the pace or the walkthrough gate holds a hop right now."""
    gate = get_gate()
    return gate is not None and gate.clock_held()


class ScenarioCloud(EmbeddedCloud):
    """EmbeddedCloud with the scenario's start order, per-host configs and gaps."""

    def __init__(self, config: Any, scenario: Scenario) -> None:
        self.config = config
        self.log = None
        self.services = []
        self._transports = []
        self._lock = threading.Lock()
        db.configure(config)
        try:
            self._add_flavors(scenario)
            self._start_all(scenario)
            self.discover_hosts()
            with trace.identity("nova-api", "api"):
                self.app = build_app(self._transport(), config)
        except BaseException:
            self.stop()
            raise

    def _add_flavors(self, scenario: Scenario) -> None:
        flavors = scenario.data["topology"].get("flavors") or []
        with db.api_session() as s:
            for i, f in enumerate(flavors):
                s.add(models.Flavor(flavorid=str(1000 + i), name=f["name"],
                                    memory_mb=f["memory_mb"], vcpus=f["vcpus"],
                                    root_gb=f["disk_gb"], ephemeral_gb=0, swap=0,
                                    extra_specs={}))

    def _plan(self, scenario: Scenario) -> list[tuple[str, str, Any]]:
        plan: list[tuple[str, str, Any]] = [
            ("nova-conductor", "conductor", self.config),
            ("nova-scheduler", "scheduler", self.config)]
        for c in scenario.data["topology"]["computes"]:
            extra = dict(self.config.extra)
            res = {k2: c[k1] for k1, k2 in (("vcpus", "vcpus"), ("memory_mb", "memory_mb"),
                                            ("disk_gb", "local_gb")) if k1 in c}
            if res:
                extra["fake_resources"] = res
            if "service_version" in c:
                extra["service_version"] = c["service_version"]
            plan.append(("nova-compute", c["name"], dataclasses.replace(
                self.config, extra=extra,
                upgrade_levels=dict(c.get("upgrade_levels")
                                    or self.config.upgrade_levels or {}))))
        down = {(d["service"], d.get("host", SERVICE_HOSTS.get(d["service"])))
                for d in faults_of(scenario, "service_down")}
        return [p for p in plan if (p[0], p[1]) not in down and (p[0], None) not in down]

    def _start_all(self, scenario: Scenario) -> None:
        """Non-late services in order (in a thread: a compute blocks in its ping loop
        while the conductor is late), then each late one after its delay."""
        late = {(f["service"], f.get("host", SERVICE_HOSTS.get(f["service"]))): f["after_s"]
                for f in faults_of(scenario, "late_start")}
        plan = self._plan(scenario)
        first = [p for p in plan if (p[0], p[1]) not in late and (p[0], None) not in late]
        later = [p for p in plan if p not in first]
        errors: list[BaseException] = []

        def start(items: list[tuple[str, str, Any]]) -> None:
            try:
                for binary, host, cfg in items:
                    self.start_service(binary, host, cfg)
            except BaseException as exc:  # re-raised in the caller
                errors.append(exc)

        worker = threading.Thread(target=start, args=(first,), daemon=True,
                                  name="scenario-start")
        worker.start()
        t0 = time.monotonic()
        for item in sorted(later, key=lambda p: late.get((p[0], p[1]),
                                                         late.get((p[0], None), 0))):
            delay = late.get((item[0], item[1]), late.get((item[0], None), 0))
            time.sleep(max(0.0, t0 + delay - time.monotonic()))
            start([item])
        worker.join(timeout=120)
        if errors:
            raise errors[0]
        if worker.is_alive():
            raise ScenarioRunError("services did not finish starting within 120 s")

    def start_service(self, binary: str, host: str, config: Any = None) -> Any:
        service = start_service(binary, host, config or self.config, self._transport(),
                                self.log)
        with self._lock:
            self.services.append(service)
        return service

    def _transport(self) -> Any:
        t = rpc.get_transport(self.config)
        with self._lock:
            self._transports.append(t)
        return t


class ScenarioRun(DemoRun):
    """DemoRun whose cloud is built from a scenario; requests come from the file."""

    def __init__(self, scenario: Scenario, transport_url: str, record: Path | None = None,
                 trace_exchange: str = "bootflow.trace", timeout: float = 30.0) -> None:
        super().__init__(transport_url)
        self.scenario = scenario
        self.trace_exchange = trace_exchange
        self.timeout = timeout
        self.sink = CollectedEvents(record, source="scenario", scenario=scenario.name,
                                    transport=redact_url(transport_url))
        self.uuids: dict[str, list[str]] = {}

    def start(self) -> None:
        data = self.scenario.data
        self._state_dir = tempfile.TemporaryDirectory(prefix="bootflow-scenario-")
        extra: dict[str, Any] = {}
        hosts = [h for f in faults_of(self.scenario, "spawn_fails") for h in f.get("hosts", [])]
        if hosts:
            extra["fake_fail_spawn_hosts"] = hosts
        times = sum(f.get("times", 0) for f in faults_of(self.scenario, "spawn_fails"))
        if times:
            extra["fake_spawn_failures"] = [f"injected spawn failure {i + 1}"
                                            for i in range(times)]
        virt_type = data["topology"].get("virt_type", "fake")
        if extra and virt_type != "fake":
            raise ScenarioRunError("spawn_fails needs topology.virt_type: fake")
        for image in data["topology"].get("images") or []:
            if image not in KNOWN_IMAGES:
                raise ScenarioRunError(f"unknown image {image!r} (the catalogue has "
                                       f"{', '.join(KNOWN_IMAGES)})")
        # a control exchange of its own: a previous run's queued messages never leak in
        config = Config.load(env={}, state_dir=self._state_dir.name,
                             transport_url=self.transport_url, virt_type=virt_type,
                             control_exchange=f"scenario_{uuidlib.uuid4().hex[:8]}",
                             extra=extra, **dict(data.get("config") or {}))
        self._pipe = EventPipe(self.transport_url, self.sink, exchange=self.trace_exchange)
        self._pipe.start()
        try:
            self.cloud = ScenarioCloud(config, self.scenario)
        except BaseException:
            self.stop()
            raise

    def run_requests(self) -> None:
        for req in self.scenario.data["requests"]:
            if "wait" in req:
                time.sleep(float(req["wait"]))
            elif "boot" in req:
                b = req["boot"]
                servers = self.cloud.boot(b["name"], flavor=b.get("flavor", "m1.tiny"),
                                          image=b.get("image", "bootflow-guest"),
                                          count=b.get("count", 1))
                self.uuids.setdefault(b["name"], []).extend(s["id"] for s in servers)
                if b.get("wait", True):
                    self._wait(self.uuids[b["name"]], ("active", "error"))
            elif "delete" in req:
                d = req["delete"]
                for u in self._named(d["name"]):
                    self.cloud.delete(u)
                if d.get("wait", True):
                    self._wait(self._named(d["name"]), ("deleted",))
            elif "reboot" in req:
                r = req["reboot"]
                for u in self._named(r["name"]):
                    status = self.cloud.reboot(u, r.get("type", "SOFT"))
                    if status != 202:
                        raise ScenarioRunError(f"reboot of {r['name']!r} answered {status}")
                if r.get("wait", True):
                    self._wait(self._named(r["name"]), ("active", "error"))
            else:
                raise ScenarioRunError(f"request {', '.join(req)!r}: the embedded runner "
                                       "runs boot, delete, reboot and wait only")

    def _named(self, name: str) -> list[str]:
        return named(self.uuids, name)

    def _wait(self, uuids: list[str], states: tuple[str, ...]) -> None:
        """Until the instances reach *states*; after the timeout the checks report the
        states they were left in."""
        def reached(seconds: float) -> bool:
            try:
                self.cloud.wait_for_instances(uuids, timeout=seconds, states=states)
            except TimeoutError:
                return False
            return True

        wait_unheld(reached, self.timeout)

    def wait_quiet(self, timeout: float, settle: float = 0.2) -> bool:
        """Quiet means no hop held either: a held cast leaves no span open."""
        return wait_unheld(lambda s: super(ScenarioRun, self).wait_quiet(s, settle)
                           and not _gate_holds(), timeout)

    def final_rows(self) -> dict[str, list[dict[str, Any]]]:
        return {name: [self.cloud.instance_state(u) or {"uuid": u} for u in uuids]
                for name, uuids in self.uuids.items()}
