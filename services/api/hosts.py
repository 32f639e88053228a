"""os-services and os-hypervisors (nova/api/openstack/compute/services.py, hypervisors.py).

Admin only, as Stein's default policy (``rule:admin_api``, see services/api/policy.py):
another token gets 403 ``forbidden``.
A service is "up" when its record was updated within ``service_down_time`` seconds.
"""

from __future__ import annotations

from typing import Any

import webob

from services.api import policy
from services.api.middleware import json_response
from services.api.views import _iso
from services.objects import ComputeNode
from services.objects import Service as ServiceObj
from services.service import ServiceGroupAPI
from tracer.instrument import api as trace

HIDDEN_BINARIES = ("nova-osapi_compute", "nova-metadata")  # not listed by os-services


class ServicesController:
    """GET /v2.1/os-services."""

    def __init__(self, config: Any) -> None:
        self.servicegroup_api = ServiceGroupAPI(config)

    def index(self, req: webob.Request, context: Any) -> webob.Response:
        with trace.span("ServiceController.index", "INTERNAL", attrs={
                "code.location": "nova/api/openstack/compute/services.py:"
                                 "ServiceController.index"}):
            policy.authorize(context, "os_compute_api:os-services")
            out = []
            for svc in ServiceObj.get_all(context):
                if svc.binary in HIDDEN_BINARIES:
                    continue
                out.append({"id": svc.id, "binary": svc.binary, "host": svc.host,
                            "zone": "nova" if svc.binary == "nova-compute" else "internal",
                            "status": "disabled" if svc.disabled else "enabled",
                            "state": "up" if self.servicegroup_api.is_up(svc) else "down",
                            "updated_at": _iso(svc.updated_at),
                            "disabled_reason": svc.disabled_reason,
                            "forced_down": bool(svc.forced_down)})
            return json_response(200, {"services": out})


class HypervisorsController:
    """GET /v2.1/os-hypervisors and /v2.1/os-hypervisors/detail."""

    def __init__(self, config: Any) -> None:
        self.servicegroup_api = ServiceGroupAPI(config)

    def _nodes(self, context: Any) -> list[tuple[Any, Any]]:
        services = {s.host: s for s in ServiceObj.get_all(context)
                    if s.binary == "nova-compute"}
        return [(cn, services.get(cn.host)) for cn in ComputeNode.get_all(context)]

    def _basic(self, cn: Any, svc: Any) -> dict[str, Any]:
        return {"id": cn.id, "hypervisor_hostname": cn.hypervisor_hostname,
                "state": "up" if svc is not None and self.servicegroup_api.is_up(svc)
                else "down",
                "status": "disabled" if svc is not None and svc.disabled else "enabled"}

    def index(self, req: webob.Request, context: Any) -> webob.Response:
        with trace.span("HypervisorsController.index", "INTERNAL", attrs={
                "code.location": "nova/api/openstack/compute/hypervisors.py:"
                                 "HypervisorsController.index"}):
            policy.authorize(context, "os_compute_api:os-hypervisors")
            return json_response(200, {"hypervisors": [self._basic(cn, svc)
                                                       for cn, svc in self._nodes(context)]})

    def detail(self, req: webob.Request, context: Any) -> webob.Response:
        with trace.span("HypervisorsController.detail", "INTERNAL", attrs={
                "code.location": "nova/api/openstack/compute/hypervisors.py:"
                                 "HypervisorsController.detail"}):
            policy.authorize(context, "os_compute_api:os-hypervisors")
            out = []
            for cn, svc in self._nodes(context):
                out.append({**self._basic(cn, svc),
                            "hypervisor_type": cn.hypervisor_type,
                            "hypervisor_version": cn.hypervisor_version,
                            "vcpus": cn.vcpus, "vcpus_used": cn.vcpus_used,
                            "memory_mb": cn.memory_mb, "memory_mb_used": cn.memory_mb_used,
                            "free_ram_mb": cn.free_ram_mb, "local_gb": cn.local_gb,
                            "local_gb_used": cn.local_gb_used,
                            "free_disk_gb": cn.free_disk_gb,
                            "running_vms": cn.running_vms,
                            "current_workload": cn.current_workload,
                            "disk_available_least": cn.free_disk_gb,
                            "host_ip": "127.0.0.1", "cpu_info": cn.cpu_info or {},
                            "service": {"host": cn.host,
                                        "id": svc.id if svc is not None else None,
                                        "disabled_reason": None}})
            return json_response(200, {"hypervisors": out})
