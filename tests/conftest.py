"""Shared fixtures: the broker (fails loudly when down) and per-test exchanges."""

from __future__ import annotations

import pytest
from rabbit import require_rabbit, unique_exchange


@pytest.fixture
def rabbit_url() -> str:
    return require_rabbit()


@pytest.fixture(params=["memory", "rabbit"])
def transport_url(request: pytest.FixtureRequest) -> str:
    """Each messaging test runs on kombu's memory transport and on RabbitMQ."""
    if request.param == "memory":
        return "memory://"
    return require_rabbit()


@pytest.fixture
def control_exchange() -> str:
    return unique_exchange()
