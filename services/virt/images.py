"""Fetch an image's boot files into the instance directory (nova/virt/images.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from tracer.instrument import api as trace


def fetch_to_raw(context: Any, image_meta: Any, instance_dir: Path) -> dict[str, str | None]:
    """Copy the kernel and initrd named by the image properties; returns their paths.

    A hard link when possible (same filesystem), else a copy: the guest must not depend
    on build/ staying put.
    """
    props = dict(getattr(image_meta, "properties", None) or {})
    out: dict[str, str | None] = {"kernel": None, "initrd": None,
                                  "cmdline": props.get("os_command_line")}
    with trace.span("images.fetch_to_raw", "INTERNAL",
                    attrs={"code.location": "nova/virt/images.py:fetch_to_raw",
                           "image_id": getattr(image_meta, "id", None)}):
        for key, prop in (("kernel", "kernel_path"), ("initrd", "initrd_path")):
            src = props.get(prop)
            if not src:
                continue
            dst = instance_dir / f"{key}"
            if not dst.exists():
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copyfile(src, dst)
            out[key] = str(dst)
    return out
