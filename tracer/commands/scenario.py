"""``bootflow scenario list|run``: the teaching scenarios in ``scenarios/``, run and checked."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.text import Text

from tracer.commands import UserError, check_writable


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("scenario", help="list or run a scenario (topology, faults, expected "
                       "trace)", description="Scenarios are YAML files in scenarios/: a "
                       "topology, requests, faults and the hops the trace must show.")
    ssub = p.add_subparsers(dest="scenario_cmd", metavar="list|run", required=True)
    lp = ssub.add_parser("list", help="name and title of every scenario")
    lp.set_defaults(func=cmd_list)
    rp = ssub.add_parser("run", help="run one and check its trace (embedded cloud; "
                         "[processes] ones start their own)")
    rp.add_argument("name", help="a scenario name (see `bootflow scenario list`) or a file")
    rp.add_argument("--record", metavar="FILE", type=Path,
                    help="write every event to FILE (JSON Lines)")
    rp.add_argument("--transport", metavar="URL", default=None,
                    help="messaging transport (default memory://, or "
                    "$BOOTFLOW_TRANSPORT_URL)")
    rp.add_argument("--timeout", type=float, default=30.0,
                    help="seconds to wait for each request to settle")
    rp.add_argument("--all", action="store_true", help="also print the start-up traces")
    rp.set_defaults(func=cmd_run)


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    from tracer.scenario.spec import ScenarioError, load_scenario, scenario_files

    deployed = False
    files = scenario_files()
    width = max((len(p.stem) for p in files), default=0) + 2
    for path in files:
        # one line per scenario, as long as it is (the terminal wraps, not Rich at 80)
        try:
            sc = load_scenario(path)
        except ScenarioError as exc:
            console.print(Text(f"{path.stem:{width}} (invalid: {exc})", style="red"),
                          soft_wrap=True)
            continue
        note = "  [processes]" if sc.requires == "deployment" else ""
        deployed = deployed or bool(note)
        console.print(Text(f"{sc.name:{width}} {sc.title}{note}"), soft_wrap=True)
    if deployed:
        console.print(Text("[processes]: `scenario run` starts its own services as processes "
                           "over RabbitMQ (no `bootflow up` needed)", style="dim"))
    return 0


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from tracer.commands.demo import transport_url
    from tracer.render import render_trace
    from tracer.scenario.runner import ScenarioRunError, run_scenario
    from tracer.scenario.spec import ScenarioError
    from tracer.session import request_events

    check_writable(args.record)
    try:
        with console.status(f"running scenario {args.name}…"):
            result = run_scenario(args.name, transport_url(args.transport),
                                  record=args.record, timeout=args.timeout)
    except (ScenarioError, ScenarioRunError) as exc:
        raise UserError(str(exc)) from exc
    sc = result.scenario
    console.print(Text(f"{sc.name}: {sc.title}", style="bold"))
    console.print(Text(sc.explanation, style="dim"))
    events = result.events if args.all else request_events(result.events)
    console.print(render_trace(events))
    if result.error:
        console.print(Text(f"ERROR {result.error}", style="red"))
    for check in result.checks:
        console.print(Text(check.line(), style="green" if check.ok else "red"))
    if args.record:
        console.print(f"recorded {len(result.events)} events to {args.record}")
    return 0 if result.passed else 1
