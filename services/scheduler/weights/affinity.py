"""Soft (anti-)affinity: prefer hosts with more (fewer) members of the server group."""

from __future__ import annotations

from typing import Any

from services.scheduler import utils
from services.scheduler.weights import BaseHostWeigher


class _SoftAffinityWeigherBase(BaseHostWeigher):
    STEIN_LOCATION = "nova/scheduler/weights/affinity.py"
    policy_name = ""

    def _weigh_object(self, host_state: Any, spec_obj: Any) -> float:
        group = getattr(spec_obj, "instance_group", None)
        if group is None or getattr(group, "policy", None) != self.policy_name:
            return 0
        instances = set(getattr(host_state, "instances", None) or {})
        return len(instances & set(getattr(group, "members", None) or []))


class ServerGroupSoftAffinityWeigher(_SoftAffinityWeigherBase):
    policy_name = "soft-affinity"

    def weight_multiplier(self, host_state: Any) -> float:
        return utils.get_weight_multiplier(
            host_state, "soft_affinity_weight_multiplier",
            utils.conf(self.config, "soft_affinity_weight_multiplier"))


class ServerGroupSoftAntiAffinityWeigher(_SoftAffinityWeigherBase):
    policy_name = "soft-anti-affinity"

    def weight_multiplier(self, host_state: Any) -> float:
        return utils.get_weight_multiplier(
            host_state, "soft_anti_affinity_weight_multiplier",
            utils.conf(self.config, "soft_anti_affinity_weight_multiplier"))

    def _weigh_object(self, host_state: Any, spec_obj: Any) -> float:
        return -1 * super()._weigh_object(host_state, spec_obj)
