"""AvailabilityZoneFilter: keep hosts in the requested availability zone.

Stein reads a host's zone from its aggregates' metadata; here the compute node record
carries ``availability_zone`` directly (None means ``default_availability_zone``,
"nova", exactly as a host in no AZ aggregate is treated by Stein).
"""

from __future__ import annotations

from typing import Any

from services.scheduler import utils
from services.scheduler.filters import BaseHostFilter, Rejected, reject


class AvailabilityZoneFilter(BaseHostFilter):
    """Filters hosts by availability zone."""

    STEIN_LOCATION = "nova/scheduler/filters/availability_zone_filter.py"

    def host_passes(self, host_state: Any, spec_obj: Any) -> bool | Rejected:
        requested = getattr(spec_obj, "availability_zone", None)
        if not requested:
            return True
        host_az = getattr(host_state, "availability_zone", None) or \
            utils.conf(self.config, "default_availability_zone")
        if requested != host_az:
            return reject(f"availability zone {host_az!r}, requested {requested!r}")
        return True
