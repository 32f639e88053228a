"""RAMWeigher: more free RAM wins (spread); a negative multiplier stacks."""

from __future__ import annotations

from typing import Any

from services.scheduler import utils
from services.scheduler.weights import BaseHostWeigher


class RAMWeigher(BaseHostWeigher):
    STEIN_LOCATION = "nova/scheduler/weights/ram.py"
    minval = 0

    def weight_multiplier(self, host_state: Any) -> float:
        return utils.get_weight_multiplier(
            host_state, "ram_weight_multiplier", utils.conf(self.config,
                                                            "ram_weight_multiplier"))

    def _weigh_object(self, host_state: Any, spec_obj: Any) -> float:
        return host_state.free_ram_mb
