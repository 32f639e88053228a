"""APIRouterV21 + the pipeline factory (nova/api/openstack/compute/routes.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import webob
import webob.dec
import webob.exc

from services.api import middleware, openapi
from services.api.hosts import HypervisorsController, ServicesController
from services.api.middleware import fault_body, json_response
from services.api.servers import FlavorsController, ImagesController, ServersController
from services.compute import api as compute_api


class APIRouterV21:
    """Maps method + path to a controller action (routes, without the routes library)."""

    def __init__(self, compute: compute_api.API, config: Any = None) -> None:
        config = config if config is not None else compute.config
        self.servers = ServersController(compute)
        self.services = ServicesController(config)
        self.hypervisors = HypervisorsController(config)
        self.flavors = FlavorsController()
        self.images = ImagesController(compute.image_api)
        sid = r"(?P<server_id>[0-9a-fA-F-]{1,64})"
        self.routes: list[tuple[str, re.Pattern[str], Any]] = [
            ("POST", re.compile(r"^/v2\.1/servers/?$"), self._create),
            ("GET", re.compile(r"^/v2\.1/servers/?$"), self.servers.index),
            ("GET", re.compile(r"^/v2\.1/servers/detail/?$"), self.servers.detail),
            ("GET", re.compile(rf"^/v2\.1/servers/{sid}/?$"), self.servers.show),
            ("DELETE", re.compile(rf"^/v2\.1/servers/{sid}/?$"), self.servers.delete),
            ("POST", re.compile(rf"^/v2\.1/servers/{sid}/action/?$"), self._action),
            ("GET", re.compile(r"^/v2\.1/flavors(/detail)?/?$"), self.flavors.detail),
            ("GET", re.compile(r"^/v2\.1/images(/detail)?/?$"), self.images.detail),
            ("GET", re.compile(r"^/v2\.1/os-services/?$"), self.services.index),
            ("GET", re.compile(r"^/v2\.1/os-hypervisors/?$"), self.hypervisors.index),
            ("GET", re.compile(r"^/v2\.1/os-hypervisors/detail/?$"), self.hypervisors.detail),
        ]

    def _create(self, req: webob.Request, context: Any) -> webob.Response:
        return self.servers.create(req, context, _json_body(req))

    def _action(self, req: webob.Request, context: Any, server_id: str) -> webob.Response:
        """POST .../action: the body's one key names the action (wsgi.action)."""
        body = _json_body(req)
        actions = {"reboot": self.servers._action_reboot}
        name = next(iter(body), None) if isinstance(body, dict) and len(body) == 1 else None
        if name not in actions:
            return json_response(400, fault_body(
                400, "There is no such action: %s" % (name or body)))
        return actions[name](req, context, server_id, body)

    @webob.dec.wsgify
    def __call__(self, req: webob.Request) -> webob.Response:
        try:
            return self._route(req)
        except webob.exc.HTTPException as exc:  # wsgify would answer it as HTML
            return json_response(exc.code, fault_body(exc.code, exc.explanation or exc.title))

    def _route(self, req: webob.Request) -> webob.Response:
        context = req.environ[middleware.ENV_CONTEXT]
        _content_type(req)
        matched_path = False
        for method, pattern, action in self.routes:
            m = pattern.match(req.path_info)
            if not m:
                continue
            matched_path = True
            if method == req.method:
                kwargs = {k: v for k, v in m.groupdict().items() if k == "server_id"}
                return action(req, context, **kwargs)
        if matched_path:
            return json_response(405, fault_body(405, "The method is not allowed."))
        return json_response(404, fault_body(404, "The resource could not be found."))


#: nova/api/openstack/wsgi.py:_SUPPORTED_CONTENT_TYPES
SUPPORTED_CONTENT_TYPES = ("application/json", "application/vnd.openstack.compute+json")


def _content_type(req: webob.Request) -> str | None:
    """wsgi.Request.get_content_type: none, empty or text/plain reads as JSON; another
    type than JSON is 415 ``Unsupported Content-Type`` (for every request, as Nova)."""
    if "Content-Type" not in req.headers:
        return None
    content_type = req.content_type
    if not content_type or content_type == "text/plain":
        return None
    if content_type not in SUPPORTED_CONTENT_TYPES:
        raise webob.exc.HTTPUnsupportedMediaType(explanation="Unsupported Content-Type")
    return str(content_type)


#: deepest JSON body accepted: what the API takes goes on over RPC inside an envelope,
#: and a body the messaging layer would refuse must be refused here, where a 400 can say so
MAX_BODY_DEPTH = 64


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict)
                                                  else item))
    return deepest


def _json_body(req: webob.Request) -> Any:
    """The body as JSON (None when empty, as Nova allows an empty POST); anything else,
    too deep for the parser or for MAX_BODY_DEPTH included, is 400 ``Malformed request
    body``."""
    if not req.content_length:
        return None
    try:
        body = json.loads(req.body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise webob.exc.HTTPBadRequest(explanation="Malformed request body") from None
    if _depth(body) > MAX_BODY_DEPTH:
        raise webob.exc.HTTPBadRequest(
            explanation=f"Malformed request body: nested deeper than {MAX_BODY_DEPTH} levels")
    return body


def build_app(transport: Any, config: Any) -> Any:
    """request_id → faultwrap → sizelimit → noauth2 → router, as api-paste.ini chains
    them; ``/v2.1/openapi.json`` is answered before auth (a document, no data)."""
    router = APIRouterV21(compute_api.API(transport, config), config)
    limit = getattr(config, "max_request_body_size", 114688)
    return middleware.RequestId(middleware.FaultWrapper(middleware.RequestBodySizeLimiter(
        openapi.OpenAPIDocument(middleware.NoAuth(router), openapi.document()), limit)))
