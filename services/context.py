"""The request context (``nova/context.py``): who asks, under which request id.

It crosses every RPC hop flattened as ``_context_<key>``; the serializer turns it back
into a RequestContext on the other side.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from services.messaging import Serializer


def generate_request_id() -> str:
    return f"req-{uuid.uuid4()}"


@dataclass
class RequestContext:
    """Security and request identity of one operation, as Nova's RequestContext."""

    user_id: str | None = None
    project_id: str | None = None
    request_id: str = field(default_factory=generate_request_id)
    auth_token: str | None = None
    roles: list[str] = field(default_factory=list)
    is_admin: bool = False
    read_deleted: str = "no"
    remote_address: str | None = None
    timestamp: str | None = None
    user_name: str | None = None
    project_name: str | None = None
    global_request_id: str | None = None
    # which cell database the object layer reads (nova.context.target_cell); not on the wire
    cell_uuid: str | None = field(default=None, compare=False)

    _WIRE = ("user_id", "project_id", "request_id", "auth_token", "roles", "is_admin",
             "read_deleted", "remote_address", "timestamp", "user_name", "project_name",
             "global_request_id")

    def to_dict(self) -> dict[str, Any]:
        """What goes on the wire; Nova also sends ``tenant``/``user`` aliases."""
        d = {k: getattr(self, k) for k in self._WIRE}
        d["tenant"] = self.project_id
        d["user"] = self.user_id
        d["roles"] = list(self.roles)
        return d

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RequestContext:
        values = dict(values)
        values.setdefault("user_id", values.get("user"))
        values.setdefault("project_id", values.get("tenant"))
        kwargs = {k: values[k] for k in cls._WIRE if k in values and values[k] is not None}
        return cls(**kwargs)

    def elevated(self) -> RequestContext:
        ctx = RequestContext.from_dict(self.to_dict())
        ctx.is_admin = True
        ctx.cell_uuid = self.cell_uuid
        if "admin" not in ctx.roles:
            ctx.roles.append("admin")
        return ctx

    def copy(self) -> RequestContext:
        ctx = RequestContext.from_dict(self.to_dict())
        ctx.cell_uuid = self.cell_uuid
        return ctx


def get_admin_context(read_deleted: str = "no") -> RequestContext:
    return RequestContext(is_admin=True, read_deleted=read_deleted, roles=["admin"])


def target_cell(ctxt: RequestContext, cell_uuid: str | None) -> RequestContext:
    """A copy of *ctxt* that reads and writes *cell_uuid*'s database (nova.context)."""
    ctx = ctxt.copy()
    ctx.cell_uuid = cell_uuid
    return ctx


class RequestContextSerializer(Serializer):
    """Context ↔ dict; entities through the wrapped (object) serializer."""

    def __init__(self, base: Any = None) -> None:
        self._base = base

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return self._base.serialize_entity(ctxt, entity) if self._base else entity

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return self._base.deserialize_entity(ctxt, entity) if self._base else entity

    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        return ctxt.to_dict() if hasattr(ctxt, "to_dict") else dict(ctxt)

    def deserialize_context(self, ctxt: Any) -> RequestContext:
        if isinstance(ctxt, RequestContext):
            return ctxt
        return RequestContext.from_dict(ctxt or {})
