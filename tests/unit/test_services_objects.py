"""Versioned objects: Nova's wire shape and the conductor indirection."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from services.context import RequestContext
from services.objects import Flavor, Instance, NovaObject, NovaObjectSerializer
from services.objects import base as objects_base
from tracer.instrument import api as trace


def _instance(ctx: Any = None) -> Instance:
    flavor = Flavor(ctx, flavorid="1", name="m1.tiny", memory_mb=512, vcpus=1, root_gb=1)
    inst = Instance(ctx, uuid="6a1b8d6c-4a5e-4d1e-9f4a-0d0f2a6a7b11", display_name="vm",
                    vm_state="building", task_state="scheduling", flavor=flavor,
                    launched_at=dt.datetime(2019, 4, 10, 12, 0, 0))
    inst.obj_reset_changes()
    flavor.obj_reset_changes()
    return inst


def test_wire_shape() -> None:
    inst = _instance()
    inst.task_state = None
    prim = inst.obj_to_primitive()
    assert prim["nova_object.name"] == "Instance"
    assert prim["nova_object.namespace"] == "nova"
    assert prim["nova_object.version"] == Instance.VERSION
    assert prim["nova_object.changes"] == ["task_state"]
    data = prim["nova_object.data"]
    assert data["flavor"]["nova_object.name"] == "Flavor"
    assert data["launched_at"] == "2019-04-10T12:00:00"


def test_serializer_round_trip_keeps_types_and_context() -> None:
    ctx = RequestContext(user_id="u", project_id="p")
    ser = NovaObjectSerializer()
    wire = ser.serialize_entity(ctx, {"instances": [_instance()], "n": 1})
    back = ser.deserialize_entity(ctx, wire)
    inst = back["instances"][0]
    assert isinstance(inst, Instance) and isinstance(inst.flavor, Flavor)
    assert inst.launched_at == dt.datetime(2019, 4, 10, 12, 0, 0)
    assert inst._context is ctx and back["n"] == 1


def test_namespace_checked() -> None:
    with pytest.raises(Exception, match="not a nova object"):
        NovaObject.obj_from_primitive({"nova_object.name": "Instance",
                                       "nova_object.namespace": "cinder",
                                       "nova_object.data": {}})


class _RecordingConductor:
    """Plays nova-conductor's object_action: applies the method, returns the updates."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def object_action(self, ctxt: Any, objinst: Any, objmethod: str, args: Any,
                      kwargs: Any) -> tuple[dict[str, Any], Any]:
        self.calls.append(("object_action", objinst.obj_name(), objmethod))
        old = objinst.obj_clone()
        objinst.updated_at = dt.datetime(2019, 4, 10, 12, 0, 5)
        objinst.obj_reset_changes()
        return objinst.field_updates_since(old), None

    def object_class_action_versions(self, ctxt: Any, objname: str, objmethod: str,
                                     versions: Any, args: Any, kwargs: Any) -> Any:
        self.calls.append(("object_class_action_versions", objname, objmethod))
        return _instance(ctxt)


def test_remotable_goes_through_indirection_for_its_service_only() -> None:
    ctx = RequestContext(user_id="u", project_id="p")
    conductor = _RecordingConductor()
    objects_base.set_indirection_api(conductor, "nova-compute", "c1")
    try:
        with trace.identity("nova-compute", "c1"):
            inst = _instance(ctx)
            inst.task_state = "spawning"
            inst.save(expected_task_state="block_device_mapping")
            assert inst.updated_at == dt.datetime(2019, 4, 10, 12, 0, 5)
            assert inst.obj_what_changed() == set()
            got = Instance.get_by_uuid(ctx, inst.uuid)
            assert isinstance(got, Instance)
        assert conductor.calls == [("object_action", "Instance", "save"),
                                   ("object_class_action_versions", "Instance",
                                    "get_by_uuid")]
        with trace.identity("nova-conductor", "c1"):
            assert objects_base.get_indirection_api() is None
    finally:
        objects_base.set_indirection_api(None, "nova-compute", "c1")
