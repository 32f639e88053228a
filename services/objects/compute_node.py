"""ComputeNode and Service records (cell database); compute writes them via conductor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services import exception
from services.db import api as db
from services.db import models
from services.objects.base import NovaObject, remotable, remotable_classmethod

_CN_FIELDS = {"id": "int", "uuid": "str", "host": "str", "hypervisor_hostname": "str",
              "hypervisor_type": "str", "hypervisor_version": "int", "vcpus": "int",
              "memory_mb": "int", "local_gb": "int", "vcpus_used": "int",
              "memory_mb_used": "int", "local_gb_used": "int", "free_ram_mb": "int",
              "free_disk_gb": "int", "running_vms": "int", "current_workload": "int",
              "cpu_info": "dict", "stats": "dict", "cpu_allocation_ratio": "float",
              "ram_allocation_ratio": "float", "disk_allocation_ratio": "float",
              "updated_at": "datetime", "created_at": "datetime"}


def _save_changes(obj: NovaObject, s: Any, row: Any) -> None:
    """Copy *obj*'s changed fields onto *row*, stamp updated_at, flush; keep the stamp."""
    for k in obj.obj_what_changed():
        if k not in ("id", "updated_at", "created_at"):
            setattr(row, k, obj._data[k])
    row.updated_at = models.utcnow()
    s.flush()
    obj._data["updated_at"] = row.updated_at


class ComputeNode(NovaObject):
    LIST_METHODS = {"get_all": ("ComputeNodeList", "1.17")}
    VERSION = "1.19"
    STEIN_FILE = "nova/objects/compute_node.py"
    fields = _CN_FIELDS

    @remotable
    def create(self) -> None:
        values = {k: v for k, v in self._data.items()
                  if k not in ("id", "updated_at", "created_at")}
        with db.cell_session(self._context) as s:
            row = models.ComputeNode(**values)
            s.add(row)
            s.flush()
            self._data.update(id=row.id, created_at=row.created_at)
        self.obj_reset_changes()

    @remotable
    def save(self) -> None:
        with db.cell_session(self._context) as s:
            row = s.scalars(select(models.ComputeNode).where(
                models.ComputeNode.uuid == self.uuid)).first()
            if row is None:
                raise exception.ComputeHostNotFound(host=self.host)
            _save_changes(self, s, row)
        self.obj_reset_changes()

    @remotable_classmethod
    def get_by_host_and_nodename(cls, context: Any, host: str, nodename: str) -> ComputeNode:
        with db.cell_session(context) as s:
            row = s.scalars(select(models.ComputeNode).where(
                models.ComputeNode.host == host,
                models.ComputeNode.hypervisor_hostname == nodename,
                models.ComputeNode.deleted == 0)).first()
            if row is None:
                raise exception.ComputeHostNotFound(host=f"{host}/{nodename}")
            return cls._from_db(context, db.row_to_dict(row))

    @remotable_classmethod
    def get_all(cls, context: Any) -> list[ComputeNode]:
        with db.cell_session(context) as s:
            rows = s.scalars(select(models.ComputeNode).where(
                models.ComputeNode.deleted == 0)).all()
            return [cls._from_db(context, db.row_to_dict(r)) for r in rows]


class Service(NovaObject):
    VERSION = "1.22"
    STEIN_FILE = "nova/objects/service.py"
    SERVICE_VERSION = 37  # nova/objects/service.py SERVICE_VERSION in Stein (Rocky: 35)
    LIST_METHODS = {"get_all": ("ServiceList", "1.19")}
    fields = {"id": "int", "host": "str", "binary": "str", "topic": "str",
              "report_count": "int", "disabled": "bool", "disabled_reason": "str",
              "last_seen_up": "datetime", "forced_down": "bool", "version": "int",
              "updated_at": "datetime", "created_at": "datetime"}

    @remotable
    def create(self) -> None:
        values = {k: v for k, v in self._data.items()
                  if k not in ("id", "updated_at", "created_at")}
        values.setdefault("version", self.SERVICE_VERSION)
        try:
            with db.cell_session(self._context) as s:
                row = models.Service(**values)
                s.add(row)
                s.flush()
                self._data.update(id=row.id, version=row.version, created_at=row.created_at)
        except IntegrityError:
            raise exception.ServiceBinaryExists(host=values.get("host"),
                                                binary=values.get("binary")) from None
        self.obj_reset_changes()

    @remotable
    def save(self) -> None:
        with db.cell_session(self._context) as s:
            row = s.get(models.Service, self.id)
            if row is None:
                raise exception.ServiceNotFound(service_id=self.id)
            _save_changes(self, s, row)
        self.obj_reset_changes()

    @remotable_classmethod
    def get_by_host_and_binary(cls, context: Any, host: str, binary: str) -> Service | None:
        with db.cell_session(context) as s:
            row = s.scalars(select(models.Service).where(
                models.Service.host == host, models.Service.binary == binary,
                models.Service.deleted == 0)).first()
            if row is None:
                return None
            return cls._from_db(context, db.row_to_dict(row))

    @remotable_classmethod
    def get_all(cls, context: Any) -> list[Service]:
        with db.cell_session(context) as s:
            rows = s.scalars(select(models.Service).where(models.Service.deleted == 0)).all()
            return [cls._from_db(context, db.row_to_dict(r)) for r in rows]

    @remotable_classmethod
    def get_minimum_version(cls, context: Any, binary: str) -> int:
        """The oldest service version of *binary* still registered (0: none yet)."""
        with db.cell_session(context) as s:
            versions = s.scalars(select(models.Service.version).where(
                models.Service.binary == binary, models.Service.deleted == 0)).all()
        return min((v or 0 for v in versions), default=0)


# nova/objects/service.py SERVICE_VERSION_HISTORY: the compute RPC API version each
# service version speaks (index = service version; 35 is Rocky's, 37 Stein's)
SERVICE_VERSION_HISTORY: tuple[dict[str, str], ...] = tuple({"compute_rpc": v} for v in (
    "4.0", "4.4", "4.5", "4.6", "4.6", "4.7", "4.8", "4.9", "4.10", "4.11", "4.11", "4.12",
    "4.12", "4.13", "4.13", "4.13", "4.13", "4.13", "4.14", "4.15", "4.16", "4.17", "4.17",
    "4.18", "4.18", "4.18", "4.19", "4.20", "4.21", "4.22", "5.0", "5.0", "5.0", "5.0",
    "5.0", "5.0", "5.0", "5.1"))
