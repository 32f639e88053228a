"""What a compute settles when it starts (issue 11, finding 7): Stein's init_host →
_init_instance for every instance of its host, and the resource tracker freeing what
deleted instances still hold in placement. A killed compute's leftovers are written into
the databases of an embedded cloud, then compute1 is stopped and started again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import libvirt
from sqlalchemy import update
from support.boot_flow import Spans, traced_cloud

from services.context import get_admin_context
from services.db import api as db
from services.db import models
from services.placement.client import PlacementClient, placement_url


def _set(uuid: str, **values: Any) -> None:
    with db.cell_session(get_admin_context()) as s:
        s.execute(update(models.Instance).where(models.Instance.uuid == uuid).values(**values))


def test_restarted_compute_settles_what_it_left(tmp_path: Path) -> None:
    with traced_cloud(tmp_path, report_interval=3600, periodic_interval=3600,
                      periodic_fuzzy_delay=3600) as (
            cloud, events):
        names = ("spawning", "deleting", "running", "guest-gone", "deleted")
        servers = cloud.boot("r", count=len(names))
        uuids = dict(zip(names, sorted((s["id"] for s in servers),
                                       key=lambda u: next(s["name"] for s in servers
                                                          if s["id"] == u)), strict=True))
        cloud.wait_for_instances(list(uuids.values()), timeout=60)
        placement = PlacementClient(placement_url(cloud.config))
        held = placement.get_allocations_for_consumer(uuids["deleted"])["allocations"]
        assert cloud.delete(uuids["deleted"]) == 204
        cloud.wait_for_instances([uuids["deleted"]], timeout=30, states=("deleted",))
        # the delete ends with a resource update of its own: let it finish first
        deadline = time.monotonic() + 10
        while not (done := Spans(events).find("terminate_instance", "INTERNAL")) or any(
                s.end_ns is None for s in done):
            assert time.monotonic() < deadline, "terminate_instance did not end"
            time.sleep(0.05)

        # what a compute killed at various points leaves behind
        _set(uuids["spawning"], vm_state="building", task_state="spawning")
        _set(uuids["deleting"], task_state="deleting")
        conn = libvirt.open("test:///default")
        gone = conn.lookupByUUIDString(uuids["guest-gone"])
        gone.destroy()
        gone.undefine()
        assert placement.claim_resources(uuids["deleted"], {"allocations": held}, "demo",
                                         "demo")

        compute = next(s for s in cloud.services if s.host == "compute1")
        compute.stop()
        cloud.services.remove(compute)
        mark = len(events)
        cloud.start_service("nova-compute", "compute1")

        spawning = cloud.instance_state(uuids["spawning"])
        assert spawning is not None
        assert (spawning["vm_state"], spawning["task_state"], spawning["host"]) == (
            "error", None, None)
        assert "stopped before the instance was fully spawned" in spawning["fault"]["message"]
        assert not placement.get_allocations_for_consumer(uuids["spawning"])["allocations"]
        for name in ("spawning", "deleting"):
            try:
                conn.lookupByUUIDString(uuids[name])
                raise AssertionError(f"the {name} instance's domain is still defined")
            except libvirt.libvirtError:
                pass
        deleting = cloud.instance_state(uuids["deleting"])
        assert deleting is not None and deleting["deleted"]
        assert not placement.get_allocations_for_consumer(uuids["deleting"])["allocations"]
        running = cloud.instance_state(uuids["running"])
        assert running is not None and running["vm_state"] == "active"
        stopped = cloud.instance_state(uuids["guest-gone"])
        assert stopped is not None and stopped["vm_state"] == "stopped"
        shown = cloud.request("GET", f"/v2.1/servers/{uuids['guest-gone']}").json["server"]
        assert (shown["status"], shown["OS-EXT-STS:power_state"]) == ("SHUTOFF", 0)
        assert not placement.get_allocations_for_consumer(uuids["deleted"])["allocations"]

        spans = Spans(events[mark:])
        actions = {s.attrs["instance_uuid"]: s.attrs.get("init.action")
                   for s in spans.find("_init_instance", service="nova-compute")}
        assert actions == {uuids["spawning"]: "error: build interrupted",
                           uuids["deleting"]: "restart deletion",
                           uuids["running"]: "sync power state",
                           uuids["guest-gone"]: "sync power state"}
        (freed,) = spans.find("_remove_deleted_instances_allocations")
        assert freed.attrs["freed"] == [uuids["deleted"]]


def test_build_timeout_errors_out_stuck_builds(tmp_path: Path) -> None:
    """Stein's _check_instance_build_time (instance_build_timeout, a compute periodic
    task) for a build stuck on this host; and one placement put here that no compute
    claimed (its build cast lost with a killed compute: no host, so Stein never finds
    it), which also gives back its allocation."""
    import datetime as dt

    with traced_cloud(tmp_path, report_interval=3600, periodic_interval=1,
                      periodic_fuzzy_delay=0, instance_build_timeout=30) as (cloud, events):
        servers = cloud.boot("t", count=3)
        uuids = sorted(s["id"] for s in servers)
        cloud.wait_for_instances(uuids, timeout=60)
        stuck, unclaimed, young = uuids
        old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=60)
        _set(stuck, vm_state="building", task_state="spawning", created_at=old)
        _set(unclaimed, vm_state="building", task_state=None, host=None, node=None,
             created_at=old)
        _set(young, vm_state="building", task_state=None, host=None, node=None)
        placement = PlacementClient(placement_url(cloud.config))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            states = [cloud.instance_state(u) for u in uuids]
            if all(s is not None and s["vm_state"] == "error" for s in states[:2]):
                break
            time.sleep(0.2)
        first, second, third = (cloud.instance_state(u) for u in uuids)
        assert first is not None and second is not None and third is not None
        assert first["vm_state"] == "error" and "timed out after 30 s" in \
            first["fault"]["message"]
        assert second["vm_state"] == "error" and "never claimed it" in \
            second["fault"]["message"]
        assert not placement.get_allocations_for_consumer(unclaimed)["allocations"]
        assert third["vm_state"] == "building"  # younger than the timeout: left alone
        assert placement.get_allocations_for_consumer(young)["allocations"]
        checked = {u for s in Spans(events).find("_check_instance_build_time")
                   for u in s.attrs["instances"]}
        assert checked == {stuck, unclaimed}
