"""oslo.messaging's wire format (WIRE.md): envelope, context keys, replies, failures."""

from __future__ import annotations

import importlib
import json
import random
import traceback
from collections import deque
from typing import Any

from services.messaging.exceptions import RemoteError

OSLO_VERSION = "2.0"
CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"
DELIVERY_MODE = 2
TRANSIENT_QUEUE_TTL_MS = 1_800_000  # rabbit_transient_queues_ttl 1800 s -> x-expires
REMOTE_POSTFIX = "_Remote"
DEFAULT_ALLOWED_EXMODS = ("services.exception", "services.messaging.exceptions")
# What a Stein server names its dispatcher errors; mapped onto our own classes.
_OSLO_MODULES = {"oslo_messaging.rpc.dispatcher", "oslo_messaging.exceptions",
                 "oslo_messaging.rpc.client"}
_BUILTIN_MODULES = {"builtins", "exceptions"}
_getrandbits = random.getrandbits


class BadMessage(ValueError):
    """A body that is not an oslo envelope (logged and dropped by the consumer)."""


_UUID4_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_BITS = (0x4000 << 64) | (0x8000 << 48)


def new_id() -> str:
    """A random version-4 UUID as 32 hex digits, as ``uuid.uuid4().hex``.

    From ``random.getrandbits`` (reseeded after fork) rather than ``os.urandom``: ids only
    need to be unique, not secret, and this is 5x cheaper (three per call).
    """
    return "%032x" % (_getrandbits(128) & _UUID4_MASK | _UUID4_BITS)


def pack(msg: dict[str, Any]) -> str:
    """The message body: the inner message as a JSON string inside the envelope."""
    return json.dumps({"oslo.version": OSLO_VERSION, "oslo.message": json.dumps(msg)})


def unpack(body: bytes | str) -> tuple[dict[str, Any], str]:
    """Body -> (inner message, inner JSON string); BadMessage if it is not an envelope."""
    try:
        outer = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadMessage(f"body is not JSON: {e}") from None
    if not isinstance(outer, dict):
        raise BadMessage("body is not a JSON object")
    if "oslo.message" not in outer:
        # oslo accepts an un-enveloped message too (version 1.0 peers)
        if "method" in outer or "_msg_id" in outer:
            return outer, json.dumps(outer)
        raise BadMessage("no 'oslo.message' in the envelope")
    inner_json = outer["oslo.message"]
    try:
        inner = json.loads(inner_json)
    except (TypeError, ValueError) as e:
        raise BadMessage(f"'oslo.message' is not JSON: {e}") from None
    if not isinstance(inner, dict):
        raise BadMessage("'oslo.message' is not a JSON object")
    return inner, inner_json


def pack_context(msg: dict[str, Any], ctxt: dict[str, Any]) -> None:
    """Flatten the context into ``_context_<key>`` keys, as oslo does."""
    for key, value in ctxt.items():
        msg[f"_context_{key}"] = value


def unpack_context(msg: dict[str, Any]) -> dict[str, Any]:
    """Pop the ``_context_*`` keys back into a dict."""
    ctxt: dict[str, Any] = {}
    for key in [k for k in msg if k.startswith("_context_")]:
        ctxt[key[9:]] = msg.pop(key)
    return ctxt


def version_is_compatible(imp_version: str | None, version: str | None) -> bool:
    """Same major and implemented minor >= requested minor (integers; then revision)."""
    if imp_version is None:
        return True
    if version is None:
        return False
    v = [int(p) for p in version.split(".")] + [0]
    iv = [int(p) for p in imp_version.split(".")] + [0]
    if v[0] != iv[0] or v[1] > iv[1]:
        return False
    return not (v[1] == iv[1] and v[2] > iv[2])


class MsgIdCache:
    """The last 16 ``_unique_id`` seen: a redelivered message is dropped."""

    SIZE = 16

    def __init__(self) -> None:
        self._ids: deque[str] = deque(maxlen=self.SIZE)

    def seen(self, unique_id: str | None) -> bool:
        """True if already seen (drop it); otherwise remember it."""
        if unique_id is None:
            return False
        if unique_id in self._ids:
            return True
        self._ids.append(unique_id)
        return False


def serialize_failure(exc: BaseException) -> str:
    """A failure as the JSON string oslo puts in a reply's ``failure``."""
    cls_name = type(exc).__name__
    mod_name = type(exc).__module__
    if cls_name.endswith(REMOTE_POSTFIX) and mod_name.endswith(REMOTE_POSTFIX):
        cls_name, mod_name = cls_name[:-7], mod_name[:-7]
    if mod_name == "services.messaging.exceptions" and cls_name in (
            "NoSuchMethod", "UnsupportedVersion"):
        mod_name = "oslo_messaging.rpc.dispatcher"
    data = {
        "class": cls_name,
        "module": mod_name,
        "message": str(exc),
        "tb": traceback.format_exception(type(exc), exc, exc.__traceback__),
        "args": list(exc.args),
        "kwargs": getattr(exc, "kwargs", None) or {},
    }
    return json.dumps(data, default=repr)


def deserialize_failure(data: str, allowed: tuple[str, ...] | list[str]) -> Exception:
    """The caller's side: ``<Class>_Remote`` when the module is allowed, else RemoteError."""
    try:
        failure = json.loads(data)
    except (TypeError, ValueError):
        return RemoteError("Unknown", str(data), [])
    trace = failure.get("tb", [])
    message = failure.get("message", "") + "\n" + "\n".join(trace)
    name = failure.get("class")
    module = failure.get("module")
    if module in _BUILTIN_MODULES:
        module = "builtins"
    elif module in _OSLO_MODULES:
        module = "services.messaging.exceptions"
    if module != "builtins" and module not in allowed:
        return RemoteError(name, failure.get("message"), trace)
    try:
        klass = getattr(importlib.import_module(module), name)
        if not (isinstance(klass, type) and issubclass(klass, Exception)):
            raise TypeError("Can only deserialize Exceptions")
        exc = klass(*failure.get("args", []), **failure.get("kwargs", {}))
    except (AttributeError, TypeError, ImportError, ValueError):
        return RemoteError(name, failure.get("message"), trace)
    new_type = type(f"{type(exc).__name__}{REMOTE_POSTFIX}", (type(exc),),
                    {"__str__": lambda self: message})
    new_type.__module__ = f"{module}{REMOTE_POSTFIX}"
    try:
        exc.__class__ = new_type
    except TypeError:  # a builtin exception: keep its class, carry the remote message
        exc.args = (message,) + tuple(exc.args[1:])
    return exc
