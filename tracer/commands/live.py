"""Event sources that run the real services for the TUI (live demo and walkthrough).

The app only knows the ``start(on_event)`` / ``stop()`` protocol; this is where the
embedded cloud, its collector and (for the walkthrough) the hop gate get started.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from tracer.session import DemoRun, RequestTraces

log = logging.getLogger(__name__)


class DemoSource:
    """Starts the embedded cloud in a thread, boots, and streams every collected event."""

    def __init__(self, run: DemoRun, *, flavor: str, image: str, count: int,
                 timeout: float = 600.0, boot: Callable[[DemoRun], Any] | None = None) -> None:
        self.run = run
        self.boot = boot or (lambda r: r.boot(flavor, image, count, timeout))
        self.before_stop: Callable[[], None] | None = None
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, on_event: Callable[[Mapping[str, Any]], None]) -> None:
        self.run.sink.subscribe(on_event)
        self._thread = threading.Thread(target=self._work, name="bootflow-demo", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            self.run.start()
            self.boot(self.run)
        except BaseException as exc:  # shown by the app's caller after it exits
            log.exception("demo run failed")
            self.error = exc
        finally:
            self.finished.set()

    def stop(self) -> None:
        # the services stay up while the learner looks; they stop when the app closes
        if self.before_stop is not None:
            self.before_stop()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        self.run.stop()


class RequestOnlyGate:
    """The learner steps through the request's hops; start-up and periodic chatter
    (heartbeats, resource updates) is let go at once.

    Wraps a ``GateController``: a held hop whose trace is rooted at something other than
    a REST request is released as soon as that trace's root span is seen; a hop of a
    request trace stays held for the learner; a hop of a trace not seen yet stays held
    but is not listed until its root comes (``RequestTraces``), so a heartbeat never
    shows up as the next hop.
    """

    def __init__(self, controller: Any) -> None:
        self.controller = controller
        self.traces = RequestTraces()
        # on or off as last switched (None: not yet): the screen's "gate ON/OFF" follows
        # a switch the runner makes too (a scenario frees the flow after its requests)
        self.enabled: bool | None = None

    def observe(self, event: Mapping[str, Any]) -> None:
        """Feed every collected event (it learns which traces are requests)."""
        self.traces.observe(event)

    def pending(self) -> list[dict[str, Any]]:
        held = []
        for item in self.controller.pending():
            if self.traces.is_background(item):
                self.controller.release(item["hop_id"])
            else:
                held.append(item)
        return [dict(item) for item in self.traces.shown(held)]

    def release_next(self) -> str | None:
        held = self.pending()
        if not held:
            return None
        self.controller.release(held[0]["hop_id"])
        return str(held[0]["hop_id"])

    def release(self, hop_id: str) -> None:
        self.controller.release(hop_id)

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        self.controller.set_enabled(enabled)

    def close(self) -> None:
        self.controller.close()


class GatedDemo:
    """Walkthrough: every RPC server holds each message until the learner releases it.

    The gate opens only for the request: start-up chatter (pings, object calls) passes
    freely, then ``boot`` turns it on before POST /v2.1/servers.
    """

    def __init__(self, transport_url: str) -> None:
        from services.messaging.gate import ControlGate, GateController, set_gate

        self.controller = RequestOnlyGate(GateController(transport_url))
        self._gate = ControlGate(transport_url, enabled=False)
        self._set_gate = set_gate
        self._closed = False
        set_gate(self._gate)

    def boot(self, run: DemoRun, flavor: str, image: str, count: int, timeout: float) -> Any:
        self._switch_on()
        return run.boot(flavor, image, count, timeout)

    @contextlib.contextmanager
    def during(self) -> Iterator[None]:
        """A scenario's requests: the gate on; off again after them, so that nothing
        is held when the scenario stops its services."""
        self._switch_on()
        try:
            yield
        finally:
            self.controller.set_enabled(False)

    def _switch_on(self) -> None:
        self.controller.set_enabled(True)
        deadline = time.monotonic() + 5.0
        while not self._gate.enabled and time.monotonic() < deadline:
            time.sleep(0.01)  # the "on" travels over the control exchange

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # let anything still held go, so the services can stop
        self.controller.set_enabled(False)
        self._set_gate(None)
        self._gate.close()
        self.controller.close()


class ScenarioSource:
    """Runs one scenario (topology, faults, requests) in a thread, streaming its events.

    *gate* (``paced(...)`` or ``GatedDemo.during()``) is entered around the scenario's
    requests; *observe* sees every event first (the walkthrough's RequestOnlyGate).
    """

    def __init__(self, name: str, transport_url: str, *,
                 gate: Callable[[], AbstractContextManager[Any]] | None = None,
                 observe: Callable[[Mapping[str, Any]], None] | None = None) -> None:
        self.name = name
        self.transport_url = transport_url
        self.gate = gate
        self.observe = observe
        self.error: BaseException | None = None
        self.result: Any = None
        self._thread: threading.Thread | None = None

    def start(self, on_event: Callable[[Mapping[str, Any]], None]) -> None:
        observe = self.observe

        def each(event: Mapping[str, Any]) -> None:
            if observe is not None:
                observe(event)
            on_event(event)

        def work() -> None:
            from tracer.scenario.runner import run_scenario

            try:
                self.result = run_scenario(self.name, self.transport_url, on_event=each,
                                           gate=self.gate() if self.gate else None)
            except BaseException as exc:  # shown after the app exits
                log.exception("scenario %s failed", self.name)
                self.error = exc

        self._thread = threading.Thread(target=work, name="bootflow-scenario", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=1.0)
