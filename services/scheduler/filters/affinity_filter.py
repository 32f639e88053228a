"""Server group hard (anti-)affinity: land with, or away from, the group's members."""

from __future__ import annotations

from typing import Any

from services.scheduler.filters import BaseHostFilter, Rejected, reject


def _policies(group: Any) -> list[str]:
    policies = getattr(group, "policies", None)
    if policies:
        return list(policies)
    policy = getattr(group, "policy", None)
    return [policy] if policy else []


class _GroupAntiAffinityFilter(BaseHostFilter):
    """Reject hosts already holding max_server_per_host (1) members of the group."""

    STEIN_LOCATION = "nova/scheduler/filters/affinity_filter.py"
    policy_name = ""

    def host_passes(self, host_state: Any, spec_obj: Any) -> bool | Rejected:
        group = getattr(spec_obj, "instance_group", None)
        if group is None or self.policy_name not in _policies(group):
            return True
        instances = set(getattr(host_state, "instances", None) or {})
        if getattr(spec_obj, "instance_uuid", None) in instances:
            return True  # a rebuild of a member on its own host
        on_host = instances & set(getattr(group, "members", None) or [])
        rules = getattr(group, "rules", None) or {}
        max_per_host = int(rules.get("max_server_per_host", 1))
        if len(on_host) >= max_per_host:
            return reject(f"anti-affinity: {len(on_host)} group member(s) already here "
                          f"(max_server_per_host {max_per_host})")
        return True


class ServerGroupAntiAffinityFilter(_GroupAntiAffinityFilter):
    policy_name = "anti-affinity"


class _GroupAffinityFilter(BaseHostFilter):
    """Once a group member has a host, keep only the group's hosts."""

    STEIN_LOCATION = "nova/scheduler/filters/affinity_filter.py"
    policy_name = ""

    def host_passes(self, host_state: Any, spec_obj: Any) -> bool | Rejected:
        group = getattr(spec_obj, "instance_group", None)
        if group is None or self.policy_name not in _policies(group):
            return True
        group_hosts = list(getattr(group, "hosts", None) or [])
        if group_hosts and host_state.host not in group_hosts:
            return reject(f"affinity: group members are on {group_hosts}")
        return True


class ServerGroupAffinityFilter(_GroupAffinityFilter):
    policy_name = "affinity"
