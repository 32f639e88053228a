"""Scheduler helpers from ``nova/scheduler/utils.py``: config access, resources, claims.

``config`` is any object; options are read with ``getattr`` and Stein's defaults
(``nova/conf/scheduler.py``) so a bare ``SimpleNamespace`` works in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_FILTERS = [
    "RetryFilter",
    "AvailabilityZoneFilter",
    "ComputeFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
]

# Stein defaults for every option the scheduler path reads.
DEFAULTS: dict[str, Any] = {
    "max_attempts": 3,
    "cpu_allocation_ratio": 16.0,
    "ram_allocation_ratio": 1.5,
    "disk_allocation_ratio": 1.0,
    "enabled_filters": DEFAULT_FILTERS,
    "weight_classes": None,  # None: all weighers
    "host_subset_size": 1,
    "shuffle_best_same_weighed_hosts": False,
    "ram_weight_multiplier": 1.0,
    "disk_weight_multiplier": 1.0,
    "cpu_weight_multiplier": 1.0,
    "io_ops_weight_multiplier": -1.0,
    "pci_weight_multiplier": 1.0,
    "soft_affinity_weight_multiplier": 1.0,
    "soft_anti_affinity_weight_multiplier": 1.0,
    "build_failure_weight_multiplier": 1000000.0,
    "metrics_weight_multiplier": 1.0,
    "metrics_weight_setting": [],
    "metrics_required": True,
    "metrics_weight_of_unavailable": -10000.0,
    "service_down_time": 60,
    "default_availability_zone": "nova",
    "image_properties_default_architecture": None,
    "max_placement_results": 1000,
}


def conf(config: Any, name: str) -> Any:
    """Read option *name* from *config*, falling back to Stein's default."""
    if config is None:
        return DEFAULTS[name]
    value = getattr(config, name, None)
    return DEFAULTS[name] if value is None else value


def resources_from_request_spec(spec_obj: Any) -> dict[str, int]:
    """What to ask placement for: VCPU, MEMORY_MB, DISK_GB (rounded up), as Stein.

    Flavor extra specs ``resources:<CLASS>=<amount>`` override a standard class
    (0 removes it), as Stein's ``ResourceRequest.from_extra_specs`` does for the
    unnumbered group.
    """
    flavor = spec_obj.flavor
    resources: dict[str, int] = {"VCPU": int(flavor.vcpus),
                                 "MEMORY_MB": int(flavor.memory_mb)}
    disk_mb = 1024 * int(getattr(flavor, "ephemeral_gb", 0) or 0) + \
        int(getattr(flavor, "swap", 0) or 0)
    if not getattr(spec_obj, "is_bfv", False):
        disk_mb += 1024 * int(getattr(flavor, "root_gb", 0) or 0)
    disk_gb = -(-disk_mb // 1024)
    if disk_gb:
        resources["DISK_GB"] = disk_gb
    for key, value in (getattr(flavor, "extra_specs", None) or {}).items():
        prefix, _, rclass = key.partition(":")
        if prefix == "resources" and rclass:
            try:
                amount = int(value)
            except (TypeError, ValueError):
                continue
            resources[rclass] = amount
    return {rc: amt for rc, amt in resources.items() if amt}


def claim_resources(ctx: Any, client: Any, spec_obj: Any, instance_uuid: str,
                    alloc_req: Mapping[str, Any],
                    allocation_request_version: str | None = None) -> bool:
    """Claim *alloc_req* in placement for the instance; True on success (Stein's name)."""
    project_id = getattr(spec_obj, "project_id", None) or getattr(ctx, "project_id", None)
    user_id = getattr(spec_obj, "user_id", None) or getattr(ctx, "user_id", None)
    return client.claim_resources(ctx, instance_uuid, alloc_req, project_id, user_id,
                                  allocation_request_version=allocation_request_version)


def get_weight_multiplier(host_state: Any, multiplier_name: str, multiplier_config: float
                          ) -> float:
    """The multiplier from the host's aggregates' metadata (the smallest), else config."""
    values = []
    for agg in getattr(host_state, "aggregates", None) or []:
        metadata = getattr(agg, "metadata", None) or {}
        if multiplier_name in metadata:
            try:
                values.append(float(metadata[multiplier_name]))
            except (TypeError, ValueError):
                pass
    return min(values) if values else float(multiplier_config)


def request_is_rebuild(spec_obj: Any) -> bool:
    """A rebuild on the same host re-runs filters but must not claim again."""
    hints = getattr(spec_obj, "scheduler_hints", None) or {}
    check = hints.get("_nova_check_type")
    if isinstance(check, list):
        check = check[0] if check else None
    return check == "rebuild"


def populate_filter_properties(filter_properties: dict[str, Any], selection: Any) -> None:
    """After a host is chosen: add it to the retry record and set the limits."""
    host, nodename = selection.service_host, selection.nodename
    retry = filter_properties.get("retry")
    if retry:  # _add_retry_host
        retry.setdefault("hosts", []).append([host, nodename])
    if not filter_properties.get("force_hosts"):
        filter_properties["limits"] = dict(getattr(selection, "limits", None) or {})


def populate_retry(filter_properties: dict[str, Any], instance_uuid: str,
                   max_attempts: int) -> None:
    """Count one more attempt; past ``[scheduler] max_attempts`` raise MaxRetriesExceeded.

    One attempt allowed or one forced host/node: no retry record, no reschedule.
    """
    from services import exception

    if max_attempts == 1 or len(filter_properties.get("force_hosts") or []) == 1 \
            or len(filter_properties.get("force_nodes") or []) == 1:
        return
    retry = filter_properties.setdefault("retry", {"num_attempts": 0, "hosts": []})
    retry["num_attempts"] = retry.get("num_attempts", 0) + 1
    retry.pop("exc", None)
    exc_reason = retry.pop("exc_reason", None)
    if retry["num_attempts"] > max_attempts:
        raise exception.MaxRetriesExceeded(
            reason=f"Exceeded max scheduling attempts {max_attempts} for instance "
                   f"{instance_uuid}. Last exception: {exc_reason}")


def set_vm_state_and_notify(context: Any, instance_uuid: str, service: str, method: str,
                            updates: dict[str, Any], ex: BaseException,
                            request_spec: Any, host: str | None = None) -> None:
    """Set the instance's state (ERROR), record the fault, send the error notification."""
    from services.compute import utils as compute_utils
    from services.objects import Instance
    from tracer.instrument import api as trace

    with trace.span("set_vm_state_and_notify", "INTERNAL", attrs={
            "code.location": "nova/scheduler/utils.py:set_vm_state_and_notify",
            "instance_uuid": instance_uuid, "method": f"{service}_{method}",
            "reason": (str(ex).splitlines() or [""])[0][:255]}):
        # (a remote exception's text carries the remote traceback: its first line here)
        reason = (str(ex).splitlines() or [type(ex).__name__])[0]
        trace.annotate("log", {"level": "WARNING",
                               "message": f"Failed to {service}_{method}: {reason}"})
        instance = Instance(context, uuid=instance_uuid, **updates)
        instance.obj_reset_changes(["uuid"])
        instance.save()
        compute_utils.add_instance_fault_from_exc(context, instance, ex, host=host)
        if hasattr(request_spec, "to_legacy_request_spec_dict"):
            request_spec = request_spec.to_legacy_request_spec_dict()
        compute_utils.notify_about_compute_task_error(
            context, service, method, instance_uuid, request_spec, updates["vm_state"], ex,
            host=host)
