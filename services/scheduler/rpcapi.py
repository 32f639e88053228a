"""Client side of the scheduler RPC API (nova/scheduler/rpcapi.py).

select_destinations is a **call** with the long timeout and a call monitor: the
conductor blocks until the scheduler answers (heartbeats keep it alive meanwhile).
"""

from __future__ import annotations

from typing import Any

from services import messaging, rpc

RPC_TOPIC = "scheduler"


class SchedulerAPI:
    VERSION_ALIASES = {"stein": "4.5"}

    def __init__(self, transport: Any, config: Any, version_cap: str | None = None) -> None:
        self.config = config
        target = messaging.Target(topic=RPC_TOPIC, version="4.0")
        version_cap = version_cap or rpc.version_cap(config, "scheduler", self.VERSION_ALIASES)
        self.client = rpc.get_client(transport, target, version_cap=version_cap,
                                     code_location="nova/scheduler/rpcapi.py:SchedulerAPI",
                                     timeout=config.rpc_response_timeout)

    def select_destinations(self, ctxt: Any, spec_obj: Any, instance_uuids: list[str],
                            return_objects: bool = False,
                            return_alternates: bool = False) -> Any:
        version = "4.5"
        msg_args: dict[str, Any] = {"instance_uuids": instance_uuids, "spec_obj": spec_obj,
                                    "return_objects": return_objects,
                                    "return_alternates": return_alternates}
        if not self.client.can_send_version(version):
            if msg_args["return_objects"] or msg_args["return_alternates"]:
                raise messaging.RPCVersionCapError(version=version,
                                                   version_cap=self.client.version_cap)
            del msg_args["return_objects"], msg_args["return_alternates"]
            version = "4.3"
        cctxt = self.client.prepare(version=version,
                                    call_monitor_timeout=self.config.rpc_response_timeout,
                                    timeout=self.config.long_rpc_timeout)
        return cctxt.call(ctxt, "select_destinations", **msg_args)

    def update_instance_info(self, ctxt: Any, host_name: str, instance_info: Any) -> None:
        """Fanout cast on ``scheduler_fanout``: every scheduler updates its host view."""
        cctxt = self.client.prepare(version="4.2", fanout=True)
        cctxt.cast(ctxt, "update_instance_info", host_name=host_name,
                   instance_info=instance_info)

    def delete_instance_info(self, ctxt: Any, host_name: str, instance_uuid: str) -> None:
        cctxt = self.client.prepare(version="4.2", fanout=True)
        cctxt.cast(ctxt, "delete_instance_info", host_name=host_name,
                   instance_uuid=instance_uuid)
