"""The headless demo output: hops labelled call/cast, durations, states, instance table."""

from __future__ import annotations

import io
import itertools
from typing import Any

from rich.console import Console

from tracer.instrument.events import validate
from tracer.render import final_instance_states, render_text, render_trace

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
UUID = "8f2c1d6e-3b4a-4c5d-9e8f-0a1b2c3d4e5f"
MS = 1_000_000


class Flow:
    """Builds span events by hand, deterministic ids and clock (ms offsets)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def start(self, t: float, name: str, who: tuple[str, str], kind: str,
              parent: str | None = None, **attrs: Any) -> str:
        sid = f"{next(self._ids):016x}"
        self.events.append({
            "type": "span_start", "trace_id": TRACE, "span_id": sid, "parent_id": parent,
            "name": name, "service": who[0], "host": who[1], "kind": kind,
            "ts_ns": int(t * MS), "attrs": attrs, "links": []})
        return sid

    def end(self, t: float, sid: str, status: str = "OK", **attrs: Any) -> None:
        self.events.append({"type": "span_end", "trace_id": TRACE, "span_id": sid,
                            "ts_ns": int(t * MS), "status": status, "attrs": attrs})

    def state(self, t: float, sid: str, who: tuple[str, str], vm: str, task: str | None,
              host: str | None = None) -> None:
        self.events.append({"type": "annotate", "trace_id": TRACE, "span_id": sid,
                            "name": "instance.state", "service": who[0], "host": who[1],
                            "ts_ns": int(t * MS),
                            "attrs": {"instance_uuid": UUID, "vm_state": vm,
                                      "task_state": task, "host": host}})

    def sort(self) -> list[dict[str, Any]]:
        return sorted(self.events, key=lambda e: e["ts_ns"])


API, COND, SCHED, CPU = (("nova-api", "api"), ("nova-conductor", "conductor"),
                         ("nova-scheduler", "scheduler"), ("nova-compute", "compute1"))


def rpc(method: str, style: str, version: str, namespace: str | None, key: str) -> dict:
    return {"rpc.method": method, "rpc.style": style, "rpc.version": version,
            "rpc.namespace": namespace, "messaging.rabbitmq.destination.routing_key": key}


def boot_flow(fail_spawn: bool = False) -> list[dict[str, Any]]:
    f = Flow()
    http = f.start(0, "POST /v2.1/servers", API, "HTTP", **{"http.method": "POST"})
    f.state(1, http, API, "building", "scheduling")
    cast1 = f.start(2, "schedule_and_build_instances", API, "PRODUCER", http,
                    **rpc("schedule_and_build_instances", "cast", "1.17", "compute_task",
                          "conductor"))
    f.end(2.5, cast1)
    f.end(3, http)
    srv1 = f.start(4, "schedule_and_build_instances", COND, "CONSUMER", cast1,
                   **{"code.location": "nova/conductor/manager.py:ComputeTaskManager."
                                       "schedule_and_build_instances"})
    call = f.start(5, "select_destinations", COND, "CLIENT", srv1,
                   **rpc("select_destinations", "call", "4.5", None, "scheduler"))
    srv2 = f.start(5.4, "select_destinations", SCHED, "SERVER", call,
                   **{"code.location": "nova/scheduler/manager.py:SchedulerManager."
                                       "select_destinations"})
    flt = f.start(6, "filter RamFilter", SCHED, "INTERNAL", srv2)
    f.end(7, flt)
    f.end(17, srv2)
    f.end(17.3, call)
    cast2 = f.start(18, "build_and_run_instance", COND, "PRODUCER", srv1,
                    **rpc("build_and_run_instance", "cast", "5.0", None, "compute.compute1"))
    f.end(18.4, cast2)
    f.end(19, srv1)
    srv3 = f.start(20, "build_and_run_instance", CPU, "CONSUMER", cast2)
    f.state(21, srv3, CPU, "building", "networking", "compute1")
    f.state(22, srv3, CPU, "building", "spawning", "compute1")
    spawn = f.start(23, "driver.spawn", CPU, "INTERNAL", srv3)
    if fail_spawn:
        f.end(30, spawn, "ERROR", **{"status.message": "libvirtError: boom"})
        f.state(31, srv3, CPU, "error", None, "compute1")
    else:
        f.end(30, spawn)
        f.state(31, srv3, CPU, "active", None, "compute1")
    f.end(32, srv3)
    return f.sort()


def _print(events: list[dict[str, Any]], compact: bool = True) -> str:
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(render_trace(events, compact))
    return console.export_text()


def test_synthetic_flow_is_valid() -> None:
    for event in boot_flow():
        validate(event)


def test_boot_flow_render() -> None:
    text = _print(boot_flow())
    assert "[call] select_destinations" in text
    assert "v4.5" in text
    assert "conductor → scheduler" in text
    assert ("[call] select_destinations v4.5  conductor → scheduler  12.3 ms "
            "(caller blocked; callee 11.6 ms)") in text
    assert ("[cast] build_and_run_instance v5.0  conductor → compute1  0.4 ms "
            "(caller went on; callee 12.0 ms)") in text
    assert "[cast] build_and_run_instance" in text and "→ compute1" in text
    assert "[cast] schedule_and_build_instances" in text
    assert "● building/scheduling" in text and "● building/spawning" in text
    assert "nova/scheduler/manager.py:SchedulerManager.select_destinations" in text
    assert "active" in text
    assert "building(scheduling → networking → spawning) → active" in text


def test_compact_tree_folds_plumbing() -> None:
    """Filter spans (no Stein location here) are folded away unless the full tree is asked."""
    assert "filter RamFilter" not in _print(boot_flow())
    assert "filter RamFilter" in _print(boot_flow(), compact=False)


def test_nesting_and_order() -> None:
    lines = _print(boot_flow(), compact=False).splitlines()

    def row(needle: str) -> int:
        return next(i for i, line in enumerate(lines) if needle in line)

    def indent(i: int) -> int:
        return len(lines[i]) - len(lines[i].lstrip(" │├└─━┗┣┃"))

    http, call = row("POST /v2.1/servers"), row("[call] select_destinations")
    server, flt = row("⇒ nova/scheduler/manager.py"), row("filter RamFilter")
    cast = row("[cast] build_and_run_instance")
    assert http < call < server < flt < cast
    # the callee's location sits on the hop's own line; its work nests one level deeper
    assert indent(http) < indent(call) <= indent(server) < indent(flt)


def test_error_span_shows_message() -> None:
    text = _print(boot_flow(fail_spawn=True))
    assert "ERROR: libvirtError: boom" in text
    assert final_instance_states(boot_flow(fail_spawn=True))[UUID]["vm_state"] == "error"


def test_final_instance_states() -> None:
    states = final_instance_states(boot_flow())
    assert states == {UUID: {"vm_state": "active", "task_state": None, "host": "compute1",
                             "path": ["building/scheduling", "building/networking",
                                      "building/spawning", "active/-"]}}


def test_open_spans_and_empty_input() -> None:
    events = boot_flow()[:12]  # cut mid-call: the call is still waiting
    text = render_text(events)
    assert "[call] select_destinations" in text and "open" in text
    assert "no spans" in render_text([])
