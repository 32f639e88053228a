"""The real parts a guest needs: libvirtd answering qemu:///system and the guest image.

Missing ones fail the test with the fix (``make test`` brings both up first), never skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

GUEST = Path(__file__).resolve().parents[2] / "build" / "guest"


def require_real_parts() -> None:
    import libvirt

    if not (GUEST / "vmlinuz").is_file():
        pytest.fail("no guest image in build/guest (fix: make guest-image)", pytrace=False)
    try:
        libvirt.open("qemu:///system").close()
    except libvirt.libvirtError as exc:
        pytest.fail(f"libvirtd not reachable ({exc}); fix: sudo bash scripts/libvirt-up.sh",
                    pytrace=False)
