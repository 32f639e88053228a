"""Which endpoint method serves a message: namespace, version, method name (Stein rules)."""

from __future__ import annotations

from typing import Any

from services.messaging import wire
from services.messaging.exceptions import NoSuchMethod, UnsupportedVersion
from services.messaging.serializer import NoOpSerializer, Serializer
from services.messaging.target import Target

_DEFAULT_TARGET = Target()


class RPCDispatcher:
    """Endpoints whose namespace equals the message's and whose version is compatible;
    none compatible -> UnsupportedVersion, compatible but no such (public) method ->
    NoSuchMethod, exactly as oslo's dispatcher decides."""

    def __init__(self, endpoints: list[Any], serializer: Serializer | None = None) -> None:
        self.endpoints = list(endpoints)
        self.serializer = serializer or NoOpSerializer()

    def find(self, method: str | None, namespace: str | None, version: str) -> Any:
        found_compatible = False
        for endpoint in self.endpoints:
            target = getattr(endpoint, "target", None) or _DEFAULT_TARGET
            if target.namespace != namespace:
                continue
            if not wire.version_is_compatible(target.version, version):
                continue
            if (isinstance(method, str) and not method.startswith("_")
                    and callable(getattr(endpoint, method, None))):
                return endpoint
            found_compatible = True
        if found_compatible or not isinstance(method, str):
            raise NoSuchMethod(str(method))
        raise UnsupportedVersion(version, method=method)

    def invoke(self, endpoint: Any, method: str, ctxt: dict[str, Any],
               args: dict[str, Any]) -> Any:
        """Deserialize context and arguments, run the method, serialize its result."""
        ser = self.serializer
        context = ser.deserialize_context(ctxt)
        kwargs = {k: ser.deserialize_entity(context, v) for k, v in args.items()}
        result = getattr(endpoint, method)(context, **kwargs)
        return ser.serialize_entity(context, result)
