"""LibvirtDriver while domains vanish: a parallel delete undefines a domain between
the driver's lookup and its ``info()`` (issue 11, finding 8: ``libvirtError: Domain not
found`` escaped ``get_available_resource`` and failed the resource tracker's periodic)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import libvirt

from services.conf import Config
from services.virt import driver as virt_driver
from services.virt.libvirt.driver import LibvirtDriver


class _RacingConn:
    """The test driver's connection, where *victim* is deleted right after its lookup
    (what a terminate_instance thread does meanwhile)."""

    def __init__(self, real: Any, victim: str) -> None:
        self._real, self._victim = real, victim

    def lookupByUUIDString(self, dom_uuid: str) -> Any:  # libvirt's name
        dom = self._real.lookupByUUIDString(dom_uuid)
        if dom_uuid == self._victim:
            other = libvirt.open("test:///default").lookupByUUIDString(dom_uuid)
            other.destroy()
            other.undefine()
        return dom

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _define(conn: Any, dom_uuid: str) -> None:
    conn.defineXML(f"<domain type='test'><name>race-{dom_uuid[:8]}</name><uuid>{dom_uuid}"
                   "</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type>"
                   "</os></domain>").create()


def test_domain_deleted_during_get_available_resource(tmp_path: Path) -> None:
    drv = LibvirtDriver(None, Config(state_dir=str(tmp_path), virt_type="test"), "c1")
    (tmp_path / "instances").mkdir()
    keep, gone = str(uuid.uuid4()), str(uuid.uuid4())
    for u in (keep, gone):
        _define(drv.conn, u)
        drv._domains.add(u)
    drv._conn = _RacingConn(drv.conn, gone)
    res = drv.get_available_resource("c1")
    assert (res["vcpus_used"], res["memory_mb_used"]) == (1, 64)  # the one still there
    assert drv.list_instances() == [keep]


def test_domain_deleted_during_get_info(tmp_path: Path) -> None:
    drv = LibvirtDriver(None, Config(state_dir=str(tmp_path), virt_type="test"), "c1")
    gone = str(uuid.uuid4())
    _define(drv.conn, gone)
    drv._conn = _RacingConn(drv.conn, gone)

    class Inst:
        uuid = gone

    assert drv.get_info(Inst()) == virt_driver.NOSTATE
