"""Hypothesis strategies for oslo.messaging bodies, and the endpoint and fake delivery the
messaging fuzz tests (``tests/unit/test_messaging_fuzz.py``,
``tests/functional/test_messaging_fuzz_rabbit.py``) share.

Bodies range from well-formed calls and casts with hostile field values (``_reply_q`` of
any JSON type, ``_timeout`` of ``Infinity`` or 400 digits, odd versions, methods and
arguments) to broken ones: truncated, deeply nested (``[`` x 100,000 as in issue 11),
not UTF-8, not JSON, not an envelope. ``FUZZ_EXAMPLES`` (env ``BOOTFLOW_FUZZ_EXAMPLES``,
2,000 by default, ``make fuzz`` 10,000) sets how many messages a run generates.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from services.messaging import Target, wire

FUZZ_EXAMPLES = int(os.environ.get("BOOTFLOW_FUZZ_EXAMPLES", "2000"))
REPLY_Q = "reply_fuzz"

# Fixed seed (derandomize), no example database, no per-example deadline: the run is
# the same on every machine and counts exactly what it generated.
FUZZ_SETTINGS = settings(derandomize=True, database=None, deadline=None,
                         suppress_health_check=list(HealthCheck), print_blob=True)


class Probe:
    """An endpoint that records what it ran; ``echo`` answers with its argument."""

    target = Target(version="4.5")
    STEIN_LOCATION = "tests/support/wire_fuzz.py:Probe"

    def __init__(self) -> None:
        self.runs = 0
        self.lock = threading.Lock()

    def _ran(self) -> None:
        with self.lock:
            self.runs += 1

    def echo(self, ctxt: Any, value: Any) -> Any:
        self._ran()
        return value

    def boom(self, ctxt: Any, value: Any = None) -> None:
        self._ran()
        raise ValueError(f"boom {value!r:.40}")

    def unjsonable(self, ctxt: Any) -> Any:
        self._ran()
        return {object()}


class FakeDelivery:
    """What kombu hands ``on_message``: body, headers, delivery_info, and the settle
    calls, recorded; a second settle raises as kombu's MessageStateError does."""

    def __init__(self, body: bytes, headers: Any = None, redelivered: bool = False,
                 routing_key: str = "conductor") -> None:
        self.body = body
        self.headers = headers
        self.delivery_info = {"exchange": "nova", "routing_key": routing_key,
                              "redelivered": redelivered}
        self.ops: list[str] = []

    @property
    def acknowledged(self) -> bool:
        return bool(self.ops)

    def _settle(self, op: str) -> None:
        if self.ops:
            raise RuntimeError(f"Message already acknowledged with state: {self.ops[0]}")
        self.ops.append(op)

    def ack(self, multiple: bool = False) -> None:
        self._settle("ack")

    def reject(self, requeue: bool = False) -> None:
        self._settle("requeue" if requeue else "reject")

    def requeue(self) -> None:
        self._settle("requeue")


@dataclass
class Published:
    """What a recording transport was asked to publish."""

    exchange: str
    routing_key: Any
    body: str
    kw: dict[str, Any] = field(default_factory=dict)


# -- values -----------------------------------------------------------------------------
_leaf = (st.none() | st.booleans() | st.integers()
         | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
json_values = st.recursive(
    _leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c,
                                                                max_size=3),
    max_leaves=8)
finite_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=8)
ids = st.uuids().map(lambda u: u.hex)
timeouts = st.one_of(
    st.none(), st.integers(-3, 7), st.integers(2**62, 10**320),
    st.floats(allow_nan=True, allow_infinity=True),
    st.from_regex(r"\A[0-9]{1,400}\Z"), st.sampled_from(["", "60", "1e400", "-1", "x"]),
    json_values)
reply_queues = st.one_of(st.just(REPLY_Q), st.just(REPLY_Q), st.just(REPLY_Q),
                         st.text(max_size=12), st.text(min_size=250, max_size=300),
                         json_values)
methods = st.one_of(st.sampled_from(["echo", "boom", "unjsonable", "ping",
                                     "get_backdoor_port", "_private", "__init__", "target",
                                     "STEIN_LOCATION", "", "nope"]),
                    st.text(max_size=20), json_values)
versions = st.one_of(st.sampled_from(["1.0", "1.1", "4.5", "4.0", "5.0", "1", "1.", "a.b",
                                      "99999999999999999999.0", ""]), json_values)
namespaces = st.one_of(st.sampled_from([None, "baseapi", "compute_task"]), json_values)
contexts = st.dictionaries(
    st.sampled_from(["user_id", "project_id", "roles", "is_admin", "request_id", "x"]),
    json_values, max_size=4)
args = st.one_of(st.dictionaries(st.sampled_from(["value", "arg", "x", "self", "context"])
                                 | st.text(max_size=6), json_values, max_size=3),
                 json_values)


@st.composite
def messages(draw: Any) -> dict[str, Any]:
    """An inner message: a call or a cast, any field possibly hostile."""
    msg: dict[str, Any] = {"method": draw(methods), "args": draw(args)}
    for key, strat in (("namespace", namespaces), ("version", versions)):
        if draw(st.booleans()):
            msg[key] = draw(strat)
    if draw(st.booleans()):  # a call
        msg["_msg_id"] = draw(st.one_of(ids, ids, ids, json_values))
        msg["_reply_q"] = draw(reply_queues)
        msg["_timeout"] = draw(timeouts)
    msg["_unique_id"] = draw(st.one_of(ids, ids, ids, ids, st.none(), json_values))
    for key, value in draw(contexts).items():
        msg[f"_context_{key}"] = value
    return msg


@st.composite
def good_calls(draw: Any) -> tuple[dict[str, Any], Any]:
    """A call that must be answered with its value: (message, value); give it fresh
    ids (hypothesis repeats drawn ones, which the server rightly drops as duplicates)."""
    value = draw(finite_values)
    msg = {"method": "echo", "args": {"value": value}, "version": "4.3",
           "_msg_id": draw(ids), "_reply_q": REPLY_Q, "_timeout": draw(timeouts),
           "_unique_id": draw(ids), "_context_user_id": "u1", "_context_project_id": "p1"}
    return msg, value


def _dumps(obj: Any) -> str:
    return json.dumps(obj)  # NaN/Infinity as Python writes them: json.loads reads them


@st.composite
def bodies(draw: Any) -> bytes:
    """One body as it could arrive on a queue."""
    kind = draw(st.sampled_from(["envelope"] * 6 + ["bare", "truncated", "garbage", "deep",
                                                    "deep_inner", "not_utf8", "not_object",
                                                    "bad_inner"]))
    if kind == "garbage":
        return bytes(draw(st.binary(max_size=64)))
    if kind == "deep":
        n = draw(st.sampled_from([wire.MAX_DEPTH, wire.MAX_DEPTH + 1, 1000, 100_000]))
        return ("[" * n + "]" * draw(st.sampled_from([0, n]))).encode()
    msg = draw(messages())
    if kind == "deep_inner":
        n = draw(st.sampled_from([wire.MAX_DEPTH - 1, wire.MAX_DEPTH + 1, 5000]))
        msg["args"] = {"value": "@"}
        inner = _dumps(msg).replace('"@"', "[" * n + "]" * n)
        return _dumps({"oslo.version": "2.0", "oslo.message": inner}).encode()
    if kind == "bare":
        return _dumps(msg).encode()
    if kind == "not_object":
        return _dumps(draw(json_values)).encode()
    if kind == "bad_inner":
        return _dumps({"oslo.version": "2.0", "oslo.message": draw(json_values)}).encode()
    body = wire.pack(msg).encode()
    if kind == "truncated":
        return body[:draw(st.integers(0, max(len(body) - 1, 0)))]
    if kind == "not_utf8":
        at = draw(st.integers(0, len(body)))
        return body[:at] + b"\xff\xfe" + body[at:]
    return body
