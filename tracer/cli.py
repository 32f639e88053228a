"""``bootflow``: the application shell that runs the services and shows their trace.

This is the one module of tracer/ that imports services/ (to start them) and, lazily
inside a command, tracer.tui (Textual): the core stays importable without either.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

DEFAULT_TRANSPORT = "memory://"


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="boot an instance on the embedded default and show its trace")
    p.add_argument("--headless", action="store_true",
                   help="no TUI: print the trace as a tree when the flow ends")
    p.add_argument("--record", metavar="FILE", type=Path,
                   help="write every event to FILE (JSON Lines)")
    p.add_argument("--transport", metavar="URL", default=None,
                   help="messaging transport (default memory://; rabbit://user:pw@host:5672/)")
    p.add_argument("--flavor", default="m1.tiny", help="flavor name (default m1.tiny)")
    p.add_argument("--image", default="bootflow-guest", help="image name")
    p.add_argument("--count", type=int, default=1, help="instances to create in one request")
    p.add_argument("--computes", type=int, default=1, help="compute hosts (compute1..N)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the flow")
    p.add_argument("--all", action="store_true", help="also print the start-up traces")


def _add_replay(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="open a recording (TUI, or --headless to print it)")
    p.add_argument("file", type=Path)
    p.add_argument("--headless", action="store_true", help="print the trace tree instead")
    p.add_argument("--all", action="store_true", help="also print the start-up traces")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bootflow",
        description="Watch OpenStack Nova (Stein) create a virtual machine, hop by hop.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(sub)
    _add_replay(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from tracer import commands

    handler = getattr(commands, f"cmd_{args.command}")
    try:
        return int(handler(args, Console()))
    except commands.UserError as exc:
        Console(stderr=True).print(f"[red]bootflow {args.command}:[/] {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
