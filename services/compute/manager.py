"""ComputeManager (nova/compute/manager.py), RPC API 5.1.

build_and_run_instance (a cast in) → _locked_do_build_and_run_instance (own thread) →
_do_build_and_run_instance → _build_and_run_instance → driver.spawn. Every state write is
``instance.save()``, which here is an ``object_action`` **call** to nova-conductor.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from services import exception, messaging, rpc
from services.compute import resource_tracker
from services.compute import rpcapi as compute_rpcapi
from services.compute import utils as compute_utils
from services.conductor import api as conductor_api
from services.manager import Manager
from services.network import neutron
from services.network.model import NetworkInfoAsyncWrapper
from services.objects import ImageMeta, InstanceActionEvent, InstanceList
from services.scheduler.client import query
from services.virt import driver as virt_driver
from tracer.instrument import api as trace

STEIN_LOCATION = "nova/compute/manager.py:ComputeManager"


def spawn_n(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> threading.Thread:
    """nova.utils.spawn_n: a new thread that keeps the trace context and identity."""
    ctx = contextvars.copy_context()
    t = threading.Thread(target=ctx.run, args=(fn, *args), kwargs=kwargs, daemon=True,
                         name=f"compute-{getattr(fn, '__name__', 'task')}")
    t.start()
    return t


class InstanceEvents:
    """Waiters for external events (network-vif-plugged-<port>) per instance."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], threading.Event] = {}
        self._lock = threading.Lock()

    def prepare_for_instance_event(self, instance: Any, name: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault((instance.uuid, name), threading.Event())

    def pop_instance_event(self, instance_uuid: str, name: str) -> threading.Event | None:
        with self._lock:
            return self._events.pop((instance_uuid, name), None)

    def clear_events_for_instance(self, instance_uuid: str) -> None:
        with self._lock:
            for key in [k for k in self._events if k[0] == instance_uuid]:
                del self._events[key]


class ComputeVirtAPI:
    """What the driver may ask of the compute manager (nova/compute/manager.py)."""

    def __init__(self, compute: ComputeManager) -> None:
        self._compute = compute

    @contextlib.contextmanager
    def wait_for_instance_event(self, instance: Any, event_names: list[str],
                                deadline: float = 300,
                                error_callback: Any = None) -> Iterator[None]:
        events = {n: self._compute.instance_events.prepare_for_instance_event(instance, n)
                  for n in event_names}
        yield
        if not events:
            return
        with trace.span("wait_for_instance_event", "INTERNAL",
                        attrs={"code.location": "nova/compute/manager.py:ComputeVirtAPI."
                                                "wait_for_instance_event",
                               "events": event_names, "deadline": deadline}):
            end = time.monotonic() + deadline
            for name, ev in events.items():
                if not ev.wait(max(0.0, end - time.monotonic())):
                    self._compute.instance_events.clear_events_for_instance(instance.uuid)
                    # Stein: eventlet.timeout.Timeout; the driver decides what it means
                    raise TimeoutError(f"Timeout waiting for {name} for instance "
                                       f"{instance.uuid}")

    def plug_vifs(self, instance: Any, network_info: list[dict[str, Any]]) -> None:
        if network_info:
            self._compute.network_api.plug(instance, network_info)


class ComputeManager(Manager):
    """Manages the running instances from creation to destruction."""

    service_name = "compute"
    STEIN_LOCATION = STEIN_LOCATION
    target = messaging.Target(version="5.1")

    def __init__(self, config: Any, host: str, transport: Any, **_: Any) -> None:
        self.config = config
        self.host = host
        self.transport = transport
        self.virtapi = ComputeVirtAPI(self)
        self.driver = virt_driver.load_compute_driver(self.virtapi, config, host)
        self.compute_rpcapi = compute_rpcapi.ComputeAPI(transport, config)
        self.compute_task_api = conductor_api.ComputeTaskAPI(transport, config)
        self.conductor_api = conductor_api.API(transport, config)
        self.scheduler_client = query.SchedulerQueryClient(transport, config)
        self.network_api = neutron.API(event_sink=self._neutron_event)
        self.rt = resource_tracker.ResourceTracker(host, self.driver, config)
        self.instance_events = InstanceEvents()
        self.additional_endpoints: list[Any] = []
        self._build_semaphore = threading.Semaphore(10)  # max_concurrent_builds
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._builds_in_flight: set[str] = set()  # build casts taken by this process
        self.admin_context: Any = None

    # ---- service hooks ------------------------------------------------------------
    def init_host(self) -> None:
        """Stein: connect the driver, then _init_instance for each instance on this host,
        so nothing a killed compute left half-done stays so (and tell the schedulers)."""
        from services.context import get_admin_context
        from services.objects import Instance

        self.driver.init_host(host=self.host)
        context = get_admin_context()
        instances = Instance.get_by_host(context, self.host)
        try:
            for instance in instances:
                instance._context = context
                try:
                    self._init_instance(context, instance)
                except Exception as exc:  # one instance never blocks start-up
                    trace.annotate("log", {"level": "ERROR", "message":
                                           f"_init_instance {instance.uuid} failed: {exc!r}"})
        finally:
            # Stein: every scheduler hears what this host runs, at each start (even none)
            live = [i for i in instances if not i.deleted and i.host == self.host]
            self._update_scheduler_instance_info(context, live)

    def _init_instance(self, context: Any, instance: Any) -> None:
        """Stein's start-up rules for one instance of this host (see its docstring)."""
        with trace.stein_step(STEIN_LOCATION, "_init_instance", instance_uuid=instance.uuid,
                              vm_state=instance.vm_state,
                              task_state=instance.task_state) as sp:
            if instance.host != self.host:
                sp.set_attr("init.action", "skip: not ours")
                return
            if instance.vm_state == "error" and instance.task_state != "deleting":
                sp.set_attr("init.action", "none: error")
                return
            if instance.vm_state == "deleted":
                sp.set_attr("init.action", "complete partial deletion")
                self._complete_partial_deletion(context, instance)
                return
            if instance.vm_state == "building" or instance.task_state in (
                    "scheduling", "block_device_mapping", "networking", "spawning"):
                sp.set_attr("init.action", "error: build interrupted")
                self._error_out_interrupted_build(context, instance)
                return
            if instance.task_state == "deleting":
                sp.set_attr("init.action", "restart deletion")
                try:
                    self._delete_instance(context, instance, update_resources=False)
                except Exception as exc:  # Stein: error state, go on
                    trace.annotate("log", {"level": "ERROR",
                                           "message": f"Failed to complete a deletion: {exc}"})
                    self._set_instance_obj_error_state(instance)
                return
            if instance.task_state in ("reboot_pending", "reboot_pending_hard",
                                       "reboot_started", "reboot_started_hard", "rebooting",
                                       "rebooting_hard"):
                # Stein retries the reboot; the guest's state decides below instead
                instance.task_state = None
                instance.save()
            sp.set_attr("init.action", "sync power state")
            self._sync_instance_power_state(context, instance,
                                            self._get_power_state(instance), startup=True)

    def _get_power_state(self, instance: Any) -> int:
        try:
            return int(self.driver.get_info(instance))
        except exception.InstanceNotFound:
            return virt_driver.NOSTATE

    def _error_out_interrupted_build(self, context: Any, instance: Any) -> None:
        """Stein's _init_instance: a build this compute did not finish goes to ERROR.

        Stein stops there; here the instance also gets what a failed build gets
        (_do_build_and_run_instance): its half-made guest destroyed, networks freed, a
        fault saying why, host and node cleared, and its placement allocation deleted,
        so an ERROR instance holds nothing (Stein keeps both until it is deleted).
        """
        reason = (f"nova-compute on {self.host} stopped before the instance was fully "
                  f"spawned (task_state {instance.task_state}); found at start-up")
        exc = exception.BuildAbortException(instance_uuid=instance.uuid, reason=reason)
        with trace.stein_step(STEIN_LOCATION, "_shutdown_instance", reason="build interrupted"):
            try:
                self.driver.destroy(context, instance, None)
            except Exception as err:  # the ERROR state matters more
                trace.annotate("log", {"level": "WARNING",
                                       "message": f"destroy of interrupted build: {err!r}"})
        self._cleanup_allocated_networks(context, instance)
        self._add_fault(context, instance, exc)
        self._nil_out_instance_obj_host_and_node(instance)
        self._set_instance_obj_error_state(instance)
        self.rt.delete_allocation_for_instance(context, instance.uuid)

    def _complete_partial_deletion(self, context: Any, instance: Any) -> None:
        """Stein: vm_state deleted but the row not yet: destroy it, free its allocation."""
        with trace.stein_step(STEIN_LOCATION, "_complete_partial_deletion"):
            instance.destroy()
            self.rt.delete_allocation_for_instance(context, instance.uuid)
            self.scheduler_client.delete_instance_info(context, self.host, instance.uuid)

    def _sync_instance_power_state(self, context: Any, instance: Any, vm_power_state: int,
                                   startup: bool = False) -> None:
        """Stein's _sync_instance_power_state for an instance with no task.

        The hypervisor's power state is written to the DB; an ACTIVE instance whose guest
        is shut down or crashed is stopped (Stein calls the stop API). Stein ignores an
        ACTIVE one whose domain is not found at all (NOSTATE); at start-up this does not:
        ``bootflow down`` undefines the domains, where a host going down leaves them
        defined and shut off, so a domain gone at start-up is that shut-off guest.
        """
        if instance.task_state is not None:
            return
        db_power_state = instance.power_state
        if vm_power_state != db_power_state:
            instance.power_state = vm_power_state
            instance.save()
        if instance.vm_state != "active":
            return
        shut = vm_power_state in (virt_driver.SHUTDOWN, virt_driver.CRASHED)
        if shut or (startup and vm_power_state == virt_driver.NOSTATE):
            with trace.stein_step(STEIN_LOCATION, "_stop_unexpected_shutdown_instance",
                                  db_power_state=db_power_state,
                                  vm_power_state=vm_power_state):
                trace.annotate("log", {"level": "WARNING", "message":
                                       "Instance shutdown by itself. Calling the stop API."
                                       if shut else "Instance is not found on the "
                                       "hypervisor at start-up: stopping it."})
                instance.vm_state, instance.task_state = "stopped", None
                instance.save()

    def pre_start_hook(self) -> None:
        """Stein: update_available_resource once before the RPC server starts."""
        from services.context import get_admin_context
        self.update_available_resource(get_admin_context(), startup=True)

    def periodic_tasks(self, context: Any) -> None:
        """Each task on its own, as Stein's periodic_task runner: one failing does not
        skip the next."""
        for task in (self.update_available_resource, self._check_instance_build_time):
            try:
                task(context)
            except Exception as exc:  # logged, the next one still runs
                trace.annotate("log", {"level": "ERROR",
                                       "message": f"{task.__name__} failed: {exc!r}"})

    def _check_instance_build_time(self, context: Any) -> None:
        """Stein's periodic task: a build older than ``instance_build_timeout`` s → ERROR.

        Stein sets the state only; a fault says why here. A build thread still at work
        finds the state changed on its next save and cleans up after itself.
        """
        timeout = int(getattr(self.config, "instance_build_timeout", 0) or 0)
        if timeout <= 0:
            return
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)

        def old(i: Any) -> bool:
            return (i.vm_state == "building" and i.created_at is not None
                    and (now - i.created_at).total_seconds() > timeout)

        on_host = list(self.rt.instances_on_host)  # read by this periodic's update
        late = [i for i in on_host if old(i)]
        unclaimed = [i for i in self._lost_before_claim(context, on_host) if old(i)]
        if not late and not unclaimed:
            return
        with trace.stein_step(STEIN_LOCATION, "_check_instance_build_time",
                              instance_build_timeout=timeout,
                              instances=[i.uuid for i in late + unclaimed]):
            for instance in late:
                instance._context = context
                exc = exception.BuildAbortException(
                    instance_uuid=instance.uuid,
                    reason=f"Instance build timed out after {timeout} s "
                           "(instance_build_timeout). Set to error state.")
                self._add_fault(context, instance, exc)
                self._set_instance_obj_error_state(instance)
            for instance in unclaimed:
                instance._context = context
                exc = exception.BuildAbortException(
                    instance_uuid=instance.uuid,
                    reason=f"Instance build timed out after {timeout} s "
                           f"(instance_build_timeout): scheduled to {self.host}, which "
                           "never claimed it (its build request was lost, e.g. with a "
                           "killed nova-compute). Set to error state.")
                self._add_fault(context, instance, exc)
                self._set_instance_obj_error_state(instance)
                self.rt.delete_allocation_for_instance(context, instance.uuid)

    def _lost_before_claim(self, context: Any, on_host: list[Any]) -> list[Any]:
        """Instances the scheduler placed here (placement allocation against this node)
        that have no host yet and whose build this process does not hold: their build
        cast was taken by a compute that died before its claim set the host, so Stein's
        host filter never finds them. They are aged like any build."""
        from services.objects import Instance

        known = {i.uuid for i in on_host}
        with self._locks_lock:
            known |= self._builds_in_flight
        out = []
        for cn in list(self.rt.compute_nodes.values()):
            allocations = self.rt.reportclient.get_allocations_for_resource_provider(cn.uuid)
            for uuid in allocations:
                if uuid in known:
                    continue
                try:
                    instance = Instance.get_by_uuid(context, uuid)
                except exception.InstanceNotFound:
                    continue  # still a build request, or deleted
                if instance.host is None and instance.vm_state == "building":
                    out.append(instance)
        return out

    def cleanup_host(self) -> None:
        self.driver.cleanup_host(host=self.host)

    def update_available_resource(self, context: Any, startup: bool = False) -> None:
        for nodename in self.driver.get_available_nodes():
            self._update_available_resource_for_node(context, nodename, startup)

    def _update_available_resource_for_node(self, context: Any, nodename: str,
                                            startup: bool) -> None:
        """Stein logs a failed update (placement down, say) and the service goes on."""
        try:
            self.rt.update_available_resource(context, nodename, startup=startup)
        except Exception as exc:  # Stein: LOG.exception, and the service keeps running
            trace.annotate("log", {"level": "ERROR", "message": (
                f"Error updating resources for node {nodename}: {exc}")})

    # ---- neutron → nova external events -------------------------------------------
    def _neutron_event(self, instance: Any, name: str, tag: str) -> None:
        """What nova-api's os-server-external-events does: cast to the instance's host."""
        from services.context import get_admin_context
        with trace.identity("nova-api", "api"), trace.span(
                "POST /v2.1/os-server-external-events", "HTTP",
                attrs={"http.method": "POST", "event": name, "tag": tag,
                       "code.location": "nova/api/openstack/compute/server_external_events"
                                        ".py:ServerExternalEventsController.create"}):
            self.compute_rpcapi.external_instance_event(
                get_admin_context(), [instance],
                [{"name": name, "tag": tag, "status": "completed",
                  "server_uuid": instance.uuid}], host=self.host)

    def external_instance_event(self, context: Any, instances: list[Any],
                                events: list[dict[str, Any]]) -> None:
        for event in events:
            key = f"{event['name']}-{event['tag']}" if event.get("tag") else event["name"]
            waiter = self.instance_events.pop_instance_event(event["server_uuid"], key)
            trace.annotate("log", {"level": "DEBUG",
                                   "message": f"Received event {key}"
                                              f"{'' if waiter else ' (nobody waiting)'}"})
            if waiter is not None:
                waiter.set()

    # ---- build --------------------------------------------------------------------
    def _instance_lock(self, uuid: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(uuid, threading.Lock())

    def build_and_run_instance(self, context: Any, instance: Any, image: Any,
                               request_spec: Any, filter_properties: Any,
                               admin_password: Any = None, injected_files: Any = None,
                               requested_networks: Any = None, security_groups: Any = None,
                               block_device_mapping: Any = None, node: str | None = None,
                               limits: Any = None, host_list: Any = None) -> None:
        """The cast returns at once; the build runs in its own thread (utils.spawn_n)."""

        def _locked_do_build_and_run_instance() -> None:
            try:
                _build()
            finally:
                with self._locks_lock:
                    self._builds_in_flight.discard(instance.uuid)

        def _build() -> None:
            with trace.span("_locked_do_build_and_run_instance", "INTERNAL", attrs={
                    "code.location": f"{STEIN_LOCATION}.build_and_run_instance.<locals>."
                                     "_locked_do_build_and_run_instance",
                    "instance_uuid": instance.uuid}):
                with self._instance_lock(instance.uuid), self._build_semaphore:
                    result = self._do_build_and_run_instance(
                        context, instance, image, request_spec, filter_properties,
                        admin_password, injected_files, requested_networks, security_groups,
                        block_device_mapping, node, limits, host_list)
                    if result in ("failed", "deleted"):
                        # Stein: a build that failed for good, or whose instance was
                        # deleted meanwhile, gives its allocation back (a reschedule
                        # already did, in _reschedule)
                        with contextlib.suppress(Exception):
                            self.rt.delete_allocation_for_instance(context, instance.uuid)

        with self._locks_lock:
            self._builds_in_flight.add(instance.uuid)
        spawn_n(_locked_do_build_and_run_instance)

    @contextlib.contextmanager
    def _instance_event(self, context: Any, instance: Any, name: str) -> Iterator[None]:
        """@wrap_instance_event(prefix='compute'): action events around the method."""
        event = f"compute_{name}"
        InstanceActionEvent.event_start(context, instance.uuid, event, want_result=False,
                                        host=self.host)
        try:
            yield
        except BaseException as exc:
            InstanceActionEvent.event_finish_with_failure(
                context, instance.uuid, event, exc_val=str(exc),
                exc_tb="".join(traceback.format_exception(exc))[-2000:], want_result=False)
            raise
        InstanceActionEvent.event_finish_with_failure(context, instance.uuid, event,
                                                      want_result=False)

    def _do_build_and_run_instance(self, context: Any, instance: Any, image: Any,
                                   request_spec: Any, filter_properties: Any,
                                   admin_password: Any, injected_files: Any,
                                   requested_networks: Any, security_groups: Any,
                                   block_device_mapping: Any, node: str | None,
                                   limits: Any, host_list: Any) -> str:
        with trace.stein_step(STEIN_LOCATION, "_do_build_and_run_instance",
                              instance_uuid=instance.uuid) as sp:
            instance._context = context
            try:
                with self._instance_event(context, instance, "_do_build_and_run_instance"):
                    return self._do_build_guarded(
                        context, instance, image, request_spec, filter_properties,
                        admin_password, injected_files, requested_networks,
                        security_groups, block_device_mapping, node, limits, host_list, sp)
            except Exception as exc:  # wrap_instance_fault already recorded
                sp.set_status("ERROR", str(exc))
                return "failed"

    def _do_build_guarded(self, context: Any, instance: Any, image: Any, request_spec: Any,
                          filter_properties: Any, admin_password: Any, injected_files: Any,
                          requested_networks: Any, security_groups: Any,
                          block_device_mapping: Any, node: str | None, limits: Any,
                          host_list: Any, sp: trace.Span) -> str:
        try:
            instance.vm_state, instance.task_state = "building", None
            instance.save(expected_task_state=["scheduling", None])
        except exception.InstanceNotFound:
            sp.set_attr("build.result", "deleted")
            return "deleted"
        try:
            self._build_and_run_instance(context, instance, image, request_spec,
                                         filter_properties, node, limits, requested_networks)
            sp.set_attr("build.result", "active")
            return "active"
        except exception.RescheduledException as exc:
            sp.set_attr("build.result", "rescheduled")
            self._reschedule(context, instance, image, request_spec, filter_properties,
                             admin_password, injected_files, requested_networks,
                             security_groups, block_device_mapping, host_list, exc)
            return "rescheduled"
        except Exception as exc:  # BuildAbortException and anything unexpected
            sp.set_attr("build.result", "failed")
            self._cleanup_allocated_networks(context, instance)
            self._add_fault(context, instance, exc)
            self._nil_out_instance_obj_host_and_node(instance)
            self._set_instance_obj_error_state(instance)
            raise

    def _reschedule(self, context: Any, instance: Any, image: Any, request_spec: Any,
                    filter_properties: Any, admin_password: Any, injected_files: Any,
                    requested_networks: Any, security_groups: Any,
                    block_device_mapping: Any, host_list: Any, exc: BaseException) -> None:
        """Give the instance back to the conductor with the alternates (build_instances)."""
        with trace.stein_step(STEIN_LOCATION, "_reschedule", reason=str(exc), alternates=[
                getattr(h, "service_host", None) for h in (host_list or [])]):
            # Stein records no fault here: the build goes on elsewhere; only the
            # conductor's final MaxRetriesExceeded (or a BuildAbort) leaves one.
            self._cleanup_allocated_networks(context, instance)
            self._nil_out_instance_obj_host_and_node(instance)
            instance.task_state = "scheduling"
            instance.save()
            self.rt.delete_allocation_for_instance(context, instance.uuid)
            self.compute_task_api.build_instances(
                context, instances=[instance], image=image,
                filter_properties=filter_properties, admin_password=admin_password,
                injected_files=injected_files, requested_networks=requested_networks,
                security_groups=security_groups, block_device_mapping=block_device_mapping,
                request_spec=request_spec, host_lists=[list(host_list or [])])

    def _build_and_run_instance(self, context: Any, instance: Any, image: Any,
                                request_spec: Any, filter_properties: Any, node: str | None,
                                limits: Any, requested_networks: Any) -> None:
        with trace.stein_step(STEIN_LOCATION, "_build_and_run_instance",
                              instance_uuid=instance.uuid, node=node):
            image_meta = ImageMeta.from_dict(image or {})
            self._notify_about_instance_usage(context, instance, "create.start")
            compute_utils.notify_about_instance_create(context, instance, self.host,
                                                       phase="start")
            try:
                with self.rt.instance_claim(context, instance, node or self.host, limits):
                    with self._build_resources(context, instance, requested_networks) as res:
                        instance.vm_state, instance.task_state = "building", "spawning"
                        instance.save(expected_task_state="block_device_mapping")
                        with trace.span("driver.spawn", "INTERNAL", attrs={
                                "code.location": f"{self.driver.STEIN_LOCATION}.spawn",
                                "virt.driver": type(self.driver).__name__}):
                            self.driver.spawn(context, instance, image_meta, [], None,
                                              res["allocations"],
                                              network_info=res["network_info"])
                        # whoever did not need the VIFs during spawn waits for them here
                        res["network_info"].wait()
            except (exception.BuildAbortException, exception.UnexpectedTaskStateError,
                    exception.InstanceNotFound):
                raise
            except exception.VirtualInterfaceCreateException as exc:
                # Stein: a network that never got ready is not another host's problem
                self._notify_about_instance_usage(context, instance, "create.error")
                raise exception.BuildAbortException(
                    message="Build of instance aborted: Failed to allocate the network(s), "
                            "not rescheduling.", instance_uuid=instance.uuid,
                    reason="Failed to allocate the network(s), not rescheduling.") from exc
            except exception.InstanceBootTimeout as exc:
                # the guest itself did not come up: another host would not help
                raise exception.BuildAbortException(
                    message=f"Build of instance aborted: {exc.message}"[:255],
                    instance_uuid=instance.uuid, reason=exc.message) from exc
            except Exception as exc:
                self._notify_about_instance_usage(context, instance, "create.error")
                compute_utils.notify_about_instance_create(context, instance, self.host,
                                                           phase="error", exception=exc)
                raise exception.RescheduledException(instance_uuid=instance.uuid,
                                                     reason=str(exc)) from exc
            instance.power_state = self.driver.get_info(instance)
            instance.vm_state, instance.task_state = "active", None
            instance.launched_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            instance.save(expected_task_state="spawning")
            self._update_scheduler_instance_info(context, instance)
            self._notify_about_instance_usage(context, instance, "create.end")
            compute_utils.notify_about_instance_create(context, instance, self.host,
                                                       phase="end")

    @contextlib.contextmanager
    def _build_resources(self, context: Any, instance: Any,
                         requested_networks: Any) -> Iterator[dict[str, Any]]:
        with trace.stein_step(STEIN_LOCATION, "_build_resources"):
            network_info = self._allocate_network(context, instance, requested_networks)
            instance.vm_state, instance.task_state = "building", "block_device_mapping"
            instance.save()
            with trace.stein_step(STEIN_LOCATION, "_prep_block_device"):
                block_device_info = {"root_device_name": "/dev/vda"}
            # Stein: the allocations the scheduler claimed, handed to driver.spawn
            allocations = self.rt.reportclient.get_allocations_for_consumer(instance.uuid)
        try:
            yield {"network_info": network_info, "block_device_info": block_device_info,
                   "allocations": allocations}
        except Exception:
            network_info.wait(do_raise=False)
            # Stein: _shutdown_instance so a failed spawn leaves no domain behind
            with trace.stein_step(STEIN_LOCATION, "_shutdown_instance", reason="spawn failed"):
                try:
                    self.driver.destroy(context, instance, network_info)
                except Exception as exc:  # the original error matters
                    trace.annotate("log", {"level": "WARNING",
                                           "message": f"cleanup after failed spawn: {exc!r}"})
            raise

    def _allocate_network(self, context: Any, instance: Any,
                          requested_networks: Any) -> NetworkInfoAsyncWrapper:
        """task_state networking, then start the port allocation in the background:
        block devices and allocations are prepared meanwhile, and the driver waits for
        the network_info only when it plugs the VIFs."""
        with trace.stein_step(STEIN_LOCATION, "_allocate_network"):
            instance.vm_state, instance.task_state = "building", "networking"
            instance.save(expected_task_state=[None])
            return NetworkInfoAsyncWrapper(self._allocate_network_async, context, instance,
                                           requested_networks)

    def _allocate_network_async(self, context: Any, instance: Any,
                                requested_networks: Any) -> list[dict[str, Any]]:
        with trace.stein_step(STEIN_LOCATION, "_allocate_network_async"):
            return self.network_api.allocate_for_instance(context, instance,
                                                          requested_networks)

    def _update_scheduler_instance_info(self, context: Any, instance: Any) -> None:
        """Tell every scheduler what this host now runs (fanout cast of an InstanceList:
        the one instance that changed, or all of them at start-up)."""
        objects = list(instance) if isinstance(instance, list) else [instance]
        self.scheduler_client.update_instance_info(context, self.host,
                                                   InstanceList(objects=objects))

    def _notify_about_instance_usage(self, context: Any, instance: Any,
                                     event_suffix: str) -> None:
        """The unversioned ``compute.instance.<suffix>`` from ``compute.<host>``."""
        with trace.stein_step(STEIN_LOCATION, "_notify_about_instance_usage",
                              event_suffix=event_suffix):
            compute_utils.notify_about_instance_usage(
                rpc.get_notifier("compute", self.host), context, instance, event_suffix)

    def _cleanup_allocated_networks(self, context: Any, instance: Any) -> None:
        self.network_api.deallocate_for_instance(context, instance)

    def _add_fault(self, context: Any, instance: Any, exc: BaseException) -> None:
        compute_utils.add_instance_fault_from_exc(context, instance, exc, host=self.host)

    @staticmethod
    def _nil_out_instance_obj_host_and_node(instance: Any) -> None:
        instance.host = None
        instance.node = None

    @staticmethod
    def _set_instance_obj_error_state(instance: Any) -> None:
        instance.vm_state, instance.task_state = "error", None
        instance.save()

    # ---- reboot -------------------------------------------------------------------
    def reboot_instance(self, context: Any, instance: Any, block_device_info: Any,
                        reboot_type: str) -> None:
        """Stein: pending → started (saved) → driver.reboot → active, task None.

        @reverts_task_state, @wrap_instance_event, @wrap_instance_fault; a failure
        leaves the instance active when the guest still runs, else error.
        """
        with trace.stein_step(STEIN_LOCATION, "reboot_instance", instance_uuid=instance.uuid,
                              reboot_type=reboot_type):
            with self._instance_lock(instance.uuid):
                instance._context = context
                try:
                    with self._instance_event(context, instance, "reboot_instance"):
                        self._reboot_instance(context, instance, reboot_type)
                except Exception as exc:
                    self._add_fault(context, instance, exc)  # @wrap_instance_fault
                    if instance.task_state is not None:  # @reverts_task_state
                        instance.task_state = None
                        with contextlib.suppress(Exception):
                            instance.save()
                    raise

    def _reboot_instance(self, context: Any, instance: Any, reboot_type: str) -> None:
        soft = reboot_type == "SOFT"
        if soft:
            instance.task_state = "reboot_pending"
            expected = ["rebooting", "reboot_pending", "reboot_started"]
        else:
            instance.task_state = "reboot_pending_hard"
            expected = ["rebooting_hard", "reboot_pending_hard", "reboot_started_hard"]
        trace.annotate("log", {"level": "INFO", "message": "Rebooting instance"})
        block_device_info = {"root_device_name": "/dev/vda"}
        network_info = self.network_api.get_instance_nw_info(context, instance)
        instance.power_state = self.driver.get_info(instance)
        instance.save(expected_task_state=expected)
        if instance.power_state != virt_driver.RUNNING:
            trace.annotate("log", {"level": "WARNING", "message":
                                   "trying to reboot a non-running instance: (state: "
                                   f"{instance.power_state} expected: {virt_driver.RUNNING})"})
        new_power_state = None
        try:
            instance.task_state = "reboot_started" if soft else "reboot_started_hard"
            instance.save(expected_task_state="reboot_pending" if soft
                          else "reboot_pending_hard")
            with trace.span("driver.reboot", "INTERNAL", attrs={
                    "code.location": f"{self.driver.STEIN_LOCATION}.reboot",
                    "virt.driver": type(self.driver).__name__, "reboot_type": reboot_type}):
                self.driver.reboot(context, instance, network_info, reboot_type,
                                   block_device_info=block_device_info)
        except Exception as exc:
            new_power_state = self.driver.get_info(instance)
            if new_power_state != virt_driver.RUNNING:
                trace.annotate("log", {"level": "ERROR",
                                       "message": f"Cannot reboot instance: {exc}"})
                self._set_instance_obj_error_state(instance)
                raise
            trace.annotate("log", {"level": "WARNING",
                                   "message": "Reboot failed but instance is running"})
            self._add_fault(context, instance, exc)
        if not new_power_state:
            new_power_state = self.driver.get_info(instance)
        try:
            instance.power_state = new_power_state
            instance.vm_state, instance.task_state = "active", None
            instance.save()
        except exception.InstanceNotFound:
            trace.annotate("log", {"level": "WARNING",
                                   "message": "Instance disappeared during reboot"})

    # ---- delete -------------------------------------------------------------------
    def terminate_instance(self, context: Any, instance: Any, bdms: Any = None) -> None:
        with trace.stein_step(STEIN_LOCATION, "terminate_instance", instance_uuid=instance.uuid):
            with self._instance_lock(instance.uuid):
                instance._context = context
                with self._instance_event(context, instance, "terminate_instance"):
                    self._delete_instance(context, instance)

    def _delete_instance(self, context: Any, instance: Any,
                         update_resources: bool = True) -> None:
        with trace.stein_step(STEIN_LOCATION, "_delete_instance"):
            instance.task_state = "deleting"
            instance.save()
            with trace.stein_step(STEIN_LOCATION, "_shutdown_instance"):
                self.driver.destroy(context, instance, network_info=None)
                self.network_api.deallocate_for_instance(context, instance)
            self.rt.delete_allocation_for_instance(context, instance.uuid)
            instance.terminated_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            instance.save()
            instance.destroy()
            self.scheduler_client.delete_instance_info(context, self.host, instance.uuid)
        if update_resources:
            self.update_available_resource(context)
