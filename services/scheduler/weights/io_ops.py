"""IoOpsWeigher: fewer in-flight builds/migrations wins (multiplier -1.0 by default)."""

from __future__ import annotations

from typing import Any

from services.scheduler import utils
from services.scheduler.weights import BaseHostWeigher


class IoOpsWeigher(BaseHostWeigher):
    STEIN_LOCATION = "nova/scheduler/weights/io_ops.py"
    minval = 0

    def weight_multiplier(self, host_state: Any) -> float:
        return utils.get_weight_multiplier(
            host_state, "io_ops_weight_multiplier", utils.conf(self.config,
                                                               "io_ops_weight_multiplier"))

    def _weigh_object(self, host_state: Any, spec_obj: Any) -> float:
        return host_state.num_io_ops
