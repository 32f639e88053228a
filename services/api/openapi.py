"""The REST API's OpenAPI 3.1 document, served at ``GET /v2.1/openapi.json``.

Built from the very schema dicts the API validates with (services/api/schemas.py), so
the document cannot promise a body the API refuses, or miss a field it checks. OpenAPI
3.1 because its schemas are JSON Schema: Nova's ``"type": ["integer", "string"]`` stays
as it is. Nova's validator differs from plain JSON Schema in one way the document notes:
``minimum`` also judges digit strings (``"min_count": "0"`` is refused).

Served before authentication, as Nova serves its version document: it holds no data.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from typing import Any

from services.api import schemas

PATH = "/v2.1/openapi.json"

_FAULT_KEYS = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
               405: "badMethod", 409: "conflictingRequest", 413: "overLimit",
               415: "badMediaType"}
_WHY = {400: "Invalid input: the message names the field", 401: "No X-Auth-Token",
        403: "Policy or quota refused it", 404: "No such resource (or another project's)",
        409: "The instance's state does not allow it", 413: "Body over max_request_body_size",
        415: "Content-Type is not JSON"}


def _fault(code: int) -> dict[str, Any]:
    key = _FAULT_KEYS[code]
    return {"description": _WHY[code], "content": {"application/json": {"schema": {
        "type": "object", "required": [key],
        "properties": {key: {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"const": code},
                                            "message": {"type": "string"}}}}}}}}


def _ok(code: int, description: str, key: str | None, item: dict[str, Any] | None = None
        ) -> dict[str, dict[str, Any]]:
    if key is None:
        return {str(code): {"description": description}}
    schema: dict[str, Any] = {"type": "object", "required": [key],
                              "properties": {key: item or {}}}
    return {str(code): {"description": description,
                        "content": {"application/json": {"schema": schema}}}}


def _responses(ok: dict[str, dict[str, Any]], *faults: int) -> dict[str, Any]:
    out = dict(ok)
    for code in sorted({401, 415, *faults}):  # every route: auth, then Content-Type
        out[str(code)] = _fault(code)
    return out


def _body(schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    """A JSON request body of *schema* (a copy) with named whole-body examples."""
    return {"required": True, "content": {"application/json": {
        "schema": copy.deepcopy(schema),
        "examples": {k: {"value": v} for k, v in examples.items()}}}}


_SERVER_EXAMPLE = {"name": "vm1", "flavorRef": "1", "imageRef": "bootflow-guest"}


_LINKS = {"type": "array", "items": {"type": "object", "required": ["rel", "href"]}}
_SERVER_BASIC = {"type": "object", "required": ["id", "name", "links"],
                 "properties": {"id": {"type": "string"}, "name": {"type": ["string", "null"]},
                                "links": _LINKS}}
_SERVER = {"type": "object", "required": ["id", "name", "status", "flavor", "links"],
           "properties": {"id": {"type": "string"}, "status": {"type": "string"},
                          "links": _LINKS}}
_LIST = {"type": "array", "items": {"type": "object"}}
_SERVER_ID = {"name": "server_id", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[0-9a-fA-F-]{1,64}$"}}
_QUERY = [{"name": name, "in": "query", "required": False, "explode": True,
           "schema": spec} for name, spec in schemas.QUERY_SERVERS["properties"].items()]


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of what APIRouterV21 routes (services/api/router.py)."""
    servers_list = {"parameters": _QUERY,
                    "responses": _responses(_ok(200, "The project's servers", "servers",
                                                {"type": "array", "items": _SERVER_BASIC}),
                                            400)}
    paths: dict[str, Any] = {
        "/v2.1/servers": {
            "get": {"operationId": "listServers", "summary": "List servers (id, name)",
                    **servers_list},
            "post": {"operationId": "createServer",
                     "summary": "Create server(s): 202 right after the build is cast",
                     "requestBody": _body(schemas.CREATE_V21, {
                         "one": {"server": _SERVER_EXAMPLE},
                         "multi": {"server": {**_SERVER_EXAMPLE, "min_count": "2",
                                              "max_count": 3,
                                              "return_reservation_id": True}},
                         "over-quota": {"server": {**_SERVER_EXAMPLE,
                                                   "min_count": "99999999999999999999999"}},
                     }),
                     "responses": _responses(
                         {"202": {"description": "Accepted: the first server, or "
                                                 "{reservation_id} (return_reservation_id)",
                                  "content": {"application/json": {"schema": {
                                      "type": "object", "oneOf": [
                                          {"required": ["server"]},
                                          {"required": ["reservation_id"]}]}}},
                                  "links": {op: {"operationId": op, "parameters": {
                                      "server_id": "$response.body#/server/id"}}
                                      for op in ("showServer", "deleteServer",
                                                 "rebootServer")}}},
                         400, 403, 413)},
        },
        "/v2.1/servers/detail": {
            "get": {"operationId": "listServersDetail", "summary": "List servers in detail",
                    "parameters": _QUERY,
                    "responses": _responses(_ok(200, "The project's servers", "servers",
                                                {"type": "array", "items": _SERVER}), 400)},
        },
        "/v2.1/servers/{server_id}": {
            "parameters": [_SERVER_ID],
            "get": {"operationId": "showServer", "summary": "Show one server",
                    "responses": _responses(_ok(200, "The server", "server", _SERVER), 404)},
            "delete": {"operationId": "deleteServer", "summary": "Delete a server",
                       "responses": _responses(_ok(204, "Deleted (or deleting)", None),
                                               404, 409)},
        },
        "/v2.1/servers/{server_id}/action": {
            "parameters": [_SERVER_ID],
            "post": {"operationId": "rebootServer",
                     "summary": "Server action: reboot (SOFT or HARD)",
                     "requestBody": _body(schemas.REBOOT, {
                         "soft": {"reboot": {"type": "SOFT"}},
                         "hard": {"reboot": {"type": "HARD"}}}),
                     "responses": _responses(_ok(202, "Reboot cast", None),
                                             400, 404, 409, 413)},
        },
    }
    for path, op, key, summary, admin in (
            ("/v2.1/flavors", "listFlavors", "flavors", "List flavors", False),
            ("/v2.1/flavors/detail", "listFlavorsDetail", "flavors", "List flavors", False),
            ("/v2.1/images", "listImages", "images", "List images", False),
            ("/v2.1/images/detail", "listImagesDetail", "images", "List images", False),
            ("/v2.1/os-services", "listServices", "services",
             "Services and their state (admin)", True),
            ("/v2.1/os-hypervisors", "listHypervisors", "hypervisors",
             "Hypervisors (admin)", True),
            ("/v2.1/os-hypervisors/detail", "listHypervisorsDetail", "hypervisors",
             "Hypervisors in detail (admin)", True)):
        paths[path] = {"get": {"operationId": op, "summary": summary,
                               "responses": _responses(_ok(200, summary, key, _LIST),
                                                       *((403,) if admin else ()))}}
    paths[PATH] = {"get": {"operationId": "openapi", "summary": "This document",
                           "security": [],
                           "responses": {"200": {"description": "OpenAPI 3.1 document",
                                                 "content": {"application/json": {
                                                     "schema": {"type": "object"}}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "bootflow compute API (Nova Stein v2.1, the part bootflow runs)",
                 "version": "2.1",
                 "description": "Request bodies are Nova Stein's JSON schemas "
                                "(draft 4 semantics; minimum/maximum also judge digit "
                                "strings). Auth is noauth2: X-Auth-Token USER:PROJECT."},
        "paths": paths,
        "components": {"securitySchemes": {"noauth": {
            "type": "apiKey", "in": "header", "name": "X-Auth-Token",
            "description": "USER:PROJECT (noauth2); the user named admin is admin"}}},
        "security": [{"noauth": []}],
    }


class OpenAPIDocument:
    """WSGI layer: ``GET /v2.1/openapi.json`` is the document; anything else goes on."""

    def __init__(self, app: Callable[..., Iterable[bytes]], doc: dict[str, Any]) -> None:
        self.app = app
        self.body = json.dumps(doc).encode()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH and environ.get("REQUEST_METHOD") in ("GET",
                                                                                   "HEAD"):
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(self.body)))])
            return [] if environ["REQUEST_METHOD"] == "HEAD" else [self.body]
        return self.app(environ, start_response)
