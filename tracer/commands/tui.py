"""``bootflow tui``: attach the TUI to a running deployment (``bootflow up``) over RabbitMQ."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from tracer.commands import UserError, add_attach_args, attach_target


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tui", help="watch a running deployment (bootflow up) live",
                       description="Consumes the deployment's trace exchange and shows every "
                       "hop as it happens; boot from another terminal with `bootflow boot`.")
    add_attach_args(p)
    p.add_argument("--walkthrough", action="store_true",
                   help="hold every hop in the services until you release it (n/space)")
    p.add_argument("--present", action="store_true",
                   help="presentation mode for a classroom (graph, sequence, one large "
                   "narration line, the instance state; p toggles it)")
    p.add_argument("--viewer", action="store_true",
                   help="read-only: show the flow and the hops a teacher's walkthrough holds, "
                   "without the keys to release them (what `bootflow serve` gives a browser)")
    p.set_defaults(func=cmd_tui)


def cmd_tui(args: argparse.Namespace, console: Console) -> int:
    from tracer.collector import Collector, CollectorError
    from tracer.tui import BootflowApp, PushSource
    from tracer.tui.app import Mode

    if args.walkthrough and args.viewer:
        raise UserError("--walkthrough (the teacher's keys) and --viewer (none): pick one")
    deployment, config, url, exchange = attach_target(args)
    source = PushSource()
    controller: Any = None
    if args.viewer:
        from services.messaging.gate import GateObserver
        from tracer.tui.screens.viewer import ViewerGate

        controller = ViewerGate(GateObserver(url))
    elif args.walkthrough:
        from services.messaging.gate import GateController
        from tracer.commands.live import RequestOnlyGate

        controller = RequestOnlyGate(GateController(url))

    def on_event(event: dict[str, Any]) -> None:
        if controller is not None:
            controller.observe(event)
        source(event)

    collector = Collector(url, on_event, exchange=exchange)
    try:
        collector.start()
    except CollectorError as exc:
        if controller is not None:
            controller.close()
        raise UserError(str(exc)) from exc
    if args.walkthrough:
        controller.set_enabled(True)
    mode: Mode = "viewer" if args.viewer else "walkthrough" if args.walkthrough else "live"
    try:
        BootflowApp(source, mode=mode, gate=controller,
                    title=f"bootflow — {deployment.state_dir}",
                    service_down_time_s=float(config.service_down_time),
                    present=args.present).run()
    finally:
        if args.viewer:
            controller.close()
        elif controller is not None:
            controller.set_enabled(False)  # the services must not stay held
            controller.close()
        collector.stop()
    return 0
