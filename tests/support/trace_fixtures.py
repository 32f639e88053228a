"""A realistic synthetic recording of one Stein boot, for exporter and reducer tests.

Built by hand (not by running the services) so exporter tests need no broker and stay
exact: every id and timestamp is deterministic. The hop sequence follows Stein:
nova-api casts schedule_and_build_instances to conductor (compute_task 1.17), conductor
calls select_destinations (4.5) on a scheduler, casts build_and_run_instance (5.0) to
compute.compute1, compute saves the instance through conductor (object_action calls) at each
state change and fans out update_instance_info to every scheduler.
"""

from __future__ import annotations

import itertools
from typing import Any

T0_NS = 1_700_000_000_000_000_000
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INSTANCE_UUID = "8f2c1d6e-3b4a-4c5d-9e8f-0a1b2c3d4e5f"


class TraceBuilder:
    """Emits span_start/span_end/annotate dicts exactly as ARCHITECTURE.md specifies."""

    def __init__(self, trace_id: str = TRACE_ID, t0_ns: int = T0_NS) -> None:
        self.trace_id = trace_id
        self.now = t0_ns
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._owner: dict[str, tuple[str, str]] = {}

    def tick(self, us: float) -> int:
        """Advance the clock by *us* microseconds and return the new time."""
        self.now += int(us * 1000)
        return self.now

    def new_id(self) -> str:
        return f"{next(self._ids):016x}"

    def start(self, name: str, service: str, host: str, kind: str, parent: str | None = None,
              attrs: dict[str, Any] | None = None, links: tuple[str, ...] = ()) -> str:
        sid = self.new_id()
        self._owner[sid] = (service, host)
        self.events.append({
            "type": "span_start", "trace_id": self.trace_id, "span_id": sid,
            "parent_id": parent, "name": name, "service": service, "host": host,
            "kind": kind, "ts_ns": self.now, "attrs": dict(attrs or {}),
            "links": [{"trace_id": self.trace_id, "span_id": lk} for lk in links],
        })
        return sid

    def end(self, sid: str, status: str = "OK", attrs: dict[str, Any] | None = None) -> None:
        self.events.append({"type": "span_end", "trace_id": self.trace_id, "span_id": sid,
                            "ts_ns": self.now, "status": status, "attrs": dict(attrs or {})})

    def annotate(self, sid: str | None, name: str, attrs: dict[str, Any],
                 where: tuple[str, str] | None = None) -> None:
        service, host = where or self._owner[sid or ""]
        self.events.append({"type": "annotate", "trace_id": self.trace_id if sid else None,
                            "span_id": sid, "name": name, "service": service, "host": host,
                            "ts_ns": self.now, "attrs": dict(attrs)})

    def state(self, sid: str, vm_state: str, task_state: str | None, host: str | None) -> None:
        self.annotate(sid, "instance.state", {"instance_uuid": INSTANCE_UUID,
                                              "vm_state": vm_state, "task_state": task_state,
                                              "host": host})


def rpc_attrs(method: str, style: str, version: str, namespace: str | None, topic: str,
              server: str | None, location: str, msg_id: str, reply: bool = False,
              timeout: int | None = None) -> dict[str, Any]:
    """The attributes the messaging layer puts on both sides of a hop."""
    if style == "fanout":
        exchange, routing_key = f"{topic}_fanout", ""
    else:
        exchange, routing_key = "nova", f"{topic}.{server}" if server else topic
    attrs: dict[str, Any] = {
        "rpc.system": "oslo_messaging", "rpc.method": method, "rpc.style": style,
        "rpc.version": version, "rpc.namespace": namespace,
        "messaging.destination.name": exchange,
        "messaging.rabbitmq.destination.routing_key": routing_key,
        "messaging.message.id": msg_id, "code.location": location,
        "rpc.topic": topic, "rpc.server": server,
        "messaging.message.body.size": 600 + 7 * len(method),
    }
    if reply:
        attrs["rpc.reply_q"] = "reply_5c0e6ad7b4c34d6bbf5b1e4b3c9b0a11"
        attrs["rpc.timeout"] = timeout
    return attrs


def _call(b: TraceBuilder, parent: str, method: str, version: str, namespace: str | None,
          src: tuple[str, str], dst: tuple[str, str], topic: str, client_loc: str,
          server_loc: str, work_us: float, inner: Any = None) -> None:
    """CLIENT span on the caller enclosing the SERVER span on the callee (a blocking call)."""
    msg_id = f"{next(b._ids):032x}"
    attrs = rpc_attrs(method, "call", version, namespace, topic, None, "", msg_id, True, 60)
    cl = b.start(method, *src, "CLIENT", parent, {**attrs, "code.location": client_loc})
    b.tick(180)
    sv = b.start(method, *dst, "SERVER", cl, {**attrs, "code.location": server_loc})
    b.tick(work_us)
    if inner is not None:
        inner(sv)
    b.end(sv)
    b.tick(150)
    b.end(cl)


def boot_flow(trace_id: str = TRACE_ID) -> list[dict[str, Any]]:
    """The events of one `openstack server create`, in emission order."""
    b = TraceBuilder(trace_id)
    api = ("nova-api", "api")
    cond = ("nova-conductor", "conductor")
    sched1 = ("nova-scheduler", "scheduler1")
    sched2 = ("nova-scheduler", "scheduler2")
    comp = ("nova-compute", "compute1")

    b.annotate(None, "service.report", {"binary": "nova-compute", "host": "compute1",
                                        "topic": "compute", "report_count": 3}, where=comp)
    b.tick(50)
    http = b.start("POST /v2.1/servers", *api, "HTTP", None, {
        "http.request.method": "POST", "http.route": "/v2.1/servers",
        "url.path": "/v2.1/servers", "code.location":
        "nova/api/openstack/compute/servers.py:ServersController.create"})
    b.tick(900)
    b.state(http, "building", "scheduling", None)
    b.tick(300)
    msg = "b6f1a4c2e8d94f0a9c3b2a1d0e9f8a7b"
    cast_attrs = rpc_attrs("schedule_and_build_instances", "cast", "1.17", "compute_task",
                           "conductor", None, "", msg)
    prod = b.start("schedule_and_build_instances", *api, "PRODUCER", http, {
        **cast_attrs, "code.location":
        "nova/conductor/rpcapi.py:ComputeTaskAPI.schedule_and_build_instances"})
    b.tick(120)
    b.end(prod)
    b.tick(200)
    b.end(http, attrs={"http.response.status_code": 202})
    b.tick(400)
    cons = b.start("schedule_and_build_instances", *cond, "CONSUMER", prod, {
        **cast_attrs, "code.location":
        "nova/conductor/manager.py:ComputeTaskManager.schedule_and_build_instances"},
        links=(prod,))
    b.tick(250)

    def filters(server_span: str) -> None:
        for name in ("RetryFilter", "AvailabilityZoneFilter", "ComputeFilter",
                     "ComputeCapabilitiesFilter", "ImagePropertiesFilter",
                     "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter"):
            f = b.start(name, *sched1, "INTERNAL", server_span, {
                "code.location": f"nova/scheduler/filters:{name}.host_passes",
                "scheduler.hosts.in": 1, "scheduler.hosts.out": 1})
            b.tick(40)
            b.end(f)
            b.tick(5)
        w = b.start("weigh_hosts", *sched1, "INTERNAL", server_span, {
            "code.location":
            "nova/scheduler/filter_scheduler.py:FilterScheduler._get_sorted_hosts"})
        b.tick(60)
        b.end(w)
        b.tick(30)

    _call(b, cons, "select_destinations", "4.5", None, cond, sched1, "scheduler",
          "nova/scheduler/rpcapi.py:SchedulerAPI.select_destinations",
          "nova/scheduler/manager.py:SchedulerManager.select_destinations", 200, filters)
    b.tick(300)
    msg = "0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"
    build_attrs = rpc_attrs("build_and_run_instance", "cast", "5.0", None, "compute",
                            "compute1", "", msg)
    prod2 = b.start("build_and_run_instance", *cond, "PRODUCER", cons, {
        **build_attrs, "code.location":
        "nova/compute/rpcapi.py:ComputeAPI.build_and_run_instance"})
    b.tick(100)
    b.end(prod2)
    b.tick(50)
    b.end(cons)
    b.tick(600)
    bld = b.start("build_and_run_instance", *comp, "CONSUMER", prod2, {
        **build_attrs, "code.location":
        "nova/compute/manager.py:ComputeManager.build_and_run_instance"}, links=(prod2,))
    b.tick(200)

    def save() -> None:
        _call(b, bld, "object_action", "3.0", None, comp, cond, "conductor",
              "nova/conductor/rpcapi.py:ConductorAPI.object_action",
              "nova/conductor/manager.py:ConductorManager.object_action", 400)
        b.tick(100)

    for vm_state, task_state in (("building", None), ("building", "networking"),
                                 ("building", "block_device_mapping"),
                                 ("building", "spawning")):
        b.state(bld, vm_state, task_state, "compute1")
        b.tick(20)
        save()
        b.tick(500)
    spawn = b.start("spawn", *comp, "INTERNAL", bld, {
        "code.location": "nova/virt/libvirt/driver.py:LibvirtDriver.spawn"})
    b.tick(2500)
    b.end(spawn)
    b.state(bld, "active", None, "compute1")
    b.tick(20)
    save()
    msg = "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"
    fan_attrs = rpc_attrs("update_instance_info", "fanout", "4.2", None, "scheduler", None, "",
                          msg)
    fan = b.start("update_instance_info", *comp, "PRODUCER", bld, {
        **fan_attrs, "code.location": "nova/scheduler/rpcapi.py:SchedulerAPI.update_instance_info"})
    b.tick(90)
    b.end(fan)
    b.tick(40)
    b.end(bld)
    for i, sched in enumerate((sched1, sched2)):
        b.tick(200 + 50 * i)
        c = b.start("update_instance_info", *sched, "CONSUMER", fan, {
            **fan_attrs, "code.location":
            "nova/scheduler/manager.py:SchedulerManager.update_instance_info"}, links=(fan,))
        b.tick(80)
        b.end(c)
    return b.events


def truncated(events: list[dict[str, Any]], keep: int) -> list[dict[str, Any]]:
    """The first *keep* events: a recording cut off mid-flight (spans left unfinished)."""
    return events[:keep]
