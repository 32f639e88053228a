"""Walkthrough against the real embedded services: each key press lets exactly one hop go.

The services run as threads (kombu memory://); the messaging layer's ControlGate holds
every incoming message until the TUI's GateController releases it. Skipped when the
services or the gate cannot be imported.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.messaging import gate as gate_mod
from tracer.cloud import embedded as launcher
from tracer.instrument import api as trace
from tracer.tui import BootflowApp, PushSource


async def _until(pred: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(0.02)
    return pred()


def test_stepping_releases_one_hop_of_the_live_services(tmp_path: Path) -> None:
    asyncio.run(_walkthrough(tmp_path))


async def _walkthrough(tmp_path: Path) -> None:
    from services.conf import Config

    source = PushSource()
    trace.set_emitter(source)
    # fresh databases each run; no heartbeat or periodic task during the walk: this gate
    # holds every message, and a held heartbeat would sit between two hops of the boot
    config = Config.load(env={}, state_dir=str(tmp_path), report_interval=600,
                         periodic_interval=600, periodic_fuzzy_delay=0)
    cloud = launcher.EmbeddedCloud(config, computes=("compute1",))
    controlled = None
    controller = None
    try:
        started = time.monotonic()
        cloud.__enter__()
        # warm-up boot with the gate off: start-up (the compute node registered in the
        # database and placement) is over before the gate goes on
        warm = cloud.boot("warm-vm")[0]["id"]
        cloud.wait_for_instances([warm], timeout=30)
        # ...and each service's first heartbeat (INITIAL_REPORTING_DELAY, 5 s) is sent
        time.sleep(max(0.0, 5.5 - (time.monotonic() - started)))
        controlled = gate_mod.ControlGate("memory://")
        gate_mod.set_gate(controlled)
        controller = gate_mod.GateController("memory://")
        released: list[str | None] = []
        real_release_next = controller.release_next

        def counting_release_next() -> str | None:
            hop_id = real_release_next()
            released.append(hop_id)
            return hop_id

        controller.release_next = counting_release_next  # type: ignore[method-assign]
        app = BootflowApp(source, mode="walkthrough", gate=controller, clock=None)
        async with app.run_test(size=(120, 40)) as pilot:
            booted: list[Any] = []
            threading.Thread(target=lambda: booted.append(cloud.boot("walk-vm")),
                             daemon=True).start()
            assert await _until(lambda: bool(booted) and bool(controller.pending()))
            uuid = booted[0][0]["id"]
            # the first hop (schedule_and_build_instances at the conductor) is held
            first = controller.pending()[0]["hop"]
            assert first["method"] == "schedule_and_build_instances"
            await asyncio.sleep(0.3)
            state = cloud.instance_state(uuid)
            assert state is None or state.get("task_state") == "scheduling"
            seen = [first["method"]]
            for _ in range(3):
                before = {p["hop_id"] for p in controller.pending()}
                await pilot.press("n")
                assert len(released) == len(seen) and released[-1] is not None
                assert await _until(lambda b=before: bool(controller.pending()) and {
                    p["hop_id"] for p in controller.pending()} - b != set()), (
                    seen, [(p["hop"]["method"], p["hop"].get("service"), p["hop"].get("style"))
                           for p in controller.pending()], cloud.instance_state(uuid))
                seen.append(controller.pending()[0]["hop"]["method"])
            assert seen[1] == "select_destinations", seen
            # gate off: the flow runs free to ACTIVE
            await pilot.press("g")
            ok = await _until(
                lambda: (cloud.instance_state(uuid) or {}).get("vm_state") == "active", 30)
            assert ok, repr((seen, cloud.instance_state(uuid), controller.pending(),
                        [h.key + ":" + h.state for h in app.snapshot.hops[-12:]]))[:3000]
            await app.wait_for_idle_snapshot()
            assert app.snapshot.instances[uuid].vm_state == "active"
    finally:
        gate_mod.set_gate(None)
        if controlled is not None:
            controlled.close()
        if controller is not None:
            controller.close()
        cloud.__exit__(None, None, None)
        trace.set_emitter(None)
