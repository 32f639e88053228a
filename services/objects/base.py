"""Versioned objects with Nova's wire shape and the conductor indirection (nova/objects/base.py).

A ``@remotable`` method runs locally where the process may touch the database (API,
conductor); in nova-compute ``indirection_api`` is the conductor RPC API, so the very same
``instance.save()`` becomes an ``object_action`` **call** to nova-conductor.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, ClassVar, Self

from services import exception
from services.messaging import Serializer
from tracer.instrument import api as trace

NAMESPACE = "nova"
_registry: dict[str, type[NovaObject]] = {}
# service binary -> indirection API (embedded mode hosts several services in one process;
# the tracer identity of the running thread tells which service is asking)
_indirection_by_service: dict[tuple[str, str], Any] = {}
_process_indirection: list[Any] = [None]


def set_indirection_api(api: Any, service: str | None = None, host: str = "") -> None:
    """Route remotable calls through *api* (for *service* on *host*, or the whole process)."""
    if service is None:
        _process_indirection[0] = api
    elif api is None:
        _indirection_by_service.pop((service, host), None)
    else:
        _indirection_by_service[(service, host)] = api


def get_indirection_api() -> Any:
    """``NovaObject.indirection_api`` of Nova, resolved for the service of this thread."""
    if _indirection_by_service:
        api = _indirection_by_service.get(trace.whoami())
        if api is not None:
            return api
    return _process_indirection[0]


def obj_class(name: str) -> type[NovaObject]:
    """The class for an objname; ``InstanceList`` and the like resolve to the class that
    carries Stein's list methods here (see ``NovaObject.LIST_METHODS``)."""
    for candidate in _registry.values():   # a list's queries live on its item class
        if any(list_name == name for list_name, _ in candidate.LIST_METHODS.values()):
            return candidate
    return _registry[name]


def _to_prim(ftype: str, value: Any) -> Any:
    if value is None:
        return None
    if ftype == "datetime":
        return value.isoformat() if isinstance(value, dt.datetime) else value
    return _entity_to_prim(value)


def _entity_to_prim(value: Any) -> Any:
    if isinstance(value, NovaObject):
        return value.obj_to_primitive()
    if isinstance(value, (list, tuple)):
        return [_entity_to_prim(v) for v in value]
    if isinstance(value, dict):
        return {k: _entity_to_prim(v) for k, v in value.items()}
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _entity_from_prim(value: Any, context: Any = None) -> Any:
    if isinstance(value, dict):
        if "nova_object.name" in value:
            return NovaObject.obj_from_primitive(value, context)
        return {k: _entity_from_prim(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_entity_from_prim(v, context) for v in value]
    return value


def _from_prim(ftype: str, value: Any, context: Any = None) -> Any:
    if value is None:
        return None
    if ftype == "datetime" and isinstance(value, str):
        return dt.datetime.fromisoformat(value).replace(tzinfo=None)
    return _entity_from_prim(value, context)


class NovaObject:
    """Fields live in ``_data``; every set marks the field changed (``nova_object.changes``)."""

    VERSION: ClassVar[str] = "1.0"
    OBJ_PROJECT_NAMESPACE: ClassVar[str] = NAMESPACE
    STEIN_FILE: ClassVar[str] = "nova/objects/base.py"
    # field name -> "str" | "int" | "bool" | "float" | "datetime" | "dict" | "list" | "obj"
    fields: ClassVar[dict[str, str]] = {}
    # classmethods that live on Stein's ``<Name>List`` class: method -> (list objname,
    # its VERSION). Their code.location and wire objname name the list class.
    LIST_METHODS: ClassVar[dict[str, tuple[str, str]]] = {}

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        _registry[cls.__name__] = cls

    def __init__(self, context: Any = None, **kwargs: Any) -> None:
        object.__setattr__(self, "_context", context)
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_changed", set())
        for k, v in kwargs.items():
            setattr(self, k, v)

    @classmethod
    def obj_name(cls) -> str:
        return cls.__name__

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in type(self).fields:
            return self._data.get(name)
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in type(self).fields:
            self._data[name] = value
            self._changed.add(name)
        else:
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._data.items()
                          if not isinstance(v, (dict, list, NovaObject)))
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._data == self._data

    def obj_attr_is_set(self, name: str) -> bool:
        return name in self._data

    def obj_what_changed(self) -> set[str]:
        changed = set(self._changed)
        for name, value in self._data.items():
            if isinstance(value, NovaObject) and value.obj_what_changed():
                changed.add(name)
        return changed

    def obj_reset_changes(self, fields: Any = None) -> None:
        if fields is None:
            self._changed.clear()
        else:
            self._changed.difference_update(fields)

    def obj_clone(self) -> NovaObject:
        clone = copy.deepcopy(self._data)
        obj = type(self)(self._context)
        obj._data.update(clone)
        obj._changed.update(self._changed)
        return obj

    def obj_get_changes(self) -> dict[str, Any]:
        return {k: self._data[k] for k in self.obj_what_changed() if k in self._data}

    def update(self, values: dict[str, Any]) -> None:
        for k, v in values.items():
            setattr(self, k, v)

    # ---- wire form ------------------------------------------------------------------------
    def obj_to_primitive(self) -> dict[str, Any]:
        data = {k: _to_prim(type(self).fields[k], v) for k, v in self._data.items()}
        prim: dict[str, Any] = {
            "nova_object.name": self.obj_name(),
            "nova_object.namespace": self.OBJ_PROJECT_NAMESPACE,
            "nova_object.version": self.VERSION,
            "nova_object.data": data,
        }
        changes = sorted(self.obj_what_changed())
        if changes:
            prim["nova_object.changes"] = changes
        return prim

    @staticmethod
    def obj_from_primitive(prim: dict[str, Any], context: Any = None) -> NovaObject:
        if prim.get("nova_object.namespace") != NAMESPACE:
            raise exception.Invalid(reason=f"not a nova object: {prim.get('nova_object.name')}")
        cls = _registry[prim["nova_object.name"]]
        obj = cls(context)
        for k, v in prim.get("nova_object.data", {}).items():
            if k in cls.fields:
                obj._data[k] = _from_prim(cls.fields[k], v, context)
        obj._changed.update(prim.get("nova_object.changes", []))
        return obj

    @classmethod
    def _from_db(cls, context: Any, values: dict[str, Any]) -> Self:
        obj = cls(context)
        for k, v in values.items():
            if k in cls.fields:
                obj._data[k] = v
        obj.obj_reset_changes()
        return obj

    def field_updates_since(self, old: NovaObject) -> dict[str, Any]:
        """What ``object_action`` sends back: fields the method changed (as primitives)."""
        updates: dict[str, Any] = {}
        for name, ftype in type(self).fields.items():
            if name not in self._data:
                continue
            if name not in old._data or old._data[name] != self._data[name]:
                updates[name] = _to_prim(ftype, self._data[name])
        updates["obj_what_changed"] = sorted(self.obj_what_changed())
        return updates

    def apply_updates(self, updates: dict[str, Any]) -> None:
        changed = updates.pop("obj_what_changed", [])
        for name, value in updates.items():
            if name in type(self).fields:
                self._data[name] = _from_prim(type(self).fields[name], value, self._context)
        self._changed.clear()
        self._changed.update(changed)


def _location(cls: Any, fn: Callable[..., Any]) -> str:
    owner = cls.LIST_METHODS.get(fn.__name__, (cls.__name__,))[0]
    return f"{cls.STEIN_FILE}:{owner}.{fn.__name__}"


def remotable(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run here with DB access, or ship to the conductor as ``object_action``."""

    @functools.wraps(fn)
    def wrapper(self: NovaObject, *args: Any, **kwargs: Any) -> Any:
        ctxt = self._context
        if ctxt is None:
            raise exception.NovaException(
                f"cannot call {fn.__name__} on an orphaned {self.obj_name()} object")
        api = get_indirection_api()
        if api is not None:
            updates, result = api.object_action(ctxt, self, fn.__name__, list(args), kwargs)
            self.apply_updates(dict(updates))
            return result
        with trace.span(f"db {self.obj_name()}.{fn.__name__}", "INTERNAL",
                        attrs={"code.location": _location(type(self), fn),
                               "db.operation": fn.__name__}):
            return fn(self, *args, **kwargs)

    wrapper.remotable = True  # type: ignore[attr-defined]
    return wrapper


def remotable_classmethod(fn: Callable[..., Any]) -> classmethod[Any, ..., Any]:
    """Classmethod twin: ``object_class_action_versions`` when indirected."""

    @functools.wraps(fn)
    def wrapper(cls: type[NovaObject], context: Any, *args: Any, **kwargs: Any) -> Any:
        api = get_indirection_api()
        if api is not None:
            objname, version = cls.LIST_METHODS.get(fn.__name__,
                                                    (cls.obj_name(), cls.VERSION))
            return api.object_class_action_versions(
                context, objname, fn.__name__, {objname: version}, list(args), kwargs)
        with trace.span(f"db {cls.obj_name()}.{fn.__name__}", "INTERNAL",
                        attrs={"code.location": _location(cls, fn),
                               "db.operation": fn.__name__}):
            return fn(cls, context, *args, **kwargs)

    wrapper.remotable = True  # type: ignore[attr-defined]
    return classmethod(wrapper)


class NovaObjectSerializer(Serializer):
    """Objects ↔ ``nova_object.*`` primitives, recursively through lists/dicts/tuples."""

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return _entity_to_prim(entity)

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return _entity_from_prim(entity, ctxt)

    def serialize_context(self, ctxt: Any) -> Any:
        return ctxt

    def deserialize_context(self, ctxt: Any) -> Any:
        return ctxt
