"""The RabbitMQ the tests run against: a down broker fails the tests, it never skips them."""

from __future__ import annotations

import socket
import uuid

import pytest

HOST, PORT = "127.0.0.1", 5672
RABBIT_URL = f"rabbit://guest:guest@{HOST}:{PORT}/"
NOT_REACHABLE = (f"RabbitMQ is not reachable at {HOST}:{PORT}: start it with "
                 "`rabbitmq-server -detached`")


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
    """A control exchange of its own, so parallel test runs never share queues."""
    return f"test_{uuid.uuid4().hex[:8]}"
