"""Service (nova/service.py): create → start → stop of one nova-* binary.

start(): init_host, service record, pre_start_hook, RPC server on Target(topic,
server=host) with [manager, BaseRPCAPI] + additional endpoints, post_start_hook,
servicegroup heartbeat, periodic tasks. Every step is a span of the start-up trace.
"""

from __future__ import annotations

import importlib
import random
import threading
from typing import Any

from services import baserpc, exception, messaging, rpc
from services.conductor import api as conductor_api
from services.conductor import rpcapi as conductor_rpcapi
from services.context import get_admin_context
from services.objects import Service as ServiceObj
from services.objects import base as objects_base
from tracer.instrument import api as trace

STEIN_LOCATION = "nova/service.py:Service"
INITIAL_REPORTING_DELAY = 5  # nova/servicegroup/api.py: the first heartbeat after 5 s

SERVICE_MANAGERS = {
    "nova-compute": "services.compute.manager.ComputeManager",
    "nova-conductor": "services.conductor.manager.ConductorManager",
    "nova-scheduler": "services.scheduler.manager.SchedulerManager",
}
# binaries without DB access: their objects go through the conductor
USES_CONDUCTOR = {"nova-compute"}


def import_class(path: str) -> Any:
    module, _, cls = path.rpartition(".")
    return getattr(importlib.import_module(module), cls)


class ServiceGroupAPI:
    """servicegroup DB driver: a heartbeat writes report_count; down after service_down_time."""

    STEIN_LOCATION = "nova/servicegroup/drivers/db.py:DbDriver"

    def __init__(self, config: Any) -> None:
        self.config = config

    def report_state(self, service: Service) -> None:
        ref = service.service_ref
        if ref is None:
            return
        with trace.span("_report_state", "INTERNAL",
                        attrs={"code.location": f"{self.STEIN_LOCATION}._report_state"}):
            ref.report_count = (ref.report_count or 0) + 1
            ref.save()
        trace.annotate("service.report", {"binary": service.binary, "host": service.host,
                                          "topic": service.topic,
                                          "report_count": ref.report_count})

    def is_up(self, service_ref: Any) -> bool:
        import datetime as dt
        last = service_ref.updated_at or service_ref.created_at
        if last is None:
            return False
        age = dt.datetime.now(dt.UTC).replace(tzinfo=None) - last
        return abs(age.total_seconds()) <= self.config.service_down_time


class Service:
    """One nova-* service: a manager behind an RPC server, plus heartbeat and periodics."""

    STEIN_LOCATION = STEIN_LOCATION

    def __init__(self, host: str, binary: str, topic: str, manager: str, config: Any,
                 transport: Any, log: Any = None) -> None:
        self.host = host
        self.binary = binary
        self.topic = topic
        self.config = config
        self.transport = transport
        self.log = log or (lambda msg: None)
        self.manager_class_name = manager
        self.servicegroup_api = ServiceGroupAPI(config)
        manager_class = import_class(manager)
        if binary in USES_CONDUCTOR:
            # nova/cmd/compute.py: NovaObject.indirection_api = ConductorAPI()
            objects_base.set_indirection_api(
                conductor_rpcapi.ConductorAPI(transport, config), binary, host)
            conductor_api.API(transport, config).wait_until_ready(
                get_admin_context(), log=self.log)
        rpc.init_notifications(config, transport)
        with trace.stein_step(getattr(manager_class, "STEIN_LOCATION", "nova/manager.py:Manager"),
                              "__init__", manager=manager):
            self.manager = manager_class(config=config, host=host, transport=transport)
        self.rpcserver: Any = None
        self.service_ref: Any = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        return (f"<Service: host={self.host}, binary={self.binary}, "
                f"manager_class_name={self.manager_class_name}>")

    @classmethod
    def create(cls, binary: str, topic: str | None = None, manager: str | None = None,
               host: str | None = None, config: Any = None, transport: Any = None,
               log: Any = None) -> Service:
        topic = topic or binary.rpartition("nova-")[2]
        manager = manager or SERVICE_MANAGERS[binary]
        host = host or binary.rpartition("nova-")[2]
        with trace.stein_step(STEIN_LOCATION, "create", qualified=True, binary=binary,
                              topic=topic, host=host):
            return cls(host, binary, topic, manager, config, transport, log)

    def start(self) -> None:
        """Stein's Service.start: init_host, the service record, pre_start_hook, the RPC
        server, post_start_hook, servicegroup join (first heartbeat after
        INITIAL_REPORTING_DELAY), periodic tasks after a random fuzzy delay. Each step is
        labelled with the Stein function it runs."""
        with trace.stein_step(STEIN_LOCATION, "start", qualified=True, binary=self.binary):
            with self._hook_step("init_host"):
                self.manager.init_host()
            ctxt = get_admin_context()
            self.service_ref = ServiceObj.get_by_host_and_binary(ctxt, self.host,
                                                                 self.binary)
            if self.service_ref is None:
                with trace.span("_create_service_ref", "INTERNAL", attrs={
                        "code.location": "nova/service.py:_create_service_ref",
                        "binary": self.binary}):
                    self.service_ref = ServiceObj(ctxt, host=self.host, binary=self.binary,
                                                  topic=self.topic, report_count=0,
                                                  disabled=False,
                                                  version=self._service_version())
                    try:
                        self.service_ref.create()
                    except exception.ServiceBinaryExists:
                        # a sibling worker won the race (nova/service.py Service.start)
                        self.service_ref = ServiceObj.get_by_host_and_binary(
                            ctxt, self.host, self.binary)
            else:
                self.service_ref._context = ctxt
            with self._hook_step("pre_start_hook"):
                self.manager.pre_start_hook()
            target = messaging.Target(topic=self.topic, server=self.host)
            endpoints = [self.manager, baserpc.BaseRPCAPI(self.manager.service_name)]
            endpoints.extend(self.manager.additional_endpoints)
            # the statements of Service.start: self.rpcserver = rpc.get_server(...);
            # self.rpcserver.start() -- the span keeps that name, located at get_server
            with trace.span("rpcserver.start", "INTERNAL", attrs={
                    "code.location": "nova/rpc.py:get_server", "topic": self.topic,
                    "server": self.host, "endpoints": [type(e).__name__ for e in endpoints]}):
                self.rpcserver = rpc.get_server(self.transport, target, endpoints,
                                                service=self.binary, host=self.host)
                self.rpcserver.start()
            with self._hook_step("post_start_hook"):
                self.manager.post_start_hook()
            # Stein waits INITIAL_REPORTING_DELAY; a faster heartbeat than that (tests,
            # scenarios with report_interval 1) keeps its own pace from the start
            first = min(INITIAL_REPORTING_DELAY, self.config.report_interval)
            with trace.span("servicegroup.join", "INTERNAL", attrs={
                    "code.location": "nova/servicegroup/api.py:API.join",
                    "report_interval": self.config.report_interval,
                    "initial_delay": first}):
                self._spawn_timer("heartbeat", self.config.report_interval,
                                  lambda: self.servicegroup_api.report_state(self),
                                  initial_delay=first)
            if hasattr(self.manager, "periodic_tasks"):
                fuzzy = self.config.periodic_fuzzy_delay
                self._spawn_timer("periodic_tasks", self.config.periodic_interval,
                                  self._periodic_tasks,
                                  # 0: no delay, the first run at once (as Stein)
                                  initial_delay=random.randint(0, fuzzy) if fuzzy else 0)
            # periodic tasks with a spacing of their own (oslo.service's
            # @periodic_task(spacing=N)); a negative or zero spacing turns one off
            for name, spacing, task in getattr(self.manager, "spaced_periodic_tasks",
                                               lambda: [])():
                if spacing > 0:
                    self._spawn_timer(name, spacing,
                                      lambda task=task: task(get_admin_context()))

    def _hook_step(self, hook: str) -> trace.Span:
        """A span for a manager hook, located where Stein defines it: the manager's own
        method when it overrides the hook, else nova/manager.py:Manager."""
        cls = type(self.manager)
        overridden = any(hook in vars(k) for k in cls.__mro__
                         if k.__module__ != "services.manager" and k is not object)
        location = cls.STEIN_LOCATION if overridden else "nova/manager.py:Manager"
        return trace.stein_step(location, hook)

    def _service_version(self) -> int:
        """SERVICE_VERSION, or an older one when this service plays a previous release
        (``[upgrade_levels]``-style scenario knob ``service_version``)."""
        return int(self.config.extra.get("service_version") or ServiceObj.SERVICE_VERSION)

    def _periodic_tasks(self) -> None:
        with trace.span("periodic_tasks", "INTERNAL", parent=None,
                        attrs={"code.location": "nova/manager.py:Manager.periodic_tasks"}):
            self.manager.periodic_tasks(get_admin_context())

    def _spawn_timer(self, name: str, interval: float, fn: Any,
                     initial_delay: float | None = None) -> None:
        """A daemon thread that runs *fn* after *initial_delay* s (None: *interval*),
        then every *interval* s, as this service (identity)."""

        def loop() -> None:
            with trace.identity(self.binary, self.host):
                wait = interval if initial_delay is None else initial_delay
                while not self._stop.wait(wait):
                    wait = interval
                    try:
                        fn()
                    except Exception as exc:  # keep beating, say why
                        trace.annotate("log", {"level": "ERROR",
                                               "message": f"{name} failed: {exc!r}"})

        t = threading.Thread(target=loop, name=f"{self.binary}-{self.host}-{name}",
                             daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        if self.rpcserver is not None:
            self.rpcserver.stop()
            self.rpcserver.wait()
        for t in self._threads:
            t.join(timeout=5)
        cleanup = getattr(self.manager, "cleanup_host", None)
        if cleanup is not None:
            cleanup()
        if self.binary in USES_CONDUCTOR:
            objects_base.set_indirection_api(None, self.binary, self.host)
