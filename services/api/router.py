"""APIRouterV21 + the pipeline factory (nova/api/openstack/compute/routes.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import webob
import webob.dec

from services.api import middleware
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
        try:
            body = json.loads(req.body or b"null")
        except ValueError:
            return json_response(400, fault_body(400, "Malformed request body"))
        return self.servers.create(req, context, body)

    def _action(self, req: webob.Request, context: Any, server_id: str) -> webob.Response:
        """POST .../action: the body's one key names the action (wsgi.action)."""
        try:
            body = json.loads(req.body or b"null")
        except ValueError:
            return json_response(400, fault_body(400, "Malformed request body"))
        actions = {"reboot": self.servers._action_reboot}
        name = next(iter(body), None) if isinstance(body, dict) and len(body) == 1 else None
        if name not in actions:
            return json_response(400, fault_body(
                400, "There is no such action: %s" % (name or body)))
        return actions[name](req, context, server_id, body)

    @webob.dec.wsgify
    def __call__(self, req: webob.Request) -> webob.Response:
        context = req.environ[middleware.ENV_CONTEXT]
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


def build_app(transport: Any, config: Any) -> Any:
    """request_id → faultwrap → noauth2 → router, as api-paste.ini chains them."""
    router = APIRouterV21(compute_api.API(transport, config), config)
    return middleware.RequestId(middleware.FaultWrapper(middleware.NoAuth(router)))
