"""Config: Stein defaults, TOML file, BOOTFLOW_* env overrides, masked printing."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.conf import Config
from services.context import RequestContext, RequestContextSerializer, get_admin_context


def test_stein_defaults() -> None:
    c = Config.load(env={})
    assert (c.rpc_response_timeout, c.long_rpc_timeout, c.report_interval,
            c.service_down_time, c.periodic_interval) == (60, 1800, 10, 60, 60)
    assert (c.early_timeout, c.early_attempts, c.max_attempts, c.vif_plugging_timeout) == (
        10, 10, 3, 300)
    assert (c.cpu_allocation_ratio, c.ram_allocation_ratio, c.disk_allocation_ratio) == (
        16.0, 1.5, 1.0)
    assert c.virt_type == "test" and c.connection_uri == "test:///default"
    assert c.default_availability_zone == "nova"


def test_file_then_env_then_keywords(tmp_path: Path) -> None:
    f = tmp_path / "bootflow.toml"
    f.write_text('[DEFAULT]\ntransport_url = "rabbit://u:p@h:5672/"\nreport_interval = 5\n'
                 '[libvirt]\nvirt_type = "qemu"\n')
    c = Config.load(f, env={"BOOTFLOW_REPORT_INTERVAL": "7",
                            "BOOTFLOW_RAM_ALLOCATION_RATIO": "2.5"}, max_attempts=5)
    assert c.transport_url == "rabbit://u:p@h:5672/"
    assert c.report_interval == 7 and c.ram_allocation_ratio == 2.5 and c.max_attempts == 5
    assert c.virt_type == "qemu" and c.connection_uri == "qemu:///system"


def test_masked_hides_broker_password() -> None:
    c = Config.load(env={"BOOTFLOW_TRANSPORT_URL": "rabbit://guest:s3cret@10.0.0.1:5672/"})
    assert c.transport_url.endswith("s3cret@10.0.0.1:5672/")
    shown = c.masked()
    assert "s3cret" not in str(shown)
    assert shown["transport_url"] == "rabbit://guest:***@10.0.0.1:5672/"


def test_unknown_option_is_an_error() -> None:
    with pytest.raises(ValueError, match="no_such_option"):
        Config.load(env={}, no_such_option=1)


def test_context_round_trip_through_serializer() -> None:
    ctx = RequestContext(user_id="u", project_id="p", auth_token="tok", roles=["member"])
    assert ctx.request_id.startswith("req-")
    ser = RequestContextSerializer()
    wire = ser.serialize_context(ctx)
    assert wire["project_id"] == "p" and wire["tenant"] == "p" and wire["auth_token"] == "tok"
    back = ser.deserialize_context(wire)
    assert isinstance(back, RequestContext)
    assert (back.user_id, back.project_id, back.request_id) == ("u", "p", ctx.request_id)
    assert get_admin_context().is_admin
