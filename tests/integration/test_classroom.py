"""A classroom across machines: network namespaces stand for the students' machines.

The teacher runs ``bootflow up --listen ADDR --computes 0``; each namespace is joined to
the host by a veth pair this test creates (addresses only there, 10.254.x.y, removed
after), with a default route to the host, so from inside it ADDR is another machine's
address: RabbitMQ answers there with the deployment's own user (guest refused), and
placement and the API listen there. ``bootflow join`` runs inside each namespace with
``--virt test`` (libvirt's test driver), exactly as a student types it.

Prerequisites fail (never skip), naming the fix: RabbitMQ, rabbitmqctl, root + iproute2.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.deployment import wait_for
from support.rabbit import rabbitmqctl_lines

from tracer.cloud import processes as deploy
from tracer.cloud.api_client import APIClient
from tracer.cloud.netfault import NetFaultError, NetNamespace, check_netns
from tracer.cloud.processes import DeployError, Deployment, free_port
from tracer.model import snapshot_of
from tracer.recording import read_recording
from tracer.tui.graphlayout import trace_edges
from tracer.tui.layout import node_of

REPO = Path(__file__).resolve().parents[2]
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
SERVICE_DOWN_TIME = 6
PROBE = """
import sys, kombu
try:
    kombu.Connection(sys.argv[1], connect_timeout=5).connect()
    print("accepted")
except Exception as exc:
    print("refused", type(exc).__name__, exc)
"""


@dataclass
class Classroom:
    teacher: Deployment
    addr: str
    join_line: str
    machines: dict[str, NetNamespace]   # host name -> the namespace it joins from
    tmp: Path

    def student_dir(self, host: str) -> Path:
        return self.tmp / host

    def api(self) -> APIClient:
        return APIClient(self.teacher.endpoint(), "admin:admin")


def _cli(*args: str, ns: NetNamespace | None = None, timeout: float = 150
         ) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "tracer.cli", *args]
    return subprocess.run((ns.prefix() if ns else []) + argv, cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "COLUMNS": "200"})


def _require() -> None:
    try:
        check_netns()
        deploy.check_rabbit(RABBIT)
    except (NetFaultError, DeployError) as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        rabbitmqctl_lines("list_users")
    except Exception as exc:
        pytest.fail(f"rabbitmqctl does not work here ({exc}); fix: run the tests as root "
                    "on the machine that runs RabbitMQ", pytrace=False)


def _namespace() -> NetNamespace:
    """A namespace whose default route is its veth's host side: it reaches every address
    of this machine, as another machine on the classroom network would."""
    ns = NetNamespace().create()
    subprocess.run(["ip", "-n", ns.name, "route", "add", "default", "via", ns.host_ip],
                   check=True, capture_output=True)
    return ns


@pytest.fixture
def classroom(tmp_path: Path) -> Iterator[Classroom]:
    _require()
    made: list[NetNamespace] = []
    teacher = Deployment(tmp_path / "teacher")
    c: Classroom | None = None
    try:
        made += [_namespace(), _namespace()]
        addr = made[0].host_ip   # the teacher's address: the first veth's host side
        up = _cli("up", "--state-dir", str(teacher.state_dir), "--listen", addr,
                  "--computes", "0", "--api-port", str(free_port()),
                  "--placement-port", str(free_port()), "--report-interval", "1",
                  "--service-down-time", str(SERVICE_DOWN_TIME), "--periodic-interval", "5",
                  "--timeout", "120")
        assert up.returncode == 0, up.stdout + up.stderr
        lines = [ln for ln in up.stdout.splitlines() if ln.startswith("bootflow join ")]
        assert len(lines) == 1, up.stdout
        c = Classroom(teacher, addr, lines[0],
                      {"student-a": made[0], "student-b": made[1]}, tmp_path)
        yield c
    finally:
        if c is not None:
            for host in c.machines:
                if c.student_dir(host).is_dir():
                    Deployment(c.student_dir(host)).down(timeout=15)
        if teacher.meta():
            teacher.down(timeout=15)
        for ns in made:
            ns.delete()


def join(c: Classroom, host: str) -> subprocess.CompletedProcess[str]:
    """The printed line, NAME filled in, typed on the student's machine (its namespace)."""
    argv = shlex.split(c.join_line)
    assert argv[:2] == ["bootflow", "join"] and "NAME" in argv, c.join_line
    argv = [host if a == "NAME" else a for a in argv[2:]]
    return _cli("join", *argv, "--virt", "test", "--state-dir", str(c.student_dir(host)),
                ns=c.machines[host])


def status(c: Classroom) -> dict[str, dict[str, Any]]:
    """The teacher's ``bootflow status --json``, by host."""
    r = _cli("status", "--state-dir", str(c.teacher.state_dir), "--json")
    return {row["host"]: row for row in json.loads(r.stdout)}


def boot(c: Classroom, name: str, count: int) -> list[str]:
    """A multi-create on the teacher's API; the hosts its instances landed on."""
    api = c.api()
    server: dict[str, Any] = {"name": name, "flavorRef": "m1.tiny",
                              "imageRef": "bootflow-guest", "min_count": count,
                              "max_count": count, "return_reservation_id": True}
    code, body = api.request("POST", "/v2.1/servers", {"server": server})
    assert code == 202, body
    _, listing = api.request(
        "GET", f"/v2.1/servers/detail?reservation_id={body['reservation_id']}")
    servers = api.wait([s["id"] for s in listing["servers"]], timeout=120)
    faults = [(s["OS-EXT-SRV-ATTR:host"], s.get("fault")) for s in servers
              if s["status"] != "ACTIVE"]
    assert [s["status"] for s in servers] == ["ACTIVE"] * count, faults
    return sorted(s["OS-EXT-SRV-ATTR:host"] for s in servers)


def _rabbit_leftovers(account: str) -> list[str]:
    return ([u for u in rabbitmqctl_lines("list_users") if u.split()[0] == account]
            + [v for v in rabbitmqctl_lines("list_vhosts") if v == account])


def test_two_machines_join_share_a_multi_create_and_survive_a_cut(
        classroom: Classroom) -> None:
    c = classroom
    url = urllib.parse.urlsplit(shlex.split(c.join_line)[2])
    account = urllib.parse.unquote(url.username or "")
    assert url.scheme == "rabbit" and url.hostname == c.addr and url.port == 5672
    assert account.startswith("bootflow-") and url.path == f"/{account}" and url.password
    # the password: shown once, kept only in the state folder (0600), masked by config
    toml = c.teacher.config_path
    assert stat.S_IMODE(toml.stat().st_mode) == 0o600
    assert url.password in toml.read_text()
    shown = _cli("config", "--state-dir", str(c.teacher.state_dir)).stdout
    assert f"{account}:***@127.0.0.1:5672/{account}" in shown and url.password not in shown
    assert f'api_host = "{c.addr}"' in shown and f'placement_host = "{c.addr}"' in shown

    for host in c.machines:
        r = join(c, host)
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"nova-compute {host} joined" in r.stdout
        assert stat.S_IMODE((c.student_dir(host) / "bootflow.toml").stat().st_mode) == 0o600
        mine = _cli("status", "--state-dir", str(c.student_dir(host)), ns=c.machines[host])
        assert mine.returncode == 0 and host in mine.stdout, mine.stdout + mine.stderr
        conf = _cli("config", "--state-dir", str(c.student_dir(host))).stdout
        assert "joined nova-compute" in conf and url.password not in conf
        assert f'placement_endpoint = "http://{c.addr}:' in conf

    # up, and mapped to the cell by the scheduler's periodic discovery: before that,
    # Stein's scheduler may pick a host the conductor cannot place (ComputeHostNotFound)
    rows = wait_for(lambda: (s := status(c)) and all(
        s.get(h, {}).get("state") == "up" and s[h].get("mapped") for h in c.machines)
        and s, 30, "both joined computes up and mapped in the teacher's status")
    assert all(rows[h]["remote"] and rows[h]["pid"] is None for h in c.machines)
    _, hyps = c.api().request("GET", "/v2.1/os-hypervisors")
    assert {h["hypervisor_hostname"] for h in hyps["hypervisors"]} == set(c.machines)

    # a recorded multi-create of 4 lands on both machines (the scheduler mapped them)
    record = c.tmp / "classroom.jsonl"
    recorder = subprocess.Popen(
        [sys.executable, "-m", "tracer.cli", "record", str(record), "--state-dir",
         str(c.teacher.state_dir), "--until-quiet", "3"], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert recorder.stdout is not None
        started = recorder.stdout.readline()   # printed once it is bound to the exchange
        assert started.startswith("recording "), started
        hosts = boot(c, "class", 4)
        recorder.communicate(timeout=90)
    finally:
        if recorder.poll() is None:
            recorder.kill()
    assert hosts == ["student-a"] * 2 + ["student-b"] * 2
    _, events = read_recording(record)
    _assert_placement_pairs_and_destinations(events)

    # student-b's machine is cut off: down after service_down_time, boots go to student-a
    b = c.machines["student-b"]
    subprocess.run(["ip", "-n", b.name, "link", "set", b.ns_if, "down"], check=True)
    cut = time.monotonic()
    wait_for(lambda: status(c)["student-b"]["state"] == "down", SERVICE_DOWN_TIME + 20,
          "student-b down in the teacher's status")
    assert time.monotonic() - cut >= SERVICE_DOWN_TIME - 1
    assert status(c)["student-a"]["state"] == "up"
    assert boot(c, "cut", 2) == ["student-a", "student-a"]

    # the cable is back: student-b comes up on its own and is chosen again
    subprocess.run(["ip", "-n", b.name, "link", "set", b.ns_if, "up"], check=True)
    # the link going down took its routes along; the machine's network setup (DHCP,
    # NetworkManager) would put the default route back when the cable is plugged in
    subprocess.run(["ip", "-n", b.name, "route", "replace", "default", "via", b.host_ip],
                   check=True)
    wait_for(lambda: status(c)["student-b"]["state"] == "up", 120,
          "student-b up again after the cut was restored")
    assert boot(c, "back", 1) == ["student-b"]   # 2 instances there, 4 on student-a

    # the student leaves: down on its machine stops the compute cleanly; its provider
    # stays while its instances hold allocations, and its record goes down
    r = _cli("down", "--state-dir", str(c.student_dir("student-b")), ns=b)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "kept: instances still have allocations on it" in r.stdout, r.stdout
    assert not b.pids(), "a process is left in student-b's namespace"
    assert Deployment(c.student_dir("student-b")).running() == []

    # the teacher's down removes the broker account, the vhost and the listener it added
    ours = c.teacher.meta()["listen"]["listener_started"]
    assert _listening(c.addr, 5672)
    c.teacher.down(timeout=15)
    assert _rabbit_leftovers(account) == []
    assert _listening(c.addr, 5672) is not ours


def _listening(addr: str, port: int) -> bool:
    from tracer.cloud.classroom import accepts

    return accepts(addr, port, timeout=1)


def _assert_placement_pairs_and_destinations(events: list[dict[str, Any]]) -> None:
    """Placement hops are CLIENT spans in the scheduler paired with server spans in the
    placement-api process (one trace id); the builds go to the joined machines; both
    are nodes of the TUI's graph."""
    starts = {e["span_id"]: e for e in events if e.get("type") == "span_start"}
    clients = [e for e in starts.values() if e["kind"] == "CLIENT"
               and e["attrs"].get("peer.service") == "placement"
               and e["service"] == "nova-scheduler"]
    names = {e["name"] for e in clients}
    assert {"GET /allocation_candidates", "PUT /allocations/{consumer_uuid}"} <= names, names
    for client in clients:
        (server,) = [e for e in starts.values() if e.get("parent_id") == client["span_id"]]
        assert server["service"] == "placement" and server["kind"] == "HTTP"
        assert server["trace_id"] == client["trace_id"]
        assert server["name"] == client["name"]
    assert len({e["trace_id"] for e in clients}) == 1   # the one boot request
    snap = snapshot_of(events)
    builds = [h for h in snap.rpc_hops() if h.method == "build_and_run_instance"]
    assert sorted(h.dst_host for h in builds) == ["student-a"] * 2 + ["student-b"] * 2
    nodes = {n for src, dst, _style in trace_edges(snap, builds[0].trace_id)
             for n in (src, dst)}   # the boot's graph, as the TUI draws it
    for host in ("student-a", "student-b"):
        assert node_of("nova-compute", host) in nodes


def test_guest_never_accepted_from_another_machine(classroom: Classroom) -> None:
    """From a namespace, RabbitMQ on ADDR refuses guest:guest and accepts the
    deployment's own account; a compute that joined and leaves without instances has its
    resource provider deleted from placement."""
    c = classroom
    own = shlex.split(c.join_line)[2].replace("rabbit://", "amqp://", 1)
    ns = c.machines["student-a"]
    probe = [sys.executable, "-c", PROBE]
    guest = subprocess.run(ns.prefix() + probe + [f"amqp://guest:guest@{c.addr}:5672/"],
                           capture_output=True, text=True, timeout=60)
    assert guest.stdout.startswith("refused AccessRefused"), guest.stdout + guest.stderr
    assert "ACCESS_REFUSED" in guest.stdout
    ok = subprocess.run(ns.prefix() + probe + [own], capture_output=True, text=True,
                        timeout=60)
    assert ok.stdout.strip() == "accepted", ok.stdout + ok.stderr

    r = join(c, "student-a")
    assert r.returncode == 0, r.stdout + r.stderr
    from services.placement.client import PlacementClient

    placement = PlacementClient(c.teacher.config().placement_endpoint)
    assert placement.get_providers_by_name("student-a")
    r = _cli("down", "--state-dir", str(c.student_dir("student-a")), ns=ns)
    assert r.returncode == 0 and "student-a" in r.stdout and ": deleted" in r.stdout, r.stdout
    assert placement.get_providers_by_name("student-a") == []
    assert not ns.pids()

    # the broker listener on ADDR is a runtime one (a RabbitMQ restart drops it): status
    # says so and names the fix
    from tracer.cloud.classroom import stop_rabbit_listener

    if not c.teacher.meta()["listen"]["listener_started"]:
        return   # RabbitMQ listens on every address here (listeners.tcp.default)
    stop_rabbit_listener(c.addr)
    shown = _cli("status", "--state-dir", str(c.teacher.state_dir)).stdout
    assert f"RabbitMQ does not listen on {c.addr}:5672 any more" in shown, shown
    assert f"bootflow up --listen {c.addr}" in shown
