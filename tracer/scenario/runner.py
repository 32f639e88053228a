"""Run one scenario where it can run: the embedded cloud, or a process deployment."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

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
                 timeout: float = 30.0,
                 gate: AbstractContextManager[Any] | None = None) -> ScenarioResult:
    """Load, run and check one scenario; the TUI passes *on_event* to watch it live.

    *gate* (the TUI's ``--pace`` or ``--walkthrough``) is entered around the requests
    and the wait for the flow to settle: start-up runs free, and the runner's own waits
    stand still while the gate holds a hop, as the RPC timeouts do.
    A ``requires: deployment`` scenario runs on a process deployment instead
    (tracer/scenario/deployed.py; memory:// then means the default RabbitMQ).
    Raises ScenarioError (malformed file) or ScenarioRunError (cannot run here: the
    message names the fix).
    """
    scenario = find_scenario(name_or_path)
    if scenario.requires == "deployment":  # processes, netns, a forwarder to pause
        if gate is not None:
            raise ScenarioRunError(gate_refusal(scenario.name))
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
        with gate or contextlib.nullcontext():
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


def gate_refusal(name: str) -> str:
    """Why ``--pace`` and ``--walkthrough`` cannot hold a deployment scenario's hops."""
    return (f"scenario {name!r} runs its services as separate processes (requires: "
            "deployment): --pace and --walkthrough hold hops only in services running in "
            "bootflow's own process (the embedded scenarios), and this scenario's faults "
            "(a partition healed after the requests, a broker pause at one hop) are timed "
            "for a flow that runs free; run it without --pace and --walkthrough")
