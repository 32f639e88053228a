"""Instance notifications (nova/notifications/base.py and the versioned payloads of
nova/notifications/objects/instance.py).

Why a module of its own: the conductor and the compute both send ``instance.update``;
the payload shapes (``InstancePayload`` 1.7 fields, ``nova_object.*`` primitives for the
versioned ones) are written once here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from services import rpc
from tracer.instrument import api as trace

STEIN_FILE = "nova/notifications/base.py"
PAYLOAD_VERSIONS = {"InstanceUpdatePayload": "1.8", "InstanceCreatePayload": "1.11",
                    "InstanceActionPayload": "1.7", "ComputeTaskPayload": "1.0"}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def instance_payload_data(instance: Any) -> dict[str, Any]:
    """The ``InstancePayload`` fields bootflow's Instance has (the rest None)."""
    flavor = instance.flavor
    return {
        "uuid": instance.uuid, "user_id": instance.user_id,
        "tenant_id": instance.project_id, "reservation_id": instance.reservation_id,
        "display_name": instance.display_name, "display_description": None,
        "host_name": instance.display_name, "host": instance.host, "node": instance.node,
        "os_type": None, "architecture": None,
        "availability_zone": instance.availability_zone,
        "flavor": {"nova_object.name": "FlavorPayload", "nova_object.namespace": "nova",
                   "nova_object.version": "1.4",
                   "nova_object.data": {"flavorid": getattr(flavor, "flavorid", None),
                                        "name": getattr(flavor, "name", None),
                                        "memory_mb": getattr(flavor, "memory_mb", None),
                                        "vcpus": getattr(flavor, "vcpus", None),
                                        "root_gb": getattr(flavor, "root_gb", None)}},
        "image_uuid": instance.image_ref, "key_name": None, "kernel_id": "",
        "ramdisk_id": "", "created_at": _iso(instance.created_at),
        "launched_at": _iso(instance.launched_at),
        "terminated_at": _iso(instance.terminated_at),
        "deleted_at": _iso(instance.deleted_at), "updated_at": _iso(instance.updated_at),
        "state": instance.vm_state, "power_state": instance.power_state,
        "task_state": instance.task_state, "progress": 0,
        "metadata": dict(instance.metadata or {}), "locked": False,
        "auto_disk_config": "MANUAL",
    }


def versioned_payload(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """A notification payload object as ``obj_to_primitive`` sends it."""
    return {"nova_object.name": name, "nova_object.namespace": "nova",
            "nova_object.version": PAYLOAD_VERSIONS[name], "nova_object.data": data}


def info_from_instance(instance: Any) -> dict[str, Any]:
    """The unversioned payload (``info_from_instance``), the fields it shares."""
    data = instance_payload_data(instance)
    flavor = instance.flavor
    return {"tenant_id": data["tenant_id"], "user_id": data["user_id"],
            "instance_id": instance.uuid, "display_name": data["display_name"],
            "reservation_id": data["reservation_id"], "hostname": data["host_name"],
            "instance_type": getattr(flavor, "name", None),
            "instance_type_id": getattr(flavor, "id", None),
            "memory_mb": getattr(flavor, "memory_mb", None),
            "vcpus": getattr(flavor, "vcpus", None),
            "root_gb": getattr(flavor, "root_gb", None), "host": instance.host,
            "node": instance.node, "state": instance.vm_state,
            "state_description": instance.task_state or "",
            "availability_zone": instance.availability_zone,
            "image_ref_url": instance.image_ref, "created_at": data["created_at"],
            "launched_at": data["launched_at"] or "", "metadata": data["metadata"]}


def send_update(context: Any, old_instance: Any, new_instance: Any, service: str = "compute",
                host: str | None = None) -> None:
    """What every ``Instance.save()`` sends (Stein's objects/instance.py ``_notify``): a
    state-change update when vm_state (or, with vm_and_task_state, task_state) moved,
    else a plain ``instance.update``. Off unless notify_on_state_change is set."""
    mode = rpc.notify_on_state_change()
    if not mode:
        return
    old_vm, new_vm = old_instance["vm_state"], new_instance.vm_state
    old_task, new_task = old_instance["task_state"], new_instance.task_state
    if old_vm != new_vm or (mode == "vm_and_task_state" and old_task != new_task):
        send_update_with_states(context, new_instance, old_vm, new_vm, old_task, new_task,
                                service, host)
    else:
        old_name = old_instance["display_name"]
        send_instance_update_notification(
            context, new_instance, service=service, host=host,
            old_display_name=old_name if old_name != new_instance.display_name else None)


def send_update_with_states(context: Any, instance: Any, old_vm_state: str | None,
                            new_vm_state: str | None, old_task_state: str | None,
                            new_task_state: str | None, service: str = "compute",
                            host: str | None = None) -> None:
    """``compute.instance.update`` and ``instance.update`` for a state change, when
    ``[notifications] notify_on_state_change`` is set (Stein: off unless configured)."""
    if not rpc.notify_on_state_change():
        return
    send_instance_update_notification(context, instance, old_vm_state, old_task_state,
                                      new_vm_state, new_task_state, service, host)


def send_instance_update_notification(context: Any, instance: Any,
                                      old_vm_state: str | None = None,
                                      old_task_state: str | None = None,
                                      new_vm_state: str | None = None,
                                      new_task_state: str | None = None,
                                      service: str = "compute", host: str | None = None,
                                      old_display_name: str | None = None) -> None:
    """Both formats of the update; unset states are the instance's current ones. The
    publisher's host is the process's own (CONF.host): for a compute's save that is the
    conductor, which runs it."""
    host = host or trace.whoami()[1]
    with trace.span("send_instance_update_notification", "INTERNAL", attrs={
            "code.location": f"{STEIN_FILE}:send_instance_update_notification",
            "instance_uuid": instance.uuid}):
        # _compute_states_payload: a state not given is the instance's current one
        def current(value: str | None, name: str) -> str | None:
            return value if value is not None else getattr(instance, name)

        states = {"old_state": current(old_vm_state, "vm_state"),
                  "state": current(new_vm_state, "vm_state"),
                  "old_task_state": current(old_task_state, "task_state"),
                  "new_task_state": current(new_task_state, "task_state")}
        legacy = {**info_from_instance(instance), **states}
        if old_display_name:
            legacy["old_display_name"] = old_display_name
        rpc.get_notifier(service, host).info(context, "compute.instance.update", legacy)
        data = {**instance_payload_data(instance),
                "state_update": {"nova_object.name": "InstanceStateUpdatePayload",
                                 "nova_object.namespace": "nova",
                                 "nova_object.version": "1.0",
                                 "nova_object.data": states},
                "audit_period": None, "bandwidth": [], "old_display_name": old_display_name,
                "tags": [], "updated_availability_zone": None}
        rpc.get_versioned_notifier(f"nova-{service}:{host}").info(
            context, "instance.update", versioned_payload("InstanceUpdatePayload", data))
