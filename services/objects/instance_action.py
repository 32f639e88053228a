"""InstanceAction / InstanceActionEvent: the user-visible audit trail of an operation."""

from __future__ import annotations

import inspect
from typing import Any

from sqlalchemy import select

from services.db import api as db
from services.db import models
from services.objects.base import NovaObject, remotable_classmethod


class InstanceAction(NovaObject):
    VERSION = "1.2"
    STEIN_FILE = "nova/objects/instance_action.py"
    fields = {"id": "int", "action": "str", "instance_uuid": "str", "request_id": "str",
              "user_id": "str", "project_id": "str", "start_time": "datetime",
              "finish_time": "datetime", "message": "str"}

    @remotable_classmethod
    def action_start(cls, context: Any, instance_uuid: str, action_name: str,
                     want_result: bool = True) -> InstanceAction | None:
        with db.cell_session(context) as s:
            row = models.InstanceAction(action=action_name, instance_uuid=instance_uuid,
                                        request_id=context.request_id,
                                        user_id=context.user_id,
                                        project_id=context.project_id,
                                        start_time=models.utcnow())
            s.add(row)
            s.flush()
            return (cls._from_db(context, db.row_to_dict(row))
                    if want_result else None)

    @remotable_classmethod
    def get_by_request_id(cls, context: Any, instance_uuid: str,
                          request_id: str) -> InstanceAction | None:
        with db.cell_session(context) as s:
            row = s.scalars(select(models.InstanceAction).where(
                models.InstanceAction.instance_uuid == instance_uuid,
                models.InstanceAction.request_id == request_id)).first()
            return (cls._from_db(context, db.row_to_dict(row))
                    if row else None)


def _action_row(s: Any, context: Any, instance_uuid: str) -> Any:
    row = s.scalars(select(models.InstanceAction).where(
        models.InstanceAction.instance_uuid == instance_uuid,
        models.InstanceAction.request_id == context.request_id)).first()
    if row is None:  # an action the API did not record (reschedule in another cell…)
        row = models.InstanceAction(action="create", instance_uuid=instance_uuid,
                                    request_id=context.request_id, user_id=context.user_id,
                                    project_id=context.project_id,
                                    start_time=models.utcnow())
        s.add(row)
        s.flush()
    return row


class InstanceActionEvent(NovaObject):
    VERSION = "1.2"
    STEIN_FILE = "nova/objects/instance_action.py"
    fields = {"id": "int", "event": "str", "action_id": "int", "start_time": "datetime",
              "finish_time": "datetime", "result": "str", "traceback": "str", "host": "str"}

    @remotable_classmethod
    def event_start(cls, context: Any, instance_uuid: str, event_name: str,
                    want_result: bool = True, host: str | None = None) -> Any:
        with db.cell_session(context) as s:
            action = _action_row(s, context, instance_uuid)
            row = models.InstanceActionEvent(event=event_name, action_id=action.id,
                                             start_time=models.utcnow(), host=host)
            s.add(row)
            s.flush()
            return cls._from_db(context, db.row_to_dict(row)) if want_result else None

    @remotable_classmethod
    def event_finish_with_failure(cls, context: Any, instance_uuid: str, event_name: str,
                                  exc_val: str | None = None, exc_tb: str | None = None,
                                  want_result: bool = True) -> Any:
        with db.cell_session(context) as s:
            action = _action_row(s, context, instance_uuid)
            row = s.scalars(select(models.InstanceActionEvent).where(
                models.InstanceActionEvent.action_id == action.id,
                models.InstanceActionEvent.event == event_name).order_by(
                models.InstanceActionEvent.id.desc())).first()
            if row is None:
                row = models.InstanceActionEvent(event=event_name, action_id=action.id,
                                                 start_time=models.utcnow())
                s.add(row)
            row.finish_time = models.utcnow()
            row.result = "Error" if exc_val else "Success"
            row.traceback = exc_tb
            if exc_val:
                action.message = "Error"
            action.finish_time = row.finish_time
            s.flush()
            return cls._from_db(context, db.row_to_dict(row)) if want_result else None

    @remotable_classmethod
    def event_finish(cls, context: Any, instance_uuid: str, event_name: str,
                     want_result: bool = True) -> Any:
        return inspect.unwrap(cls.event_finish_with_failure)(
            cls, context, instance_uuid, event_name, None, None, want_result)
