"""Request schemas and their validator (nova/api/openstack/compute/schemas/servers.py,
nova/api/validation/parameter_types.py and validators.py), compact.

The same dicts are validated against here and published in the OpenAPI document
(services/api/openapi.py), so what the document promises is what the API checks.

Nova's validator is JSON Schema draft 4 with two changes kept here: ``minimum`` and
``maximum`` also judge digit strings (``"0"`` is below 1), and the ``name`` format is
Nova's printable-characters regex, whose refusal reads "An invalid 'name' value was
provided. The name must be: ...". bootflow adds one check Nova leaves to its database: no
string anywhere in a body may hold a lone surrogate (``"\\ud800"`` is valid JSON but not
text, and no database or log can store it) or NUL (PostgreSQL refuses it in text).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

import jsonschema
import jsonschema.validators

from services import exception


def _is_printable(char: str) -> bool:
    """parameter_types._is_printable: not "other" (C*), and no separator but Zs."""
    category = unicodedata.category(char)
    return not category.startswith("C") and (not category.startswith("Z") or category == "Zs")


def _ranges(valid: Any) -> str:
    """A regex character-class body of the code points 0..0xFFFE for which *valid* holds
    (Nova iterates ``range(0xFFFF)``: nothing beyond the BMP is a valid name character),
    written with ``\\uXXXX`` escapes so that Python and ECMA-262 regexes read it alike."""
    out: list[str] = []
    start: int | None = None
    for code in range(0xFFFF + 1):
        ok = code < 0xFFFF and valid(chr(code))
        if ok and start is None:
            start = code
        elif not ok and start is not None:
            end = code - 1
            out.append(f"\\u{start:04x}" if end == start else f"\\u{start:04x}-\\u{end:04x}")
            start = None
    return "".join(out)


_PRINTABLE = _ranges(_is_printable)
_NOT_PRINTABLE_OR_SPACE = _ranges(
    lambda c: not (_is_printable(c) and unicodedata.category(c) != "Zs"))

#: parameter_types.valid_name_regex: printable, not starting or ending with whitespace
VALID_NAME_REGEX = (f"^(?![{_NOT_PRINTABLE_OR_SPACE}])[{_PRINTABLE}]*"
                    f"(?<![{_NOT_PRINTABLE_OR_SPACE}])$")
VALID_NAME_REASON = "printable characters. Can not start or end with whitespace."
_VALID_NAME = re.compile(VALID_NAME_REGEX)

# ---- parameter types (nova/api/validation/parameter_types.py) ---------------------------
name: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 255,
                        "format": "name", "pattern": VALID_NAME_REGEX}
positive_integer: dict[str, Any] = {"type": ["integer", "string"], "pattern": "^[0-9]*$",
                                    "minimum": 1, "minLength": 1}
boolean: dict[str, Any] = {
    "type": ["boolean", "string"],
    "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
             False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"]}
flavor_ref: dict[str, Any] = {"type": ["string", "integer"], "minLength": 1}
metadata: dict[str, Any] = {
    "type": "object",
    "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False}
# Stein's imageRef is a uuid (or "" for boot from volume); bootflow's image ids are the
# image names (``bootflow-guest``), so any non-empty string of a column's length.
image_ref: dict[str, Any] = {"type": ["string", "integer"], "minLength": 1, "maxLength": 255}

_TRUE_STRINGS = ("1", "t", "true", "on", "y", "yes")


def bool_from_string(value: Any) -> bool:
    """oslo_utils.strutils.bool_from_string for the values ``boolean`` admits."""
    return value is True or (isinstance(value, str) and value.lower() in _TRUE_STRINGS)


# ---- POST /v2.1/servers (schemas/servers.py:base_create, what bootflow implements) ------
_HINTS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "group": {"type": "string", "format": "uuid"},
        "different_host": {"oneOf": [{"type": "string", "format": "uuid"},
                                     {"type": "array",
                                      "items": {"type": "string", "format": "uuid"}}]},
        "same_host": {"type": ["string", "array"],
                      "items": {"type": "string", "format": "uuid"}},
        "query": {"type": ["string", "object"]},
        "target_cell": name,
        "different_cell": {"type": ["string", "array"], "items": {"type": "string"}},
    },
    "additionalProperties": True,
}

CREATE_V21: dict[str, Any] = {
    "type": "object",
    "properties": {
        "server": {
            "type": "object",
            "properties": {
                "name": name,
                "imageRef": image_ref,
                "flavorRef": flavor_ref,
                "availability_zone": name,
                "min_count": positive_integer,
                "max_count": positive_integer,
                "return_reservation_id": boolean,
                "metadata": metadata,
                "networks": {"anyOf": [{"type": "string", "enum": ["auto", "none"]},
                                       {"type": "array", "items": {"type": "object"}}]},
            },
            "required": ["name", "flavorRef"],
            "additionalProperties": False,
        },
        "os:scheduler_hints": _HINTS,
    },
    "required": ["server"],
    "additionalProperties": False,
}

# POST /v2.1/servers/{id}/action {"reboot": {"type": ...}} (schemas/servers.py:reboot)
REBOOT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reboot": {
            "type": "object",
            "properties": {
                "type": {"type": "string",
                         "enum": ["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]},
            },
            "required": ["type"],
            "additionalProperties": False,
        },
    },
    "required": ["reboot"],
    "additionalProperties": False,
}

# GET /v2.1/servers and /servers/detail (schemas/servers.py:query_params_v21, the part
# bootflow filters on; Nova lets unknown query parameters through: additionalProperties)
QUERY_SERVERS: dict[str, Any] = {
    "type": "object",
    "properties": {"reservation_id": {"type": "array", "items": {"type": "string"}}},
    "additionalProperties": True,
}


# ---- the validator (nova/api/validation/validators.py:_SchemaValidator) -----------------
class _InvalidName(Exception):
    pass


_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("name", raises=_InvalidName)
def _check_name(instance: object) -> bool:
    if isinstance(instance, str) and _VALID_NAME.search(instance):
        return True
    raise _InvalidName(VALID_NAME_REASON)


@_FORMATS.checks("uuid")
def _check_uuid(instance: object) -> bool:
    """oslo_utils.uuidutils.is_uuid_like: 32 hex digits, dashes anywhere."""
    if not isinstance(instance, str):
        return True
    hexed = instance.replace("-", "").lower()
    return len(hexed) == 32 and all(c in "0123456789abcdef" for c in hexed)


def _number_from_str(instance: Any) -> int | float | None:
    if isinstance(instance, bool):
        return None
    if isinstance(instance, (int, float)):
        return instance
    if not isinstance(instance, str):
        return None
    try:
        return int(instance)
    except ValueError:  # not digits, or more digits than int() reads: a float (maybe inf)
        try:
            return float(instance)
        except ValueError:
            return None


def _minimum(validator: Any, minimum: Any, instance: Any, schema: Any) -> Iterator[Any]:
    number = _number_from_str(instance)
    if number is not None:
        yield from jsonschema.Draft4Validator.VALIDATORS["minimum"](
            validator, minimum, number, schema)


def _maximum(validator: Any, maximum: Any, instance: Any, schema: Any) -> Iterator[Any]:
    number = _number_from_str(instance)
    if number is not None:
        yield from jsonschema.Draft4Validator.VALIDATORS["maximum"](
            validator, maximum, number, schema)


_Validator = jsonschema.validators.extend(jsonschema.Draft4Validator,
                                          {"minimum": _minimum, "maximum": _maximum})
_validators: dict[int, Any] = {}


def _validator(schema: dict[str, Any]) -> Any:
    v = _validators.get(id(schema))
    if v is None:
        v = _validators[id(schema)] = _Validator(schema, format_checker=_FORMATS)
    return v


def _bad_text(value: Any, path: tuple[Any, ...] = ()) -> tuple[tuple[Any, ...], str] | None:
    """The path and value of the first string (key or value) that no database stores as
    text: not UTF-8 (a lone surrogate), or holding NUL (PostgreSQL refuses it)."""
    stack: list[tuple[tuple[Any, ...], Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where, item
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return where, item
        elif isinstance(item, dict):
            for k, v in item.items():
                stack.append(((*where, k), k))
                stack.append(((*where, k), v))
        elif isinstance(item, list):
            stack.extend(((*where, i), v) for i, v in enumerate(item))
    return None


def validate(body: Any, schema: dict[str, Any], is_body: bool = True) -> None:
    """400 naming the field, like nova.api.validation's ``Invalid input for field/attribute``.

    The first error found wins, as in Nova (``validator.validate`` raises it)."""
    try:
        error = next(iter(_validator(schema).iter_errors(body)), None)
    except RecursionError:
        raise exception.ValidationError(detail="Request body nested too deeply") from None
    if error is not None:
        if isinstance(error.cause, _InvalidName):  # Nova: the cause's message alone
            raise exception.InvalidName(reason=VALID_NAME_REASON) from None
        if error.path:
            field = "/".join(str(p) for p in error.absolute_path)
            kind = "field/attribute" if is_body else "query parameters"
            raise exception.ValidationError(
                detail=f"Invalid input for {kind} {field}. Value: {_shown(error.instance)}. "
                       f"{_shown(error.message, 400)}") from None
        raise exception.ValidationError(detail=_shown(error.message, 400)) from None
    bad = _bad_text(body)
    if bad is not None:
        field = "/".join(str(p) for p in bad[0]) or "body"
        raise exception.ValidationError(
            detail=f"Invalid input for field/attribute {_shown(field)}. "
                   f"Value: {_shown(ascii(bad[1]))}. "
                   "It is not text a database stores (a lone surrogate or NUL).")


def _shown(value: Any, limit: int = 100) -> str:
    """A value as a message shows it: shortened, and text whatever it holds."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "..."
