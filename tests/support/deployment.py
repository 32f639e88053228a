"""Shared by the tests that run process deployments: the real parts they need (fail with
the fix, never skip), the CLI as a user types it, and waiting for a condition."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from tracer.cloud import processes as deploy

REPO = Path(__file__).resolve().parents[2]
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
T = TypeVar("T")


def require_parts(virt: str) -> None:
    """RabbitMQ, and for ``qemu`` libvirtd and the guest image; else fail naming the fix."""
    try:
        deploy.check_rabbit(RABBIT)
        if virt == "qemu":
            deploy.check_libvirt("qemu:///system")
            deploy.check_guest("build/guest")
    except deploy.DeployError as exc:
        pytest.fail(str(exc), pytrace=False)


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``bootflow ARGS`` from the repository, output captured."""
    return subprocess.run([sys.executable, "-m", "tracer.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def wait_for(pred: Callable[[], T], timeout: float, what: str, poll: float = 0.2) -> T:
    """*pred()*'s first truthy value; AssertionError naming *what* after *timeout* s."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out ({timeout}s) waiting for {what}")
        time.sleep(poll)



