"""Client side of the scheduler RPC API (nova/scheduler/rpcapi.py).

select_destinations is a **call** with the long timeout and a call monitor: the
conductor blocks until the scheduler answers (heartbeats keep it alive meanwhile).
"""

from __future__ import annotations

from typing import Any

from services import exception, messaging, rpc

RPC_TOPIC = "scheduler"


class SchedulerAPI:
    # Stein's aliases for [upgrade_levels] scheduler (it has none past pike)
    VERSION_ALIASES = {"grizzly": "2.6", "havana": "2.9", "icehouse": "3.0", "juno": "3.0",
                       "kilo": "4.2", "liberty": "4.2", "mitaka": "4.3", "newton": "4.3",
                       "ocata": "4.3", "pike": "4.4"}

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
        """4.5 → 4.4 (no Selection objects) → 4.3 (no instance_uuids) → 4.0 (legacy
        dicts), each step only when the version cap forbids the newer one."""
        version = "4.5"
        msg_args: dict[str, Any] = {"instance_uuids": instance_uuids, "spec_obj": spec_obj,
                                    "return_objects": return_objects,
                                    "return_alternates": return_alternates}
        if not self.client.can_send_version(version):
            if msg_args["return_objects"] or msg_args["return_alternates"]:
                raise exception.SelectionObjectsWithOldRPCVersionNotSupported(
                    version=self.client.version_cap)
            del msg_args["return_objects"], msg_args["return_alternates"]
            version = "4.4"
        if not self.client.can_send_version(version):
            del msg_args["instance_uuids"]
            version = "4.3"
        if not self.client.can_send_version(version):
            del msg_args["spec_obj"]
            msg_args["request_spec"] = spec_obj.to_legacy_request_spec_dict()
            msg_args["filter_properties"] = spec_obj.to_legacy_filter_properties_dict()
            version = "4.0"
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
