"""``bootflow demo`` and ``bootflow replay``: boot on the embedded default, or open a recording."""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from tracer.commands import UserError, check_writable

if TYPE_CHECKING:
    from tracer.session import DemoRun

DEFAULT_TRANSPORT = "memory://"
BIG_RECORDING = 20_000  # events: above this, replay opens at the start (first screen < 3 s)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="boot an instance on the embedded default and show its trace",
                       description="Start conductor, scheduler and compute as threads (kombu "
                       "memory://, SQLite, libvirt test:///default), POST /v2.1/servers and "
                       "show every hop. No broker and no libvirtd needed.")
    p.add_argument("--headless", action="store_true",
                   help="no TUI: print the trace as a tree when the flow ends")
    p.add_argument("--record", metavar="FILE", type=Path,
                   help="write every event to FILE (JSON Lines)")
    p.add_argument("--transport", metavar="URL", default=None,
                   help="messaging transport (default memory://, or $BOOTFLOW_TRANSPORT_URL; "
                   "e.g. rabbit://guest:guest@127.0.0.1:5672/)")
    p.add_argument("--flavor", default="m1.tiny", help="flavor name or id (default m1.tiny)")
    p.add_argument("--image", default="bootflow-guest", help="image name or id")
    p.add_argument("--count", type=int, default=1, help="instances in one request (multi-create)")
    p.add_argument("--computes", type=int, default=1, help="compute hosts compute1..N")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the flow")
    p.add_argument("--all", action="store_true", help="also print the services' start-up traces")
    p.add_argument("--scenario", metavar="NAME",
                   help="TUI: run a scenario from scenarios/ (see `bootflow scenario list`): "
                   "its explanation first, then the flow, paced or --walkthrough "
                   "([processes] scenarios refuse --pace and --walkthrough)")
    p.add_argument("--pace", type=float, default=None, metavar="SECONDS",
                   help="hold each RPC hop this long so the flow can be watched "
                   "(default 0.25 in the TUI, 0 headless; RPC timeouts stand still meanwhile)")
    p.add_argument("--walkthrough", action="store_true",
                   help="TUI: the services pause at each hop until you release it (n/space)")
    p.add_argument("--present", action="store_true",
                   help="TUI: presentation mode for a classroom (graph, sequence, one large "
                   "narration line, the instance state; p toggles it)")
    p.set_defaults(func=cmd_demo)

    r = sub.add_parser("replay", help="open a recording (TUI, or --headless to print it)")
    r.add_argument("file", type=Path, help="a recording (JSON Lines, bootflow-trace header)")
    r.add_argument("--headless", action="store_true", help="print the trace tree instead")
    r.add_argument("--at", choices=("start", "end"), default=None,
                   help="open at the first event or on the final picture (default: the "
                   f"final picture, or the start for recordings over {BIG_RECORDING:,} "
                   "events so the first screen comes at once; End/Home jump)")
    r.add_argument("--all", action="store_true", help="also print the start-up traces")
    r.add_argument("--present", action="store_true",
                   help="TUI: presentation mode for a classroom (graph, sequence, one large "
                   "narration line, the instance state; p toggles it)")
    r.set_defaults(func=cmd_replay)


@contextlib.contextmanager
def paced(seconds: float) -> Iterator[None]:
    """Hold every RPC message *seconds* before its server takes it (a classroom pace).

    It goes through the messaging layer's gate, so callers' RPC timeouts stand still
    while a hop is held, exactly as in the walkthrough.
    """
    if seconds <= 0:
        yield
        return
    from services.messaging.gate import set_gate

    set_gate(lambda hop: time.sleep(seconds))
    try:
        yield
    finally:
        set_gate(None)


def transport_url(arg: str | None) -> str:
    return arg or os.environ.get("BOOTFLOW_TRANSPORT_URL") or DEFAULT_TRANSPORT


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    if args.count < 1 or args.computes < 1:
        raise UserError("--count and --computes must be at least 1")
    check_writable(args.record)
    from tracer.session import DemoRun

    run = DemoRun(transport_url(args.transport), record=args.record,
                  computes=args.computes)
    if args.scenario:
        return _scenario_tui(args)
    if not args.headless:
        return _demo_tui(run, args)
    from tracer.cloud.embedded import BootRefused
    from tracer.collector import CollectorError

    try:
        with console.status("booting on the embedded cloud…"), paced(args.pace or 0.0):
            result = run.run(flavor=args.flavor, image=args.image, count=args.count,
                             timeout=args.timeout)
    except (BootRefused, CollectorError) as exc:  # e.g. the broker is not there
        raise UserError(str(exc)) from exc
    _print(console, result.events, show_all=args.all)
    if args.record:
        console.print(f"recorded {len(result.events)} events to {args.record}")
    return 0 if result.finished else 1


def cmd_replay(args: argparse.Namespace, console: Console) -> int:
    from tracer.recording import RecordingError, read_recording

    try:
        _header, events = read_recording(args.file)
    except (OSError, RecordingError) as exc:
        raise UserError(str(exc)) from exc
    if not args.headless:
        from tracer.tui.app import BootflowApp
        from tracer.tui.sources import ReplaySource

        at_end = args.at == "end" or (args.at is None and len(events) <= BIG_RECORDING)
        source = ReplaySource(events, start_at_end=at_end, name=str(args.file))
        BootflowApp(source, mode="replay", title=f"bootflow replay — {args.file.name}",
                    present=bool(getattr(args, "present", False))).run()
        return 0
    _print(console, events, show_all=args.all)
    return 0


def _scenario_tui(args: argparse.Namespace) -> int:
    """A scenario in the TUI: its intro first, then the flow, paced or stepped."""
    from tracer.commands.live import GatedDemo, ScenarioSource
    from tracer.scenario.runner import gate_refusal
    from tracer.scenario.spec import ScenarioError, find_scenario
    from tracer.tui.app import BootflowApp

    if args.headless:
        raise UserError("for a scenario without the TUI use `bootflow scenario run NAME`")
    try:
        scenario = find_scenario(args.scenario)
    except ScenarioError as exc:
        raise UserError(str(exc)) from exc
    embedded = scenario.requires != "deployment"
    if not embedded and (args.walkthrough or (args.pace or 0) > 0):
        raise UserError(gate_refusal(scenario.name))
    url = transport_url(args.transport)
    gated = GatedDemo(url) if args.walkthrough else None
    pace = (0.25 if embedded else 0.0) if args.pace is None else args.pace
    if gated is not None:
        source = ScenarioSource(args.scenario, url, gate=gated.during,
                                observe=gated.controller.observe)
    else:
        source = ScenarioSource(args.scenario, url,
                                gate=(lambda: paced(pace)) if pace > 0 else None)
    try:
        BootflowApp(source, mode="walkthrough" if gated else "live",
                    gate=gated.controller if gated else None,
                    title=f"bootflow — {scenario.title}", intro=scenario.explanation,
                    intro_title=scenario.title,
                    present=bool(getattr(args, "present", False))).run()
    finally:
        if gated is not None:
            gated.close()  # let anything still held go
    if source.error is not None:
        raise UserError(f"scenario {args.scenario}: {source.error}")
    return 0


def _demo_tui(run: DemoRun, args: argparse.Namespace) -> int:
    from tracer.commands.live import DemoSource, GatedDemo
    from tracer.tui.app import BootflowApp

    gated = GatedDemo(transport_url(args.transport)) if args.walkthrough else None
    pace = 0.25 if args.pace is None else args.pace

    def boot(r: DemoRun) -> object:
        if gated is not None:
            return gated.boot(r, args.flavor, args.image, args.count, args.timeout)
        with paced(pace):
            return r.boot(args.flavor, args.image, args.count, args.timeout)
    source = DemoSource(run, flavor=args.flavor, image=args.image, count=args.count,
                        boot=boot)
    if gated is not None:
        run.sink.subscribe(gated.controller.observe)
        source.before_stop = gated.close  # release held hops so the services can stop
    try:
        BootflowApp(source, mode="walkthrough" if gated else "live",
                    gate=gated.controller if gated else None,
                    present=bool(getattr(args, "present", False))).run()
    finally:
        source.before_stop = None
        if gated is not None:
            gated.close()
    if source.error is not None:
        raise UserError(f"the demo failed: {source.error}")
    return 0


def _print(console: Console, events: list[dict[str, Any]], show_all: bool) -> None:
    from tracer.render import render_trace
    from tracer.session import request_events

    console.print(render_trace(events if show_all else request_events(events)))
