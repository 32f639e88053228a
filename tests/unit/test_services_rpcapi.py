"""rpcapi clients: Stein versions, and what they strip for an older peer (version cap)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from services import exception, messaging, rpc
from services.conductor import rpcapi as conductor_rpcapi
from services.conf import Config
from services.context import RequestContext
from services.objects import RequestSpec
from services.scheduler import rpcapi as scheduler_rpcapi
from tracer.instrument import api as trace


@pytest.fixture
def wire() -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    events: list[dict[str, Any]] = []
    trace.set_emitter(events.append)
    cfg = Config.load(env={}, control_exchange=f"rpcapi-{time.time_ns()}")
    transport = rpc.get_transport(cfg)
    try:
        yield (cfg, transport), events
    finally:
        trace.set_emitter(None)
        transport.cleanup()


def _sent(events: list[dict[str, Any]], method: str) -> tuple[dict[str, Any], dict[str, Any]]:
    (start,) = [e for e in events if e["type"] == "span_start" and e["name"] == method]
    return start["attrs"], json.loads(start["attrs"]["bootflow.envelope"])


def test_schedule_and_build_instances_1_17_with_tags(wire) -> None:  # type: ignore[no-untyped-def]
    (cfg, transport), events = wire
    api = conductor_rpcapi.ComputeTaskAPI(transport, cfg)
    api.schedule_and_build_instances(RequestContext(), [], [], {}, None, [], None, [], tags=[])
    attrs, env = _sent(events, "schedule_and_build_instances")
    assert (attrs["rpc.style"], attrs["rpc.namespace"], env["version"]) == (
        "cast", "compute_task", "1.17")
    assert "tags" in env["args"]
    assert attrs["code.location"].startswith("nova/conductor/rpcapi.py:ComputeTaskAPI")


def test_capped_peer_gets_1_16_without_tags(wire) -> None:  # type: ignore[no-untyped-def]
    (cfg, transport), events = wire
    api = conductor_rpcapi.ComputeTaskAPI(transport, cfg, version_cap="1.16")
    api.schedule_and_build_instances(RequestContext(), [], [], {}, None, [], None, [], tags=[])
    conductor_rpcapi.ComputeTaskAPI(transport, cfg, version_cap="1.18").build_instances(
        RequestContext(), instances=[], image={}, filter_properties={}, admin_password=None,
        injected_files=[], requested_networks=None, security_groups=[],
        block_device_mapping=[], host_lists=[[]])
    _, env = _sent(events, "schedule_and_build_instances")
    assert env["version"] == "1.16" and "tags" not in env["args"]
    _, env = _sent(events, "build_instances")
    assert env["version"] == "1.18" and "host_lists" not in env["args"]


def test_select_destinations_is_a_long_monitored_call(wire) -> None:  # type: ignore[no-untyped-def]
    (cfg, transport), events = wire
    cfg.long_rpc_timeout, cfg.rpc_response_timeout = 0.5, 0.2
    api = scheduler_rpcapi.SchedulerAPI(transport, cfg)
    with pytest.raises(messaging.MessagingTimeout):  # nobody serves "scheduler" here
        api.select_destinations(RequestContext(), None, ["u1"], True, True)
    attrs, env = _sent(events, "select_destinations")
    assert attrs["rpc.style"] == "call" and env["version"] == "4.5"
    assert attrs["rpc.timeout"] == 0.5 and env["_timeout"] == 0.2


def test_select_destinations_refuses_objects_to_old_scheduler(wire) -> None:  # type: ignore[no-untyped-def]
    (cfg, transport), events = wire
    api = scheduler_rpcapi.SchedulerAPI(transport, cfg, version_cap="4.4")
    with pytest.raises(exception.SelectionObjectsWithOldRPCVersionNotSupported,
                       match="before RPC version 4.5; version 4.4 requested"):
        api.select_destinations(RequestContext(), None, ["u1"], return_objects=True)
    assert not [e for e in events if e["type"] == "span_start"]  # nothing was sent


@pytest.mark.parametrize(("cap", "version", "args"), [
    ("4.4", "4.4", {"instance_uuids", "spec_obj"}),
    ("pike", "4.4", {"instance_uuids", "spec_obj"}),
    ("4.3", "4.3", {"spec_obj"}),
    ("mitaka", "4.3", {"spec_obj"}),
    ("4.2", "4.0", {"request_spec", "filter_properties"}),
])
def test_select_destinations_steps_down_like_stein(wire, cap: str, version: str,  # type: ignore[no-untyped-def]
                                                   args: set[str]) -> None:
    """Stein's ladder 4.5 → 4.4 → 4.3 → 4.0, each step dropping what the older
    scheduler does not know (the recording's envelope shows what went out)."""
    (cfg, transport), events = wire
    cfg.long_rpc_timeout, cfg.rpc_response_timeout = 0.2, 0.2
    cfg.upgrade_levels = {"scheduler": cap}
    api = scheduler_rpcapi.SchedulerAPI(transport, cfg)
    spec = RequestSpec(RequestContext(), instance_uuid="u1", num_instances=1, retry=None,
                       scheduler_hints={}, force_hosts=[], ignore_hosts=[], force_nodes=[])
    with pytest.raises(messaging.MessagingTimeout):  # nobody serves "scheduler" here
        api.select_destinations(RequestContext(), spec, ["u1"])
    _, env = _sent(events, "select_destinations")
    assert env["version"] == version and set(env["args"]) == args


def test_update_instance_info_is_fanout(wire) -> None:  # type: ignore[no-untyped-def]
    (cfg, transport), events = wire
    scheduler_rpcapi.SchedulerAPI(transport, cfg).update_instance_info(
        RequestContext(), "compute1", [])
    attrs, env = _sent(events, "update_instance_info")
    assert attrs["rpc.style"] == "fanout" and env["version"] == "4.2"
    assert attrs["messaging.destination.name"] == "scheduler_fanout"
