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
    p.set_defaults(func=cmd_tui)


def cmd_tui(args: argparse.Namespace, console: Console) -> int:
    from tracer.collector import Collector, CollectorError
    from tracer.tui import BootflowApp, PushSource

    deployment, config, url, exchange = attach_target(args)
    source = PushSource()
    controller = None
    if args.walkthrough:
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
    if controller is not None:
        controller.set_enabled(True)
    try:
        BootflowApp(source, mode="walkthrough" if controller else "live", gate=controller,
                    title=f"bootflow — {deployment.state_dir}",
                    service_down_time_s=float(config.service_down_time),
                    present=args.present).run()
    finally:
        if controller is not None:
            controller.set_enabled(False)  # the services must not stay held
            controller.close()
        collector.stop()
    return 0
