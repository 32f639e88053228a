"""CellMapping, HostMapping, InstanceMapping: where things live (API database)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services import exception
from services.db import api as db
from services.db import models
from services.objects.base import NovaObject, remotable, remotable_classmethod


class CellMapping(NovaObject):
    VERSION = "1.1"
    STEIN_FILE = "nova/objects/cell_mapping.py"
    LIST_METHODS = {"get_all": ("CellMappingList", "1.1")}
    fields = {"id": "int", "uuid": "str", "name": "str", "transport_url": "str",
              "database_connection": "str", "disabled": "bool"}

    @property
    def is_cell0(self) -> bool:
        return self.uuid == db.CELL0_UUID

    @remotable_classmethod
    def get_by_uuid(cls, context: Any, uuid: str) -> CellMapping:
        with db.api_session() as s:
            row = s.scalars(select(models.CellMapping).where(
                models.CellMapping.uuid == uuid)).first()
            if row is None:
                raise exception.NotFound(f"Cell {uuid} not found")
            return cls._from_db(context, db.row_to_dict(row))

    @remotable_classmethod
    def get_all(cls, context: Any) -> list[CellMapping]:
        with db.api_session() as s:
            return [cls._from_db(context, db.row_to_dict(r))
                    for r in s.scalars(select(models.CellMapping))]


def _cell_uuid_by_id(s: Any, cell_id: int | None) -> str | None:
    if cell_id is None:
        return None
    row = s.get(models.CellMapping, cell_id)
    return row.uuid if row else None


def _cell_id_by_uuid(s: Any, cell_uuid: str | None) -> int | None:
    if cell_uuid is None:
        return None
    row = s.scalars(select(models.CellMapping).where(
        models.CellMapping.uuid == cell_uuid)).first()
    return row.id if row else None


class HostMapping(NovaObject):
    VERSION = "1.0"
    STEIN_FILE = "nova/objects/host_mapping.py"
    fields = {"id": "int", "host": "str", "cell_uuid": "str"}

    @remotable
    def create(self) -> None:
        with db.api_session() as s:
            row = s.scalars(select(models.HostMapping).where(
                models.HostMapping.host == self.host)).first()
            if row is None:
                row = models.HostMapping(host=self.host,
                                         cell_id=_cell_id_by_uuid(s, self.cell_uuid))
                s.add(row)
                s.flush()
            self._data["id"] = row.id
        self.obj_reset_changes()

    @remotable_classmethod
    def get_by_host(cls: type[HostMapping], context: Any, host: str) -> HostMapping:
        with db.api_session() as s:
            row = s.scalars(select(models.HostMapping).where(
                models.HostMapping.host == host)).first()
            if row is None:
                raise exception.ComputeHostNotFound(host=host)
            return cls(context, id=row.id, host=row.host,
                       cell_uuid=_cell_uuid_by_id(s, row.cell_id))


class InstanceMapping(NovaObject):
    VERSION = "1.2"
    STEIN_FILE = "nova/objects/instance_mapping.py"
    LIST_METHODS = {"get_by_project_id": ("InstanceMappingList", "1.2")}
    fields = {"id": "int", "instance_uuid": "str", "cell_uuid": "str", "project_id": "str",
              "queued_for_delete": "bool"}

    @remotable
    def create(self) -> None:
        with db.api_session() as s:
            row = models.InstanceMapping(instance_uuid=self.instance_uuid,
                                         project_id=self.project_id,
                                         cell_id=_cell_id_by_uuid(s, self.cell_uuid))
            s.add(row)
            s.flush()
            self._data["id"] = row.id
        self.obj_reset_changes()

    @remotable
    def save(self) -> None:
        with db.api_session() as s:
            row = s.scalars(select(models.InstanceMapping).where(
                models.InstanceMapping.instance_uuid == self.instance_uuid)).first()
            if row is None:
                raise exception.InstanceNotFound(instance_id=self.instance_uuid)
            row.cell_id = _cell_id_by_uuid(s, self.cell_uuid)
            row.queued_for_delete = bool(self.queued_for_delete)
        self.obj_reset_changes()

    @classmethod
    def _from_row(cls, context: Any, s: Any, row: models.InstanceMapping) -> InstanceMapping:
        return cls(context, id=row.id, instance_uuid=row.instance_uuid,
                   project_id=row.project_id, queued_for_delete=row.queued_for_delete,
                   cell_uuid=_cell_uuid_by_id(s, row.cell_id))

    @remotable_classmethod
    def get_by_instance_uuid(cls: type[InstanceMapping], context: Any,
                             instance_uuid: str) -> InstanceMapping:
        with db.api_session() as s:
            row = s.scalars(select(models.InstanceMapping).where(
                models.InstanceMapping.instance_uuid == instance_uuid)).first()
            if row is None:
                raise exception.InstanceNotFound(instance_id=instance_uuid)
            return cls._from_row(context, s, row)

    @remotable_classmethod
    def get_by_project_id(cls: type[InstanceMapping], context: Any,
                          project_id: str) -> list[InstanceMapping]:
        with db.api_session() as s:
            rows = s.scalars(select(models.InstanceMapping).where(
                models.InstanceMapping.project_id == project_id)).all()
            return [cls._from_row(context, s, r) for r in rows]
