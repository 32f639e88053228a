"""The same boot flow with a real TCG guest (libvirt qemu:///system) that says it booted.

Prerequisites fail, never skip: `bash scripts/libvirt-up.sh` and `make guest-image`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.boot_flow import Spans, traced_cloud
from support.real_parts import require_real_parts


def test_real_guest_boots_to_active_and_is_deleted(tmp_path: Path) -> None:
    require_real_parts()
    with traced_cloud(tmp_path, virt_type="qemu") as (cloud, events):
        uuid = cloud.boot("real", flavor="bootflow.guest")[0]["id"]
        final = cloud.wait_for_instances([uuid], timeout=120)[0]
        assert final["vm_state"] == "active", final
        console = tmp_path / "instances" / uuid / "console.log"
        assert "bootflow-guest: booted" in console.read_text(errors="replace")
        (wait,) = Spans(events).find("_wait_for_boot", service="nova-compute")
        assert wait.status == "OK" and wait.attrs["polls"] >= 2
        assert cloud.delete(uuid) == 204
        cloud.wait_for_instances([uuid], timeout=60, states=("deleted",))
        assert not console.parent.exists()


def test_boot_timeout_is_error_with_console_tail(tmp_path: Path) -> None:
    require_real_parts()
    with traced_cloud(tmp_path, virt_type="qemu", boot_timeout=0.3) as (cloud, events):
        uuid = cloud.boot("slow", flavor="bootflow.guest")[0]["id"]
        final = cloud.wait_for_instances([uuid], timeout=60)[0]
        assert final["vm_state"] == "error"
        assert "console tail" in final["fault"]["message"]
        spans = Spans(events)
        assert not spans.find("build_instances", "PRODUCER")  # no reschedule
        assert spans.find("_undefine_domain", service="nova-compute")  # nothing left behind
        import libvirt
        conn = libvirt.open("qemu:///system")
        try:
            with pytest.raises(libvirt.libvirtError):
                conn.lookupByUUIDString(uuid)
        finally:
            conn.close()
        cloud.delete(uuid)
        cloud.wait_for_instances([uuid], timeout=60, states=("deleted",))
