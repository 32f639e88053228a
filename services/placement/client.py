"""``PlacementClient``: placement's REST calls as methods on one SQL database.

Each method is one REST call of placement (microversion 1.29 for candidates, 1.28 for
allocations, as Stein's scheduler sends them) and emits one ``HTTP`` span on service
``placement`` named like the route, so the learner sees hop 4 of WIRE.md.

Concurrency: every change bumps the resource providers' ``generation`` with a
compare-and-swap ``UPDATE ... WHERE generation = :seen``, which is how placement keeps
two schedulers from over-committing a host; a lost race is retried, and a claim that no
longer fits then fails. An in-process lock also serialises calls (SQLite shares one
connection for in-memory databases).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, create_engine, delete, insert, select, update
from sqlalchemy.pool import StaticPool

from services.placement import db
from tracer.instrument import api as trace

NESTED_AC_VERSION = "1.29"
CONSUMER_GENERATION_VERSION = "1.28"
_MAX_RETRIES = 10


class _Conflict(Exception):
    """A provider's generation moved under us: another writer won the race; retry."""


class _Call:
    """The HTTP status of one traced call, filled in by the method."""

    __slots__ = ("status", "detail")

    def __init__(self) -> None:
        self.status = 200
        self.detail: str | None = None


def _make_engine(url: str) -> Any:
    if url.startswith("sqlite"):
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if url in ("sqlite://", "sqlite:///") or ":memory:" in url:
            kwargs["poolclass"] = StaticPool  # one shared in-memory database
        return create_engine(url, **kwargs)
    return create_engine(url, pool_pre_ping=True)


def _capacity(inv: Mapping[str, Any]) -> float:
    """Placement's rule: what may be allocated is (total - reserved) * allocation_ratio."""
    return (inv["total"] - inv["reserved"]) * inv["allocation_ratio"]


class PlacementClient:
    """Placement in-process: resource providers, inventories, allocations, consumers."""

    def __init__(self, engine_url: str = "sqlite://", host: str = "placement") -> None:
        self.engine = _make_engine(engine_url)
        self._host = host
        self._lock = threading.RLock()
        db.metadata.create_all(self.engine)

    # -- tracing -----------------------------------------------------------------

    @contextlib.contextmanager
    def _http(self, method: str, route: str, path: str, version: str | None = None,
              body: Any = None) -> Iterator[_Call]:
        attrs: dict[str, Any] = {"http.method": method, "http.route": route,
                                 "url.path": path, "server.address": self._host}
        if version:
            attrs["openstack.api.version"] = f"placement {version}"
        if body is not None:
            attrs["http.request.body"] = json.dumps(body, sort_keys=True)
        call = _Call()
        with trace.span(f"{method} {route}", kind="HTTP", attrs=attrs,
                        service="placement", host=self._host) as sp:
            try:
                yield call
            except Exception:
                sp.set_attr("http.status_code", 500)
                raise
            sp.set_attr("http.status_code", call.status)
            if call.detail:
                sp.set_attr("http.response.detail", call.detail)
            if call.status >= 400:
                sp.set_status("ERROR", call.detail or f"HTTP {call.status}")

    def _retrying(self, call: _Call, write: Callable[[Connection], bool]) -> bool:
        """*write* in a transaction, run again (up to _MAX_RETRIES times) when a provider's
        generation moved under it (_Conflict); 409 placement.concurrent_update if it
        never got through."""
        for _ in range(_MAX_RETRIES):
            try:
                with self.engine.begin() as conn:
                    return write(conn)
            except _Conflict:
                continue
        call.status, call.detail = 409, "placement.concurrent_update"
        return False

    # -- resource providers and inventories --------------------------------------

    def _rp_row(self, conn: Connection, rp_uuid: str) -> Any:
        rps = db.resource_providers
        return conn.execute(select(rps).where(rps.c.uuid == rp_uuid)).first()

    def ensure_resource_provider(self, uuid: str, name: str) -> dict[str, Any]:
        """GET the provider, POST it when missing (what Stein's report client does)."""
        with self._lock:
            with self._http("GET", "/resource_providers/{uuid}",
                            f"/resource_providers/{uuid}", "1.14") as call, \
                    self.engine.connect() as conn:
                row = self._rp_row(conn, uuid)
                if row is None:
                    call.status, call.detail = 404, "No resource provider with uuid found"
            if row is not None:
                return {"uuid": row.uuid, "name": row.name, "generation": row.generation}
            body = {"uuid": uuid, "name": name}
            with self._http("POST", "/resource_providers", "/resource_providers", "1.20",
                            body) as call, self.engine.begin() as conn:
                conn.execute(insert(db.resource_providers).values(
                    uuid=uuid, name=name, generation=0))
                call.status = 200
            return {"uuid": uuid, "name": name, "generation": 0}

    def set_inventory(self, rp_uuid: str, inventory: Mapping[str, Mapping[str, Any]]) -> bool:
        """Replace the provider's whole inventory (PUT .../inventories)."""
        path = f"/resource_providers/{rp_uuid}/inventories"
        with self._lock, self._http("PUT", "/resource_providers/{uuid}/inventories", path,
                                    "1.26", {"inventories": inventory}) as call:
            return self._retrying(call, lambda conn: self._put_inventory(
                conn, rp_uuid, inventory, call))

    def _put_inventory(self, conn: Connection, rp_uuid: str,
                       inventory: Mapping[str, Mapping[str, Any]], call: _Call) -> bool:
        row = self._rp_row(conn, rp_uuid)
        if row is None:
            call.status, call.detail = 404, f"No resource provider with uuid {rp_uuid} found"
            return False
        used = self._usages(conn, row.id)
        gone = [rc for rc in used if rc not in inventory and used[rc]]
        if gone:
            call.status, call.detail = 409, f"Inventory for {gone} in use"
            return False
        inv = db.inventories
        conn.execute(delete(inv).where(inv.c.resource_provider_id == row.id))
        for rc, spec in inventory.items():
            total = int(spec["total"])
            conn.execute(insert(inv).values(
                resource_provider_id=row.id, resource_class=rc, total=total,
                reserved=int(spec.get("reserved", 0)),
                min_unit=int(spec.get("min_unit", 1)),
                max_unit=int(spec.get("max_unit", total)),
                step_size=int(spec.get("step_size", 1)),
                allocation_ratio=float(spec.get("allocation_ratio", 1.0))))
        self._bump(conn, {row.id: row.generation})
        return True

    def get_inventory(self, rp_uuid: str) -> dict[str, dict[str, Any]]:
        """GET .../inventories: the provider's inventory records by resource class."""
        path = f"/resource_providers/{rp_uuid}/inventories"
        with self._lock, self._http("GET", "/resource_providers/{uuid}/inventories",
                                    path) as call, self.engine.connect() as conn:
            row = self._rp_row(conn, rp_uuid)
            if row is None:
                call.status = 404
                return {}
            return {rc: dict(v) for rc, v in self._inventories(conn, row.id).items()}

    def _inventories(self, conn: Connection, rp_id: int) -> dict[str, dict[str, Any]]:
        inv = db.inventories
        rows = conn.execute(select(inv).where(inv.c.resource_provider_id == rp_id)).all()
        return {r.resource_class: dict(r._mapping) for r in rows}

    def _usages(self, conn: Connection, rp_id: int,
                exclude_consumer: str | None = None) -> dict[str, int]:
        al = db.allocations
        query = select(al.c.resource_class, al.c.used, al.c.consumer_id).where(
            al.c.resource_provider_id == rp_id)
        used: dict[str, int] = {}
        for rc, amount, consumer in conn.execute(query).all():
            if consumer != exclude_consumer:
                used[rc] = used.get(rc, 0) + amount
        return used

    def _bump(self, conn: Connection, seen: Mapping[int, int]) -> None:
        """Compare-and-swap each provider's generation; lose the race -> _Conflict."""
        rps = db.resource_providers
        for rp_id, generation in seen.items():
            result = conn.execute(update(rps).where(
                rps.c.id == rp_id, rps.c.generation == generation).values(
                generation=generation + 1))
            if result.rowcount != 1:
                raise _Conflict(rp_id)

    def get_usages(self, rp_uuid: str) -> dict[str, int]:
        """GET .../usages: the sum of allocations per resource class."""
        path = f"/resource_providers/{rp_uuid}/usages"
        with self._lock, self._http("GET", "/resource_providers/{uuid}/usages",
                                    path, "1.9") as call, self.engine.connect() as conn:
            row = self._rp_row(conn, rp_uuid)
            if row is None:
                call.status = 404
                return {}
            used = self._usages(conn, row.id)
            return {rc: used.get(rc, 0) for rc in self._inventories(conn, row.id)} | used

    def get_allocations_for_resource_provider(self, rp_uuid: str) -> dict[str, Any]:
        """GET /resource_providers/{uuid}/allocations: consumer → resources on it.

        The resource tracker reads it to find allocations whose instance is gone."""
        al = db.allocations
        path = f"/resource_providers/{rp_uuid}/allocations"
        with self._lock, self._http("GET", "/resource_providers/{uuid}/allocations",
                                    path) as call, self.engine.connect() as conn:
            row = self._rp_row(conn, rp_uuid)
            if row is None:
                call.status = 404
                return {}
            out: dict[str, Any] = {}
            for consumer, rc, used in conn.execute(
                    select(al.c.consumer_id, al.c.resource_class, al.c.used).where(
                        al.c.resource_provider_id == row.id)).all():
                out.setdefault(consumer, {"resources": {}})["resources"][rc] = used
            return out

    # -- allocation candidates ----------------------------------------------------

    def get_allocation_candidates(self, resources: Mapping[str, int], limit: int | None = None
                                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """GET /allocation_candidates: every provider that can hold *resources* now.

        Returns (allocation_requests, provider_summaries) as placement 1.29's JSON;
        each allocation request can be PUT as-is to claim.
        """
        query = "resources=" + ",".join(f"{rc}:{amt}" for rc, amt in sorted(resources.items()))
        if limit:
            query += f"&limit={limit}"
        with self._lock, self._http("GET", "/allocation_candidates",
                                    f"/allocation_candidates?{query}",
                                    NESTED_AC_VERSION) as call, \
                self.engine.connect() as conn:
            requests: list[dict[str, Any]] = []
            summaries: dict[str, Any] = {}
            rps = conn.execute(select(db.resource_providers).order_by(
                db.resource_providers.c.id)).all()
            for rp in rps:
                if limit and len(requests) >= limit:
                    break
                invs = self._inventories(conn, rp.id)
                used = self._usages(conn, rp.id)
                if not all(self._fits(invs.get(rc), used.get(rc, 0), amt)
                           for rc, amt in resources.items()):
                    continue
                requests.append({"allocations": {
                    rp.uuid: {"resources": {rc: int(a) for rc, a in resources.items()}}}})
                summaries[rp.uuid] = {
                    "resources": {rc: {"capacity": int(_capacity(inv)),
                                       "used": used.get(rc, 0)}
                                  for rc, inv in invs.items()},
                    "traits": [],
                    "parent_provider_uuid": None,
                    "root_provider_uuid": rp.uuid,
                }
            call.detail = f"{len(requests)} candidate(s): {sorted(summaries)}"
            return requests, summaries

    @staticmethod
    def _fits(inv: Mapping[str, Any] | None, used: int, amount: int) -> bool:
        if inv is None:
            return amount == 0
        if amount < inv["min_unit"] or amount > inv["max_unit"]:
            return False
        if amount % inv["step_size"]:
            return False
        return used + amount <= _capacity(inv)

    # -- allocations ----------------------------------------------------------------

    def get_allocations_for_consumer(self, consumer_uuid: str) -> dict[str, Any]:
        """GET /allocations/{consumer_uuid} (1.28 shape, with consumer_generation)."""
        with self._lock, self._http("GET", "/allocations/{consumer_uuid}",
                                    f"/allocations/{consumer_uuid}",
                                    CONSUMER_GENERATION_VERSION), \
                self.engine.connect() as conn:
            return self._read_allocations(conn, consumer_uuid)

    def _read_allocations(self, conn: Connection, consumer_uuid: str) -> dict[str, Any]:
        al, rps = db.allocations, db.resource_providers
        rows = conn.execute(
            select(rps.c.uuid, rps.c.generation, al.c.resource_class, al.c.used)
            .join(rps, rps.c.id == al.c.resource_provider_id)
            .where(al.c.consumer_id == consumer_uuid)).all()
        allocs: dict[str, Any] = {}
        for rp_uuid, generation, rc, used in rows:
            entry = allocs.setdefault(rp_uuid, {"resources": {}, "generation": generation})
            entry["resources"][rc] = used
        cons = conn.execute(select(db.consumers).where(
            db.consumers.c.uuid == consumer_uuid)).first()
        body: dict[str, Any] = {"allocations": allocs}
        if cons is not None:
            body.update(consumer_generation=cons.generation, project_id=cons.project_id,
                        user_id=cons.user_id)
        return body

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
        with self._lock, self._http("PUT", "/allocations/{consumer_uuid}",
                                    f"/allocations/{consumer_uuid}",
                                    CONSUMER_GENERATION_VERSION, body) as call:
            # every check runs before the first write: False leaves no trace
            return self._retrying(call, lambda conn: self._put_allocations(
                conn, consumer_uuid, body, call))

    def _put_allocations(self, conn: Connection, consumer_uuid: str, body: Mapping[str, Any],
                         call: _Call) -> bool:
        cons_t, al = db.consumers, db.allocations
        consumer = conn.execute(select(cons_t).where(cons_t.c.uuid == consumer_uuid)).first()
        if "consumer_generation" in body:
            have = consumer.generation if consumer is not None else None
            if body["consumer_generation"] != have:
                call.status = 409
                call.detail = ("placement.concurrent_update: consumer generation conflict "
                               f"- expected {body['consumer_generation']} but got {have}")
                return False
        seen: dict[int, int] = {}
        old = conn.execute(select(al.c.resource_provider_id).where(
            al.c.consumer_id == consumer_uuid)).scalars().all()
        for rp_id in set(old):
            gen = conn.execute(select(db.resource_providers.c.generation).where(
                db.resource_providers.c.id == rp_id)).scalar_one()
            seen[rp_id] = gen
        new_rows = []
        for rp_uuid, entry in body["allocations"].items():
            rp = self._rp_row(conn, rp_uuid)
            if rp is None:
                call.status, call.detail = 400, f"No resource provider {rp_uuid}"
                return False
            seen[rp.id] = rp.generation
            invs = self._inventories(conn, rp.id)
            used = self._usages(conn, rp.id, exclude_consumer=consumer_uuid)
            for rc, amount in entry["resources"].items():
                if not self._fits(invs.get(rc), used.get(rc, 0), int(amount)):
                    call.status = 409
                    call.detail = (f"Unable to allocate inventory: unable to allocate "
                                   f"additional resources {rc}:{amount} on {rp_uuid}")
                    return False
                new_rows.append({"resource_provider_id": rp.id, "consumer_id": consumer_uuid,
                                 "resource_class": rc, "used": int(amount)})
        conn.execute(delete(al).where(al.c.consumer_id == consumer_uuid))
        if new_rows:
            conn.execute(insert(al), new_rows)
        if consumer is None:
            conn.execute(insert(cons_t).values(uuid=consumer_uuid, generation=0,
                                               project_id=body["project_id"],
                                               user_id=body["user_id"]))
        else:
            conn.execute(update(cons_t).where(cons_t.c.id == consumer.id).values(
                generation=consumer.generation + 1))
        self._bump(conn, seen)
        call.status = 204
        return True

    def delete_allocation_for_instance(self, consumer_uuid: str) -> bool:
        """DELETE /allocations/{consumer_uuid}: free what the consumer holds (404 if none)."""
        al = db.allocations

        def free(conn: Connection) -> bool:
            rp_ids = set(conn.execute(select(al.c.resource_provider_id).where(
                al.c.consumer_id == consumer_uuid)).scalars().all())
            if not rp_ids:
                call.status = 404
                call.detail = f"No allocations for consumer '{consumer_uuid}'"
                return False
            seen = {rp_id: conn.execute(
                select(db.resource_providers.c.generation).where(
                    db.resource_providers.c.id == rp_id)).scalar_one()
                for rp_id in rp_ids}
            conn.execute(delete(al).where(al.c.consumer_id == consumer_uuid))
            conn.execute(delete(db.consumers).where(db.consumers.c.uuid == consumer_uuid))
            self._bump(conn, seen)
            call.status = 204
            return True

        with self._lock, self._http("DELETE", "/allocations/{consumer_uuid}",
                                    f"/allocations/{consumer_uuid}") as call:
            return self._retrying(call, free)
