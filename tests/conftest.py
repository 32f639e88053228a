"""Shared fixtures: the broker (fails loudly when down), per-test vhosts and exchanges."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from support.rabbit import own_vhost, require_rabbit, unique_exchange

KINDS = ("unit", "functional", "integration")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked by its folder: ``make test-unit`` is ``-m unit``."""
    for item in items:
        kind = item.path.parent.name
        if kind in KINDS:
            item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture
def rabbit_url() -> str:
    return require_rabbit()


@pytest.fixture
def rabbit_vhost_url() -> Iterator[str]:
    """A RabbitMQ URL on a vhost of this test's own: for tests that run services
    (their RPC queues are named by topic, so a shared vhost mixes deployments)."""
    with own_vhost() as url:
        yield url


@pytest.fixture(params=["memory", "rabbit"])
def transport_url(request: pytest.FixtureRequest) -> str:
    """Each messaging test runs on kombu's memory transport and on RabbitMQ."""
    if request.param == "memory":
        return "memory://"
    return require_rabbit()


@pytest.fixture
def control_exchange() -> str:
    return unique_exchange()


@pytest.fixture
def topic() -> str:
    """An RPC topic of this test's own: queues are named by topic, so this is what keeps
    messaging-layer tests apart on the shared vhost."""
    return f"t_{uuid.uuid4().hex[:8]}"
