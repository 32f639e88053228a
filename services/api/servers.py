"""ServersController (nova/api/openstack/compute/servers.py) + flavors and images lists."""

from __future__ import annotations

from typing import Any

import webob

from services import exception
from services.api import schemas, views
from services.api.middleware import fault_body, json_response
from services.objects import Flavor
from tracer.instrument import api as trace

STEIN_LOCATION = "nova/api/openstack/compute/servers.py:ServersController"


class ServersController:
    STEIN_LOCATION = STEIN_LOCATION

    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    def create(self, req: webob.Request, context: Any, body: Any) -> webob.Response:
        """202 with the first server (or the reservation id) right after the cast."""
        with trace.stein_step(STEIN_LOCATION, "create", qualified=True):
            schemas.validate(body, schemas.CREATE_V21)
            server = body["server"]
            min_count = _count(server, "min_count", 1)
            max_count = _count(server, "max_count", min_count)
            if min_count > max_count:
                raise exception.ValidationError(
                    detail="min_count must be <= max_count")
            try:
                flavor = Flavor.get_by_flavor_id(context, str(server["flavorRef"]))
            except exception.FlavorNotFound as exc:
                raise exception.Invalid(reason=f"Invalid flavorRef provided. {exc}") from None
            try:
                instances = self.compute_api.create(
                    context, flavor, str(server.get("imageRef", "")), server["name"],
                    min_count=min_count, max_count=max_count,
                    availability_zone=server.get("availability_zone"),
                    scheduler_hints=body.get("os:scheduler_hints"),
                    metadata=server.get("metadata"))
            except exception.QuotaError as exc:  # Stein: HTTPForbidden(error.format_message())
                return json_response(403, fault_body(403, exc.message))
            except exception.ImageNotFound as exc:
                raise exception.Invalid(
                    reason=f"Can not find requested image. {exc}") from None
            if schemas.bool_from_string(server.get("return_reservation_id", False)):
                return json_response(202, {"reservation_id": instances[0].reservation_id})
            first = instances[0]
            body_out = {"server": {**views.basic(req.host_url, first),
                                   "OS-DCF:diskConfig": "MANUAL",
                                   "security_groups": [{"name": "default"}],
                                   "adminPass": "***"}}
            return json_response(202, body_out,
                                 {"Location": f"{req.host_url}/v2.1/servers/{first.uuid}"})

    def show(self, req: webob.Request, context: Any, server_id: str) -> webob.Response:
        with trace.stein_step(STEIN_LOCATION, "show", qualified=True, server_id=server_id):
            inst = self.compute_api.get(context, server_id)
            return json_response(200, {"server": views.show(req.host_url, inst)})

    def index(self, req: webob.Request, context: Any) -> webob.Response:
        with trace.stein_step(STEIN_LOCATION, "index", qualified=True):
            insts = self._filtered(req, context)
            return json_response(200, {"servers": [views.basic(req.host_url, i)
                                                   for i in insts]})

    def detail(self, req: webob.Request, context: Any) -> webob.Response:
        with trace.stein_step(STEIN_LOCATION, "detail", qualified=True):
            insts = self._filtered(req, context)
            return json_response(200, {"servers": [views.show(req.host_url, i)
                                                   for i in insts]})

    def _filtered(self, req: webob.Request, context: Any) -> list[Any]:
        query = {k: req.GET.getall(k) for k in req.GET}
        schemas.validate(query, schemas.QUERY_SERVERS, is_body=False)
        insts = [i for i in self.compute_api.get_all(context) if not i.deleted]
        rid = (query.get("reservation_id") or [None])[-1]
        if rid:
            insts = [i for i in insts if i.reservation_id == rid]
        return sorted(insts, key=lambda i: (i.launch_index or 0, i.display_name or ""))

    def delete(self, req: webob.Request, context: Any, server_id: str) -> webob.Response:
        with trace.stein_step(STEIN_LOCATION, "delete", qualified=True, server_id=server_id):
            self.compute_api.delete(context, server_id)
            return json_response(204, None)

    def _action_reboot(self, req: webob.Request, context: Any, server_id: str,
                       body: Any) -> webob.Response:
        """202 right after the cast; 409 when the state forbids it (wsgi.action reboot)."""
        with trace.stein_step(STEIN_LOCATION, "_action_reboot", qualified=True,
                              server_id=server_id):
            schemas.validate(body, schemas.REBOOT)
            reboot_type = body["reboot"]["type"].upper()
            instance = self.compute_api.get(context, server_id)
            try:
                self.compute_api.reboot(context, instance, reboot_type)
            except exception.InstanceInvalidState as exc:
                # common.raise_http_conflict_for_instance_invalid_state
                attr, state = exc.kwargs.get("attr"), exc.kwargs.get("state")
                return json_response(409, fault_body(
                    409, f"Cannot 'reboot' instance {server_id} while it is in "
                         f"{attr} {state}"))
            return json_response(202, None)


def _count(server: dict[str, Any], key: str, default: int) -> int:
    """min_count/max_count as an int: the schema let through integers >= 1 and digit
    strings; a digit string longer than int() reads (4300 digits) is refused here."""
    value = server.get(key, default)
    try:
        return int(value)
    except ValueError:
        raise exception.ValidationError(
            detail=f"Invalid input for field/attribute server/{key}. Value: "
                   f"{str(value)[:20]}... ({len(str(value))} digits). "
                   "It is too large to be read as an integer.") from None


class FlavorsController:
    def detail(self, req: webob.Request, context: Any) -> webob.Response:
        with trace.span("FlavorsController.detail", "INTERNAL", attrs={
                "code.location": "nova/api/openstack/compute/flavors.py:"
                                 "FlavorsController.detail"}):
            return json_response(200, {"flavors": [
                {"id": f.flavorid, "name": f.name, "ram": f.memory_mb, "vcpus": f.vcpus,
                 "disk": f.root_gb, "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
                 "swap": f.swap or ""} for f in Flavor.get_all(context)]})


class ImagesController:
    def __init__(self, image_api: Any) -> None:
        self.image_api = image_api

    def detail(self, req: webob.Request, context: Any) -> webob.Response:
        with trace.span("ImagesController.detail", "INTERNAL", attrs={
                "code.location": "nova/api/openstack/compute/images.py:"
                                 "ImagesController.detail"}):
            return json_response(200, {"images": [
                {"id": i["id"], "name": i["name"], "status": i["status"].upper(),
                 "minRam": i["min_ram"], "minDisk": i["min_disk"],
                 "metadata": i["properties"]} for i in self.image_api.detail(context)]})
