"""ComputeFilter: drop hosts whose nova-compute service is disabled or not up.

"Up" is Stein's DB servicegroup driver rule: not forced down, and the last heartbeat
(``last_seen_up`` / ``updated_at`` / ``created_at``) no older than ``service_down_time``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.scheduler import utils
from services.scheduler.filters import BaseHostFilter, Rejected, reject


def service_is_up(service: dict[str, Any], down_time: float,
                  now: dt.datetime | None = None) -> tuple[bool, str]:
    """(is_up, why) for a service record, as ``servicegroup.drivers.db`` decides."""
    if service.get("forced_down"):
        return False, "service forced down"
    last = (service.get("last_seen_up") or service.get("updated_at")
            or service.get("created_at"))
    if last is None:
        return False, "service has never reported (updated_at is None)"
    if isinstance(last, str):
        last = dt.datetime.fromisoformat(last)
    if last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    elapsed = (now - last).total_seconds()
    if abs(elapsed) > down_time:
        return False, f"not heard from for {elapsed:.0f}s (> service_down_time {down_time}s)"
    return True, "up"


class ComputeFilter(BaseHostFilter):
    """Filter on active compute nodes."""

    STEIN_LOCATION = "nova/scheduler/filters/compute_filter.py"
    RUN_ON_REBUILD = False

    def host_passes(self, host_state: Any, spec_obj: Any) -> bool | Rejected:
        service = getattr(host_state, "service", None) or {}
        if service.get("disabled"):
            why = service.get("disabled_reason")
            return reject("service disabled" + (f": {why}" if why else ""))
        up, why = service_is_up(service, float(utils.conf(self.config, "service_down_time")))
        if not up:
            return reject(why)
        return True
