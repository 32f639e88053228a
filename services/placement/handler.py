"""Placement's REST API as a WSGI app (openstack/placement's ``handler.py`` routes).

The routes and microversions the scheduler's and compute's report client use: resource
providers, inventories, usages, traits/aggregates, allocation candidates and
allocations. Each request is one ``HTTP`` server span on the placement service, a child
of the caller's CLIENT span (W3C ``traceparent`` request header), so one trace id runs
across processes.
"""

from __future__ import annotations

import json
import re
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

import webob

from services.placement.objects import PlacementStore, Reply
from tracer.instrument import api as trace

MIN_VERSION = (1, 0)
MAX_VERSION = (1, 31)   # Stein's placement
VERSION_HEADER = "OpenStack-API-Version"
Handler = Callable[["PlacementApp", webob.Request, dict[str, str]], Reply]
_TITLES = {400: "Bad Request", 404: "Not Found", 406: "Not Acceptable", 409: "Conflict",
           405: "Method Not Allowed", 415: "Unsupported Media Type"}


def _version(req: webob.Request) -> tuple[int, int] | Reply:
    """The request's placement microversion (1.0 when absent), or a 406 Reply."""
    raw = (req.headers.get(VERSION_HEADER) or "").strip()
    if not raw:
        return MIN_VERSION
    service, _, value = raw.partition(" ")
    if service.lower() != "placement":
        return MIN_VERSION
    if value.strip() == "latest":
        return MAX_VERSION
    m = re.fullmatch(r"(\d+)\.(\d+)", value.strip())
    if not m:
        return Reply(400, detail=f"invalid version string: {value!r}")
    version = (int(m[1]), int(m[2]))
    if not MIN_VERSION <= version <= MAX_VERSION:
        return Reply(406, detail=f"Unacceptable version header: {value}",
                     code="placement.microversion.unacceptable")
    return version


def _json_body(req: webob.Request) -> Any:
    if req.content_type != "application/json":
        raise _Refused(Reply(415, detail="The media type "
                             f"{req.content_type or 'None'} is not supported, use "
                             "application/json"))
    try:
        return json.loads(req.body or b"null")
    except ValueError as exc:
        raise _Refused(Reply(400, detail=f"Malformed JSON: {exc}")) from None


class _Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.detail)
        self.reply = reply


# -- handlers (one per route) -------------------------------------------------------

def _get_provider(app: PlacementApp, req: webob.Request, m: dict[str, str]) -> Reply:
    return app.store.get_resource_provider(m["uuid"])


def _create_provider(app: PlacementApp, req: webob.Request, m: dict[str, str]) -> Reply:
    body = _json_body(req)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        return Reply(400, detail="JSON does not validate: 'name' is a required property")
    return app.store.create_resource_provider(str(body.get("uuid") or uuidlib.uuid4()),
                                              body["name"])


def _list_providers(app: PlacementApp, req: webob.Request, m: dict[str, str]) -> Reply:
    return app.store.list_resource_providers(req.GET.get("name"))


def _delete_provider(app: PlacementApp, req: webob.Request, m: dict[str, str]) -> Reply:
    return app.store.delete_resource_provider(m["uuid"])


def _get_inventories(app: PlacementApp, req: webob.Request, m: dict[str, str]) -> Reply:
    return app.store.get_inventory(m["uuid"])


def _put_inventories(app: PlacementApp, req: webob.Request, m: dict[str, str]) -> Reply:
    body = _json_body(req)
    if not isinstance(body, dict) or not isinstance(body.get("inventories"), dict):
        return Reply(400, detail="JSON does not validate: 'inventories' is a required "
                     "property")
    return app.store.set_inventory(m["uuid"], body["inventories"])


def _get_usages(app: PlacementApp, req: webob.Request, m: dict[str, str]) -> Reply:
    return app.store.get_usages(m["uuid"])


def _get_provider_allocations(app: PlacementApp, req: webob.Request,
                               m: dict[str, str]) -> Reply:
    return app.store.get_allocations_for_resource_provider(m["uuid"])


def _get_associations(kind: str) -> Handler:
    """GET .../traits or .../aggregates: bootflow's providers have none (empty lists)."""

    def get(app: PlacementApp, req: webob.Request, m: dict[str, str]) -> Reply:
        reply = app.store.get_resource_provider(m["uuid"])
        if reply.status != 200:
            return reply
        return Reply(200, {kind: [],
                           "resource_provider_generation": reply.body["generation"]})

    return get


def _get_candidates(app: PlacementApp, req: webob.Request, m: dict[str, str]) -> Reply:
    resources: dict[str, int] = {}
    for item in filter(None, req.GET.get("resources", "").split(",")):
        rc, _, amount = item.partition(":")
        if not re.fullmatch(r"[A-Z_0-9]+", rc) or not amount.isdigit():
            return Reply(400, detail=f"Badly formed resources parameter. Expected resources "
                         f"query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024."
                         f" Got: {item}.")
        resources[rc] = int(amount)
    if not resources:
        return Reply(400, detail="'resources' is a required query parameter")
    limit = req.GET.get("limit")
    if limit is not None and not limit.isdigit():
        return Reply(400, detail=f"Invalid limit: {limit}")
    return app.store.get_allocation_candidates(resources, int(limit) if limit else None)


def _get_allocations(app: PlacementApp, req: webob.Request, m: dict[str, str]) -> Reply:
    return app.store.get_allocations_for_consumer(m["consumer_uuid"])


def _put_allocations(app: PlacementApp, req: webob.Request, m: dict[str, str]) -> Reply:
    body = _json_body(req)
    if not (isinstance(body, dict) and isinstance(body.get("allocations"), dict)
            and isinstance(body.get("project_id"), str)
            and isinstance(body.get("user_id"), str)):
        return Reply(400, detail="JSON does not validate: 'allocations', 'project_id' and "
                     "'user_id' are required properties")
    return app.store.put_allocations(m["consumer_uuid"], body)


def _delete_allocations(app: PlacementApp, req: webob.Request, m: dict[str, str]) -> Reply:
    return app.store.delete_allocations(m["consumer_uuid"])


def _root(app: PlacementApp, req: webob.Request, m: dict[str, str]) -> Reply:
    return Reply(200, {"versions": [{
        "id": "v1.0", "min_version": "{}.{}".format(*MIN_VERSION),
        "max_version": "{}.{}".format(*MAX_VERSION), "status": "CURRENT", "links": []}]})


_UUID = r"(?P<uuid>[^/]+)"
_CONSUMER = r"(?P<consumer_uuid>[^/]+)"
# (verb, path pattern, handler, where Stein's placement (openstack/placement 1.0) does it)
ROUTES: list[tuple[str, str, Handler, str]] = [
    ("GET", "/", _root, "placement/handlers/root.py:home"),
    ("POST", "/resource_providers", _create_provider,
     "placement/handlers/resource_provider.py:create_resource_provider"),
    ("GET", "/resource_providers", _list_providers,
     "placement/handlers/resource_provider.py:list_resource_providers"),
    ("GET", f"/resource_providers/{_UUID}", _get_provider,
     "placement/handlers/resource_provider.py:get_resource_provider"),
    ("DELETE", f"/resource_providers/{_UUID}", _delete_provider,
     "placement/handlers/resource_provider.py:delete_resource_provider"),
    ("GET", f"/resource_providers/{_UUID}/inventories", _get_inventories,
     "placement/handlers/inventory.py:get_inventories"),
    ("PUT", f"/resource_providers/{_UUID}/inventories", _put_inventories,
     "placement/handlers/inventory.py:set_inventories"),
    ("GET", f"/resource_providers/{_UUID}/usages", _get_usages,
     "placement/handlers/usage.py:list_usages"),
    ("GET", f"/resource_providers/{_UUID}/allocations", _get_provider_allocations,
     "placement/handlers/allocation.py:list_for_resource_provider"),
    ("GET", f"/resource_providers/{_UUID}/traits", _get_associations("traits"),
     "placement/handlers/trait.py:list_traits_for_resource_provider"),
    ("GET", f"/resource_providers/{_UUID}/aggregates", _get_associations("aggregates"),
     "placement/handlers/aggregate.py:get_aggregates"),
    ("GET", "/allocation_candidates", _get_candidates,
     "placement/handlers/allocation_candidate.py:list_allocation_candidates"),
    ("GET", f"/allocations/{_CONSUMER}", _get_allocations,
     "placement/handlers/allocation.py:list_for_consumer"),
    ("PUT", f"/allocations/{_CONSUMER}", _put_allocations,
     "placement/handlers/allocation.py:set_allocations_for_consumer"),
    ("DELETE", f"/allocations/{_CONSUMER}", _delete_allocations,
     "placement/handlers/allocation.py:delete_allocations"),
]
_COMPILED = [(verb, re.compile(pattern + r"/?"), pattern, fn, where)
             for verb, pattern, fn, where in ROUTES]


def route_template(pattern: str) -> str:
    """``/resource_providers/(?P<uuid>[^/]+)`` → ``/resource_providers/{uuid}``."""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)


class PlacementApp:
    """The placement-api WSGI application over one ``PlacementStore``."""

    def __init__(self, store: PlacementStore, host: str = "placement") -> None:
        self.store = store
        self.host = host

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        req = webob.Request(environ)
        return self.handle(req)(environ, start_response)

    def handle(self, req: webob.Request) -> webob.Response:
        path = req.path_info or "/"
        match: tuple[str, re.Match[str], Handler] | None = None
        allowed: list[str] = []
        where = "placement/handler.py:PlacementHandler"
        for verb, rx, pattern, fn, location in _COMPILED:
            found = rx.fullmatch(path)
            if found is not None:
                allowed.append(verb)
                if verb == req.method:
                    match, where = (pattern, found, fn), location
        route = route_template(match[0]) if match else path
        parent = trace.extract(req.headers)
        attrs: dict[str, Any] = {"http.request.method": req.method, "http.route": route,
                                 "url.path": req.path_qs, "server.address": self.host,
                                 "code.location": where}
        version_header = req.headers.get(VERSION_HEADER)
        if version_header:
            attrs["openstack.api.version"] = version_header
        if req.body and req.method in ("PUT", "POST"):
            attrs["http.request.body"] = req.body.decode("utf-8", "replace")
        with trace.identity("placement", self.host), trace.span(
                f"{req.method} {route}", "HTTP", attrs, parent=parent) as sp:
            reply = self._reply(req, match, allowed)
            sp.set_attr("http.status_code", reply.status)
            if reply.detail:
                sp.set_attr("http.response.detail", reply.detail)
            if reply.status >= 400:
                sp.set_status("ERROR", reply.detail or f"HTTP {reply.status}")
        return self._response(req, reply)

    def _reply(self, req: webob.Request,
               match: tuple[str, re.Match[str], Handler] | None, allowed: list[str]) -> Reply:
        if match is None:
            if allowed:
                return Reply(405, detail=f"The method {req.method} is not allowed for this "
                             "resource.", headers={"Allow": ", ".join(allowed)})
            return Reply(404, detail=f"The resource could not be found: {req.path_info}")
        version = _version(req)
        if isinstance(version, Reply):
            return version
        _, found, fn = match
        try:
            return fn(self, req, found.groupdict())
        except _Refused as exc:
            return exc.reply

    def _response(self, req: webob.Request, reply: Reply) -> webob.Response:
        resp = webob.Response(status=reply.status)
        resp.headers["x-openstack-request-id"] = f"req-{uuidlib.uuid4()}"
        version = req.headers.get(VERSION_HEADER)
        if version:
            resp.headers[VERSION_HEADER] = version
            resp.headers["Vary"] = VERSION_HEADER
        resp.headers.update(reply.headers)
        if reply.status >= 400:
            body: Any = {"errors": [{
                "status": reply.status, "title": _TITLES.get(reply.status, "Error"),
                "detail": reply.detail or "", "code": reply.code or "placement.undefined_code",
                "request_id": resp.headers["x-openstack-request-id"]}]}
        else:
            body = reply.body
        if body is not None and reply.status != 204:
            resp.content_type = "application/json"
            resp.body = json.dumps(body).encode()
        return resp
