"""The real deployment: one OS process per service over RabbitMQ, the REST API over HTTP,
a real guest under libvirt (qemu:///system), status from heartbeats, late conductor, down.

Prerequisites fail (never skip), naming the fix: `rabbitmq-server -detached`, rabbitmqctl,
`bash scripts/libvirt-up.sh`, `make guest-image`. Each test uses its own state folder,
RabbitMQ vhost, control exchange, trace exchange and free API port, and small intervals.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.deployment import cli, require_parts, wait_for
from support.rabbit import own_vhost

from services.conf import Config
from tracer.cloud import processes as deploy
from tracer.cloud.api_client import APIClient
from tracer.cloud.processes import DeployError, Deployment, free_port

REPO = Path(__file__).resolve().parents[2]
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
BOOT_LINE = "bootflow-guest: booted"


def _domains_with(name_part: str) -> list[str]:
    import libvirt

    conn = libvirt.open("qemu:///system")
    try:
        return [d.name() for d in conn.listAllDomains() if name_part in deploy._xml(d)]
    finally:
        conn.close()


@pytest.fixture
def names(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Its own RabbitMQ vhost too (tests/rabbit.py `own_vhost`): queues are named by
    topic, so deployments sharing a vhost would consume each other's messages."""
    tag = uuid.uuid4().hex[:8]
    state = tmp_path / "state"
    with own_vhost() as transport:
        yield {"state": str(state), "exchange": f"bf-test-{tag}",
               "trace": f"bf-test-{tag}.trace", "port": str(free_port()),
               "placement_port": str(free_port()),
               "transport": transport}
        d = Deployment(state)
        if d.meta():
            d.down(timeout=10)


def test_missing_parts_name_their_fix(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="rabbitmq-server -detached"):
        deploy.check_rabbit("rabbit://guest:guest@127.0.0.1:1/")
    with pytest.raises(DeployError, match="make guest-image"):
        deploy.check_guest(str(tmp_path / "no-guest"))
    with pytest.raises(DeployError, match=r"bash scripts/libvirt-up\.sh"):
        deploy.check_libvirt("qemu+unix:///system?socket=/nonexistent/libvirt-sock")
    with pytest.raises(DeployError, match=r"fix: pg_ctlcluster --skip-systemctl-redirect"):
        deploy.ensure_databases(Config(state_dir=str(tmp_path), database_connection=(
            "postgresql+psycopg://postgres@127.0.0.1:1/nova_cell1")))
    r = cli("status", "--state-dir", str(tmp_path / "none"))
    assert r.returncode == 2 and "bootflow up" in r.stderr


def test_full_deployment_real_guest(names: dict[str, str]) -> None:
    """up (2 computes, qemu) → 5 up → boot via REST → ACTIVE + console line → errors →
    delete (no domain) → SIGKILL a compute → down after service_down_time → down."""
    require_parts("qemu")
    state = names["state"]
    t0 = time.monotonic()
    r = cli("up", "--state-dir", state, "--computes", "2", "--virt", "qemu",
             "--transport", names["transport"], "--api-port", names["port"],
             "--placement-port", names["placement_port"],
             "--control-exchange", names["exchange"], "--trace-exchange", names["trace"],
             "--report-interval", "1", "--service-down-time", "4",
             "--periodic-interval", "5", "--timeout", "60")
    assert r.returncode == 0, r.stdout + r.stderr
    up_s = time.monotonic() - t0
    d = Deployment(state)
    rows = d.status()
    assert [(x.binary, x.host, x.state) for x in rows] == [
        ("placement-api", "placement", "up"),
        ("nova-conductor", "conductor", "up"), ("nova-scheduler", "scheduler", "up"),
        ("nova-compute", "compute1", "up"), ("nova-compute", "compute2", "up"),
        ("nova-api", "api", "up")]
    pids = {x.host: x.pid for x in rows}
    assert len(set(pids.values())) == 6 and os.getpid() not in pids.values()

    cfg = cli("config", "--state-dir", state)
    assert f"api_endpoint = http://127.0.0.1:{names['port']}" in cfg.stdout
    assert "guest:***@" in cfg.stdout and "guest:guest@" not in cfg.stdout

    api = APIClient(f"http://127.0.0.1:{names['port']}")
    # Nova-shaped errors
    code, body = api.request("POST", "/v2.1/servers",
                             {"server": {"name": "x", "flavorRef": "1", "min_count": "abc"}})
    assert code == 400 and "server/min_count" in body["badRequest"]["message"]
    code, body = api.request("POST", "/v2.1/servers", {"server": {"flavorRef": "1"}})
    assert code == 400 and "'name'" in body["badRequest"]["message"]
    code, body = APIClient(api.endpoint, token="").request("GET", "/v2.1/servers")
    assert code == 401 and body["unauthorized"]["code"] == 401
    # lists
    assert {f["name"] for f in api.request("GET", "/v2.1/flavors")[1]["flavors"]} >= {
        "m1.tiny", "bootflow.guest"}
    assert api.request("GET", "/v2.1/images")[1]["images"][0]["name"] == "bootflow-guest"
    admin = APIClient(api.endpoint, token="admin:admin")  # os-services: rule:admin_api
    assert api.request("GET", "/v2.1/os-services")[0] == 403
    services = admin.request("GET", "/v2.1/os-services")[1]["services"]
    assert sorted((s["binary"], s["host"], s["state"]) for s in services) == [
        ("nova-compute", "compute1", "up"), ("nova-compute", "compute2", "up"),
        ("nova-conductor", "conductor", "up"), ("nova-scheduler", "scheduler", "up")]

    # a real guest through the REST API (the CLI client, --wait)
    t1 = time.monotonic()
    r = cli("boot", "vm1", "--state-dir", state, "--wait", "--timeout", "90")
    boot_s = time.monotonic() - t1
    assert r.returncode == 0 and "ACTIVE" in r.stdout, r.stdout + r.stderr
    (server,) = api.request("GET", "/v2.1/servers/detail")[1]["servers"]
    sid, host = server["id"], server["OS-EXT-SRV-ATTR:host"]
    assert server["status"] == "ACTIVE" and host in ("compute1", "compute2")
    console = Path(state) / "instances" / sid / "console.log"
    assert BOOT_LINE in console.read_text(errors="replace")
    assert len(_domains_with(str(Path(state) / "instances"))) == 1
    hyp = admin.request("GET", "/v2.1/os-hypervisors/detail")[1]["hypervisors"]
    assert sorted(h["hypervisor_hostname"] for h in hyp) == ["compute1", "compute2"]
    assert {h["hypervisor_hostname"]: h["running_vms"] for h in hyp}[host] in (0, 1)
    # another project sees nothing
    other = APIClient(api.endpoint, token="other:other")
    code, body = other.request("GET", f"/v2.1/servers/{sid}")
    assert code == 404 and body["itemNotFound"]["code"] == 404
    assert other.request("GET", "/v2.1/servers")[1]["servers"] == []
    assert other.request("DELETE", f"/v2.1/servers/{sid}")[0] == 404

    # delete destroys + undefines the domain
    assert api.request("DELETE", f"/v2.1/servers/{sid}")[0] == 204
    wait_for(lambda: api.request("GET", f"/v2.1/servers/{sid}")[0] == 404, 30, "server gone")
    wait_for(lambda: not _domains_with(str(Path(state) / "instances")), 10, "no domain")
    _multi_create_follows_weighers(api, admin, state)

    # SIGKILL a compute: its heartbeat stops, down after service_down_time
    os.kill(pids["compute2"], signal.SIGKILL)
    t2 = time.monotonic()
    wait_for(lambda: {x.host: x.state for x in d.status()}["compute2"] == "down", 15,
          "compute2 down")
    rows = d.status()
    assert {x.host: x.state for x in rows} == {"placement": "up", "conductor": "up",
                                               "scheduler": "up", "compute1": "up",
                                               "compute2": "down", "api": "up"}
    st = cli("status", "--state-dir", state, "--json")
    assert st.returncode == 1
    assert {x["host"]: x["state"] for x in json.loads(st.stdout)}["compute2"] == "down"
    # `up` ran discover_hosts: both computes are in the cell; other services have none
    assert {x["host"]: x["mapped"] for x in json.loads(st.stdout)} == {
        "placement": None, "conductor": None, "scheduler": None, "compute1": True,
        "compute2": True, "api": None}
    wait_for(lambda: {s["host"]: s["state"] for s in admin.request(
        "GET", "/v2.1/os-services")[1]["services"]}["compute2"] == "down", 10,
        "os-services compute2 down")
    print(f"up {up_s:.1f}s, boot->ACTIVE (CLI) {boot_s:.1f}s, "
          f"kill->down {time.monotonic() - t2:.1f}s")

    # down: SIGTERM, drain, nothing left
    r = cli("down", "--state-dir", state)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not d.running()
    for pid in pids.values():
        assert not deploy._pid_alive(pid)
    assert not _domains_with(str(Path(state) / "instances"))
    for name in ("nova-api.api", "nova-conductor.conductor", "nova-compute.compute1"):
        assert "stopped" in (Path(state) / "logs" / f"{name}.log").read_text()


def _multi_create_follows_weighers(api: APIClient, admin: APIClient, state: str) -> None:
    """3 on 2 computes: instance i lands where the weighers put it from os-hypervisors'
    free RAM, less what instances 1..i-1 consumed (RAMWeigher spreads; a tie may go
    either way); then os-hypervisors shows each compute's usage; delete all three."""
    def hypervisors(vms: Any) -> dict[str, dict[str, Any]] | None:
        """os-hypervisors/detail by host once running_vms is vms(host) on each."""
        hyp = {h["hypervisor_hostname"]: h for h in admin.request(
            "GET", "/v2.1/os-hypervisors/detail")[1]["hypervisors"]}
        return hyp if all(h["running_vms"] == vms(n) for n, h in hyp.items()) else None

    # settled: vm1's delete has reached the resource tracker (periodic task)
    before = wait_for(lambda: hypervisors(lambda _n: 0), 15, "no instance counted")
    code, body = api.request("POST", "/v2.1/servers", {"server": {
        "name": "multi", "flavorRef": "bootflow.guest", "imageRef": "bootflow-guest",
        "min_count": 3, "max_count": 3, "return_reservation_id": True}})
    assert code == 202, body
    listing = api.request("GET", "/v2.1/servers/detail?reservation_id="
                          f"{body['reservation_id']}")[1]["servers"]
    servers = sorted(api.wait([x["id"] for x in listing], 120), key=lambda x: x["name"])
    assert [(x["name"], x["status"]) for x in servers] == [
        ("multi-1", "ACTIVE"), ("multi-2", "ACTIVE"), ("multi-3", "ACTIVE")]
    free = {h: x["free_ram_mb"] for h, x in before.items()}
    placed = [x["OS-EXT-SRV-ATTR:host"] for x in servers]
    for host in placed:  # the scheduler's consume_from_request between picks
        assert free[host] == max(free.values()), (placed, before)
        free[host] -= 128
    assert sorted(placed.count(h) for h in before) == [1, 2]
    after = wait_for(lambda: hypervisors(placed.count), 15, f"os-hypervisors {placed}")
    for n, x in after.items():
        assert x["memory_mb_used"] == before[n]["memory_mb_used"] + 128 * placed.count(n)
        assert x["free_ram_mb"] == x["memory_mb"] - x["memory_mb_used"]
    assert len(_domains_with(str(Path(state) / "instances"))) == 3
    for x in servers:
        assert api.request("DELETE", f"/v2.1/servers/{x['id']}")[0] == 204
    wait_for(lambda: not _domains_with(str(Path(state) / "instances")), 30, "no domain")


def test_down_leaves_no_domain_behind(names: dict[str, str]) -> None:
    """A guest still running at `down` is destroyed and undefined too."""
    require_parts("qemu")
    d = Deployment(names["state"])
    cfg = d.make_config(transport_url=names["transport"], virt_type="qemu",
                        api_port=int(names["port"]),
                        placement_port=int(names["placement_port"]),
                        control_exchange=names["exchange"], report_interval=1,
                        service_down_time=4, periodic_interval=5)
    # another deployment's guests: the default template's first name, and one with our
    # prefix whose files live elsewhere
    prefix = cfg.instance_name_template.split("%")[0]
    assert prefix.startswith("bootflow-") and prefix != Deployment(
        str(d.state_dir) + "-other").instance_name_template().split("%")[0]
    foreign = _define_foreign(["instance-00000001", prefix + "ffffffff"])
    try:
        d.up(cfg, computes=1, trace_exchange=names["trace"], timeout=60)
        api = APIClient(d.endpoint())
        code, body = api.request("POST", "/v2.1/servers", {"server": {
            "name": "left", "flavorRef": "bootflow.guest", "imageRef": "bootflow-guest"}})
        assert code == 202, body
        (server,) = api.wait([body["server"]["id"]], 90)
        assert server["status"] == "ACTIVE"
        (name,) = d.domains()  # named by this deployment's template
        assert name.startswith(prefix) and name != prefix + "ffffffff"
        d.down()
        assert not d.running()
        assert not _domains_with(str(d.state_dir / "instances"))
        assert _undefine(foreign) == len(foreign) >= 1  # not ours: left alone
    finally:
        _undefine(foreign)


def _define_foreign(names: list[str]) -> list[str]:
    """Define (never start) the names not taken yet: domains with no files anywhere."""
    import libvirt

    conn = libvirt.open("qemu:///system")
    taken = {d.name() for d in conn.listAllDomains()}
    try:
        names = [n for n in names if n not in taken]
        for name in names:
            conn.defineXML(f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>64"
                           "</memory><os><type arch='x86_64'>hvm</type></os></domain>")
    finally:
        conn.close()
    return names


def _undefine(names: list[str]) -> int:
    import libvirt

    conn = libvirt.open("qemu:///system")
    gone = 0
    try:
        for name in names:
            try:
                conn.lookupByName(name).undefine()
                gone += 1
            except libvirt.libvirtError:
                pass
    finally:
        conn.close()
    return gone


def test_compute_before_conductor_waits_until_ready(names: dict[str, str]) -> None:
    """Compute started first pings baseapi every early_timeout, logs each retry, and
    goes on when the conductor comes."""
    require_parts("test")
    d = Deployment(names["state"])
    cfg = d.make_config(transport_url=names["transport"], virt_type="test",
                        api_port=int(names["port"]),
                        placement_port=int(names["placement_port"]),
                        control_exchange=names["exchange"], report_interval=1,
                        service_down_time=4, periodic_interval=5, early_timeout=1)
    d.prepare(cfg, computes=1, trace_exchange=names["trace"])
    compute = deploy.Proc("nova-compute", "compute1")
    d.start(compute)
    log = d.log_dir / f"{compute.name}.log"
    wait_for(lambda: log.is_file() and log.read_text().count(
        "Timed out waiting for nova-conductor") >= 2, 30, "two logged retries")
    assert not {(r.binary, r.host): r.up for r in d.status()}[("nova-compute", "compute1")]
    d.start(deploy.Proc("nova-conductor", "conductor"))
    d.wait_up([compute, deploy.Proc("nova-conductor", "conductor")], timeout=30)
    wait_for(lambda: "started; pid" in log.read_text(), 10, "compute started")
    text = log.read_text()
    assert "(attempt 1)" in text and "(attempt 2)" in text and "started; pid" in text
    d.down()
    assert not d.running()


PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def test_postgresql_deployment(names: dict[str, str]) -> None:
    """`up --db …/NAME` on PostgreSQL, NAME a database the operator created: everything
    goes into it (one schema per Nova database; it was left empty before, with the
    data in new databases named NAMEnova_api…), one instance boots whose row is in its
    nova_cell1 schema, and it goes down. PostgreSQL down fails with the fix."""
    import socket

    import sqlalchemy as sa

    require_parts("test")
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError as exc:
        pytest.fail(f"PostgreSQL not reachable at 127.0.0.1:5432 ({exc}); fix: "
                    f"{deploy.FIX_POSTGRES}", pytrace=False)
    name = f"bf_test_{names['exchange'][-8:]}"
    admin = sa.create_engine(PG + "postgres", isolation_level="AUTOCOMMIT")

    def databases() -> set[str]:
        with admin.connect() as conn:
            return {r[0] for r in conn.execute(sa.text(
                "SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": name + "%"})}

    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))  # as the operator did
    try:
        r = cli("up", "--state-dir", names["state"], "--db", PG + name,
                 "--transport", names["transport"], "--api-port", names["port"],
                 "--placement-port", names["placement_port"],
                 "--control-exchange", names["exchange"], "--trace-exchange", names["trace"],
                 "--report-interval", "1", "--service-down-time", "4", "--timeout", "60")
        assert r.returncode == 0, r.stdout + r.stderr
        assert Deployment(names["state"]).config().database_connection == \
            deploy.db_connections(PG + name)["database_connection"]
        r = cli("boot", "pg1", "--state-dir", names["state"], "--wait", "--timeout", "60")
        assert r.returncode == 0 and "ACTIVE" in r.stdout, r.stdout + r.stderr
        assert databases() == {name}  # no NAMEnova_api & co.
        engine = sa.create_engine(PG + name)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT display_name, vm_state FROM "
                                        "nova_cell1.instances")).all() == [("pg1", "active")]
            assert conn.execute(sa.text("SELECT count(*) FROM nova_api.instance_mappings")
                                ).scalar() == 1
        engine.dispose()
        assert cli("down", "--state-dir", names["state"]).returncode == 0
    finally:
        if Deployment(names["state"]).meta():
            Deployment(names["state"]).down(timeout=10)
        with admin.connect() as conn:
            for db in databases():
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


def test_walkthrough_gate_holds_hops_in_every_process_and_record(names: dict[str, str],
                                                                  tmp_path: Path) -> None:
    """`bootflow tui --walkthrough` on a deployment: every service process holds each
    message of the request until released, one hop per release (heartbeats and periodic
    tasks pass); `bootflow record` captures the flow."""
    from services.messaging.gate import GateController
    from tracer.collector import Collector
    from tracer.commands.live import RequestOnlyGate

    require_parts("test")
    d = Deployment(names["state"])
    cfg = d.make_config(transport_url=names["transport"], virt_type="test",
                        api_port=int(names["port"]),
                        placement_port=int(names["placement_port"]),
                        control_exchange=names["exchange"],
                        report_interval=1, service_down_time=4, periodic_interval=5)
    d.up(cfg, computes=1, trace_exchange=names["trace"])
    record = tmp_path / "rec.jsonl"
    recorder = subprocess.Popen(
        [sys.executable, "-m", "tracer.cli", "record", str(record), "--state-dir",
         names["state"], "--until-quiet", "2"], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    gate = RequestOnlyGate(GateController(names["transport"]))
    watcher = Collector(names["transport"], gate.observe, exchange=names["trace"])
    watcher.start()
    try:
        wait_for(lambda: record.is_file(), 10, "the recorder to start")
        # the recorder yields the CPU to the cloud it watches (record --nice, default 10)
        stat = Path(f"/proc/{recorder.pid}/stat").read_text()
        assert int(stat.rsplit(")", 1)[1].split()[16]) == min(19, os.nice(0) + 10)
        gate.set_enabled(True)
        time.sleep(0.5)  # the "on" crosses the control exchange to every process
        api = APIClient(d.endpoint())
        status, body = api.request("POST", "/v2.1/servers", {"server": {
            "name": "gated", "flavorRef": "m1.tiny", "imageRef": "bootflow-guest"}})
        assert status == 202, body
        uuid_ = body["server"]["id"]
        first = wait_for(lambda: gate.pending(), 10, "the first held hop")
        assert first[0]["hop"]["method"] == "schedule_and_build_instances"
        time.sleep(1.0)
        _, shown = api.request("GET", f"/v2.1/servers/{uuid_}")
        assert shown["server"]["OS-EXT-STS:task_state"] == "scheduling"
        assert len(gate.pending()) == 1  # held: nothing else moved
        gate.release_next()
        second = wait_for(lambda: [p for p in gate.pending()
                                if p["hop_id"] != first[0]["hop_id"]], 10, "the next hop")
        assert second[0]["hop"]["method"] == "select_destinations"
        gate.set_enabled(False)  # let the rest run free
        wait_for(lambda: api.request("GET", f"/v2.1/servers/{uuid_}")[1]["server"]["status"]
              == "ACTIVE", 30, "ACTIVE after the gate is off")
        out, err = recorder.communicate(timeout=30)
        assert recorder.returncode == 0, err
    finally:
        gate.set_enabled(False)
        gate.close()
        watcher.stop()
        if recorder.poll() is None:
            recorder.kill()
        d.down()
    text = cli("replay", "--headless", str(record)).stdout
    assert "[call] select_destinations" in text and "[cast] build_and_run_instance" in text
