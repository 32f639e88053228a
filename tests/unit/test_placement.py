"""Placement: candidates, atomic claims, deletes, its REST errors, and the HTTP spans."""

from __future__ import annotations

import threading
from typing import Any

from services.placement import PlacementClient
from services.scheduler.client.report import SchedulerReportClient
from tracer.instrument import api as trace

INV = {"VCPU": {"total": 4, "reserved": 0, "allocation_ratio": 1.0},
       "MEMORY_MB": {"total": 2048, "reserved": 512, "allocation_ratio": 1.0},
       "DISK_GB": {"total": 20, "reserved": 0, "allocation_ratio": 1.0}}


def make(url: str = "sqlite://") -> PlacementClient:
    pc = PlacementClient(url)
    for name in ("c1", "c2"):
        pc.ensure_resource_provider(f"rp-{name}", name)
        assert pc.set_inventory(f"rp-{name}", INV)
    return pc


def req(rp: str, mem: int) -> dict[str, Any]:
    return {"allocations": {rp: {"resources": {"VCPU": 1, "MEMORY_MB": mem, "DISK_GB": 1}}}}


def test_candidates_shape_and_capacity() -> None:
    pc = make()
    reqs, summaries = pc.get_allocation_candidates({"VCPU": 1, "MEMORY_MB": 1024})
    assert len(reqs) == 2 and set(summaries) == {"rp-c1", "rp-c2"}
    assert reqs[0] == {"allocations": {"rp-c1": {"resources": {"VCPU": 1, "MEMORY_MB": 1024}}}}
    mem = summaries["rp-c1"]["resources"]["MEMORY_MB"]
    assert mem == {"capacity": 1536, "used": 0}  # (total - reserved) * ratio
    assert summaries["rp-c1"]["root_provider_uuid"] == "rp-c1"
    assert pc.get_allocation_candidates({"MEMORY_MB": 1537}) == ([], {})
    assert len(pc.get_allocation_candidates({"VCPU": 1}, limit=1)[0]) == 1


def test_claim_respects_capacity_and_delete_frees() -> None:
    pc = make()
    assert pc.claim_resources("i1", req("rp-c1", 1024), "p", "u")
    assert pc.get_usages("rp-c1") == {"VCPU": 1, "MEMORY_MB": 1024, "DISK_GB": 1}
    assert not pc.claim_resources("i2", req("rp-c1", 1024), "p", "u")  # 2048 > 1536
    assert pc.get_usages("rp-c1")["MEMORY_MB"] == 1024  # failed claim wrote nothing
    reqs, _ = pc.get_allocation_candidates({"MEMORY_MB": 1024})
    assert [list(r["allocations"]) for r in reqs] == [["rp-c2"]]
    assert pc.delete_allocation_for_instance("i1")
    assert not pc.delete_allocation_for_instance("i1")  # 404 the second time
    assert pc.claim_resources("i2", req("rp-c1", 1024), "p", "u")


def test_put_replaces_consumer_allocations() -> None:
    pc = make()
    assert pc.claim_resources("i1", req("rp-c1", 1024), "p", "u")
    assert pc.claim_resources("i1", req("rp-c1", 1536), "p", "u")  # own usage excluded
    assert pc.get_usages("rp-c1")["MEMORY_MB"] == 1536
    assert pc.get_allocations_for_consumer("i1")["consumer_generation"] == 1


def test_concurrent_claims_never_overcommit(tmp_path: Any) -> None:
    pc = make(f"sqlite:///{tmp_path / 'placement.db'}")
    results: list[bool] = []
    threads = [threading.Thread(target=lambda i=i: results.append(
        pc.claim_resources(f"i{i}", req("rp-c1", 512), "p", "u"))) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 3  # 1536 / 512
    assert pc.get_usages("rp-c1")["MEMORY_MB"] == 1536


def test_report_client_consumer_generation() -> None:
    pc = make()
    rc = SchedulerReportClient(pc)
    reqs, summaries, version = rc.get_allocation_candidates({}, {"VCPU": 1})
    assert version == "1.29" and reqs
    assert rc.claim_resources({}, "i1", reqs[0], "p", "u", allocation_request_version=version)
    # a new consumer claimed with an explicit generation that does not match -> refused
    stale = dict(req("rp-c2", 256), consumer_generation=7)
    assert not pc.claim_resources("i9", stale, "p", "u")
    assert rc.put_allocations({}, "rp-c2", "i3", {"VCPU": 1}, "p", "u")
    assert rc.delete_allocation_for_instance({}, "i3")


def test_http_spans_pair_client_and_placement_server() -> None:
    """Each REST call is a CLIENT span in the caller and an HTTP server span in placement,
    its child through the traceparent header: one trace id, one hop."""
    pc = make()
    events: list[dict[str, Any]] = []
    trace.set_emitter(events.append)
    try:
        with trace.identity("nova-scheduler", "scheduler"):
            pc.get_allocation_candidates({"VCPU": 1})
            pc.claim_resources("i1", req("rp-c1", 1024), "p", "u")
            pc.claim_resources("i2", req("rp-c1", 1024), "p", "u")
            pc.delete_allocation_for_instance("i1")
            pc.set_inventory("rp-c1", INV)
    finally:
        trace.set_emitter(None)
    starts = [e for e in events if e["type"] == "span_start"]
    ends = {e["span_id"]: e for e in events if e["type"] == "span_end"}
    clients = [s for s in starts if s["kind"] == "CLIENT"]
    servers = [s for s in starts if s["kind"] == "HTTP"]
    names = ["GET /allocation_candidates", "PUT /allocations/{consumer_uuid}",
             "PUT /allocations/{consumer_uuid}", "DELETE /allocations/{consumer_uuid}",
             "PUT /resource_providers/{uuid}/inventories"]
    assert [s["name"] for s in clients] == [s["name"] for s in servers] == names
    assert all(s["service"] == "nova-scheduler" for s in clients)
    assert all(s["service"] == "placement" for s in servers)
    for client, server in zip(clients, servers, strict=True):
        assert server["parent_id"] == client["span_id"]
        assert server["trace_id"] == client["trace_id"]
    assert clients[1]["attrs"]["http.request.method"] == "PUT"
    assert servers[1]["attrs"]["http.route"] == "/allocations/{consumer_uuid}"
    assert servers[1]["attrs"]["url.path"] == "/allocations/i1"
    assert servers[1]["attrs"]["openstack.api.version"] == "placement 1.28"
    assert servers[1]["attrs"]["code.location"] == (
        "placement/handlers/allocation.py:set_allocations_for_consumer")
    for spans in (clients, servers):
        codes = [ends[s["span_id"]]["attrs"]["http.status_code"] for s in spans]
        assert codes == [200, 204, 409, 204, 200]
        assert ends[spans[2]["span_id"]]["status"] == "ERROR"


def test_providers_listed_by_name_and_deleted_unless_in_use() -> None:
    """GET /resource_providers?name= and DELETE /resource_providers/{uuid} (what
    `bootflow down` on a joined machine uses): 409 while allocations hold it, 204 once
    free, after which it is no allocation candidate any more."""
    pc = make()
    assert [rp["uuid"] for rp in pc.get_providers_by_name("c2")] == ["rp-c2"]
    assert pc.get_providers_by_name("nobody") == []
    assert pc.claim_resources("i1", req("rp-c2", 512), "p", "u")
    assert pc.delete_resource_provider("rp-c2") == 409
    assert pc.get_providers_by_name("c2")      # kept for the instance on it
    assert pc.delete_allocation_for_instance("i1")
    assert pc.delete_resource_provider("rp-c2") == 204
    assert pc.delete_resource_provider("rp-c2") == 404
    assert pc.get_providers_by_name("c2") == []
    _, summaries = pc.get_allocation_candidates({"VCPU": 1})
    assert set(summaries) == {"rp-c1"}
    assert pc.get_usages("rp-c1") == {"VCPU": 0, "MEMORY_MB": 0, "DISK_GB": 0}


def test_placement_errors_have_placements_shape() -> None:
    """Placement's JSON errors (status, title, detail, code) and microversion checks."""
    import webob

    from services.placement.client import local_app

    app = local_app("sqlite://")

    def call(method: str, path: str, body: bytes = b"", **headers: str) -> webob.Response:
        return app.handle(webob.Request.blank(path, method=method, body=body,
                                              headers=headers))

    missing = call("GET", "/resource_providers/nope")
    assert missing.status_int == 404
    assert missing.json["errors"][0]["title"] == "Not Found"
    assert missing.json["errors"][0]["code"] == "placement.undefined_code"
    too_new = call("GET", "/", **{"OpenStack-API-Version": "placement 9.99"})
    assert too_new.status_int == 406
    assert too_new.json["errors"][0]["code"] == "placement.microversion.unacceptable"
    assert call("PATCH", "/allocations/x").status_int == 405
    bad_type = call("PUT", "/allocations/x", b"{}", **{"Content-Type": "text/plain"})
    assert bad_type.status_int == 415
    bad_query = call("GET", "/allocation_candidates?resources=VCPU:x")
    assert bad_query.status_int == 400
    assert call("GET", "/").json["versions"][0]["max_version"] == "1.31"


PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _scratch_postgres_url() -> str:
    """A scratch database on the machine's PostgreSQL (override: BOOTFLOW_PLACEMENT_PG_URL)."""
    import os

    import sqlalchemy as sa

    url = os.environ.get("BOOTFLOW_PLACEMENT_PG_URL")
    if url:
        return url
    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(sa.text(
                "SELECT 1 FROM pg_database WHERE datname = 'bootflow_placement_test'"))
            if not exists:
                conn.execute(sa.text("CREATE DATABASE bootflow_placement_test"))
    except sa.exc.OperationalError as exc:
        raise AssertionError(
            "PostgreSQL is not reachable at 127.0.0.1:5432: start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
        ) from exc
    finally:
        admin.dispose()
    return f"{PG_SERVER}/bootflow_placement_test"


def test_postgresql_claims() -> None:
    """Same rules on PostgreSQL, with two clients racing like two scheduler processes."""
    url = _scratch_postgres_url()
    from services.placement import db
    from services.placement.handler import PlacementApp
    from services.placement.objects import PlacementStore

    store = PlacementStore(url)
    db.metadata.drop_all(store.engine)
    db.metadata.create_all(store.engine)
    pc = PlacementClient(url, app=PlacementApp(store))
    for name in ("c1", "c2"):
        pc.ensure_resource_provider(f"rp-{name}", name)
        assert pc.set_inventory(f"rp-{name}", INV)
    assert pc.claim_resources("i1", req("rp-c1", 1024), "p", "u")
    assert not pc.claim_resources("i2", req("rp-c1", 1024), "p", "u")
    # a second placement-api process (its own store and lock): only the CAS protects us
    other = PlacementClient(url, app=PlacementApp(PlacementStore(url)))
    results: list[bool] = []
    threads = [threading.Thread(target=lambda c=c, i=i: results.append(
        c.claim_resources(f"j{i}", req("rp-c2", 512), "p", "u")))
        for i, c in enumerate([pc, other] * 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 3
    assert pc.get_usages("rp-c2")["MEMORY_MB"] == 1536
    assert pc.delete_allocation_for_instance("i1")
