"""Reboot through every Stein hop: REST action → compute API → cast → compute → driver.

FakeDriver, the libvirt test driver (test:///default), RabbitMQ and a real qemu guest:
the hops and states must be the same on each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.boot_flow import Spans, traced_cloud, wait_all_ended
from support.rabbit import unique_exchange
from support.real_parts import require_real_parts

from tracer.cloud.embedded import EmbeddedCloud

SOFT_STATES = [("active", "rebooting"), ("active", "reboot_pending"),
               ("active", "reboot_started"), ("active", None)]
HARD_STATES = [("active", "rebooting_hard"), ("active", "reboot_pending_hard"),
               ("active", "reboot_started_hard"), ("active", None)]


def _reboot(cloud: EmbeddedCloud, events: list[dict[str, Any]], uuid: str, kind: str,
            timeout: float = 30) -> Spans:
    """One reboot; returns the spans of its trace once every one of them has ended."""
    before = len(events)
    assert cloud.reboot(uuid, kind) == 202
    final = cloud.wait_for_instances([uuid], timeout=timeout)[0]
    assert (final["vm_state"], final["task_state"]) == ("active", None), final
    (http,) = [e for e in events[before:] if e["type"] == "span_start"
               and e["name"] == f"POST /v2.1/servers/{uuid}/action"]
    wait_all_ended(events, http["trace_id"])
    spans = Spans(events[before:])
    assert Spans(events).states(uuid)[-4:] == (SOFT_STATES if kind == "SOFT"
                                               else HARD_STATES)
    return spans


def _assert_reboot_hops(spans: Spans, kind: str, host: str = "compute1") -> None:
    (prod,) = spans.find("reboot_instance", "PRODUCER")
    assert prod.service == "nova-api"
    a = prod.attrs
    assert (a["rpc.style"], a["rpc.version"]) == ("cast", "5.0")
    assert a["messaging.rabbitmq.destination.routing_key"] == f"compute.{host}"
    (cons,) = spans.find("reboot_instance", "CONSUMER")
    assert cons.service == "nova-compute" and cons.host == host
    assert cons.attrs["code.location"] == (
        "nova/compute/manager.py:ComputeManager.reboot_instance")
    saves = [s for s in spans.find("object_action", "CLIENT") if s.service == "nova-compute"]
    assert len(saves) >= 3 and all(s.attrs["rpc.style"] == "call" for s in saves)
    assert not spans.find("select_destinations") and not spans.find("build_and_run_instance")
    (drv,) = spans.find("driver.reboot", service="nova-compute")
    assert drv.attrs["reboot_type"] == kind


def test_soft_then_hard_reboot_fake(tmp_path: Path) -> None:
    with traced_cloud(tmp_path, virt_type="fake") as (cloud, events):
        uuid = cloud.boot("vm1")[0]["id"]
        cloud.wait_for_instances([uuid], timeout=30)
        for kind in ("SOFT", "HARD"):
            _assert_reboot_hops(_reboot(cloud, events, uuid, kind), kind)
        # the API recorded one "reboot" instance action per request (os-instance-actions)
        from sqlalchemy import select

        from services.context import get_admin_context, target_cell
        from services.db import api as db
        from services.db import models
        from services.objects import InstanceMapping
        ctx = get_admin_context()
        cell = InstanceMapping.get_by_instance_uuid(ctx, uuid).cell_uuid
        with db.cell_session(target_cell(ctx, cell)) as s:
            names = [r.action for r in s.scalars(select(models.InstanceAction).where(
                models.InstanceAction.instance_uuid == uuid))]
        assert names.count("reboot") == 2

def test_reboot_libvirt_test_driver(tmp_path: Path) -> None:
    with traced_cloud(tmp_path) as (cloud, events):
        uuid = cloud.boot("vm1")[0]["id"]
        cloud.wait_for_instances([uuid], timeout=30)
        soft = _reboot(cloud, events, uuid, "SOFT")
        _assert_reboot_hops(soft, "SOFT")
        (sr,) = soft.find("_soft_reboot", service="nova-compute")
        assert sr.status == "OK" and not soft.find("_hard_reboot")
        hard = _reboot(cloud, events, uuid, "HARD")
        _assert_reboot_hops(hard, "HARD")
        assert hard.find("_hard_reboot") and hard.find("_undefine_domain")
        assert not hard.find("_soft_reboot")


def test_reboot_rabbit(tmp_path: Path, rabbit_vhost_url: str) -> None:
    with traced_cloud(tmp_path, transport_url=rabbit_vhost_url, virt_type="fake",
                      control_exchange=unique_exchange()) as (cloud, events):
        uuid = cloud.boot("vm1")[0]["id"]
        cloud.wait_for_instances([uuid], timeout=30)
        _assert_reboot_hops(_reboot(cloud, events, uuid, "HARD"), "HARD")


def test_reboot_refusals(tmp_path: Path) -> None:
    with traced_cloud(tmp_path, virt_type="fake") as (cloud, _events):
        uuid = cloud.boot("vm1")[0]["id"]
        path = f"/v2.1/servers/{uuid}/action"
        # schema: type is required and an enum; no other keys
        for body in ({"reboot": {}}, {"reboot": {"type": "WARM"}},
                     {"reboot": {"type": "SOFT", "force": True}}, {"nonsense": {}}):
            assert cloud.request("POST", path, body).status_int == 400, body
        cloud.wait_for_instances([uuid], timeout=30)
        # another project's server is not found
        assert cloud.request("POST", path, {"reboot": {"type": "SOFT"}},
                             token="eve:other").status_int == 404
        # busy: a soft reboot needs task_state None
        from services.context import get_admin_context, target_cell
        from services.objects import Instance, InstanceMapping
        ctx = get_admin_context()
        cell = InstanceMapping.get_by_instance_uuid(ctx, uuid).cell_uuid
        inst = Instance.get_by_uuid(target_cell(ctx, cell), uuid)
        inst.task_state = "deleting"
        inst.save()
        resp = cloud.request("POST", path, {"reboot": {"type": "SOFT"}})
        assert resp.status_int == 409
        assert "task_state deleting" in resp.json["conflictingRequest"]["message"]
        # not ACTIVE
        inst.vm_state, inst.task_state = "stopped", None
        inst.save()
        assert cloud.request("POST", path, {"reboot": {"type": "SOFT"}}).status_int == 409
        inst.vm_state = "building"
        inst.save()
        assert cloud.request("POST", path, {"reboot": {"type": "HARD"}}).status_int == 409


@pytest.mark.parametrize("kind", ["HARD", "SOFT"])
def test_reboot_real_qemu_guest(tmp_path: Path, kind: str) -> None:
    """The guest prints its boot line again; SOFT waits 1 s for ACPI, then goes hard."""
    require_real_parts()
    with traced_cloud(tmp_path, virt_type="qemu", wait_soft_reboot_seconds=1) as (
            cloud, events):
        uuid = cloud.boot("real", flavor="bootflow.guest")[0]["id"]
        final = cloud.wait_for_instances([uuid], timeout=120)[0]
        assert final["vm_state"] == "active", final
        spans = _reboot(cloud, events, uuid, kind, timeout=120)
        _assert_reboot_hops(spans, kind)
        (wait,) = spans.find("_wait_for_reboot", service="nova-compute")
        assert wait.status == "OK"
        console = tmp_path / "instances" / uuid / "console.log"
        assert "bootflow-guest: booted" in console.read_text(errors="replace")
        assert cloud.delete(uuid) == 204
        cloud.wait_for_instances([uuid], timeout=60, states=("deleted",))
