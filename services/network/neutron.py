"""Neutron stand-in (nova/network/neutronv2/api.py is the nova side it plays against).

allocate_for_instance creates a port; when the hypervisor plugs the VIF the stub, like
the neutron agent + server, tells nova ``network-vif-plugged-<port>`` through the
external events API (here a callable, which the compute wires to an RPC cast).
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from typing import Any

from tracer.instrument import api as trace

EventSink = Callable[[Any, str, str], None]
_ip = itertools.count(10)


class API:
    """Ports per instance; spans on service ``neutron``."""

    STEIN_LOCATION = "nova/network/neutronv2/api.py:API"

    def __init__(self, event_sink: EventSink | None = None, plug_delay: float = 0.05) -> None:
        self.event_sink = event_sink
        self.plug_delay = plug_delay
        self.ports: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def allocate_for_instance(self, context: Any, instance: Any,
                              requested_networks: Any = None) -> list[dict[str, Any]]:
        """POST /v2.0/ports: one port on the private network; returns network_info."""
        with trace.span("POST /v2.0/ports", "HTTP", service="neutron", host="neutron",
                        attrs={"http.method": "POST", "instance_uuid": instance.uuid,
                               "code.location": f"{self.STEIN_LOCATION}"
                                                ".allocate_for_instance"}) as sp:
            n = next(_ip)
            port = {"id": str(uuid.uuid4()), "address": f"fa:16:3e:00:{n // 256:02x}:"
                                                         f"{n % 256:02x}",
                    "network": {"id": "private", "label": "private",
                                "subnets": [{"cidr": "10.0.0.0/24",
                                             "ips": [{"address": f"10.0.{n // 250}."
                                                                 f"{n % 250 + 2}"}]}]},
                    "type": "ovs", "devname": f"tap{n:08x}"[:14], "active": False}
            with self._lock:
                self.ports[instance.uuid] = [port]
            sp.set_attr("port_id", port["id"])
            return [port]

    def plug(self, instance: Any, network_info: list[dict[str, Any]]) -> None:
        """The VIF exists on the host: after the agent's delay, send network-vif-plugged."""
        ctx = trace.current()

        def send() -> None:
            with trace.identity("neutron", "neutron"), trace.use(ctx):
                for vif in network_info:
                    vif["active"] = True
                    with trace.span("port up: notify nova", "INTERNAL",
                                    attrs={"port_id": vif["id"],
                                           "event": "network-vif-plugged"}):
                        if self.event_sink is not None:
                            self.event_sink(instance, "network-vif-plugged", vif["id"])

        timer = threading.Timer(self.plug_delay, send)
        timer.daemon = True
        timer.start()

    def get_instance_nw_info(self, context: Any, instance: Any) -> list[dict[str, Any]]:
        """The instance's VIFs (Stein reads them back from neutron; reboot needs them)."""
        with trace.span("GET /v2.0/ports", "HTTP", service="neutron", host="neutron",
                        attrs={"http.method": "GET", "instance_uuid": instance.uuid,
                               # base_api's get_instance_nw_info asks neutron here
                               "code.location": f"{self.STEIN_LOCATION}"
                                                "._get_instance_nw_info"}):
            with self._lock:
                return [dict(p) for p in self.ports.get(instance.uuid, [])]

    def deallocate_for_instance(self, context: Any, instance: Any) -> None:
        with trace.span("DELETE /v2.0/ports", "HTTP", service="neutron", host="neutron",
                        attrs={"http.method": "DELETE", "instance_uuid": instance.uuid}):
            with self._lock:
                self.ports.pop(instance.uuid, None)
