"""A real guest boots under libvirt (qemu:///system, type='qemu' TCG) and says so.

Prerequisites are failures, never skips: `bash scripts/libvirt-up.sh` and
`make guest-image` must have been run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import libvirt
import pytest

from services.virt.libvirt.config import guest_xml

URI = "qemu:///system"
GUEST_DIR = Path(__file__).resolve().parents[2] / "build" / "guest"
BOOT_LINE = b"bootflow-guest: booted"
BOOT_TIMEOUT_S = 90.0


# Prerequisites are checked inside the test (not in fixtures) so that a missing one is
# reported as FAILED with the fix, not as a setup ERROR and never as a skip.
@contextmanager
def _connect() -> Iterator[libvirt.virConnect]:
    try:
        c = libvirt.open(URI)
    except libvirt.libvirtError as exc:
        pytest.fail(
            f"libvirtd not running ({URI}: {exc}): run `bash scripts/libvirt-up.sh`",
            pytrace=False,
        )
    try:
        yield c
    finally:
        c.close()


def _guest_image() -> tuple[Path, Path]:
    kernel, initrd = GUEST_DIR / "vmlinuz", GUEST_DIR / "initrd.img"
    missing = [str(p) for p in (kernel, initrd) if not p.is_file()]
    if missing:
        pytest.fail(
            f"guest image missing ({', '.join(missing)}): run `make guest-image`", pytrace=False
        )
    return kernel, initrd


def _wait_for(path: Path, needle: bytes, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_bytes():
            return True
        time.sleep(0.05)
    return path.exists() and needle in path.read_bytes()


def _gone(conn: libvirt.virConnect, name: str) -> bool:
    try:
        conn.lookupByName(name)
    except libvirt.libvirtError as exc:
        return exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN
    return False


def test_bare_guest_boots_and_is_cleaned_up(tmp_path: Path) -> None:
    kernel, initrd = _guest_image()
    with _connect() as conn:
        _boot_and_clean_up(conn, kernel, initrd, tmp_path)


def _boot_and_clean_up(
    conn: libvirt.virConnect, kernel: Path, initrd: Path, tmp_path: Path
) -> None:
    console = tmp_path / "console.log"
    name = f"bootflow-test-{uuid.uuid4().hex[:8]}"
    dom_uuid = str(uuid.uuid4())
    xml = guest_xml(
        name=name,
        uuid=dom_uuid,
        memory_mb=128,
        vcpus=1,
        virt_type="qemu",
        kernel=str(kernel),
        initrd=str(initrd),
        cmdline="console=ttyS0 quiet",
        console_log=str(console),
        metadata={"name": "test-real-guest", "flavor_name": "m1.nano", "flavor_memory": "128"},
    )

    dom = conn.defineXML(xml)
    try:
        assert dom.UUIDString() == dom_uuid
        t0 = time.monotonic()
        dom.create()
        assert dom.isActive()
        booted = _wait_for(console, BOOT_LINE, BOOT_TIMEOUT_S)
        elapsed = time.monotonic() - t0
        if not booted:
            tail = console.read_bytes()[-2000:].decode(errors="replace") if console.exists() else ""
            pytest.fail(
                f"no {BOOT_LINE.decode()!r} on the console within {BOOT_TIMEOUT_S:.0f} s "
                f"(state {dom.state()}); console tail:\n{tail or '(empty / no file)'}"
            )
        print(f"{name}: start -> booted line {elapsed:.2f} s")
        state, _reason = dom.state()
        assert state == libvirt.VIR_DOMAIN_RUNNING
    finally:
        try:
            if dom.isActive():
                dom.destroy()
        finally:
            dom.undefine()

    assert _gone(conn, name), f"domain {name} still defined after destroy + undefine"
    assert name not in {d.name() for d in conn.listAllDomains()}
