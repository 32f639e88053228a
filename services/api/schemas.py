"""JSON schema for POST /v2.1/servers (nova/api/openstack/compute/schemas/servers.py)."""

from __future__ import annotations

from typing import Any

import jsonschema

from services import exception

_REF = {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 255},
                  {"type": "integer"}]}

CREATE_V21: dict[str, Any] = {
    "type": "object",
    "properties": {
        "server": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 255,
                         "pattern": r"^(?! )[^\x00-\x1f]*(?<! )$"},
                "imageRef": _REF,
                "flavorRef": _REF,
                "availability_zone": {"type": "string", "minLength": 1, "maxLength": 255},
                "min_count": {"type": ["integer", "string"], "pattern": "^[0-9]*$",
                              "minimum": 1},
                "max_count": {"type": ["integer", "string"], "pattern": "^[0-9]*$",
                              "minimum": 1},
                "return_reservation_id": {"type": "boolean"},
                "metadata": {"type": "object",
                             "additionalProperties": {"type": "string", "maxLength": 255}},
                "networks": {"anyOf": [{"type": "string", "enum": ["auto", "none"]},
                                       {"type": "array"}]},
            },
            "required": ["name", "flavorRef"],
            "additionalProperties": False,
        },
        "os:scheduler_hints": {"type": "object"},
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


def validate(body: Any, schema: dict[str, Any]) -> None:
    """400 naming the field, like nova.api.validation's ``Invalid input for field/attribute``."""
    try:
        jsonschema.validate(body, schema)
    except jsonschema.ValidationError as exc:
        path = "/".join(str(p) for p in exc.absolute_path) or "body"
        if exc.validator == "required":
            raise exception.ValidationError(detail=exc.message) from None
        if exc.validator == "additionalProperties":
            raise exception.ValidationError(detail=exc.message) from None
        raise exception.ValidationError(
            detail=f"Invalid input for field/attribute {path}. Value: {exc.instance!r}. "
                   f"{exc.message}") from None
