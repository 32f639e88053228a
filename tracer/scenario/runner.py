"""Run one scenario where it can run: the embedded cloud, or a process deployment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tracer.instrument.api import Event
from tracer.scenario.deployed import run_deployment_scenario
from tracer.scenario.embedded import ScenarioRun
from tracer.scenario.spec import (
    ScenarioResult,
    ScenarioRunError,
    check_trace,
    deployment_reason,
    find_scenario,
)


def run_scenario(name_or_path: str | Path, transport_url: str = "memory://",
                 record: Path | None = None, on_event: Callable[[Event], None] | None = None,
                 trace_exchange: str = "bootflow.trace",
                 timeout: float = 30.0) -> ScenarioResult:
    """Load, run and check one scenario; the TUI passes *on_event* to watch it live.

    A ``requires: deployment`` scenario runs on a process deployment instead
    (tracer/scenario/deployed.py; memory:// then means the default RabbitMQ).
    Raises ScenarioError (malformed file) or ScenarioRunError (cannot run here: the
    message names the fix).
    """
    scenario = find_scenario(name_or_path)
    if scenario.requires == "deployment":  # processes, netns, a forwarder to pause
        return run_deployment_scenario(scenario, transport_url, record=record,
                                       on_event=on_event, timeout=timeout)
    reason = deployment_reason(scenario)
    if reason:
        raise ScenarioRunError(reason)
    run = ScenarioRun(scenario, transport_url, record=record, trace_exchange=trace_exchange,
                      timeout=timeout)
    if on_event is not None:
        run.sink.subscribe(on_event)
    result = ScenarioResult(scenario)
    run.start()
    try:
        run.run_requests()
        run.wait_quiet(timeout=min(timeout, 10.0))
        result.instances = run.final_rows()
    except ScenarioRunError as exc:
        result.error = str(exc)
    finally:
        run.stop()
    result.events = run.sink.events
    if result.error is None:
        result.checks = check_trace(scenario.data["expect"], result.events, result.instances)
    return result
