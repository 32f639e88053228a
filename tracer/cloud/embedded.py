"""The embedded cloud: conductor, scheduler and computes as threads in one process.

bootflow's harness, not Nova: ``make demo`` and the tests need the whole boot flow
without a broker or a daemon; the very same Service/manager/rpcapi code runs one
process per service in a deployment (``tracer.cloud.processes``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import webob
from sqlalchemy import select

from services import rpc
from services.api.router import build_app
from services.conf import Config
from services.context import get_admin_context
from services.db import api as db
from services.db import models
from services.launcher import start_service
from services.objects import HostMapping
from services.service import Service
from tracer.instrument import api as trace

FAULT_GRACE_S = 5.0  # how long wait_for_instances waits for an ERROR instance's fault


class BootRefused(RuntimeError):
    """POST /v2.1/servers did not answer 202: the API's own fault message, one line."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(f"the API refused the boot: {status}: {message}")
        self.status = status
        self.message = message


def _fault_message(resp: webob.Response) -> str:
    try:
        body = resp.json
        return str(next(iter(body.values()))["message"])
    except Exception:  # not Nova's fault shape: the raw text
        return resp.text.strip()

class EmbeddedCloud:
    """conductor + scheduler + computes as threads, and nova-api called in-process."""

    def __init__(self, config: Config | None = None, computes: tuple[str, ...] = ("compute1",),
                 transport_url: str | None = "memory://", log: Any = None,
                 conductor: bool = True) -> None:
        """*conductor* False: the conductor runs elsewhere (bench/scale.py starts it as
        ``bootflow-conductor --workers N`` processes on the same broker and databases)."""
        config = config or Config.load()
        if transport_url is not None:
            config = dataclasses.replace(config, transport_url=transport_url)
        self.config = config
        self.log = log
        self.services: list[Service] = []
        self._transports: list[Any] = []
        db.configure(config)
        try:
            services = [("nova-conductor", "conductor")] if conductor else []
            services += [("nova-scheduler", "scheduler"),
                         *(("nova-compute", h) for h in computes)]
            for binary, host in services:
                self.start_service(binary, host)
            self.discover_hosts()
            api_transport = self._transport()
            with trace.identity("nova-api", "api"):
                self.app = build_app(api_transport, config)
        except BaseException:
            self.stop()
            raise

    def _transport(self) -> Any:
        t = rpc.get_transport(self.config)
        self._transports.append(t)
        return t

    def start_service(self, binary: str, host: str) -> Service:
        service = start_service(binary, host, self.config, self._transport(), self.log)
        self.services.append(service)
        return service

    def discover_hosts(self) -> None:
        """nova-manage cell_v2 discover_hosts: map every compute host to cell1."""
        ctxt = get_admin_context()
        with trace.identity("nova-manage", "api"):
            for svc in self.services:
                if svc.binary == "nova-compute":
                    HostMapping(ctxt, host=svc.host, cell_uuid=db.default_cell_uuid()).create()

    # ---- the API, in-process --------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None,
                token: str | None = "demo:demo") -> webob.Response:
        req = webob.Request.blank(path, method=method)
        req.host = f"{self.config.api_host}:{self.config.api_port}"
        if token is not None:
            req.headers["X-Auth-Token"] = token
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = "application/json"
        with trace.identity("nova-api", "api"), trace.use(None):
            return req.get_response(self.app)

    def boot(self, name: str, flavor: str = "m1.tiny", image: str = "bootflow-guest",
             count: int = 1, token: str = "demo:demo") -> list[dict[str, Any]]:
        """POST /v2.1/servers (202); returns the server(s) as GET shows them right after."""
        server: dict[str, Any] = {"name": name, "flavorRef": flavor, "imageRef": image}
        if count > 1:
            server.update(min_count=count, max_count=count, return_reservation_id=True)
        resp = self.request("POST", "/v2.1/servers", {"server": server}, token)
        if resp.status_int != 202:
            raise BootRefused(resp.status, _fault_message(resp))
        if count > 1:
            rid = resp.json["reservation_id"]
            listing = self.request("GET", f"/v2.1/servers/detail?reservation_id={rid}",
                                   token=token)
            return list(listing.json["servers"])
        uuid = resp.json["server"]["id"]
        return [self.request("GET", f"/v2.1/servers/{uuid}", token=token).json["server"]]

    def delete(self, uuid: str, token: str = "demo:demo") -> int:
        return self.request("DELETE", f"/v2.1/servers/{uuid}", token=token).status_int

    def reboot(self, uuid: str, reboot_type: str = "SOFT", token: str = "demo:demo") -> int:
        """POST /v2.1/servers/{id}/action {"reboot": ...}: 202, or 409 when not allowed."""
        return self.request("POST", f"/v2.1/servers/{uuid}/action",
                            {"reboot": {"type": reboot_type}}, token=token).status_int

    # ---- watching, without tracing (polling must not flood the trace) ----------------
    @staticmethod
    def instance_state(uuid: str) -> dict[str, Any] | None:
        """The instance's row as the database holds it now (None: not in a cell yet).

        Reads the API and cell databases that ``db.configure`` named, nothing of a cloud:
        the deployment scenario runner reads its process deployment's rows with it too.
        """
        with db.api_session() as s:
            mapping = s.scalars(select(models.InstanceMapping).where(
                models.InstanceMapping.instance_uuid == uuid)).first()
            if mapping is None or mapping.cell_id is None:
                return None
            cell = s.get(models.CellMapping, mapping.cell_id)
            assert cell is not None, "instance_mappings.cell_id references cell_mappings"
            cell_uuid, cell_name = cell.uuid, cell.name
        ctx = get_admin_context(read_deleted="yes")
        ctx.cell_uuid = cell_uuid
        with db.cell_session(ctx) as s:
            row = s.scalars(select(models.Instance).where(
                models.Instance.uuid == uuid)).first()
            if row is None:
                return None
            fault = s.scalars(select(models.InstanceFault).where(
                models.InstanceFault.instance_uuid == uuid).order_by(
                models.InstanceFault.id.desc())).first()
            return {"uuid": uuid, "vm_state": row.vm_state, "task_state": row.task_state,
                    "host": row.host, "node": row.node, "cell": cell_name,
                    "display_name": row.display_name, "deleted": bool(row.deleted),
                    "fault": ({"code": fault.code, "message": fault.message}
                              if fault is not None else None)}

    def wait_for_instances(self, uuids: list[str], timeout: float = 30.0,
                           states: tuple[str, ...] = ("active", "error"),
                           poll: float = 0.05) -> list[dict[str, Any]]:
        """Block until every instance reaches one of *states* (task_state None); an
        ERROR one also until its fault is saved (Stein saves the state first, the fault
        right after), for at most FAULT_GRACE_S."""
        deadline = time.monotonic() + timeout
        final_since: float | None = None
        while True:
            current = [self.instance_state(u) for u in uuids]
            done = [c for c in current
                    if c is not None and c["vm_state"] in states and c["task_state"] is None]
            if len(done) == len(uuids):
                final_since = final_since or time.monotonic()
                if all(c["vm_state"] != "error" or c.get("fault") for c in done) or \
                        time.monotonic() - final_since > FAULT_GRACE_S:
                    return done
            else:
                final_since = None
            if time.monotonic() > deadline:
                raise TimeoutError(f"instances not final after {timeout}s: {current}")
            time.sleep(poll)

    def stop(self) -> None:
        for svc in reversed(self.services):
            try:
                svc.stop()
            except Exception:  # stopping the rest matters more
                pass
        self.services.clear()
        for t in self._transports:
            try:
                t.cleanup()
            except Exception:
                pass
        self._transports.clear()

    def __enter__(self) -> EmbeddedCloud:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
