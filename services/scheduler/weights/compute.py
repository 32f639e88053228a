"""BuildFailureWeigher: push away hosts whose recent builds failed (huge multiplier)."""

from __future__ import annotations

from typing import Any

from services.scheduler import utils
from services.scheduler.weights import BaseHostWeigher


class BuildFailureWeigher(BaseHostWeigher):
    STEIN_LOCATION = "nova/scheduler/weights/compute.py"

    def weight_multiplier(self, host_state: Any) -> float:
        """Negated: more failures, lower weight."""
        return -1 * utils.get_weight_multiplier(
            host_state, "build_failure_weight_multiplier",
            utils.conf(self.config, "build_failure_weight_multiplier"))

    def _weigh_object(self, host_state: Any, spec_obj: Any) -> float:
        return host_state.failed_builds
