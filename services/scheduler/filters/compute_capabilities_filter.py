"""ComputeCapabilitiesFilter: flavor extra specs vs what the host reports.

Keys ``capabilities:<a>:<b>`` walk the host state (attributes, then ``stats``; JSON
strings such as ``cpu_info`` are decoded), e.g. ``capabilities:cpu_info:arch``; a key
without a scope is checked only when the host has such an attribute or stat.
"""

from __future__ import annotations

import json
from typing import Any

from services.scheduler.filters import BaseHostFilter, Rejected, extra_specs_ops, reject


class ComputeCapabilitiesFilter(BaseHostFilter):
    """HostFilter hard-coded to work with InstanceType records."""

    STEIN_LOCATION = "nova/scheduler/filters/compute_capabilities_filter.py"
    RUN_ON_REBUILD = False

    @staticmethod
    def _get_capabilities(host_state: Any, scope: list[str]) -> Any:
        cap: Any = host_state
        for key in scope:
            if isinstance(cap, str):
                try:
                    cap = json.loads(cap)
                except ValueError:
                    return None
            if isinstance(cap, dict):
                cap = cap.get(key)
            else:
                value = getattr(cap, key, None)
                if value is None:
                    value = (getattr(cap, "stats", None) or {}).get(key)
                cap = value
            if cap is None:
                return None
        return cap

    def host_passes(self, host_state: Any, spec_obj: Any) -> bool | Rejected:
        extra_specs = getattr(spec_obj.flavor, "extra_specs", None) or {}
        for key, req in extra_specs.items():
            scope = key.split(":")
            if len(scope) == 1:
                stats = getattr(host_state, "stats", None) or {}
                if not (hasattr(host_state, key) or key in stats):
                    continue
            elif scope[0] != "capabilities":
                continue
            else:
                scope = scope[1:]
            cap = self._get_capabilities(host_state, scope)
            if cap is None:
                return reject(f"{key}: host reports no such capability")
            if not extra_specs_ops.match(str(cap), req):
                return reject(f"{key}: requires {req!r}, host has {cap!r}")
        return True
