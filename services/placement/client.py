"""``PlacementClient``: placement's REST calls over HTTP, each one a CLIENT span.

Stein's report client talks to placement with keystoneauth (``requests`` underneath),
sending ``OpenStack-API-Version: placement X.Y``; here a ``requests`` session does the
same, with the trace context in the ``traceparent`` header so placement's server span
joins the caller's trace. The embedded default has no placement process: the same WSGI
app runs in this process and is called without a socket, the spans being the same.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any

import requests
import webob

from services import exception
from services.placement.handler import PlacementApp
from services.placement.objects import PlacementStore
from tracer.instrument import api as trace

NESTED_AC_VERSION = "1.29"
CONSUMER_GENERATION_VERSION = "1.28"
HTTP_TIMEOUT = 30.0
_local_apps: dict[str, PlacementApp] = {}
_local_lock = threading.Lock()


def local_app(db_url: str) -> PlacementApp:
    """The in-process placement app on *db_url*: one per database in this process (the
    scheduler and every compute of the embedded cloud share it); a fresh one for an
    in-memory database."""
    if db_url in ("sqlite://", "sqlite:///") or ":memory:" in db_url:
        return PlacementApp(PlacementStore(db_url))
    with _local_lock:
        app = _local_apps.get(db_url)
        if app is None:
            app = _local_apps[db_url] = PlacementApp(PlacementStore(db_url))
        return app


def placement_url(config: Any) -> str:
    """The report client's endpoint: the placement-api process, or its database."""
    return str(config.placement_endpoint or config.placement_database_connection)


class _Response:
    __slots__ = ("status", "body")

    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body

    @property
    def detail(self) -> str:
        try:
            return str(self.body["errors"][0]["detail"])
        except (KeyError, IndexError, TypeError):
            return ""


class PlacementClient:
    """Placement's REST calls with the report client's return values.

    *endpoint* is placement's URL (``http://127.0.0.1:8778``), or a database URL: then
    placement's WSGI app (*app*, or this process's app on that database) runs in this
    process (the embedded default).
    """

    def __init__(self, endpoint: str = "sqlite://", app: PlacementApp | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.is_http = endpoint.startswith(("http://", "https://"))
        self._app = None if self.is_http else (app or local_app(endpoint))
        self.server_address = (urllib.parse.urlsplit(endpoint).netloc if self.is_http
                               else "placement")
        self._sessions = threading.local()

    # -- one REST call -----------------------------------------------------------

    def _request(self, method: str, route: str, path: str, version: str | None = None,
                 body: Any = None) -> _Response:
        attrs: dict[str, Any] = {"http.request.method": method, "http.route": route,
                                 "url.path": path, "server.address": self.server_address,
                                 "peer.service": "placement"}
        headers = {"Accept": "application/json"}
        if version:
            headers["OpenStack-API-Version"] = f"placement {version}"
            attrs["openstack.api.version"] = f"placement {version}"
        data = None
        if body is not None:
            data = json.dumps(body, sort_keys=True).encode()
            headers["Content-Type"] = "application/json"
            attrs["http.request.body"] = data.decode()
        with trace.span(f"{method} {route}", "CLIENT", attrs) as sp:
            trace.inject(headers)
            try:
                resp = self._send(method, path, headers, data)
            except exception.PlacementAPIConnectFailure as exc:
                # Stein's @safe_connect: warn and answer None; the caller sees a failure
                sp.set_status("ERROR", str(exc))
                trace.annotate("log", {"level": "WARNING", "message": (
                    f"Placement API service is not responding: {exc}")})
                return _Response(0, None)
            sp.set_attr("http.status_code", resp.status)
            if resp.status >= 400:
                sp.set_attr("http.response.detail", resp.detail)
                sp.set_status("ERROR", resp.detail or f"HTTP {resp.status}")
        return resp

    def _send(self, method: str, path: str, headers: dict[str, str],
              data: bytes | None) -> _Response:
        if self._app is not None:
            req = webob.Request.blank(path, method=method, headers=headers,
                                      body=data or b"")
            wresp = self._app.handle(req)
            raw = wresp.body
            return _Response(wresp.status_int, json.loads(raw) if raw else None)
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        try:
            r = session.request(method, self.endpoint + path, headers=headers, data=data,
                                timeout=HTTP_TIMEOUT)
        except requests.RequestException as exc:
            raise exception.PlacementAPIConnectFailure(
                reason=f"{type(exc).__name__}: {exc}") from None
        try:
            parsed = r.json() if r.content else None
        except ValueError:
            parsed = None
        return _Response(r.status_code, parsed)

    # -- resource providers and inventories ----------------------------------------

    def ensure_resource_provider(self, uuid: str, name: str) -> dict[str, Any]:
        """GET the provider, POST it when missing, then read its traits and aggregates
        (Stein's ``_ensure_resource_provider`` + ``_refresh_associations``)."""
        got = self._request("GET", "/resource_providers/{uuid}",
                            f"/resource_providers/{uuid}", "1.14")
        if got.status == 200:
            return dict(got.body)
        made = self._request("POST", "/resource_providers", "/resource_providers", "1.20",
                             {"uuid": uuid, "name": name})
        if made.status != 200:
            raise exception.ResourceProviderCreationFailed(name=name)
        self._request("GET", "/resource_providers/{uuid}/aggregates",
                      f"/resource_providers/{uuid}/aggregates", "1.19")
        self._request("GET", "/resource_providers/{uuid}/traits",
                      f"/resource_providers/{uuid}/traits", "1.6")
        return dict(made.body)

    def get_providers_by_name(self, name: str) -> list[dict[str, Any]]:
        """GET /resource_providers?name=NAME (Stein's report client asks by uuid; this is
        for an operator tool that knows only the host)."""
        query = urllib.parse.urlencode({"name": name})
        resp = self._request("GET", "/resource_providers", f"/resource_providers?{query}",
                             "1.14")
        return list(resp.body["resource_providers"]) if resp.status == 200 else []

    def delete_resource_provider(self, rp_uuid: str) -> int:
        """DELETE /resource_providers/{uuid} (Stein's ``_delete_provider``): 204 gone,
        404 was not there, 409 still has allocations, 0 placement did not answer."""
        resp = self._request("DELETE", "/resource_providers/{uuid}",
                             f"/resource_providers/{rp_uuid}")
        return resp.status

    def set_inventory(self, rp_uuid: str, inventory: Mapping[str, Mapping[str, Any]]) -> bool:
        """Replace the provider's whole inventory (PUT .../inventories)."""
        path = f"/resource_providers/{rp_uuid}/inventories"
        resp = self._request("PUT", "/resource_providers/{uuid}/inventories", path, "1.26",
                             {"inventories": {rc: dict(v) for rc, v in inventory.items()}})
        return resp.status == 200

    def get_inventory(self, rp_uuid: str) -> dict[str, dict[str, Any]]:
        """GET .../inventories: the provider's inventory records by resource class."""
        resp = self._request("GET", "/resource_providers/{uuid}/inventories",
                             f"/resource_providers/{rp_uuid}/inventories")
        return dict(resp.body["inventories"]) if resp.status == 200 else {}

    def get_usages(self, rp_uuid: str) -> dict[str, int]:
        """GET .../usages: the sum of allocations per resource class."""
        resp = self._request("GET", "/resource_providers/{uuid}/usages",
                             f"/resource_providers/{rp_uuid}/usages", "1.9")
        return dict(resp.body["usages"]) if resp.status == 200 else {}

    def get_allocations_for_resource_provider(self, rp_uuid: str) -> dict[str, Any]:
        """GET /resource_providers/{uuid}/allocations: consumer → resources on it.

        The resource tracker reads it to find allocations whose instance is gone."""
        resp = self._request("GET", "/resource_providers/{uuid}/allocations",
                             f"/resource_providers/{rp_uuid}/allocations")
        return dict(resp.body["allocations"]) if resp.status == 200 else {}

    # -- allocation candidates and allocations -------------------------------------

    def get_allocation_candidates(self, resources: Mapping[str, int], limit: int | None = None
                                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """GET /allocation_candidates: (allocation_requests, provider_summaries)."""
        query = "resources=" + ",".join(f"{rc}:{amt}" for rc, amt in sorted(resources.items()))
        if limit:
            query += f"&limit={limit}"
        resp = self._request("GET", "/allocation_candidates",
                             f"/allocation_candidates?{query}", NESTED_AC_VERSION)
        if resp.status != 200:
            return [], {}
        return list(resp.body["allocation_requests"]), dict(resp.body["provider_summaries"])

    def get_allocations_for_consumer(self, consumer_uuid: str) -> dict[str, Any]:
        """GET /allocations/{consumer_uuid} (1.28 shape, with consumer_generation)."""
        resp = self._request("GET", "/allocations/{consumer_uuid}",
                             f"/allocations/{consumer_uuid}", CONSUMER_GENERATION_VERSION)
        return dict(resp.body) if resp.status == 200 else {"allocations": {}}

    def claim_resources(self, consumer_uuid: str, allocation_request: Mapping[str, Any] | str,
                        project_id: str, user_id: str) -> bool:
        """PUT /allocations/{consumer_uuid}: atomically replace the consumer's allocations.

        False (HTTP 409) when any provider would exceed (total - reserved) * ratio, e.g.
        because a concurrent claim got there first; nothing is written then.
        """
        req = json.loads(allocation_request) if isinstance(allocation_request, str) \
            else dict(allocation_request)
        body = {"allocations": req.get("allocations", {}), "project_id": project_id,
                "user_id": user_id}
        if "consumer_generation" in req:
            body["consumer_generation"] = req["consumer_generation"]
        resp = self._request("PUT", "/allocations/{consumer_uuid}",
                             f"/allocations/{consumer_uuid}", CONSUMER_GENERATION_VERSION,
                             body)
        return resp.status == 204

    def delete_allocation_for_instance(self, consumer_uuid: str) -> bool:
        """DELETE /allocations/{consumer_uuid}: free what the consumer holds (404 if none)."""
        resp = self._request("DELETE", "/allocations/{consumer_uuid}",
                             f"/allocations/{consumer_uuid}")
        return resp.status == 204
