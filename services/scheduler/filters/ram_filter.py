"""RamFilter (deprecated in Stein: placement filters MEMORY_MB; not enabled by default)."""

from __future__ import annotations

from typing import Any

from services.scheduler.filters import BaseHostFilter, Rejected, reject


class RamFilter(BaseHostFilter):
    """Only return hosts with sufficient available RAM (ram_allocation_ratio applied)."""

    STEIN_LOCATION = "nova/scheduler/filters/ram_filter.py"

    def host_passes(self, host_state: Any, spec_obj: Any) -> bool | Rejected:
        requested = int(spec_obj.flavor.memory_mb)
        total = host_state.total_usable_ram_mb
        if total < requested:
            return reject(f"{requested} MB requested, host has {total} MB before overcommit")
        limit = total * host_state.ram_allocation_ratio
        usable = limit - (total - host_state.free_ram_mb)
        if usable < requested:
            return reject(f"{requested} MB requested, {usable:.0f} MB usable")
        host_state.limits["memory_mb"] = limit
        return True
