"""``bootflow``: the application shell that runs the services and shows their trace.

The subcommands live in ``tracer.commands.*``; this module only builds the parser.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from tracer.commands import COMMAND_MODULES, UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bootflow",
        description="Watch OpenStack Nova (Stein) create a virtual machine, hop by hop.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


PIPE_WIDTH = 400  # piped to a file or less: wide enough that no name is split


def out_console() -> Console:
    """On a terminal its width; piped (not a terminal, no $COLUMNS) wide, so the
    headless tree keeps ``schedule_and_build_instances`` on one line."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console()
    return Console(width=PIPE_WIDTH)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args, out_console()))
    except UserError as exc:
        # one line however long (a path, a command to run): no wrapping, no markup from exc
        Console(stderr=True).print(f"[red]bootflow {args.command}:[/] {escape(str(exc))}",
                                   highlight=False, soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
