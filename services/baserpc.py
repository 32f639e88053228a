"""Base RPC API every service serves (nova/baserpc.py): ``baseapi`` 1.1 server side.

nova-compute pings the conductor with it in ``wait_until_ready`` before starting: the
client's target is 1.0 and ping needs nothing newer, so the ping goes out as 1.0; the
answer names the manager's ``service_name`` (``conductor``).
"""

from __future__ import annotations

from typing import Any

from services import messaging, rpc

_NAMESPACE = "baseapi"


class BaseAPI:
    """Client side of the base rpc API."""

    VERSION_ALIASES: dict[str, str] = {}

    def __init__(self, topic: str, transport: Any, config: Any) -> None:
        self.config = config
        target = messaging.Target(topic=topic, namespace=_NAMESPACE, version="1.0")
        version_cap = rpc.version_cap(config, "baseapi", self.VERSION_ALIASES)
        self.client = rpc.get_client(transport, target, version_cap=version_cap,
                                     code_location="nova/baserpc.py:BaseAPI",
                                     timeout=config.rpc_response_timeout)

    def ping(self, context: Any, arg: Any, timeout: float | None = None) -> Any:
        arg_p = arg  # jsonutils.to_primitive: a string stays the string
        cctxt = self.client.prepare(timeout=timeout)
        return cctxt.call(context, "ping", arg=arg_p)

    def get_backdoor_port(self, context: Any, host: str) -> Any:
        cctxt = self.client.prepare(server=host, version="1.1")
        return cctxt.call(context, "get_backdoor_port")


class BaseRPCAPI:
    """Server side of the base RPC API."""

    STEIN_LOCATION = "nova/baserpc.py:BaseRPCAPI"
    target = messaging.Target(namespace=_NAMESPACE, version="1.1")

    def __init__(self, service_name: str, backdoor_port: int | None = None) -> None:
        self.service_name = service_name
        self.backdoor_port = backdoor_port

    def ping(self, context: Any, arg: Any) -> dict[str, Any]:
        resp = {"service": self.service_name, "arg": arg}
        return resp

    def get_backdoor_port(self, context: Any) -> int | None:
        return self.backdoor_port
