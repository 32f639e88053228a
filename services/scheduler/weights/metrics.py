"""MetricsWeigher: a weighted sum of host metrics (``[metrics] weight_setting``).

With Stein's default empty ``weight_setting`` every host weighs 0.0. Settings are
``name=ratio`` strings (or pairs); host metrics are a list of ``{"name", "value"}``.
"""

from __future__ import annotations

from typing import Any

from services.scheduler import utils
from services.scheduler.weights import BaseHostWeigher


class ComputeHostMetricNotFound(Exception):
    """A required metric is missing on a host (Stein's exception of that name)."""


def _parse(setting: Any) -> list[tuple[str, float]]:
    pairs: list[tuple[str, float]] = []
    for item in setting or []:
        name, ratio = item.split("=", 1) if isinstance(item, str) else item
        pairs.append((str(name).strip(), float(ratio)))
    return pairs


class MetricsWeigher(BaseHostWeigher):
    STEIN_LOCATION = "nova/scheduler/weights/metrics.py"

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.setting = _parse(utils.conf(config, "metrics_weight_setting"))

    def weight_multiplier(self, host_state: Any) -> float:
        return utils.get_weight_multiplier(
            host_state, "metrics_weight_multiplier",
            utils.conf(self.config, "metrics_weight_multiplier"))

    def _weigh_object(self, host_state: Any, spec_obj: Any) -> float:
        metrics = {m["name"]: m["value"] for m in getattr(host_state, "metrics", None) or []}
        value = 0.0
        for name, ratio in self.setting:
            if name in metrics:
                value += float(metrics[name]) * ratio
            elif utils.conf(self.config, "metrics_required"):
                raise ComputeHostMetricNotFound(
                    f"Metric {name} not found on host {host_state.host}")
            elif ratio * self.weight_multiplier(host_state) != 0:
                return float(utils.conf(self.config, "metrics_weight_of_unavailable"))
        return value
