"""``[conductor] workers``: a ProcessLauncher forks N conductor processes that all consume
the one ``conductor`` topic queue (nova/cmd/conductor.py → nova/service.py serve →
oslo.service's ProcessLauncher), and the trace says which worker took each message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.deployment import wait_for
from support.rabbit import own_vhost, rabbitmqctl_lines

from tracer.cloud.api_client import APIClient
from tracer.cloud.processes import Deployment, free_port
from tracer.recording import read_recording

REPO = Path(__file__).resolve().parents[2]
WORKERS = 3


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True, check=False).stdout
    return [int(x) for x in out.split()]


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[Deployment, str, str]]:
    tag = uuid.uuid4().hex[:8]
    with own_vhost() as transport:
        d = Deployment(tmp_path / "state")
        cfg = d.make_config(transport_url=transport, virt_type="test",
                            api_port=free_port(), placement_port=free_port(),
                            control_exchange=f"bf-test-{tag}",
                            report_interval=1, service_down_time=4, periodic_interval=5,
                            conductor_workers=WORKERS)
        try:
            d.up(cfg, computes=2, trace_exchange=f"bf-test-{tag}.trace", timeout=90)
            yield d, transport, f"bf-test-{tag}.trace"
        finally:
            if d.meta():
                d.down(timeout=15)


def test_workers_share_the_conductor_queue_and_the_trace_names_them(
        deployment: tuple[Deployment, str, str], tmp_path: Path) -> None:
    d, transport, _exchange = deployment
    parent = next(pid for proc, pid in d.running() if proc.binary == "nova-conductor")
    workers = wait_for(lambda: len(_children(parent)) == WORKERS and _children(parent), 30,
                    f"{WORKERS} conductor workers")
    vhost = transport.rsplit("/", 1)[1]
    consumers = {name: int(n) for name, n in (
        line.split("\t") for line in rabbitmqctl_lines(
            "list_queues", "-p", vhost, "name", "consumers"))}
    assert consumers["conductor"] == WORKERS   # one topic queue, every worker on it
    assert consumers["conductor.conductor"] == WORKERS

    record = tmp_path / "rec.jsonl"
    recorder = subprocess.Popen(
        [sys.executable, "-m", "tracer.cli", "record", str(record), "--state-dir",
         str(d.state_dir), "--until-quiet", "3"], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: record.is_file(), 10, "the recorder to start")
        api = APIClient(d.endpoint())
        code, body = api.request("POST", "/v2.1/servers", {"server": {
            "name": "w", "flavorRef": "m1.tiny", "imageRef": "bootflow-guest",
            "min_count": 6, "max_count": 6, "return_reservation_id": True}})
        assert code == 202, body
        _, listing = api.request(
            "GET", f"/v2.1/servers/detail?reservation_id={body['reservation_id']}")
        uuids = [s["id"] for s in listing["servers"]]
        servers = api.wait(uuids, timeout=120)
        assert [s["status"] for s in servers] == ["ACTIVE"] * 6
        recorder.communicate(timeout=60)
    finally:
        if recorder.poll() is None:
            recorder.kill()
    _, events = read_recording(record)
    handled = [e for e in events if e["type"] == "span_start"
               and e["service"] == "nova-conductor" and e["kind"] in ("SERVER", "CONSUMER")]
    assert handled and all("bootflow.worker" in e["attrs"] for e in handled)
    pids = {e["attrs"]["process.pid"] for e in handled}
    assert pids <= set(workers) and len(pids) >= 2   # the broker spread the work
    assert {e["attrs"]["bootflow.worker"] for e in handled} <= set(range(WORKERS))

    # a worker that dies is forked again, as oslo.service's ProcessLauncher does
    os.kill(workers[0], signal.SIGKILL)
    wait_for(lambda: len(set(_children(parent)) - {workers[0]}) == WORKERS, 30,
          "the killed worker to be forked again")

    # down stops the parent and with it every worker
    d.down(timeout=15)
    assert not any(Path(f"/proc/{pid}").exists() and
                   "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
                   for pid in [parent, *_children(parent)])
