"""nova-api pipeline: auth, request ids, Nova-shaped faults, schema errors naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.boot_flow import Spans, traced_cloud

from tracer.cloud.embedded import EmbeddedCloud


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[tuple[EmbeddedCloud, list]]:
    with traced_cloud(tmp_path, virt_type="fake") as pair:
        yield pair


def test_no_token_is_401(cloud) -> None:  # type: ignore[no-untyped-def]
    api, _ = cloud
    resp = api.request("GET", "/v2.1/servers", token=None)
    assert resp.status_int == 401
    assert resp.json["unauthorized"]["code"] == 401
    assert resp.headers["x-openstack-request-id"].startswith("req-")


@pytest.mark.parametrize("server, field", [
    ({"flavorRef": "1"}, "'name' is a required property"),
    ({"name": "x", "flavorRef": "1", "min_count": 0}, "server/min_count"),
    ({"name": "x", "flavorRef": "1", "bogus": 1}, "bogus"),
])
def test_schema_400_names_the_field(cloud, server, field) -> None:  # type: ignore[no-untyped-def]
    api, events = cloud
    resp = api.request("POST", "/v2.1/servers", {"server": server})
    assert resp.status_int == 400
    assert field in resp.json["badRequest"]["message"]
    assert not Spans(events).find("schedule_and_build_instances", "PRODUCER")


def test_unknown_flavor_and_image_are_400(cloud) -> None:  # type: ignore[no-untyped-def]
    api, _ = cloud
    bad_flavor = api.request("POST", "/v2.1/servers",
                             {"server": {"name": "x", "flavorRef": "m9.huge"}})
    assert bad_flavor.status_int == 400 and "flavorRef" in bad_flavor.json["badRequest"][
        "message"]
    bad_image = api.request("POST", "/v2.1/servers",
                            {"server": {"name": "x", "flavorRef": "1", "imageRef": "nope"}})
    assert bad_image.status_int == 400 and "image" in bad_image.json["badRequest"]["message"]


def test_create_202_then_show_list_delete(cloud) -> None:  # type: ignore[no-untyped-def]
    api, events = cloud
    resp = api.request("POST", "/v2.1/servers",
                       {"server": {"name": "web", "flavorRef": "m1.small",
                                   "imageRef": "bootflow-guest"}})
    assert resp.status_int == 202
    uuid = resp.json["server"]["id"]
    assert resp.headers["Location"].endswith(f"/v2.1/servers/{uuid}")
    api.wait_for_instances([uuid], timeout=20)
    shown = api.request("GET", f"/v2.1/servers/{uuid}").json["server"]
    assert shown["status"] == "ACTIVE" and shown["flavor"]["original_name"] == "m1.small"
    assert shown["OS-EXT-SRV-ATTR:host"] == "compute1"
    listed = api.request("GET", "/v2.1/servers").json["servers"]
    assert [s["id"] for s in listed] == [uuid]
    other = api.request("GET", "/v2.1/servers", token="alice:other").json["servers"]
    assert other == []
    (top,) = Spans(events).find("POST /v2.1/servers", "HTTP")
    assert top.service == "nova-api" and top.attrs["http.status_code"] == 202
    assert api.request("DELETE", f"/v2.1/servers/{uuid}").status_int == 204
    api.wait_for_instances([uuid], timeout=20, states=("deleted",))
    gone = api.request("GET", f"/v2.1/servers/{uuid}")
    assert gone.status_int == 404 and "itemNotFound" in gone.json


def test_flavors_and_images_lists(cloud) -> None:  # type: ignore[no-untyped-def]
    api, _ = cloud
    flavors = {f["name"]: f for f in api.request("GET", "/v2.1/flavors/detail").json[
        "flavors"]}
    assert flavors["m1.tiny"]["ram"] == 512 and flavors["m1.xlarge"]["vcpus"] == 8
    assert flavors["bootflow.guest"]["ram"] == 128
    images = api.request("GET", "/v2.1/images").json["images"]
    assert [i["name"] for i in images] == ["bootflow-guest"]
    assert api.request("GET", "/v2.1/nowhere").status_int == 404


@pytest.mark.parametrize("path, rule", [
    ("/v2.1/os-services", "os_compute_api:os-services"),
    ("/v2.1/os-hypervisors", "os_compute_api:os-hypervisors"),
    ("/v2.1/os-hypervisors/detail", "os_compute_api:os-hypervisors"),
])
def test_admin_api_policy(cloud, path, rule) -> None:  # type: ignore[no-untyped-def]
    """Stein's default policy (rule:admin_api): noauth2 user ``admin`` is admin."""
    api, _ = cloud
    denied = api.request("GET", path)  # demo:demo
    assert denied.status_int == 403
    assert denied.json == {"forbidden": {
        "code": 403, "message": f"Policy doesn't allow {rule} to be performed."}}
    assert api.request("GET", path, token="admin:admin").status_int == 200
