"""CoreFilter (deprecated in Stein: placement filters VCPU; not enabled by default)."""

from __future__ import annotations

from typing import Any

from services.scheduler.filters import BaseHostFilter, Rejected, reject


class CoreFilter(BaseHostFilter):
    """Only return hosts with enough vCPUs (cpu_allocation_ratio applied)."""

    STEIN_LOCATION = "nova/scheduler/filters/core_filter.py"

    def host_passes(self, host_state: Any, spec_obj: Any) -> bool | Rejected:
        if not host_state.vcpus_total:
            return True  # Stein: "VCPUs not set; assuming CPU collection broken"
        wanted = int(spec_obj.flavor.vcpus)
        limit = host_state.vcpus_total * host_state.cpu_allocation_ratio
        if limit > 0:
            host_state.limits["vcpu"] = limit
            if wanted > host_state.vcpus_total:
                return reject(f"{wanted} vCPUs requested, host has {host_state.vcpus_total}")
        free = limit - host_state.vcpus_used
        if free < wanted:
            return reject(f"{wanted} vCPUs requested, {free:.0f} usable")
        return True
