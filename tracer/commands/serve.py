"""``bootflow serve``: the TUI in every browser of a classroom (textual-serve).

Each browser tab gets its own read-only viewer process (``bootflow tui --viewer``)
attached to the running deployment's trace exchange and the walkthrough gate's control
exchange: it sees the flow and the held hops, and cannot release one. ``--demo`` serves the
embedded demo instead, each tab its own embedded cloud on kombu's in-memory transport.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from rich.console import Console

from tracer.commands import UserError, add_attach_args, attach_target, state_dir


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="serve the TUI to browsers (a read-only viewer each)",
                       description="Serves the TUI over HTTP with textual-serve: every "
                       "browser gets a read-only viewer of the running deployment (bootflow "
                       "up), held walkthrough hops included; the teacher steps them in "
                       "`bootflow tui --walkthrough`.")
    add_attach_args(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for a room)")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    p.add_argument("--max-sessions", type=int, default=30, metavar="N",
                   help="browsers served at once (default 30); one more gets a 'room is "
                   "full' page")
    p.add_argument("--public-url", default=None, metavar="URL",
                   help="the URL browsers reach this server by, behind a proxy (default: "
                   "the address each browser used)")
    p.add_argument("--demo", action="store_true",
                   help="serve the embedded demo instead: each browser boots its own "
                   "embedded cloud (no deployment needed)")
    p.add_argument("--walkthrough", action="store_true",
                   help="with --demo: each browser steps its own cloud's hops (n/space)")
    p.set_defaults(func=cmd_serve)


def viewer_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve starts for each browser."""
    python = [sys.executable, "-m", "tracer.cli"]
    if args.demo:
        cmd = [*python, "demo", "--transport", "memory://"]
        if args.walkthrough:
            cmd.append("--walkthrough")
        return shlex.join(cmd)
    cmd = [*python, "tui", "--viewer", "--state-dir", str(Path(state_dir(args)).resolve())]
    if args.transport:
        cmd += ["--transport", args.transport]
    if args.trace_exchange:
        cmd += ["--trace-exchange", args.trace_exchange]
    return shlex.join(cmd)


def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    if args.max_sessions < 1:
        raise UserError("--max-sessions must be at least 1")
    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port}: not a TCP port")
    if args.walkthrough and not args.demo:
        raise UserError("--walkthrough goes with --demo; a deployment's gate is the "
                        "teacher's: bootflow tui --walkthrough")
    if args.demo:
        title = "bootflow demo"
    else:
        deployment, _config, _url, _exchange = attach_target(args)  # refuse early if none
        title = f"bootflow — {deployment.state_dir}"
    from tracer.tui.web import ViewerServer

    server = ViewerServer(viewer_command(args), host=args.host, port=args.port,
                          max_sessions=args.max_sessions, title=title,
                          public_url=args.public_url)
    try:
        server.serve()
    except OSError as exc:  # the port is taken, the address is not ours
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
    return 0
