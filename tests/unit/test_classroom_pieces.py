"""The classroom's pieces without a broker: the scheduler maps joined hosts by itself
(``[scheduler] discover_hosts_in_cells_interval``), the join line, the --listen checks."""

from __future__ import annotations

import shlex
import time
import uuid
from pathlib import Path

import pytest

from services.conf import Config
from services.context import get_admin_context, target_cell
from services.db import api as db
from services.launcher import start_service
from services.objects import ComputeNode, HostMapping
from services.scheduler.manager import discover_hosts
from tracer.cloud.classroom import ClassroomError, RabbitAccount, join_command, listen_address


def _compute_node(host: str) -> None:
    ctxt = target_cell(get_admin_context(), db.default_cell_uuid())
    ComputeNode(ctxt, uuid=str(uuid.uuid4()), host=host, hypervisor_hostname=host,
                vcpus=2, memory_mb=2048, local_gb=20, vcpus_used=0, memory_mb_used=0,
                local_gb_used=0, free_ram_mb=2048, free_disk_gb=20, running_vms=0,
                hypervisor_type="test", hypervisor_version=1, cpu_info={}, stats={},
                cpu_allocation_ratio=16.0, ram_allocation_ratio=1.5,
                disk_allocation_ratio=1.0).create()


def _mapped(host: str) -> bool:
    try:
        return HostMapping.get_by_host(get_admin_context(), host).cell_uuid == \
            db.default_cell_uuid()
    except Exception:
        return False


def test_discover_hosts_maps_each_new_compute_node_once(tmp_path: Path) -> None:
    db.configure(Config.load(env={}, state_dir=str(tmp_path)))
    _compute_node("joined1")
    assert not _mapped("joined1")
    assert discover_hosts(get_admin_context()) == ["joined1"]
    assert _mapped("joined1")
    assert discover_hosts(get_admin_context()) == []   # nothing new the second time


def test_scheduler_discovers_hosts_on_its_own_interval(tmp_path: Path) -> None:
    """The scheduler service runs _discover_hosts_in_cells every
    discover_hosts_in_cells_interval seconds (its periodic_interval is an hour here)."""
    cfg = Config.load(env={}, state_dir=str(tmp_path), virt_type="fake",
                      periodic_interval=3600, discover_hosts_in_cells_interval=1,
                      control_exchange=f"classroom-{time.time_ns()}")
    db.configure(cfg)
    scheduler = start_service("nova-scheduler", "scheduler", cfg)
    try:
        _compute_node("joined2")
        deadline = time.monotonic() + 10
        while not _mapped("joined2"):
            assert time.monotonic() < deadline, "joined2 never mapped by the scheduler"
            time.sleep(0.1)
    finally:
        scheduler.stop()


def test_discovery_is_off_by_default_as_in_stein(tmp_path: Path) -> None:
    cfg = Config.load(env={}, state_dir=str(tmp_path))
    assert cfg.discover_hosts_in_cells_interval == -1
    from services.scheduler.manager import SchedulerManager

    tasks = SchedulerManager(cfg, "scheduler").spaced_periodic_tasks()
    assert [(name, spacing) for name, spacing, _ in tasks] == [
        ("_discover_hosts_in_cells", -1)]


def test_join_line_carries_what_must_agree() -> None:
    account = RabbitAccount("bootflow-1a2b3c4d", "pw/with:odd@chars", "bootflow-1a2b3c4d")
    url = account.url("10.1.2.3")
    assert url == ("rabbit://bootflow-1a2b3c4d:pw%2Fwith%3Aodd%40chars@10.1.2.3:5672/"
                   "bootflow-1a2b3c4d")
    line = join_command(url, "http://10.1.2.3:8778", control_exchange="nova",
                        trace_exchange="bootflow.trace", report_interval=10)
    assert shlex.split(line) == ["bootflow", "join", url, "--placement",
                                 "http://10.1.2.3:8778", "--host", "NAME"]
    line = join_command(url, "http://10.1.2.3:8778", "pc7", control_exchange="class",
                        trace_exchange="class.trace", report_interval=2)
    assert shlex.split(line)[5:] == ["--host", "pc7", "--control-exchange", "class",
                                     "--trace-exchange", "class.trace",
                                     "--report-interval", "2"]


@pytest.mark.parametrize("addr", ["0.0.0.0", "127.0.0.1", "::1", "2001:db8::1",
                                  "not-an-ip", "192.0.2.254"])
def test_listen_wants_a_reachable_address_of_this_machine(addr: str) -> None:
    with pytest.raises(ClassroomError, match="--listen"):
        listen_address(addr)
