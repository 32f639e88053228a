"""Image service stand-in: a fixed catalogue, one real guest (kernel + initrd from build/).

Why a list and not glance: the boot flow only needs ``show`` (image metadata for the
request spec and the driver) and ``detail`` (GET /v2.1/images).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services import exception
from tracer.instrument import api as trace

GUEST_IMAGE_ID = "6f0f9bd9-6a5f-4c4e-8d9b-b00f1e0e6e57"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _guest_image(guest_dir: str) -> dict[str, Any]:
    gdir = Path(guest_dir)
    if not gdir.is_absolute():
        gdir = REPO_ROOT / gdir
    kernel, initrd, cmdline = gdir / "vmlinuz", gdir / "initrd.img", gdir / "cmdline"
    present = kernel.is_file() and initrd.is_file()
    props: dict[str, Any] = {"hw_architecture": "x86_64", "os_type": "linux",
                             "bootflow_boot_line": "bootflow-guest: booted"}
    if present:
        props.update(kernel_path=str(kernel), initrd_path=str(initrd),
                     os_command_line=(cmdline.read_text().strip() if cmdline.is_file()
                                      else "console=ttyS0 quiet"))
    return {"id": GUEST_IMAGE_ID, "name": "bootflow-guest", "status": "active",
            "disk_format": "raw", "container_format": "bare", "min_ram": 0, "min_disk": 0,
            "size": (kernel.stat().st_size + initrd.stat().st_size) if present else 0,
            "properties": props}


class API:
    """``show`` / ``detail`` as nova.image.glance.API; spans on service ``glance``."""

    def __init__(self, guest_dir: str = "build/guest") -> None:
        self.images = {GUEST_IMAGE_ID: _guest_image(guest_dir)}

    def detail(self, context: Any) -> list[dict[str, Any]]:
        return [dict(i) for i in self.images.values()]

    def show(self, context: Any, image_id_or_name: str) -> dict[str, Any]:
        with trace.span(f"GET /v2/images/{image_id_or_name}", "HTTP", service="glance",
                        host="glance", attrs={"http.method": "GET",
                                              "code.location": "nova/image/glance.py:"
                                                               "GlanceImageServiceV2.show"}):
            for image in self.images.values():
                if image_id_or_name in (image["id"], image["name"]):
                    return dict(image)
        raise exception.ImageNotFound(image_id=image_id_or_name)
