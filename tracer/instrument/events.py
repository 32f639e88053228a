"""One place that says what a valid event is, so broker, recording and replay agree.

The format is in ARCHITECTURE.md ("Events"). Every consumer of foreign bytes (the
collector, the recording reader) validates here and gets an ``EventError`` whose message
names the field, instead of a ``KeyError`` deep inside a reducer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

FORMAT = "bootflow-trace"
VERSION = 1
EVENT_TYPES = ("span_start", "span_end", "annotate")
KINDS = ("CLIENT", "SERVER", "PRODUCER", "CONSUMER", "INTERNAL", "HTTP")
STATUSES = ("OK", "ERROR", "UNSET")

Event = dict[str, Any]

_HEX = re.compile(r"[0-9a-f]+")


class EventError(ValueError):
    """An event dict that does not follow the documented format."""


def _hex_id(event: Mapping[str, Any], key: str, length: int, nullable: bool) -> None:
    value = event.get(key)
    if value is None:
        if nullable:
            return
        raise EventError(f"{key} is missing" if key not in event else f"{key} is null")
    if not isinstance(value, str) or len(value) != length or not _HEX.fullmatch(value):
        raise EventError(f"{key} must be {length} lowercase hex characters, got {value!r}")


def _string(event: Mapping[str, Any], key: str) -> None:
    value = event.get(key)
    if not isinstance(value, str) or not value:
        raise EventError(f"{key} must be a non-empty string, got {value!r}")


class Refused:
    """An item of a batch that could not be taken (``parse_body``), with why: it stands
    in the batch where the event was, so that the others are kept and it is counted."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def validate(event: Any) -> Event:
    """Return *event* unchanged if it is a valid event, else raise ``EventError``."""
    if isinstance(event, Refused):
        raise EventError(event.reason)
    if not isinstance(event, dict):
        raise EventError(f"an event must be a JSON object, got {type(event).__name__}")
    etype = event.get("type")
    if etype not in EVENT_TYPES:
        raise EventError(f"type must be one of {', '.join(EVENT_TYPES)}, got {etype!r}")
    ts = event.get("ts_ns")
    if not isinstance(ts, int) or isinstance(ts, bool) or ts < 0:
        raise EventError(f"{etype}: ts_ns must be a non-negative int, got {ts!r}")
    attrs = event.get("attrs", {})
    if not isinstance(attrs, dict):
        raise EventError(f"{etype}: attrs must be an object, got {type(attrs).__name__}")
    # An annotation outside any span (a heartbeat from a service loop) has null ids.
    loose = etype == "annotate"
    _hex_id(event, "trace_id", 32, nullable=loose)
    _hex_id(event, "span_id", 16, nullable=loose)
    try:
        if etype == "span_start":
            _hex_id(event, "parent_id", 16, nullable=True)
            # a span's name is whatever the traced code called it: an RPC message with
            # method "" gives a span named "", and it is evidence worth keeping
            if not isinstance(event.get("name"), str):
                raise EventError(f"name must be a string, got {event.get('name')!r}")
            for key in ("service", "host"):
                _string(event, key)
            if event.get("kind") not in KINDS:
                raise EventError(f"kind must be one of {', '.join(KINDS)}, "
                                 f"got {event.get('kind')!r}")
            if "attrs" not in event:
                raise EventError("attrs is missing")
            links = event.get("links", [])
            if not isinstance(links, list):
                raise EventError("links must be a list")
            for i, link in enumerate(links):
                if not isinstance(link, dict):
                    raise EventError(f"links[{i}] must be an object")
                _hex_id(link, "trace_id", 32, nullable=False)
                _hex_id(link, "span_id", 16, nullable=False)
        elif etype == "span_end":
            if event.get("status") not in STATUSES:
                raise EventError(f"status must be one of {', '.join(STATUSES)}, "
                                 f"got {event.get('status')!r}")
        else:
            for key in ("name", "service", "host"):
                _string(event, key)
            if "attrs" not in event:
                raise EventError("attrs is missing")
    except EventError as exc:
        raise EventError(f"{etype}: {exc}") from None
    return event


_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_DEPTH = 64


def dumpb(event: Any, default: Callable[[Any], Any] = str) -> bytes:
    """Compact UTF-8 JSON of an event or a batch of them (AMQP bodies, JSON Lines, and
    the envelopes inside rpc spans); *default* turns what JSON lacks into something.

    orjson: tracing serializes every event on the traced services' own cores, and this
    is about six times cheaper than ``json.dumps`` there (BENCHMARKS.md, Scale). What
    orjson refuses takes a path that cannot fail, so that no value a tenant can put in
    an attribute stops a trace sender: an int beyond 64 bits and nesting deeper than
    orjson's 254 levels go through the standard library; a lone surrogate (``"\ud800"``
    from a JSON request, which UTF-8 cannot encode) becomes U+FFFD; keys that are not
    strings, objects whose *default* raises and nesting deeper than 64 levels become
    their (replaced) text.
    """
    try:
        return orjson.dumps(event, default=default, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        pass
    try:
        text = json.dumps(event, separators=(",", ":"), ensure_ascii=False,
                          default=default)
    except (TypeError, ValueError, RecursionError):
        text = json.dumps(_plain(event, default, 0), separators=(",", ":"),
                          ensure_ascii=False)
    return _SURROGATE.sub("\ufffd", text).encode()


def _plain(value: Any, default: Callable[[Any], Any], depth: int) -> Any:
    """*value* as plain JSON data whatever it holds (the last resort of ``dumpb``)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if depth >= _MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        return {k if isinstance(k, str) else _text(k): _plain(v, default, depth + 1)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, default, depth + 1) for v in value]
    try:
        return _plain(default(value), str, depth + 1)
    except Exception:  # a default that raises: still say what it was
        return _text(value)


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def dumps(event: Any, default: Callable[[Any], Any] = str) -> str:
    """``dumpb`` as text."""
    return dumpb(event, default).decode()


def parse_json(text: str | bytes) -> Any:
    """Parse untrusted JSON (RFC 8259: no NaN); ``EventError`` naming what is wrong."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise EventError(f"not JSON: {exc}") from None


def loads(text: str | bytes) -> Event:
    """Parse and validate one event; ``EventError`` for bad JSON too."""
    return validate(parse_json(text))


def parse_body(body: str | bytes) -> list[Any]:
    """A broker message body: one event object or a batch array; items not yet validated.

    A batch is many events from many spans: one event holding what strict JSON parsing
    refuses while the text is still JSON (a number beyond a double, ``1e400``; ``NaN``)
    must not take the others with it. Such a body is parsed again leniently and each
    item holding such a number comes back as a ``Refused`` (``validate`` raises for it).
    """
    try:
        value = parse_json(body)
    except EventError as strict:
        value = _parse_lenient(body, strict)
    if isinstance(value, list):
        return value
    if isinstance(value, dict | Refused):
        return [value]
    raise EventError(f"expected an event object or an array of events, "
                     f"got {type(value).__name__}")


class _NonFinite(float):
    """A number that is not a finite double (``1e400``, ``NaN``), marked while parsing."""


def _non_finite(text: str) -> float:
    value = float(text)
    return value if value - value == 0 else _NonFinite(value)


def _parse_lenient(body: str | bytes, strict: EventError) -> Any:
    """The stdlib parse of a body orjson refused: non-finite numbers are marked and the
    items holding one become ``Refused``; still not JSON: *strict* is raised."""
    try:
        value = json.loads(body, parse_float=_non_finite,
                           parse_constant=lambda name: _NonFinite("nan"))
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise strict from None
    items = value if isinstance(value, list) else [value]
    out = [Refused(bad) if (bad := _flaw(item)) is not None else item for item in items]
    return out if isinstance(value, list) else out[0]


def _flaw(value: Any, depth: int = 0) -> str | None:
    """Why an item parsed leniently cannot be taken: a non-finite number, or a lone
    surrogate escape (``"\\ud800"``: text no UTF-8 consumer can write out)."""
    if isinstance(value, _NonFinite):
        return f"holds a number that is not a finite double ({float(value)!r})"
    if isinstance(value, str):
        return "holds a lone surrogate" if _SURROGATE.search(value) else None
    if depth > 1000:
        return None
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    elif not isinstance(value, list):
        return None
    for item in value:
        if (found := _flaw(item, depth + 1)) is not None:
            return found
    return None


def header(source: str = "live", **fields: Any) -> dict[str, Any]:
    """The first line of a recording: format, version, creation time, then *fields*."""
    head: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
    }
    head.update(fields)
    head["format"], head["version"] = FORMAT, VERSION
    return head
