"""DiskFilter (deprecated in Stein: placement filters DISK_GB; not enabled by default)."""

from __future__ import annotations

from typing import Any

from services.scheduler.filters import BaseHostFilter, Rejected, reject


class DiskFilter(BaseHostFilter):
    """Only return hosts with sufficient disk (disk_allocation_ratio applied)."""

    STEIN_LOCATION = "nova/scheduler/filters/disk_filter.py"

    def host_passes(self, host_state: Any, spec_obj: Any) -> bool | Rejected:
        flavor = spec_obj.flavor
        requested = 1024 * (int(flavor.root_gb) + int(flavor.ephemeral_gb)) + \
            int(getattr(flavor, "swap", 0) or 0)
        total_mb = host_state.total_usable_disk_gb * 1024
        if total_mb < requested:
            return reject(f"{requested} MB disk requested, host has {total_mb} MB")
        limit = total_mb * host_state.disk_allocation_ratio
        usable = limit - (total_mb - host_state.free_disk_mb)
        if usable < requested:
            return reject(f"{requested} MB disk requested, {usable:.0f} MB usable")
        host_state.limits["disk_gb"] = limit / 1024
        return True
