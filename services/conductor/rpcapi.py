"""Client side of the conductor RPC APIs (nova/conductor/rpcapi.py).

ConductorAPI (3.0, no namespace): the object indirection calls nova-compute makes.
ComputeTaskAPI (1.x, namespace ``compute_task``): the API's and compute's build requests.
"""

from __future__ import annotations

from typing import Any

from services import messaging, rpc

RPC_TOPIC = "conductor"


class ConductorAPI:
    """``object_action`` / ``object_class_action_versions`` are **calls**: compute waits."""

    VERSION_ALIASES = {"stein": "3.0"}

    def __init__(self, transport: Any, config: Any, version_cap: str | None = None) -> None:
        target = messaging.Target(topic=RPC_TOPIC, version="3.0")
        version_cap = version_cap or rpc.version_cap(config, "conductor", self.VERSION_ALIASES)
        self.client = rpc.get_client(transport, target, version_cap=version_cap,
                                     code_location="nova/conductor/rpcapi.py:ConductorAPI",
                                     timeout=config.rpc_response_timeout)

    def object_class_action_versions(self, context: Any, objname: str, objmethod: str,
                                     object_versions: dict[str, str], args: Any,
                                     kwargs: Any) -> Any:
        cctxt = self.client.prepare()
        return cctxt.call(context, "object_class_action_versions", objname=objname,
                          objmethod=objmethod, object_versions=object_versions,
                          args=args, kwargs=kwargs)

    def object_action(self, context: Any, objinst: Any, objmethod: str, args: Any,
                      kwargs: Any) -> Any:
        cctxt = self.client.prepare()
        return cctxt.call(context, "object_action", objinst=objinst, objmethod=objmethod,
                          args=args, kwargs=kwargs)

    def object_backport_versions(self, context: Any, objinst: Any,
                                 object_versions: dict[str, str]) -> Any:
        cctxt = self.client.prepare()
        return cctxt.call(context, "object_backport_versions", objinst=objinst,
                          object_versions=object_versions)


class ComputeTaskAPI:
    """Build requests go to the conductor as **casts**: the caller does not wait."""

    def __init__(self, transport: Any, config: Any, version_cap: str | None = None) -> None:
        """Stein reads no ``[upgrade_levels]`` option here: the client is uncapped, so
        1.17 / 1.19 always go out. *version_cap* exists for tests of the fallbacks."""
        target = messaging.Target(topic=RPC_TOPIC, namespace="compute_task", version="1.0")
        self.client = rpc.get_client(transport, target, version_cap=version_cap,
                                     code_location="nova/conductor/rpcapi.py:ComputeTaskAPI",
                                     timeout=config.rpc_response_timeout)

    def schedule_and_build_instances(self, context: Any, build_requests: Any,
                                     request_specs: Any, image: Any, admin_password: Any,
                                     injected_files: Any, requested_networks: Any,
                                     block_device_mapping: Any, tags: Any = None) -> None:
        version = "1.17"
        kw: dict[str, Any] = {"build_requests": build_requests,
                              "request_specs": request_specs, "image": image,
                              "admin_password": admin_password,
                              "injected_files": injected_files,
                              "requested_networks": requested_networks,
                              "block_device_mapping": block_device_mapping, "tags": tags}
        if not self.client.can_send_version(version):
            version = "1.16"
            del kw["tags"]
        cctxt = self.client.prepare(version=version)
        cctxt.cast(context, "schedule_and_build_instances", **kw)

    def build_instances(self, context: Any, instances: Any, image: Any, filter_properties: Any,
                        admin_password: Any, injected_files: Any, requested_networks: Any,
                        security_groups: Any, block_device_mapping: Any,
                        legacy_bdm: bool = True, request_spec: Any = None,
                        host_lists: Any = None) -> None:
        version = "1.19"
        kw: dict[str, Any] = {"instances": instances, "image": image,
                              "filter_properties": filter_properties,
                              "admin_password": admin_password,
                              "injected_files": injected_files,
                              "requested_networks": requested_networks,
                              "security_groups": security_groups,
                              "block_device_mapping": block_device_mapping,
                              "legacy_bdm": legacy_bdm, "request_spec": request_spec,
                              "host_lists": host_lists}
        if not self.client.can_send_version(version):
            version = "1.18"
            kw.pop("host_lists")
        cctxt = self.client.prepare(version=version)
        cctxt.cast(context, "build_instances", **kw)
