"""Server view builder (nova/api/openstack/compute/views/servers.py), compact."""

from __future__ import annotations

from typing import Any

_STATUS = {"building": "BUILD", "active": "ACTIVE", "error": "ERROR", "deleted": "DELETED",
           "stopped": "SHUTOFF", "paused": "PAUSED", "suspended": "SUSPENDED"}


def status_of(vm_state: str | None, task_state: str | None) -> str:
    if vm_state == "active" and task_state == "deleting":
        return "ACTIVE"
    return _STATUS.get(vm_state or "", "UNKNOWN")


def _iso(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(value, "strftime") else value


def show(base_url: str, instance: Any) -> dict[str, Any]:
    link = f"{base_url}/v2.1/servers/{instance.uuid}"
    flavor = instance.flavor
    server: dict[str, Any] = {
        "id": instance.uuid, "name": instance.display_name,
        "status": status_of(instance.vm_state, instance.task_state),
        "tenant_id": instance.project_id, "user_id": instance.user_id,
        "flavor": {"id": flavor.flavorid if flavor else None,
                   "original_name": flavor.name if flavor else None,
                   "ram": flavor.memory_mb if flavor else None,
                   "vcpus": flavor.vcpus if flavor else None},
        "image": {"id": instance.image_ref},
        "created": _iso(instance.created_at), "updated": _iso(instance.updated_at),
        "OS-EXT-STS:vm_state": instance.vm_state,
        "OS-EXT-STS:task_state": instance.task_state,
        "OS-EXT-STS:power_state": instance.power_state or 0,
        "OS-EXT-SRV-ATTR:host": instance.host,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": instance.node,
        "OS-EXT-AZ:availability_zone": instance.availability_zone,
        "OS-SRV-USG:launched_at": _iso(instance.launched_at),
        "reservation_id": instance.reservation_id,
        "metadata": instance.metadata or {},
        "links": [{"rel": "self", "href": link}],
    }
    fault = instance.fault
    if fault is not None and server["status"] == "ERROR":
        server["fault"] = {"code": fault.code, "message": fault.message,
                           "created": _iso(fault.created_at)}
    return server


def basic(base_url: str, instance: Any) -> dict[str, Any]:
    return {"id": instance.uuid, "name": instance.display_name,
            "links": [{"rel": "self", "href": f"{base_url}/v2.1/servers/{instance.uuid}"}]}
