"""oslo.messaging's wire format (WIRE.md): envelope, context keys, replies, failures."""

from __future__ import annotations

import importlib
import json
import os
import random
import re
import traceback
from collections import OrderedDict
from itertools import accumulate
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
# A generator of our own, seeded from os.urandom and reseeded in a forked child: the
# module-level one is shared, and whoever calls random.seed() (hypothesis does, per
# example) would make every process repeat the same ids, which the duplicate check drops.
_rng = random.Random()
os.register_at_fork(after_in_child=_rng.seed)
_getrandbits = _rng.getrandbits

# Limits checked on a received body *before* it is parsed (oslo.messaging has none; a
# body beyond them is refused like any undecodable one: rejected, never requeued).
# The largest message a boot sends is 3.7 KB with nesting depth 10 (measured on the
# recordings in tests/fixtures); RabbitMQ itself caps a message at 128 MiB.
MAX_BODY_BYTES = 16 * 1024 * 1024  # 16 MiB: room for big object lists, no 100 MB parse
MAX_DEPTH = 128  # [ and { nesting, per JSON document (envelope, then inner message)
MAX_NAME = 255   # _msg_id, _unique_id, _reply_q: an AMQP short string (queue name)


class BadMessage(ValueError):
    """A body that is not an oslo envelope (logged and rejected by the consumer)."""


_UUID4_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_BITS = (0x4000 << 64) | (0x8000 << 48)


def new_id() -> str:
    """A random version-4 UUID as 32 hex digits, as ``uuid.uuid4().hex``.

    From a private ``random.Random`` (reseeded after fork) rather than ``os.urandom``:
    ids only need to be unique, not secret, and this is 5x cheaper (three per call).
    """
    return "%032x" % (_getrandbits(128) & _UUID4_MASK | _UUID4_BITS)


def pack(msg: dict[str, Any]) -> str:
    """The message body: the inner message as a JSON string inside the envelope."""
    return json.dumps({"oslo.version": OSLO_VERSION, "oslo.message": json.dumps(msg)})


_STRING = re.compile(r'"[^"]*+"')  # a JSON string literal, once escapes are gone
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deep ``[``/``{`` nest in *text*, outside string literals, without parsing it.

    C-speed string operations only (a few ms for 100,000 brackets): escaped backslashes
    and quotes are dropped, then string literals, then everything but brackets.
    Unbalanced input only errs on the side of refusing.
    """
    bare = _STRING.sub("", text.replace("\\\\", "").replace('\\"', ""))
    brackets = _NOT_BRACKET.sub("", bare)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _loads(text: str, what: str) -> Any:
    """json.loads of one document after the depth check (skipped when there are too few
    brackets to nest that deep at all: one str.count per bracket for most messages)."""
    if text.count("[") + text.count("{") > MAX_DEPTH:
        depth = json_depth(text)
        if depth > MAX_DEPTH:
            raise BadMessage(f"{what} nests {depth} deep (more than {MAX_DEPTH})")
    try:
        return json.loads(text)
    except ValueError as e:
        raise BadMessage(f"{what} is not JSON: {e}") from None


def unpack(body: bytes | str) -> tuple[dict[str, Any], str]:
    """Body -> (inner message, inner JSON string); BadMessage if it is not an envelope.

    Whatever *body* holds, the only exception is BadMessage: size and depth are checked
    before parsing, and any other failure of decoding (RecursionError, MemoryError, ...)
    becomes BadMessage too, so the consumer can refuse the message and carry on.
    """
    try:
        return _unpack(body)
    except BadMessage:
        raise
    except Exception as e:  # anything a hostile body can provoke
        raise BadMessage(f"undecodable body: {type(e).__name__}: {e}") from None


def _unpack(body: bytes | str) -> tuple[dict[str, Any], str]:
    size = len(body)
    if size > MAX_BODY_BYTES:
        raise BadMessage(f"body of {size} bytes is larger than {MAX_BODY_BYTES}")
    if isinstance(body, bytes | bytearray):
        try:
            text = bytes(body).decode(CONTENT_ENCODING)
        except UnicodeDecodeError as e:
            raise BadMessage(f"body is not UTF-8: {e}") from None
    elif isinstance(body, str):
        text = body
    else:
        raise BadMessage(f"body is a {type(body).__name__}, not bytes")
    outer = _loads(text, "body")
    if not isinstance(outer, dict):
        raise BadMessage("body is not a JSON object")
    if "oslo.message" not in outer:
        # oslo accepts an un-enveloped message too (version 1.0 peers)
        if "method" in outer or "_msg_id" in outer:
            return outer, json.dumps(outer)
        raise BadMessage("no 'oslo.message' in the envelope")
    inner_json = outer["oslo.message"]
    if not isinstance(inner_json, str):
        raise BadMessage("'oslo.message' is not a JSON string")
    inner = _loads(inner_json, "'oslo.message'")
    if not isinstance(inner, dict):
        raise BadMessage("'oslo.message' is not a JSON object")
    return inner, inner_json


def check_ids(msg: dict[str, Any]) -> None:
    """BadMessage unless ``_msg_id``/``_unique_id``/``_reply_q`` can be used as what they
    are: ids (strings) and, for a call, a queue name to reply to (an AMQP short string).
    A message failing this cannot be answered, so it is refused rather than dispatched."""
    for key in ("_msg_id", "_unique_id"):
        value = msg.get(key)
        if value is not None and not (isinstance(value, str) and len(value) <= MAX_NAME):
            raise BadMessage(f"{key} is not an id string: {_short(value)}")
    if msg.get("_msg_id"):
        reply_q = msg.get("_reply_q")
        if not (isinstance(reply_q, str) and reply_q
                and len(reply_q.encode(CONTENT_ENCODING, "surrogatepass")) <= MAX_NAME):
            raise BadMessage(f"a call whose _reply_q is not a queue name: {_short(reply_q)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_ID_IN_BODY = re.compile(rb'(_msg_id|_unique_id)\\?"\s*:\s*\\?"([0-9A-Za-z_-]{1,64})')


def ids_in(body: bytes | str, limit: int = 65536) -> str:
    """``_msg_id=… _unique_id=…`` found in the first *limit* bytes of a body that may not
    parse at all (in the envelope or escaped in the inner string): for the log line of a
    refused message; "no message id" if there is none."""
    raw = body.encode(CONTENT_ENCODING, "replace") if isinstance(body, str) else bytes(body)
    found: dict[str, str] = {}
    for m in _ID_IN_BODY.finditer(raw[:limit]):
        found.setdefault(m.group(1).decode(), m.group(2).decode())
    return " ".join(f"{k}={v}" for k, v in found.items()) or "no message id"


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
    """The ids of the last SIZE messages taken: one delivered again is dropped.

    oslo.messaging keeps 16 ``_unique_id``; a broker redelivers every unacked message
    after a connection loss, which can be far more than 16, so this keeps 4096 (an
    ordered dict: O(1) lookups, ~0.5 MB). Keyed on ``_unique_id``, else ``_msg_id``.
    """

    SIZE = 4096

    def __init__(self, size: int | None = None) -> None:
        self.size = size or self.SIZE
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, unique_id: Any) -> bool:
        """True if already seen (drop it); otherwise remember it."""
        if not isinstance(unique_id, str) or not unique_id:
            return False
        if unique_id in self._ids:
            return True
        self._ids[unique_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return False


def heartbeat_interval(client_timeout: Any) -> float | None:
    """The call-monitor heartbeat period for a call's ``_timeout``, or None for none.

    As oslo's dispatcher: ``int(_timeout) / 2``, nothing below 1 s. Beyond oslo, anything
    int() cannot take (a list, ``Infinity``, NaN, 5,000 digits: TypeError, ValueError,
    OverflowError) is no heartbeat, and the period is capped at MAX_HEARTBEAT_INTERVAL so
    no wait is asked to hold a time it cannot (OverflowError in ``Event.wait``).
    """
    if client_timeout is None or isinstance(client_timeout, bool):
        return None
    try:
        interval = int(client_timeout) / 2
    except (TypeError, ValueError, OverflowError):
        return None
    if not interval >= 1:
        return None
    return min(interval, MAX_HEARTBEAT_INTERVAL)


MAX_HEARTBEAT_INTERVAL = 3600.0  # a _timeout beyond 2 h still gets an hourly heartbeat


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
        return _deserialize_failure(data, allowed)
    except Exception:  # a garbled failure is still a remote error
        return RemoteError("Unknown", str(data)[:1000], [])


def _deserialize_failure(data: str, allowed: tuple[str, ...] | list[str]) -> Exception:
    try:
        failure = json.loads(data)
    except (TypeError, ValueError):
        return RemoteError("Unknown", str(data), [])
    if not isinstance(failure, dict):
        return RemoteError("Unknown", str(data), [])
    trace = failure.get("tb", [])
    message = failure.get("message", "") + "\n" + "\n".join(trace)
    name: Any = failure.get("class")
    module: Any = failure.get("module")
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
