"""The serializer protocol: objects and contexts to/from JSON-able primitives."""

from __future__ import annotations

from typing import Any, Protocol


class Serializer(Protocol):
    def serialize_entity(self, ctxt: Any, entity: Any) -> Any: ...
    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any: ...
    def serialize_context(self, ctxt: Any) -> dict[str, Any]: ...
    def deserialize_context(self, ctxt: dict[str, Any]) -> Any: ...


class NoOpSerializer:
    """Entities pass as they are; a context object becomes its ``to_dict()``."""

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        if ctxt is None:
            return {}
        if isinstance(ctxt, dict):
            return ctxt
        return ctxt.to_dict()

    def deserialize_context(self, ctxt: dict[str, Any]) -> Any:
        return ctxt
