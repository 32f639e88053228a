"""CPUWeigher: more free vCPUs (after cpu_allocation_ratio) wins (new in Stein)."""

from __future__ import annotations

from typing import Any

from services.scheduler import utils
from services.scheduler.weights import BaseHostWeigher


class CPUWeigher(BaseHostWeigher):
    STEIN_LOCATION = "nova/scheduler/weights/cpu.py"
    minval = 0

    def weight_multiplier(self, host_state: Any) -> float:
        return utils.get_weight_multiplier(
            host_state, "cpu_weight_multiplier", utils.conf(self.config,
                                                            "cpu_weight_multiplier"))

    def _weigh_object(self, host_state: Any, spec_obj: Any) -> float:
        return host_state.vcpus_total * host_state.cpu_allocation_ratio - \
            host_state.vcpus_used
