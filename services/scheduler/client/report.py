"""``SchedulerReportClient``: Stein's placement client names over ``PlacementClient``.

Nova talks to placement over HTTP with keystoneauth; here the calls go to the
in-process :class:`services.placement.PlacementClient`, which traces each one as the
REST call it stands for.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from services.placement.client import (
    CONSUMER_GENERATION_VERSION,
    NESTED_AC_VERSION,
    PlacementClient,
)

__all__ = ["SchedulerReportClient", "NESTED_AC_VERSION", "CONSUMER_GENERATION_VERSION"]


def _move_operation_alloc_request(source_allocs: Mapping[str, Any],
                                  dest_alloc_req: Mapping[str, Any]) -> dict[str, Any]:
    """Stein's "doubled-up" allocation: keep the source while claiming the destination."""
    new_req = copy.deepcopy(dict(dest_alloc_req))
    allocs = new_req.setdefault("allocations", {})
    for rp_uuid, entry in source_allocs.items():
        if rp_uuid not in allocs:
            allocs[rp_uuid] = {"resources": dict(entry["resources"])}
    return new_req


class SchedulerReportClient:
    """The scheduler's (and compute's) view of placement, with Stein's method names."""

    def __init__(self, placement: PlacementClient | str | None = None) -> None:
        if placement is None or isinstance(placement, str):
            placement = PlacementClient(placement or "sqlite://")
        self.placement = placement

    def get_allocation_candidates(self, context: Any, resources: Mapping[str, int],
                                  limit: int | None = None
                                  ) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
        """(allocation_requests, provider_summaries, allocation_request_version)."""
        reqs, summaries = self.placement.get_allocation_candidates(dict(resources), limit)
        return reqs, summaries, NESTED_AC_VERSION

    def get_allocs_for_consumer(self, context: Any, consumer: str) -> dict[str, Any]:
        return self.placement.get_allocations_for_consumer(consumer)

    def claim_resources(self, context: Any, consumer_uuid: str,
                        alloc_request: Mapping[str, Any] | str, project_id: str,
                        user_id: str, allocation_request_version: str | None = None,
                        consumer_generation: int | None = None) -> bool:
        """GET the consumer's allocations, then PUT the claim (doubled up on a move)."""
        payload = json.loads(alloc_request) if isinstance(alloc_request, str) \
            else copy.deepcopy(dict(alloc_request))
        current = self.placement.get_allocations_for_consumer(consumer_uuid)
        if current.get("allocations"):
            if "consumer_generation" not in payload:
                consumer_generation = current.get("consumer_generation")
            else:
                consumer_generation = payload["consumer_generation"]
            payload = _move_operation_alloc_request(current["allocations"], payload)
        version = allocation_request_version or NESTED_AC_VERSION
        if tuple(map(int, version.split("."))) >= (1, 28):
            payload["consumer_generation"] = consumer_generation
        return self.placement.claim_resources(consumer_uuid, payload, project_id, user_id)

    def put_allocations(self, context: Any, rp_uuid: str, consumer_uuid: str,
                        alloc_data: Mapping[str, int], project_id: str, user_id: str,
                        consumer_generation: int | None = None) -> bool:
        """Write allocations of *alloc_data* (resource class -> amount) on one provider."""
        payload = {"allocations": {rp_uuid: {"resources": dict(alloc_data)}},
                   "consumer_generation": consumer_generation}
        return self.placement.claim_resources(consumer_uuid, payload, project_id, user_id)

    def delete_allocation_for_instance(self, context: Any, uuid: str) -> bool:
        return self.placement.delete_allocation_for_instance(uuid)

    def get_provider_usages(self, context: Any, rp_uuid: str) -> dict[str, int]:
        return self.placement.get_usages(rp_uuid)

    def ensure_resource_provider(self, context: Any, uuid: str, name: str | None = None
                                 ) -> str:
        self.placement.ensure_resource_provider(uuid, name or uuid)
        return uuid

    def set_inventory_for_provider(self, context: Any, rp_uuid: str,
                                   inv_data: Mapping[str, Mapping[str, Any]]) -> bool:
        return self.placement.set_inventory(rp_uuid, inv_data)
