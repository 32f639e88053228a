"""PCIWeigher: keep hosts with free PCI devices for instances that need them."""

from __future__ import annotations

from typing import Any

from services.scheduler import utils
from services.scheduler.weights import BaseHostWeigher

MAX_DEVS = 100


class PCIWeigher(BaseHostWeigher):
    STEIN_LOCATION = "nova/scheduler/weights/pci.py"

    def weight_multiplier(self, host_state: Any) -> float:
        return utils.get_weight_multiplier(
            host_state, "pci_weight_multiplier", utils.conf(self.config,
                                                            "pci_weight_multiplier"))

    def _weigh_object(self, host_state: Any, spec_obj: Any) -> float:
        pools = getattr(host_state, "pci_pools", None) or []
        free = sum(int(pool.get("count", 0)) for pool in pools)
        return MAX_DEVS - min(free, MAX_DEVS - 1)
