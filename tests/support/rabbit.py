"""The RabbitMQ the tests run against: a down broker fails the tests, it never skips them.

Isolation: RPC queues are named by topic (``conductor``, ``compute.compute1``) whatever
the control exchange, so two deployments on one vhost (a user's `bootflow up`, another
test run) consume each other's messages. A test that runs services over RabbitMQ takes
a vhost of its own (`own_vhost`, fixture ``rabbit_vhost_url``); a unique control
exchange (`unique_exchange`) only keeps exchanges apart. Messaging-layer tests whose
topics are unique per test may stay on ``/``.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest

HOST, PORT = "127.0.0.1", 5672
RABBIT_URL = f"rabbit://guest:guest@{HOST}:{PORT}/"
NOT_REACHABLE = (f"RabbitMQ is not reachable at {HOST}:{PORT}: start it with "
                 "`rabbitmq-server -detached`")
NO_RABBITMQCTL = ("rabbitmqctl is not on PATH: the test needs a RabbitMQ vhost of its own "
                  "(queues are named by topic, so a shared vhost mixes deployments); fix: "
                  "run the tests on the broker's host as a user allowed to use rabbitmqctl "
                  "(root), with rabbitmq-server installed (apt-get install rabbitmq-server)")


def rabbit_reachable(timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=timeout):
            return True
    except OSError:
        return False


def require_rabbit() -> str:
    """The broker URL, or fail the calling test with how to start the broker."""
    if not rabbit_reachable():
        pytest.fail(NOT_REACHABLE, pytrace=False)
    return RABBIT_URL


def unique_exchange() -> str:
    """A control exchange of its own. It does not isolate RPC queues (named by topic):
    use `own_vhost` for that."""
    return f"test_{uuid.uuid4().hex[:8]}"


def rabbitmqctl(*args: str) -> str:
    """Run ``rabbitmqctl -q *args`` (its output); fail the test (never skip) naming the fix."""
    if shutil.which("rabbitmqctl") is None:
        pytest.fail(NO_RABBITMQCTL, pytrace=False)
    try:
        r = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                           timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"rabbitmqctl {' '.join(args)} timed out after 60 s; fix: check the "
                    "broker (`rabbitmqctl status`)", pytrace=False)
    if r.returncode != 0:
        why = (r.stderr or r.stdout).strip().splitlines()[-1:]
        pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {why}; fix: run as a user "
                    "allowed to use rabbitmqctl (root)", pytrace=False)
    return r.stdout


def rabbitmqctl_lines(*args: str) -> list[str]:
    """The data lines of a ``rabbitmqctl -q list_*`` table (header row left out)."""
    lines = [line for line in rabbitmqctl(*args).splitlines() if line.strip()]
    return lines[1:] if lines and lines[0].split("\t")[0] in ("name", "Timeout") else lines


@contextlib.contextmanager
def own_vhost(prefix: str = "bf-test") -> Iterator[str]:
    """A fresh vhost for guest while the block runs, deleted after (its queues and
    exchanges with it); yields ``rabbit://guest:guest@127.0.0.1:5672/<vhost>``."""
    require_rabbit()
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield RABBIT_URL + name
    finally:
        rabbitmqctl("delete_vhost", name)
