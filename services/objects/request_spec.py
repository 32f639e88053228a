"""RequestSpec, BuildRequest (API database) and Selection (scheduler's answer)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from services import exception
from services.db import api as db
from services.db import models
from services.objects.base import NovaObject, remotable, remotable_classmethod


class RequestSpec(NovaObject):
    """What the scheduler needs to place one (or num_instances) instances."""

    VERSION = "1.11"
    STEIN_FILE = "nova/objects/request_spec.py"
    fields = {"id": "int", "instance_uuid": "str", "project_id": "str", "user_id": "str",
              "flavor": "obj", "image": "obj", "num_instances": "int",
              "availability_zone": "str", "retry": "dict", "instance_group": "obj",
              "ignore_hosts": "list", "force_hosts": "list", "force_nodes": "list",
              "scheduler_hints": "dict", "is_bfv": "bool"}

    def __getattr__(self, name: str) -> Any:
        # unset optional fields read as None like Nova's nullable fields
        return super().__getattr__(name)

    # ---- the legacy dicts (Stein's reschedule path still goes through them) -------------
    def to_legacy_request_spec_dict(self) -> dict[str, Any]:
        """``request_spec`` as the pre-object RPC APIs carried it."""
        return {"num_instances": self.num_instances or 1, "image": self.image,
                "instance_type": self.flavor, "is_bfv": bool(self.is_bfv),
                "instance_properties": {"uuid": self.instance_uuid,
                                        "project_id": self.project_id,
                                        "user_id": self.user_id,
                                        "availability_zone": self.availability_zone}}

    def to_legacy_filter_properties_dict(self) -> dict[str, Any]:
        """``filter_properties``: hints, forced hosts and the retry record."""
        props: dict[str, Any] = {}
        for name in ("ignore_hosts", "force_hosts", "force_nodes"):
            if getattr(self, name):
                props[name] = list(getattr(self, name))
        if self.retry:
            props["retry"] = {"num_attempts": self.retry.get("num_attempts", 0),
                              "hosts": [list(h) for h in self.retry.get("hosts", [])]}
        if self.scheduler_hints:
            props["scheduler_hints"] = dict(self.scheduler_hints)
        return props

    @classmethod
    def from_primitives(cls, context: Any, request_spec: dict[str, Any],
                        filter_properties: dict[str, Any]) -> RequestSpec:
        """A RequestSpec from the legacy dicts: the retry record becomes ``retry``, so
        RetryFilter sees the hosts already tried."""
        props = request_spec.get("instance_properties") or {}
        retry = filter_properties.get("retry")
        return cls(context, instance_uuid=props.get("uuid"),
                   project_id=props.get("project_id"), user_id=props.get("user_id"),
                   availability_zone=props.get("availability_zone"),
                   flavor=request_spec.get("instance_type"), image=request_spec.get("image"),
                   num_instances=request_spec.get("num_instances", 1),
                   is_bfv=bool(request_spec.get("is_bfv")),
                   retry=({"num_attempts": retry.get("num_attempts", 0),
                           "hosts": [list(h) for h in retry.get("hosts", [])]}
                          if retry else None),
                   instance_group=None,
                   ignore_hosts=list(filter_properties.get("ignore_hosts") or []),
                   force_hosts=list(filter_properties.get("force_hosts") or []),
                   force_nodes=list(filter_properties.get("force_nodes") or []),
                   scheduler_hints=dict(filter_properties.get("scheduler_hints") or {}))

    @remotable
    def create(self) -> None:
        with db.api_session() as s:
            row = models.RequestSpec(instance_uuid=self.instance_uuid,
                                     spec=self.obj_to_primitive())
            s.add(row)
            s.flush()
            self._data["id"] = row.id
        self.obj_reset_changes()

    @remotable
    def save(self) -> None:
        with db.api_session() as s:
            row = s.scalars(select(models.RequestSpec).where(
                models.RequestSpec.instance_uuid == self.instance_uuid)).first()
            if row is not None:
                row.spec = self.obj_to_primitive()
        self.obj_reset_changes()

    @remotable_classmethod
    def get_by_instance_uuid(cls, context: Any, instance_uuid: str) -> RequestSpec:
        with db.api_session() as s:
            row = s.scalars(select(models.RequestSpec).where(
                models.RequestSpec.instance_uuid == instance_uuid)).first()
            if row is None:
                raise exception.NotFound(f"RequestSpec for {instance_uuid} not found")
            spec = NovaObject.obj_from_primitive(row.spec, context)
        spec.obj_reset_changes()
        return spec  # type: ignore[return-value]


class BuildRequest(NovaObject):
    """The instance as the API knows it before a cell holds it (API database)."""

    VERSION = "1.3"
    STEIN_FILE = "nova/objects/build_request.py"
    fields = {"id": "int", "instance_uuid": "str", "project_id": "str", "instance": "obj"}

    @remotable
    def create(self) -> None:
        with db.api_session() as s:
            row = models.BuildRequest(instance_uuid=self.instance_uuid,
                                      project_id=self.project_id,
                                      instance=self.instance.obj_to_primitive())
            s.add(row)
            s.flush()
            self._data["id"] = row.id
        self.obj_reset_changes()

    @remotable
    def destroy(self) -> None:
        with db.api_session() as s:
            res = s.execute(delete(models.BuildRequest).where(
                models.BuildRequest.instance_uuid == self.instance_uuid))
            if res.rowcount == 0:  # type: ignore[attr-defined]
                raise exception.NotFound(f"BuildRequest {self.instance_uuid} not found")

    @remotable_classmethod
    def get_by_instance_uuid(cls: type[BuildRequest], context: Any,
                             instance_uuid: str) -> BuildRequest:
        with db.api_session() as s:
            row = s.scalars(select(models.BuildRequest).where(
                models.BuildRequest.instance_uuid == instance_uuid)).first()
            if row is None:
                raise exception.NotFound(f"BuildRequest {instance_uuid} not found")
            br = cls(context, id=row.id, instance_uuid=row.instance_uuid,
                     project_id=row.project_id,
                     instance=NovaObject.obj_from_primitive(row.instance, context))
        br.obj_reset_changes()
        return br


class Selection(NovaObject):
    """One destination (selected host or alternate) returned by select_destinations."""

    VERSION = "1.1"
    STEIN_FILE = "nova/objects/selection.py"
    fields = {"service_host": "str", "nodename": "str", "compute_node_uuid": "str",
              "cell_uuid": "str", "limits": "dict", "allocation_request": "str",
              "allocation_request_version": "str"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Selection:
        import json
        values = {k: d.get(k) for k in cls.fields}
        if isinstance(values["allocation_request"], (dict, list)):
            values["allocation_request"] = json.dumps(values["allocation_request"])
        return cls(**values)
