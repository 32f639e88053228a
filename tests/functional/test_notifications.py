"""Notifications over RabbitMQ: a boot publishes instance.create.* where a real
oslo.messaging notification listener (as ceilometer runs it) receives them."""

from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Any

import kombu
import oslo_messaging as om
import oslo_messaging.opts
from oslo_config import cfg
from oslo_messaging._metrics import client as _oslo_metrics
from oslo_messaging._tracing import client as _oslo_tracing
from support.boot_flow import traced_cloud


def _oslo_notification_transport(url: str) -> Any:
    conf = cfg.ConfigOpts()
    conf([], project="bootflow-notifications")
    for group, opts in om.opts.list_opts():
        conf.register_opts(list(opts), group=group)
    conf.register_opts(_oslo_tracing.oslo_messaging_tracing, group="oslo_messaging_tracing")
    conf.register_opts(_oslo_metrics.oslo_messaging_metrics, group="oslo_messaging_metrics")
    conf.set_override("control_exchange", "nova")  # Nova's, as nova/rpc.py sets it
    return om.get_notification_transport(conf, url=url)


class _Endpoint:
    """What a notification consumer implements: one method per priority."""

    def __init__(self) -> None:
        self.got: queue.Queue[tuple[str, str, str, Any]] = queue.Queue()

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
             metadata: Any) -> None:
        self.got.put(("info", publisher_id, event_type, payload))

    def error(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
              metadata: Any) -> None:
        self.got.put(("error", publisher_id, event_type, payload))


def _drain(endpoint: _Endpoint, want: set[str], timeout: float = 15.0
           ) -> dict[str, tuple[str, str, str, Any]]:
    seen: dict[str, tuple[str, str, str, Any]] = {}
    deadline = time.monotonic() + timeout
    while not want <= set(seen) and time.monotonic() < deadline:
        try:
            item = endpoint.got.get(timeout=0.2)
        except queue.Empty:
            continue
        seen.setdefault(item[2], item)
    return seen


def test_oslo_listener_receives_the_boot_notifications(tmp_path: Path,
                                                       rabbit_vhost_url: str) -> None:
    with traced_cloud(tmp_path, transport_url=rabbit_vhost_url) as (cloud, _events):
        uuid = cloud.boot("vm1")[0]["id"]
        cloud.wait_for_instances([uuid])
        time.sleep(0.5)
    # nobody listened: oslo's driver declared the queue, so the broker kept them
    with kombu.Connection(rabbit_vhost_url.replace("rabbit://", "amqp://")) as conn:
        name, count, consumers = conn.default_channel.queue_declare(
            "versioned_notifications.info", passive=True)
    assert count >= 3 and consumers == 0

    transport = _oslo_notification_transport(rabbit_vhost_url)
    versioned, legacy = _Endpoint(), _Endpoint()
    listeners = [
        om.get_notification_listener(transport, [om.Target(topic="versioned_notifications")],
                                     [versioned], executor="threading"),
        om.get_notification_listener(transport, [om.Target(topic="notifications")],
                                     [legacy], executor="threading"),
    ]
    for listener in listeners:
        listener.start()
    try:
        got = _drain(versioned, {"instance.create.start", "instance.create.end",
                                 "instance.update"})
        got_legacy = _drain(legacy, {"compute.instance.create.start",
                                     "compute.instance.create.end"})
    finally:
        for listener in listeners:
            listener.stop()
            listener.wait()
        transport.cleanup()
    for event in ("instance.create.start", "instance.create.end"):
        priority, publisher, _, payload = got[event]
        assert (priority, publisher) == ("info", "nova-compute:compute1")
        assert payload["nova_object.name"] == "InstanceCreatePayload"
        assert payload["nova_object.data"]["uuid"] == uuid
    assert got["instance.create.end"][3]["nova_object.data"]["state"] == "active"
    assert got["instance.update"][1] == "nova-conductor:conductor"
    _, publisher, _, payload = got_legacy["compute.instance.create.end"]
    assert publisher == "compute.compute1" and payload["instance_id"] == uuid
