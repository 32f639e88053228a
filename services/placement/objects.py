"""Placement's data: resource providers, inventories, allocations, consumers (SQL).

What ``openstack/placement``'s objects do, compactly, on placement's own database. The
WSGI app (``handler.py``) turns each REST call into one method here and its ``Reply``
into the HTTP answer; nothing here knows about HTTP or tracing.

Concurrency: every change bumps the resource providers' ``generation`` with a
compare-and-swap ``UPDATE ... WHERE generation = :seen``, which is how placement keeps
two schedulers from over-committing a host; a lost race is retried (placement's
``RP_CONFLICT_RETRY_COUNT``), and a claim that no longer fits then fails. An in-process
lock also serialises calls (SQLite shares one connection for in-memory databases).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, create_engine, delete, insert, select, update
from sqlalchemy.pool import StaticPool

from services.placement import db

_MAX_RETRIES = 10


@dataclass
class Reply:
    """One REST answer: status, JSON body, and for an error placement's error code."""

    status: int = 200
    body: Any = None
    detail: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class _Conflict(Exception):
    """A provider's generation moved under us: another writer won the race; retry."""


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


class PlacementStore:
    """Placement's objects on one database; each public method is one REST call."""

    def __init__(self, engine_url: str = "sqlite://") -> None:
        self.engine = _make_engine(engine_url)
        self._lock = threading.RLock()
        db.metadata.create_all(self.engine)

    def _retrying(self, write: Callable[[Connection], Reply]) -> Reply:
        """*write* in a transaction, run again (up to _MAX_RETRIES times) when a provider's
        generation moved under it (_Conflict); 409 placement.concurrent_update if it
        never got through."""
        for _ in range(_MAX_RETRIES):
            try:
                with self.engine.begin() as conn:
                    return write(conn)
            except _Conflict:
                continue
        return Reply(409, detail="resource provider generation conflict",
                     code="placement.concurrent_update")

    # -- resource providers and inventories --------------------------------------

    def _rp_row(self, conn: Connection, rp_uuid: str) -> Any:
        rps = db.resource_providers
        return conn.execute(select(rps).where(rps.c.uuid == rp_uuid)).first()

    def get_resource_provider(self, uuid: str) -> Reply:
        """GET /resource_providers/{uuid}."""
        with self._lock, self.engine.connect() as conn:
            row = self._rp_row(conn, uuid)
        if row is None:
            return Reply(404, detail=f"No resource provider with uuid {uuid} found")
        return Reply(200, {"uuid": row.uuid, "name": row.name, "generation": row.generation})

    def create_resource_provider(self, uuid: str, name: str) -> Reply:
        """POST /resource_providers (1.20: the new provider in the body)."""
        with self._lock, self.engine.begin() as conn:
            if self._rp_row(conn, uuid) is not None:
                return Reply(409, detail=f"Conflicting resource provider uuid: {uuid} "
                             "already exists.", code="placement.duplicate_name")
            conn.execute(insert(db.resource_providers).values(
                uuid=uuid, name=name, generation=0))
        return Reply(200, {"uuid": uuid, "name": name, "generation": 0})

    def list_resource_providers(self, name: str | None = None) -> Reply:
        """GET /resource_providers (the ``name`` filter only)."""
        rps = db.resource_providers
        query = select(rps).order_by(rps.c.id)
        if name is not None:
            query = query.where(rps.c.name == name)
        with self._lock, self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return Reply(200, {"resource_providers": [
            {"uuid": r.uuid, "name": r.name, "generation": r.generation} for r in rows]})

    def delete_resource_provider(self, uuid: str) -> Reply:
        """DELETE /resource_providers/{uuid}: the provider and its inventory; 409 while
        anything is allocated on it (placement's ResourceProviderInUse)."""
        rps, inv, al = db.resource_providers, db.inventories, db.allocations
        with self._lock, self.engine.begin() as conn:
            row = self._rp_row(conn, uuid)
            if row is None:
                return Reply(404, detail=f"No resource provider with uuid {uuid} found "
                             "for delete")
            if conn.execute(select(al.c.id).where(al.c.resource_provider_id == row.id)
                            ).first() is not None:
                return Reply(409, detail=f"Unable to delete resource provider {uuid}: "
                             "Resource provider has allocations.")
            conn.execute(delete(inv).where(inv.c.resource_provider_id == row.id))
            conn.execute(delete(rps).where(rps.c.id == row.id))
        return Reply(204)

    def set_inventory(self, rp_uuid: str, inventory: Mapping[str, Mapping[str, Any]]) -> Reply:
        """PUT .../inventories: replace the provider's whole inventory."""
        with self._lock:
            return self._retrying(lambda conn: self._put_inventory(conn, rp_uuid, inventory))

    def _put_inventory(self, conn: Connection, rp_uuid: str,
                       inventory: Mapping[str, Mapping[str, Any]]) -> Reply:
        row = self._rp_row(conn, rp_uuid)
        if row is None:
            return Reply(404, detail=f"No resource provider with uuid {rp_uuid} found")
        used = self._usages(conn, row.id)
        gone = [rc for rc in used if rc not in inventory and used[rc]]
        if gone:
            return Reply(409, detail=f"Inventory for {gone} in use",
                         code="placement.inventory.inuse")
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
        return Reply(200, {"resource_provider_generation": row.generation + 1,
                           "inventories": {rc: dict(v) for rc, v in inventory.items()}})

    def get_inventory(self, rp_uuid: str) -> Reply:
        """GET .../inventories: the provider's inventory records by resource class."""
        with self._lock, self.engine.connect() as conn:
            row = self._rp_row(conn, rp_uuid)
            if row is None:
                return Reply(404, detail=f"No resource provider with uuid {rp_uuid} found")
            invs = self._inventories(conn, row.id)
        return Reply(200, {"resource_provider_generation": row.generation,
                           "inventories": {rc: _public(v) for rc, v in invs.items()}})

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

    def get_usages(self, rp_uuid: str) -> Reply:
        """GET .../usages: the sum of allocations per resource class."""
        with self._lock, self.engine.connect() as conn:
            row = self._rp_row(conn, rp_uuid)
            if row is None:
                return Reply(404, detail=f"No resource provider with uuid {rp_uuid} found")
            used = self._usages(conn, row.id)
            usages = {rc: used.get(rc, 0) for rc in self._inventories(conn, row.id)} | used
        return Reply(200, {"resource_provider_generation": row.generation, "usages": usages})

    def get_allocations_for_resource_provider(self, rp_uuid: str) -> Reply:
        """GET /resource_providers/{uuid}/allocations: consumer → resources on it."""
        al = db.allocations
        with self._lock, self.engine.connect() as conn:
            row = self._rp_row(conn, rp_uuid)
            if row is None:
                return Reply(404, detail=f"No resource provider with uuid {rp_uuid} found")
            out: dict[str, Any] = {}
            for consumer, rc, used in conn.execute(
                    select(al.c.consumer_id, al.c.resource_class, al.c.used).where(
                        al.c.resource_provider_id == row.id)).all():
                out.setdefault(consumer, {"resources": {}})["resources"][rc] = used
        return Reply(200, {"allocations": out,
                           "resource_provider_generation": row.generation})

    # -- allocation candidates ----------------------------------------------------

    def get_allocation_candidates(self, resources: Mapping[str, int], limit: int | None = None
                                  ) -> Reply:
        """GET /allocation_candidates: every provider that can hold *resources* now.

        The body is placement 1.29's JSON (allocation_requests, provider_summaries); each
        allocation request can be PUT as-is to claim.
        """
        requests: list[dict[str, Any]] = []
        summaries: dict[str, Any] = {}
        with self._lock, self.engine.connect() as conn:
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
        return Reply(200, {"allocation_requests": requests, "provider_summaries": summaries},
                     detail=f"{len(requests)} candidate(s): {sorted(summaries)}")

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

    def get_allocations_for_consumer(self, consumer_uuid: str) -> Reply:
        """GET /allocations/{consumer_uuid} (1.28 shape, with consumer_generation)."""
        with self._lock, self.engine.connect() as conn:
            return Reply(200, self._read_allocations(conn, consumer_uuid))

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

    def put_allocations(self, consumer_uuid: str, body: Mapping[str, Any]) -> Reply:
        """PUT /allocations/{consumer_uuid}: atomically replace the consumer's allocations.

        409 when any provider would exceed (total - reserved) * ratio, e.g. because a
        concurrent claim got there first; nothing is written then.
        """
        with self._lock:
            # every check runs before the first write: a refusal leaves no trace
            return self._retrying(lambda conn: self._put_allocations(conn, consumer_uuid,
                                                                     body))

    def _put_allocations(self, conn: Connection, consumer_uuid: str,
                         body: Mapping[str, Any]) -> Reply:
        cons_t, al = db.consumers, db.allocations
        consumer = conn.execute(select(cons_t).where(cons_t.c.uuid == consumer_uuid)).first()
        if "consumer_generation" in body:
            have = consumer.generation if consumer is not None else None
            if body["consumer_generation"] != have:
                return Reply(409, detail=(
                    "consumer generation conflict - expected "
                    f"{body['consumer_generation']} but got {have}"),
                    code="placement.concurrent_update")
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
                return Reply(400, detail=f"No resource provider with uuid {rp_uuid} found")
            seen[rp.id] = rp.generation
            invs = self._inventories(conn, rp.id)
            used = self._usages(conn, rp.id, exclude_consumer=consumer_uuid)
            for rc, amount in entry["resources"].items():
                if not self._fits(invs.get(rc), used.get(rc, 0), int(amount)):
                    return Reply(409, detail=(
                        "Unable to allocate inventory: unable to allocate additional "
                        f"resources {rc}:{amount} on {rp_uuid}"))
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
        return Reply(204)

    def delete_allocations(self, consumer_uuid: str) -> Reply:
        """DELETE /allocations/{consumer_uuid}: free what the consumer holds (404 if none)."""
        al = db.allocations

        def free(conn: Connection) -> Reply:
            rp_ids = set(conn.execute(select(al.c.resource_provider_id).where(
                al.c.consumer_id == consumer_uuid)).scalars().all())
            if not rp_ids:
                return Reply(404, detail=f"No allocations for consumer '{consumer_uuid}'")
            seen = {rp_id: conn.execute(
                select(db.resource_providers.c.generation).where(
                    db.resource_providers.c.id == rp_id)).scalar_one()
                for rp_id in rp_ids}
            conn.execute(delete(al).where(al.c.consumer_id == consumer_uuid))
            conn.execute(delete(db.consumers).where(db.consumers.c.uuid == consumer_uuid))
            self._bump(conn, seen)
            return Reply(204)

        with self._lock:
            return self._retrying(free)


def _public(inv: Mapping[str, Any]) -> dict[str, Any]:
    """An inventory row as placement shows it (no ids)."""
    return {k: inv[k] for k in ("total", "reserved", "min_unit", "max_unit", "step_size",
                                "allocation_ratio")}
