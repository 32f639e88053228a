"""The paste pipeline of nova-api (api-paste.ini ``openstack_compute_api_v21``), compact.

request_id → faultwrap → noauth2 → router: each a WSGI layer and a span. The request id
middleware opens the top HTTP span, so a trace starts at ``POST /v2.1/servers``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import webob
import webob.dec
import webob.exc

from services import exception
from services.context import RequestContext, generate_request_id
from tracer.instrument import api as trace

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ENV_CONTEXT = "nova.context"
ENV_REQUEST_ID = "openstack.request_id"

_FAULT_NAMES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
                405: "badMethod", 409: "conflictingRequest", 413: "overLimit",
                415: "badMediaType", 501: "notImplemented", 503: "serviceUnavailable"}


def fault_body(code: int, message: str) -> dict[str, Any]:
    """Nova's error shape: ``{"badRequest": {"code": 400, "message": ...}}``."""
    return {_FAULT_NAMES.get(code, "computeFault"): {"code": code, "message": message}}


def json_response(code: int, body: Any, headers: dict[str, str] | None = None) -> webob.Response:
    resp = webob.Response(status=code, content_type="application/json", charset="utf-8")
    if body is not None:
        resp.body = json.dumps(body, default=str).encode()
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _url_text(environ: dict[str, Any]) -> tuple[str, str, bool]:
    """Path and path+query as text, and whether both are UTF-8 as a URL must be: WSGI
    hands them over as latin-1, and webob's decoding of ``%ff`` raises at first use."""
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    try:
        text = path.encode("latin-1").decode("utf-8")
        webob.Request(environ).GET  # noqa: B018 - parses the query; raises on bad bytes
        return text, text + (f"?{query}" if query else ""), True
    except (UnicodeError, ValueError):
        shown = path.encode("latin-1", "replace").decode("utf-8", "backslashreplace")
        return shown, shown + (f"?{query}" if query else ""), False


class RequestId:
    """oslo_middleware.RequestId: x-openstack-request-id on every response; top span."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    @webob.dec.wsgify
    def __call__(self, req: webob.Request) -> webob.Response:
        req_id = generate_request_id()
        req.environ[ENV_REQUEST_ID] = req_id
        path, target, url_ok = _url_text(req.environ)
        with trace.span(f"{req.method} {path}", "HTTP",
                        attrs={"http.method": req.method, "http.target": target,
                               "http.request_id": req_id,
                               "code.location": "nova/api/openstack/compute/"
                                                "routes.py:APIRouterV21"}) as sp:
            if url_ok:
                resp = req.get_response(self.app)
            else:  # webob would raise UnicodeDecodeError in every layer below
                resp = json_response(400, fault_body(
                    400, "Malformed request URL: it is not UTF-8 once %-decoded"))
            sp.set_attr("http.status_code", resp.status_int)
            if resp.status_int >= 500:
                sp.set_status("ERROR", resp.status)
        resp.headers["x-openstack-request-id"] = req_id
        resp.headers["x-compute-request-id"] = req_id
        return resp


class FaultWrapper:
    """nova.api.openstack.FaultWrapper: any exception becomes a JSON fault."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    @webob.dec.wsgify
    def __call__(self, req: webob.Request) -> webob.Response:
        with trace.span("FaultWrapper", "INTERNAL",
                        attrs={"code.location": "nova/api/openstack/__init__.py:FaultWrapper"}
                        ) as sp:
            try:
                return req.get_response(self.app)
            except webob.exc.HTTPException as exc:
                sp.set_status("ERROR", str(exc))
                return json_response(exc.code, fault_body(exc.code, exc.explanation or
                                                          exc.detail or exc.title))
            except exception.NovaException as exc:
                code = getattr(exc, "code", 500)
                sp.set_status("ERROR", exc.message)
                return json_response(code, fault_body(code, exc.message))
            except Exception as exc:  # a 500 like Nova's computeFault
                sp.set_status("ERROR", repr(exc))
                return json_response(500, fault_body(
                    500, "Unexpected API Error. Please report this at "
                         f"http://bugs.launchpad.net/nova/ <class '{type(exc).__name__}'>"))


class RequestBodySizeLimiter:
    """oslo_middleware.sizelimit: a body over ``max_request_body_size`` bytes (114688 by
    default) is 413 before anyone reads it; a chunked body is read up to the limit."""

    def __init__(self, app: WSGIApp, max_size: int = 114688) -> None:
        self.app, self.max_size = app, max_size

    @webob.dec.wsgify
    def __call__(self, req: webob.Request) -> webob.Response:
        too_large = json_response(413, fault_body(413, "Request is too large."))
        if req.content_length is not None:
            if req.content_length > self.max_size:
                return too_large
        elif req.is_body_readable:  # chunked: no length to judge by, read up to the limit
            data = req.body_file_raw.read(self.max_size + 1)
            if len(data) > self.max_size:
                return too_large
            req.body = data
        return req.get_response(self.app)


def _usable_id(value: str) -> bool:
    return 0 < len(value) <= 255 and value.isprintable()


class NoAuth:
    """nova.api.openstack.auth.NoAuthMiddleware: token ``user:project``; none → 401."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    @webob.dec.wsgify
    def __call__(self, req: webob.Request) -> webob.Response:
        with trace.span("NoAuthMiddleware", "INTERNAL",
                        attrs={"code.location": "nova/api/openstack/auth.py:"
                                                "NoAuthMiddleware"}):
            token = req.headers.get("X-Auth-Token")
            if not token:
                return json_response(401, fault_body(
                    401, "The request you have made requires authentication."))
            user_id, _, project_id = token.partition(":")
            project_id = project_id or user_id
            if not (_usable_id(user_id) and _usable_id(project_id)):
                # the ids go into String(255) columns: longer, or holding control
                # characters, no database takes them; such a token authenticates nobody
                return json_response(401, fault_body(
                    401, "The request you have made requires authentication."))
            ctx = RequestContext(user_id=user_id, project_id=project_id, auth_token=token,
                                 roles=["admin", "member"] if user_id == "admin" else
                                 ["member"], is_admin=user_id == "admin",
                                 request_id=req.environ.get(ENV_REQUEST_ID)
                                 or generate_request_id(),
                                 remote_address=req.remote_addr)
            req.environ[ENV_CONTEXT] = ctx
            return req.get_response(self.app)
