"""SchedulerQueryClient (nova/scheduler/client/query.py): the conductor's way in."""

from __future__ import annotations

from typing import Any

from services.scheduler import rpcapi as scheduler_rpcapi


class SchedulerQueryClient:
    STEIN_LOCATION = "nova/scheduler/client/query.py:SchedulerQueryClient"

    def __init__(self, transport: Any, config: Any) -> None:
        self.scheduler_rpcapi = scheduler_rpcapi.SchedulerAPI(transport, config)

    def select_destinations(self, context: Any, spec_obj: Any, instance_uuids: list[str],
                            return_objects: bool = False,
                            return_alternates: bool = False) -> Any:
        return self.scheduler_rpcapi.select_destinations(
            context, spec_obj, instance_uuids, return_objects, return_alternates)

    def update_instance_info(self, context: Any, host_name: str, instance_info: Any) -> None:
        self.scheduler_rpcapi.update_instance_info(context, host_name, instance_info)

    def delete_instance_info(self, context: Any, host_name: str, instance_uuid: str) -> None:
        self.scheduler_rpcapi.delete_instance_info(context, host_name, instance_uuid)
