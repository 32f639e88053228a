"""Bare guest boot time: libvirt domain start -> the guest's ``bootflow-guest: booted`` line.

    .venv/bin/python bench/guest_boot.py [--runs 3] [--uri qemu:///system] [--guest-dir build/guest]

Needs ``bash scripts/libvirt-up.sh`` and ``make guest-image`` first. Each run defines a
fresh ``type='qemu'`` domain (128 MiB, 1 vCPU, direct kernel boot, serial console to a
file), starts it, waits for the line on the console file, then destroys and undefines it.

``measure_bare_boot(conn_uri, kernel, initrd)`` is importable (seconds from the start call
to the line); ``boot_once`` returns the finer split. Issue 4 adds request->ACTIVE next to it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import libvirt

from services.virt.libvirt.config import guest_xml

BOOT_LINE = b"bootflow-guest: booted"
CMDLINE = "console=ttyS0 quiet"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_GUEST_DIR = REPO / "build" / "guest"


@dataclass(frozen=True)
class BootTiming:
    define_s: float  # defineXML
    start_s: float  # dom.create() call returning
    start_to_line_s: float  # dom.create() called -> line seen in the console file

    @property
    def define_start_s(self) -> float:
        return self.define_s + self.start_s


def wait_for_line(path: Path, needle: bytes, timeout: float, poll: float = 0.01) -> bool:
    """Poll ``path`` until it contains ``needle``; False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if needle in path.read_bytes():
                return True
        except FileNotFoundError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def boot_once(
    conn_uri: str,
    kernel: str,
    initrd: str,
    *,
    cmdline: str = CMDLINE,
    memory_mb: int = 128,
    vcpus: int = 1,
    timeout: float = 90.0,
) -> BootTiming:
    """Define, start, wait for the boot line, destroy, undefine. Raises on timeout."""
    workdir = Path(tempfile.mkdtemp(prefix="bootflow-bench-"))
    console = workdir / "console.log"
    name = f"bootflow-bench-{uuid.uuid4().hex[:8]}"
    xml = guest_xml(
        name=name,
        uuid=str(uuid.uuid4()),
        memory_mb=memory_mb,
        vcpus=vcpus,
        virt_type="qemu",
        kernel=kernel,
        initrd=initrd,
        cmdline=cmdline,
        console_log=str(console),
    )
    conn = libvirt.open(conn_uri)
    dom = None
    try:
        t0 = time.perf_counter()
        dom = conn.defineXML(xml)
        t1 = time.perf_counter()
        dom.create()
        t2 = time.perf_counter()
        if not wait_for_line(console, BOOT_LINE, timeout):
            tail = console.read_bytes()[-2000:] if console.exists() else b"(no console file)"
            raise TimeoutError(
                f"{name}: no {BOOT_LINE.decode()!r} within {timeout:.0f} s; console tail:\n"
                + tail.decode(errors="replace")
            )
        t3 = time.perf_counter()
        return BootTiming(define_s=t1 - t0, start_s=t2 - t1, start_to_line_s=t3 - t1)
    finally:
        if dom is not None:
            try:
                if dom.isActive():
                    dom.destroy()
            finally:
                dom.undefine()
        conn.close()
        shutil.rmtree(workdir, ignore_errors=True)


def measure_bare_boot(conn_uri: str, kernel: str, initrd: str) -> float:
    """Seconds from the domain start call to ``bootflow-guest: booted`` on the console."""
    return boot_once(conn_uri, kernel, initrd).start_to_line_s


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uri", default="qemu:///system")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--guest-dir", type=Path, default=DEFAULT_GUEST_DIR)
    args = ap.parse_args(argv)

    out = Console()
    kernel, initrd = args.guest_dir / "vmlinuz", args.guest_dir / "initrd.img"
    if not (kernel.is_file() and initrd.is_file()):
        why = escape(f"no guest image in {args.guest_dir}: run `make guest-image`")
        out.print(f"[red]{why}[/red]")
        return 2
    try:
        libvirt.open(args.uri).close()
    except libvirt.libvirtError as exc:
        why = escape(f"cannot connect to {args.uri} ({exc}): run `bash scripts/libvirt-up.sh`")
        out.print(f"[red]{why}[/red]")
        return 2

    table = Table(title=f"bare guest boot ({args.uri}, 128 MiB, 1 vCPU, {CMDLINE!r})")
    table.add_column("run", justify="right")
    table.add_column("define", justify="right")
    table.add_column("start call", justify="right")
    table.add_column("define+start", justify="right")
    table.add_column("start -> booted line", justify="right")
    runs: list[BootTiming] = []
    for i in range(args.runs):
        t = boot_once(args.uri, str(kernel), str(initrd))
        runs.append(t)
        table.add_row(
            str(i + 1),
            f"{t.define_s:.3f} s",
            f"{t.start_s:.3f} s",
            f"{t.define_start_s:.3f} s",
            f"{t.start_to_line_s:.2f} s",
        )
    if runs:
        table.add_section()
        table.add_row(
            "median",
            f"{statistics.median(r.define_s for r in runs):.3f} s",
            f"{statistics.median(r.start_s for r in runs):.3f} s",
            f"{statistics.median(r.define_start_s for r in runs):.3f} s",
            f"{statistics.median(r.start_to_line_s for r in runs):.2f} s",
        )
    out.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
