"""RabbitMQ vhosts of their own: queues are named by topic, global to a vhost, so two
deployments (or two test runs) on one vhost would steal each other's messages."""

from __future__ import annotations

import contextlib
import subprocess
import urllib.parse
import uuid as uuidlib
from collections.abc import Iterator


class VhostError(RuntimeError):
    """rabbitmqctl refused or failed: one line naming the fix."""


@contextlib.contextmanager
def own_vhost(transport_url: str, prefix: str) -> Iterator[str]:
    """*transport_url* moved to a fresh vhost for the block, deleted after with all its
    queues (oslo's fanout and reply queues outlive their consumer by 30 minutes, and a
    fanout queue left bound gets a copy of every later message on the same topic)."""
    vhost = f"{prefix}-{uuidlib.uuid4().hex[:8]}"
    add_vhost(transport_url, vhost)
    try:
        yield in_vhost(transport_url, vhost)
    finally:
        rabbitmqctl("delete_vhost", vhost)


def in_vhost(transport_url: str, vhost: str) -> str:
    """*transport_url* with its path set to *vhost*."""
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(transport_url)._replace(
        path="/" + vhost))


def add_vhost(transport_url: str, vhost: str) -> None:
    """Create *vhost* and give the URL's user (guest by default) every right in it."""
    rabbitmqctl("add_vhost", vhost)
    user = urllib.parse.urlsplit(transport_url).username or "guest"
    try:
        rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    except VhostError:
        rabbitmqctl("delete_vhost", vhost)
        raise


def rabbitmqctl(*args: str) -> None:
    r = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise VhostError(f"rabbitmqctl {' '.join(args)} failed: "
                               f"{(r.stderr or r.stdout).strip().splitlines()[-1:]}; fix: "
                               "run as a user allowed to use rabbitmqctl (root)")
