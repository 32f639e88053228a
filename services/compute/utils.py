"""Compute helpers other services share (nova/compute/utils.py).

Why one place: an instance fault is written by the compute (a failed build) and by the
conductor (NoValidHost, MaxRetriesExceeded); both go through
``add_instance_fault_from_exc`` as in Stein, so a recording shows every fault as the same
span and a learner can count them.
"""

from __future__ import annotations

from typing import Any

from tracer.instrument import api as trace

STEIN_FILE = "nova/compute/utils.py"


def add_instance_fault_from_exc(context: Any, instance: Any, fault: BaseException,
                                host: str | None = None) -> None:
    """Adds the specified fault to the database (one ``instance_faults`` row)."""
    from services.objects import InstanceFault

    fault_obj = InstanceFault.from_exception(context, instance.uuid, fault, host=host)
    with trace.span("add_instance_fault_from_exc", "INTERNAL", attrs={
            "code.location": f"{STEIN_FILE}:add_instance_fault_from_exc",
            "instance_uuid": instance.uuid, "fault.code": fault_obj.code,
            "fault.message": fault_obj.message}):
        fault_obj.create()


def _exception_payload(exc: BaseException | None) -> dict[str, Any] | None:
    if exc is None:
        return None
    return {"nova_object.name": "ExceptionPayload", "nova_object.namespace": "nova",
            "nova_object.version": "1.1",
            "nova_object.data": {"exception": type(exc).__name__,
                                 "exception_message": str(exc)[:255],
                                 "module_name": type(exc).__module__,
                                 "function_name": "", "traceback": ""}}


def notify_about_instance_usage(notifier: Any, context: Any, instance: Any,
                                event_suffix: str) -> None:
    """The unversioned ``compute.instance.<suffix>`` (create.start, create.end, ...)."""
    from services import notifications

    method = notifier.error if event_suffix.endswith("error") else notifier.info
    method(context, f"compute.instance.{event_suffix}",
           notifications.info_from_instance(instance))


def notify_about_instance_create(context: Any, instance: Any, host: str, phase: str,
                                 exception: BaseException | None = None) -> None:
    """The versioned ``instance.create.<phase>`` from ``nova-compute:<host>``."""
    from services import notifications, rpc

    data = {**notifications.instance_payload_data(instance),
            "fault": _exception_payload(exception), "keypairs": [], "tags": [],
            "trusted_image_certificates": None, "block_devices": [],
            "ip_addresses": [], "instance_name": None}
    notifier = rpc.get_versioned_notifier(f"nova-compute:{host}")
    send = notifier.error if exception is not None else notifier.info
    with trace.span("notify_about_instance_create", "INTERNAL", attrs={
            "code.location": f"{STEIN_FILE}:notify_about_instance_create",
            "instance_uuid": instance.uuid, "phase": phase}):
        send(context, f"instance.create.{phase}",
             notifications.versioned_payload("InstanceCreatePayload", data))


def notify_about_compute_task_error(context: Any, service: str, method: str,
                                    instance_uuid: str, request_spec: Any, state: str,
                                    exc: BaseException, host: str | None = None) -> None:
    """``compute_task.<method>`` (unversioned, ERROR) and the versioned
    ``compute_task.<method>.error`` a failed build leaves behind."""
    from services import rpc

    spec = request_spec if isinstance(request_spec, dict) else {}
    legacy = {"request_spec": spec, "instance_properties": spec.get(
        "instance_properties", {}), "instance_id": instance_uuid, "state": state,
        "method": method, "reason": str(exc)}
    rpc.get_notifier(service, host).error(context, f"{service}.{method}", legacy)
    data = {"instance_uuid": instance_uuid, "reason": _exception_payload(exc),
            "request_spec": None, "state": state}
    rpc.get_versioned_notifier(f"nova-conductor:{host}").error(
        context, f"compute_task.{method}.error",
        {"nova_object.name": "ComputeTaskPayload", "nova_object.namespace": "nova",
         "nova_object.version": "1.0", "nova_object.data": data})
