"""RetryFilter: on a reschedule, skip the (host, node) pairs already tried."""

from __future__ import annotations

from typing import Any

from services.scheduler.filters import BaseHostFilter, Rejected, reject


class RetryFilter(BaseHostFilter):
    """Filter out nodes that have already been attempted for this instance."""

    STEIN_LOCATION = "nova/scheduler/filters/retry_filter.py"

    def host_passes(self, host_state: Any, spec_obj: Any) -> bool | Rejected:
        retry = getattr(spec_obj, "retry", None)
        if not retry:
            return True
        tried = [list(pair) for pair in (_get(retry, "hosts") or [])]
        if [host_state.host, host_state.nodename] in tried:
            return reject(f"already tried (attempt {_get(retry, 'num_attempts')}): {tried}")
        return True


def _get(retry: Any, key: str) -> Any:
    return retry.get(key) if isinstance(retry, dict) else getattr(retry, key, None)
