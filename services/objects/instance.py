"""Instance and InstanceFault (cell database) — every state write is a visible event."""

from __future__ import annotations

import inspect
import traceback
from typing import Any

from sqlalchemy import select

from services import exception
from services.db import api as db
from services.db import models
from services.objects.base import NovaObject, remotable, remotable_classmethod
from services.objects.flavor import Flavor
from tracer.instrument import api as trace

_COLUMNS = ("uuid", "display_name", "project_id", "user_id", "vm_state", "task_state",
            "power_state", "host", "node", "image_ref", "availability_zone", "launched_at",
            "terminated_at", "memory_mb", "vcpus", "root_gb", "launch_index", "deleted",
            "reservation_id",
            "deleted_at", "system_metadata")


def _annotate_state(inst: Instance) -> None:
    trace.annotate("instance.state", {
        "instance_uuid": inst.uuid, "vm_state": inst.vm_state, "task_state": inst.task_state,
        "host": inst.host, "display_name": inst.display_name})


class Instance(NovaObject):
    VERSION = "2.4"
    STEIN_FILE = "nova/objects/instance.py"
    LIST_METHODS = {"get_by_host": ("InstanceList", "2.4")}
    fields = {"id": "int", "uuid": "str", "display_name": "str", "project_id": "str",
              "user_id": "str", "vm_state": "str", "task_state": "str", "power_state": "int",
              "host": "str", "node": "str", "image_ref": "str", "flavor": "obj",
              "availability_zone": "str", "launched_at": "datetime",
              "terminated_at": "datetime", "created_at": "datetime", "updated_at": "datetime",
              "deleted": "bool", "deleted_at": "datetime", "memory_mb": "int", "vcpus": "int",
              "root_gb": "int", "launch_index": "int", "reservation_id": "str", "metadata": "dict",
              "system_metadata": "dict", "fault": "obj"}

    @classmethod
    def _from_row(cls, context: Any, row: Any) -> Instance:
        values = db.row_to_dict(row)
        flavor = values.pop("flavor", None)
        values["deleted"] = bool(values.get("deleted"))
        inst = cls._from_db(context, values)
        if flavor:
            inst._data["flavor"] = NovaObject.obj_from_primitive(flavor, context)
        return inst

    def _row_values(self, names: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            if name == "flavor":
                out["flavor"] = self.flavor.obj_to_primitive() if self.flavor else None
            elif name == "metadata":
                out["metadata_"] = self.metadata
            elif name == "deleted":
                out["deleted"] = 1 if self.deleted else 0
            elif name in _COLUMNS:
                out[name] = self._data.get(name)
        return out

    @remotable
    def create(self) -> None:
        """Insert into the cell database the context targets (cell0 for buried ones)."""
        if self.flavor is not None:
            f: Flavor = self.flavor
            self.memory_mb, self.vcpus, self.root_gb = f.memory_mb, f.vcpus, f.root_gb
        names = [n for n in self._data if n not in ("id", "fault", "created_at", "updated_at")]
        with db.cell_session(self._context) as s:
            row = models.Instance(**self._row_values(names))
            s.add(row)
            s.flush()
            self._data["id"] = row.id
            self._data["created_at"] = row.created_at
        self.obj_reset_changes()
        _annotate_state(self)

    @remotable
    def save(self, expected_task_state: Any = None, expected_vm_state: Any = None) -> None:
        """Write the changed fields; refuse when the DB task_state is not the expected one."""
        changes = self.obj_what_changed() - {"fault", "id", "created_at", "updated_at"}
        with db.cell_session(self._context) as s:
            row = s.scalars(select(models.Instance).where(
                models.Instance.uuid == self.uuid)).first()
            if row is None:
                raise exception.InstanceNotFound(instance_id=self.uuid)
            if expected_task_state is not None or "task_state" in changes:
                if expected_task_state is not None:
                    expected = (expected_task_state if isinstance(expected_task_state, list)
                                else [expected_task_state])
                    if row.task_state not in expected:
                        raise exception.UnexpectedTaskStateError(
                            expected=expected, actual=row.task_state)
            if expected_vm_state is not None:
                expected = (expected_vm_state if isinstance(expected_vm_state, list)
                            else [expected_vm_state])
                if row.vm_state not in expected:
                    raise exception.InstanceInvalidState(
                        instance_uuid=self.uuid, attr="vm_state", state=row.vm_state,
                        method="save")
            state_changed = ({"vm_state", "task_state", "host"} & changes
                             and (row.vm_state, row.task_state, row.host)
                             != (self.vm_state, self.task_state, self.host))
            old_ref = {"vm_state": row.vm_state, "task_state": row.task_state,
                       "display_name": row.display_name}
            for k, v in self._row_values(changes).items():
                setattr(row, k, v)
            s.flush()
            self._data["updated_at"] = row.updated_at
            # Stein refreshes the object from the row it wrote; the notification
            # describes that whole instance, not only the fields this caller set
            new_ref = Instance._from_row(self._context, row)
        self.obj_reset_changes()
        if state_changed:
            _annotate_state(self)
        from services import notifications  # nova.notifications imports objects
        notifications.send_update(self._context, old_ref, new_ref)

    @remotable
    def refresh(self) -> None:
        fresh = inspect.unwrap(Instance.get_by_uuid)(Instance, self._context, self.uuid)
        self._data.update(fresh._data)
        self.obj_reset_changes()

    @remotable
    def destroy(self) -> None:
        """Soft-delete like Nova (deleted = id, vm_state deleted)."""
        with db.cell_session(self._context) as s:
            row = s.scalars(select(models.Instance).where(
                models.Instance.uuid == self.uuid)).first()
            if row is None:
                raise exception.InstanceNotFound(instance_id=self.uuid)
            row.deleted = row.id
            row.deleted_at = models.utcnow()
            row.vm_state, row.task_state = "deleted", None
            self._data.update(deleted=True, deleted_at=row.deleted_at,
                              vm_state="deleted", task_state=None)
        self.obj_reset_changes()
        _annotate_state(self)

    @remotable_classmethod
    def get_by_uuid(cls, context: Any, uuid: str, expected_attrs: Any = None) -> Instance:
        with db.cell_session(context) as s:
            q = select(models.Instance).where(models.Instance.uuid == uuid)
            if getattr(context, "read_deleted", "no") == "no":
                q = q.where(models.Instance.deleted == 0)
            row = s.scalars(q).first()
            if row is None:
                raise exception.InstanceNotFound(instance_id=uuid)
            inst = cls._from_row(context, row)
        if expected_attrs and "fault" in expected_attrs:
            # already on the DB side: the body, without a second indirection or span
            latest_fault = inspect.unwrap(InstanceFault.get_latest_for_instance)
            inst._data["fault"] = latest_fault(InstanceFault, context, uuid)
        return inst

    @remotable_classmethod
    def get_by_host(cls, context: Any, host: str) -> list[Instance]:
        with db.cell_session(context) as s:
            rows = s.scalars(select(models.Instance).where(
                models.Instance.host == host, models.Instance.deleted == 0)).all()
            return [cls._from_row(context, r) for r in rows]


class InstanceList(NovaObject):
    """Stein's InstanceList (2.4) as a value: what a compute's ``update_instance_info``
    fanout carries. Its query methods live on ``Instance`` here (``LIST_METHODS``)."""

    VERSION = "2.4"
    STEIN_FILE = "nova/objects/instance.py"
    fields = {"objects": "list"}


class InstanceFault(NovaObject):
    VERSION = "1.2"
    STEIN_FILE = "nova/objects/instance_fault.py"
    fields = {"id": "int", "instance_uuid": "str", "code": "int", "message": "str",
              "details": "str", "host": "str", "created_at": "datetime"}

    @classmethod
    def from_exception(cls, context: Any, instance_uuid: str, exc: BaseException,
                       host: str | None = None) -> InstanceFault:
        """Nova's compute_utils.add_instance_fault_from_exc shape (message ≤ 255 chars)."""
        code = getattr(exc, "code", 500)
        message = (getattr(exc, "message", None) or str(exc) or type(exc).__name__)[:255]
        details = "".join(traceback.format_exception(exc))[-4000:]
        return cls(context, instance_uuid=instance_uuid, code=code, message=message,
                   details=details, host=host)

    @remotable
    def create(self) -> None:
        with db.cell_session(self._context) as s:
            row = models.InstanceFault(instance_uuid=self.instance_uuid, code=self.code,
                                       message=self.message, details=self.details,
                                       host=self.host)
            s.add(row)
            s.flush()
            self._data.update(id=row.id, created_at=row.created_at)
        self.obj_reset_changes()

    @remotable_classmethod
    def get_latest_for_instance(cls, context: Any, instance_uuid: str) -> InstanceFault | None:
        with db.cell_session(context) as s:
            row = s.scalars(select(models.InstanceFault).where(
                models.InstanceFault.instance_uuid == instance_uuid).order_by(
                models.InstanceFault.id.desc())).first()
            if row is None:
                return None
            return cls._from_db(context, db.row_to_dict(row))
