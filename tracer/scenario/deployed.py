"""Run a ``requires: deployment`` scenario on a real process deployment over RabbitMQ.

Why processes: a partition and a broker pause are network faults; threads of one
process cannot lose the broker one at a time. So the runner starts ``bootflow up``'s
deployment (tracer/cloud/processes.py: conductor, scheduler, compute1..N, api, ``--virt test``)
in a state folder of its own, with its own control and trace exchanges, and puts a
``tracer.cloud.netfault.Forwarder`` in the path it will break:

- ``partition: {host: compute2}``: compute2 runs inside its own network namespace
  (``ip netns exec``) whose only way out is a veth pair to a forwarder on the host side;
  the fault cuts that forwarder (``heal: true``, the default, restores it after the
  requests and waits until the compute reports up again).
- ``broker_pause: {seconds: N, at: METHOD}``: every service reaches the broker through
  one forwarder, paused for N seconds when the trace shows the first span of rpc METHOD
  (default ``select_destinations``): every byte and new connection is held, then resumed.

The collector (this process) talks to the broker directly, so the trace is complete.

Why a vhost of its own: oslo names a topic's queue after the topic alone (``conductor``,
``compute.compute1``), whatever the control exchange, so two deployments on one broker
share those queues and take each other's messages (seen here: a compute's
``ComputeNode.save`` answered by another deployment's conductor). The runner creates
vhost ``bootflow_scenario_<tag>`` with ``rabbitmqctl`` and deletes it (queues,
exchanges and all) at the end. Cleanup (processes, namespace, veth, forwarders, vhost,
state folder) is in finally.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import urllib.parse
import uuid as uuidlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tracer.cloud.vhost import VhostError, add_vhost, in_vhost, rabbitmqctl
from tracer.instrument.api import Event
from tracer.instrument.redact import redact_url
from tracer.model.constants import SENDING_KINDS
from tracer.scenario.spec import (
    Scenario,
    ScenarioResult,
    ScenarioRunError,
    check_trace,
    faults_of,
    named,
)
from tracer.session import CollectedEvents, request_trace_ids, wait_quiet

DEFAULT_RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
ADMIN_TOKEN = "admin:admin"
UP_TIMEOUT = 60.0


def deployment_transport(transport_url: str) -> str:
    """The broker a deployment scenario uses: memory:// means the default RabbitMQ."""
    return DEFAULT_RABBIT if transport_url.startswith("memory://") else transport_url


def check_prerequisites(scenario: Scenario, transport_url: str) -> None:
    """ScenarioRunError (one line naming the fix) unless this machine can run it."""
    from tracer.cloud.netfault import NetFaultError, check_netns
    from tracer.cloud.processes import DeployError, check_rabbit

    if not transport_url.startswith(("rabbit://", "amqp://")):
        raise ScenarioRunError(f"scenario {scenario.name!r} needs RabbitMQ (got "
                               f"{redact_url(transport_url)}); fix: --transport "
                               f"{DEFAULT_RABBIT}")
    try:
        check_rabbit(transport_url)
    except DeployError as exc:
        raise ScenarioRunError(f"scenario {scenario.name!r}: {exc}") from None
    if shutil.which("rabbitmqctl") is None:
        raise ScenarioRunError(f"scenario {scenario.name!r} runs in a RabbitMQ vhost of "
                               "its own and needs rabbitmqctl to create it; fix: run on the "
                               "broker's host with rabbitmqctl in PATH (apt-get install "
                               "rabbitmq-server)")
    if faults_of(scenario, "partition"):
        try:
            check_netns()
        except NetFaultError as exc:
            raise ScenarioRunError(f"scenario {scenario.name!r}: {exc}") from None


class DeploymentRun:
    """One deployment built from a scenario: start, faults, requests, rows, stop."""

    def __init__(self, scenario: Scenario, transport_url: str, record: Path | None = None,
                 timeout: float = 30.0) -> None:
        self.scenario = scenario
        self.timeout = timeout
        self.tag = uuidlib.uuid4().hex[:8]
        self.vhost = f"bootflow_scenario_{self.tag}"
        self.broker_url = transport_url  # the default vhost: only to manage ours
        self._vhost_made = False
        # every service and the collector: our vhost
        self.transport_url = in_vhost(transport_url, self.vhost)
        self.control_exchange = f"scenario_{self.tag}"
        self.trace_exchange = f"bootflow.trace.scenario_{self.tag}"
        self.sink = CollectedEvents(record, source="scenario", scenario=scenario.name,
                                    transport=redact_url(transport_url))
        self.uuids: dict[str, list[str]] = {}
        self.services: dict[str, list[dict[str, Any]]] = {}
        self.notes: list[str] = []
        self.deployment: Any = None
        self.client: Any = None
        self._state_dir: str | None = None
        self._collector: Any = None
        self._forwarders: dict[str, Any] = {}  # "*" (all services) or a host
        self._namespaces: list[Any] = []
        self._pause_armed: threading.Event | None = None
        self._pause_thread: threading.Thread | None = None
        self._stopping = False

    # ---- start ---------------------------------------------------------------------
    def computes(self) -> list[str]:
        names = [c["name"] for c in self.scenario.data["topology"]["computes"]]
        want = [f"compute{i}" for i in range(1, len(names) + 1)]
        if names != want:
            raise ScenarioRunError(f"a deployment names its computes {', '.join(want)}; "
                                   f"the scenario has {', '.join(names)}")
        return names

    def start(self) -> None:
        from tracer.cloud.api_client import APIClient
        from tracer.cloud.netfault import Forwarder, NetFaultError, NetNamespace, broker_address
        from tracer.cloud.processes import DeployError, Deployment, free_port
        from tracer.collector import Collector

        computes = self.computes()
        self._make_vhost()
        upstream = broker_address(self.transport_url)
        service_url = self.transport_url
        if faults_of(self.scenario, "broker_pause"):
            fwd = Forwarder(upstream)
            self._forwarders["*"] = fwd
            service_url = fwd.url(self.transport_url)
        host_options: dict[str, dict[str, str]] = {}
        placement_port = free_port()
        try:
            for part in faults_of(self.scenario, "partition"):
                if part["host"] not in computes:
                    raise ScenarioRunError(f"partition host {part['host']!r} is not one of "
                                           f"{', '.join(computes)}")
                ns = NetNamespace()
                self._namespaces.append(ns)
                ns.create()
                fwd = Forwarder(upstream, (ns.host_ip, 0))
                self._forwarders[part["host"]] = fwd
                # placement over HTTP, through its own forwarder: the partition cuts both
                to_placement = Forwarder(("127.0.0.1", placement_port), (ns.host_ip, 0))
                self._forwarders[f"{part['host']}/placement"] = to_placement
                host_options[part["host"]] = {
                    "netns": ns.name, "transport_url": fwd.url(self.transport_url),
                    "placement_endpoint": f"http://{ns.host_ip}:{to_placement.port}"}
        except NetFaultError as exc:
            raise ScenarioRunError(str(exc)) from None
        self._state_dir = tempfile.mkdtemp(prefix="bootflow-scenario-")
        self._collector = Collector(self.transport_url, self.sink,
                                    exchange=self.trace_exchange)
        self._collector.start()
        self.deployment = Deployment(self._state_dir)
        overrides = dict(self.scenario.data.get("config") or {})
        cfg = self.deployment.make_config(
            transport_url=service_url, virt_type="test", api_port=free_port(),
            placement_port=placement_port,
            control_exchange=self.control_exchange, **overrides)
        t0 = time.monotonic()
        try:
            self.deployment.up(cfg, computes=len(computes), trace_exchange=self.trace_exchange,
                               timeout=UP_TIMEOUT, host_options=host_options)
        except DeployError as exc:
            raise ScenarioRunError(f"deployment did not come up: {exc}") from None
        self.notes.append(f"deployment up in {time.monotonic() - t0:.1f}s "
                          f"({len(computes) + 4} processes)")
        self.notes.append("pids " + " ".join(str(pid) for _p, pid in
                                             self.deployment.running()))
        self.client = APIClient(f"http://{cfg.api_host}:{cfg.api_port}", ADMIN_TOKEN)
        for pause in faults_of(self.scenario, "broker_pause"):
            self._arm_pause(float(pause["seconds"]), pause.get("at", "select_destinations"))

    # ---- faults --------------------------------------------------------------------
    def _arm_pause(self, seconds: float, method: str) -> None:
        """Pause the services' forwarder for *seconds* at the first client span of
        *method* in a request trace (the collector thread only sets a flag)."""
        fwd = self._forwarders["*"]
        armed = threading.Event()
        self._pause_armed = armed

        def on_event(e: Event) -> None:
            if (not armed.is_set() and e.get("type") == "span_start"
                    and e.get("kind") in SENDING_KINDS
                    and (e.get("attrs") or {}).get("rpc.method", e.get("name")) == method
                    and self._in_request(e)):
                armed.set()

        def pauser() -> None:
            armed.wait()
            if self._stopping:
                return
            fwd.pause()
            self.notes.append(f"broker path paused {seconds:g}s at {method}")
            time.sleep(seconds)
            fwd.resume()

        self._pause_thread = threading.Thread(target=pauser, name="scenario-pause",
                                              daemon=True)
        self._pause_thread.start()
        self.sink.subscribe(on_event)

    def _in_request(self, e: Event) -> bool:
        return e.get("trace_id") in request_trace_ids(self.sink.events)

    def partition(self, host: str) -> None:
        self._forwarders[host].cut()
        self._forwarders[f"{host}/placement"].cut()
        self.notes.append(f"{host} cut off from the broker and placement")

    def heal(self, host: str) -> None:
        """Restore the path and wait until the compute reports up again."""
        self._forwarders[host].restore()
        self._forwarders[f"{host}/placement"].restore()
        t0 = time.monotonic()
        deadline = t0 + self.timeout
        while True:
            rows = self.service_rows()
            mine = [r for r in rows if r["host"] == host]
            if mine and all(r["state"] == "up" for r in mine):
                self.notes.append(f"{host} back up {time.monotonic() - t0:.1f}s after "
                                  "the path was restored")
                return
            if time.monotonic() > deadline:
                self.notes.append(f"{host} not back up {self.timeout:g}s after restore")
                for proc in self.deployment.procs():
                    if proc.host == host:  # what the service said, for whoever reads this
                        self.notes.append(f"log {proc.name}:\n"
                                          + self.deployment.log_tail(proc, 25))
                return
            time.sleep(0.2)

    def service_rows(self) -> list[dict[str, Any]]:
        """GET /v2.1/os-services and ``bootflow status`` (Deployment.status) rows."""
        from tracer.cloud.processes import RECORD_BINARY

        code, body = self.client.request("GET", "/v2.1/os-services")
        rows = []
        if code == 200:
            back = {v: k for k, v in RECORD_BINARY.items()}
            rows += [{"binary": back.get(s["binary"], s["binary"]), "host": s["host"],
                      "state": s["state"], "source": "os-services"}
                     for s in body["services"]]
        rows += [{"binary": r.binary, "host": r.host, "state": r.state, "source": "status"}
                 for r in self.deployment.status()]
        return rows

    # ---- requests ------------------------------------------------------------------
    def run(self) -> None:
        """Partitions (after their delay), the requests, the snapshots, the heals."""
        t0 = time.monotonic()
        parts = faults_of(self.scenario, "partition")
        for part in sorted(parts, key=lambda p: p.get("after_s", 0)):
            time.sleep(max(0.0, t0 + float(part.get("after_s", 0)) - time.monotonic()))
            self.partition(part["host"])
        for req in self.scenario.data["requests"]:
            if "wait" in req:
                time.sleep(float(req["wait"]))
            elif "boot" in req:
                self._boot(req["boot"])
            elif "delete" in req:
                for u in self._named(req["delete"]["name"]):
                    self.client.request("DELETE", f"/v2.1/servers/{u}")
                if req["delete"].get("wait", True):
                    self._wait(self._named(req["delete"]["name"]), ("deleted",))
            elif "reboot" in req:
                self._reboot(req["reboot"])
            else:
                raise ScenarioRunError(f"request {', '.join(req)!r}: the deployment runner "
                                       "runs boot, delete, reboot and wait only")
        if parts:
            self.services["partitioned"] = self.service_rows()
            for part in parts:
                if part.get("heal", True):
                    self.heal(part["host"])
        if self._pause_thread is not None:
            self._pause_thread.join(timeout=60)
        self.services["end"] = self.service_rows()

    def _boot(self, b: dict[str, Any]) -> None:
        server: dict[str, Any] = {"name": b["name"], "flavorRef": b.get("flavor", "m1.tiny"),
                                  "imageRef": b.get("image", "bootflow-guest")}
        count = int(b.get("count", 1))
        if count > 1:
            server.update(min_count=count, max_count=count, return_reservation_id=True)
        code, body = self.client.request("POST", "/v2.1/servers", {"server": server})
        if code != 202:
            raise ScenarioRunError(f"POST /v2.1/servers: {code} {json.dumps(body)}")
        if count > 1:
            rid = urllib.parse.quote(body["reservation_id"])
            listing = self.client.request("GET",
                                          f"/v2.1/servers/detail?reservation_id={rid}")[1]
            uuids = [s["id"] for s in listing["servers"]]
        else:
            uuids = [body["server"]["id"]]
        self.uuids.setdefault(b["name"], []).extend(uuids)
        if b.get("wait", True):
            self._wait(uuids, ("active", "error"))

    def _reboot(self, r: dict[str, Any]) -> None:
        """POST /v2.1/servers/{id}/action {"reboot": ...} per instance (202, else stop)."""
        uuids = self._named(r["name"])
        for u in uuids:
            code, body = self.client.request("POST", f"/v2.1/servers/{u}/action",
                                             {"reboot": {"type": r.get("type", "SOFT")}})
            if code != 202:
                raise ScenarioRunError(f"reboot of {r['name']!r} answered {code} "
                                       f"{json.dumps(body)}")
        if r.get("wait", True):
            self._wait(uuids, ("active", "error"))

    def _named(self, name: str) -> list[str]:
        return named(self.uuids, name)

    def _wait(self, uuids: list[str], states: tuple[str, ...]) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            rows = [self.row(u) for u in uuids]
            if all((r.get("vm_state") in states and r.get("task_state") is None)
                   or (r.get("deleted") and "deleted" in states) for r in rows):
                return
            time.sleep(0.1)
        # the checks report the states the instances were left in

    def row(self, uuid: str) -> dict[str, Any]:
        """An instance's row as the databases hold it (read here, not through the API:
        polling GETs would add a traced request per poll)."""
        from tracer.cloud.embedded import EmbeddedCloud

        row = EmbeddedCloud.instance_state(uuid)
        return row or {"uuid": uuid, "vm_state": None, "task_state": "scheduling"}

    def final_rows(self) -> dict[str, list[dict[str, Any]]]:
        return {name: [self.row(u) for u in uuids] for name, uuids in self.uuids.items()}

    def wait_quiet(self, timeout: float, settle: float = 0.3) -> bool:
        """Until every span of the request traces has ended and nothing new arrives."""
        return wait_quiet(lambda: self.sink.events, timeout, settle, poll=0.05)

    # ---- stop ----------------------------------------------------------------------
    def stop(self) -> None:
        """Everything this run made goes, whatever failed before (each step guarded)."""
        self._stopping = True
        if self._pause_armed is not None:
            self._pause_armed.set()
        steps: list[Callable[[], Any]] = []
        if self.deployment is not None and self.deployment.meta():
            steps.append(lambda: self.deployment.down(timeout=10))
        steps += [f.close for f in self._forwarders.values()]
        steps += [ns.delete for ns in self._namespaces]
        if self._collector is not None:
            steps.append(self._collector.stop)
        steps.append(self.sink.close)
        if self._vhost_made:
            steps.append(lambda: rabbitmqctl("delete_vhost", self.vhost))
        if self._state_dir is not None:
            steps.append(lambda: shutil.rmtree(str(self._state_dir), ignore_errors=True))
        errors = []
        for step in steps:
            try:
                step()
            except Exception as exc:  # keep cleaning, report after
                errors.append(exc)
        if errors:
            raise errors[0]

    def _make_vhost(self) -> None:
        try:
            add_vhost(self.transport_url, self.vhost)
        except VhostError as exc:
            raise ScenarioRunError(str(exc)) from None
        self._vhost_made = True
        self.notes.append(f"vhost {self.vhost}")


def run_deployment_scenario(scenario: Scenario, transport_url: str = DEFAULT_RABBIT,
                            record: Path | None = None,
                            on_event: Callable[[Event], None] | None = None,
                            timeout: float = 30.0) -> ScenarioResult:
    """Check the prerequisites, run on a fresh deployment, check the expectations."""
    transport_url = deployment_transport(transport_url)
    check_prerequisites(scenario, transport_url)
    run = DeploymentRun(scenario, transport_url, record=record, timeout=timeout)
    if on_event is not None:
        run.sink.subscribe(on_event)
    result = ScenarioResult(scenario)
    try:
        run.start()
        run.run()
        run.wait_quiet(timeout=min(timeout, 10.0))
        result.instances = run.final_rows()
        result.services = run.services
    except ScenarioRunError as exc:
        result.error = str(exc)
    finally:
        run.stop()
    result.notes = run.notes
    result.events = run.sink.events
    if result.error is None:
        result.checks = check_trace(scenario.data["expect"], result.events, result.instances,
                                    result.services)
    return result
