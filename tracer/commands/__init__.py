"""The ``bootflow`` subcommands, one module each; each module has ``register(subparsers)``.

A module's ``register`` adds its parser(s) and sets ``func(args, console) -> int`` as the
parser default. Modules import services/ and Textual only inside their functions, so
``bootflow --help`` stays fast and the tracer core stays free of both.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

COMMAND_MODULES = (
    "tracer.commands.demo",
    "tracer.commands.updown",
    "tracer.commands.export",
    "tracer.commands.record",
    "tracer.commands.tui",
    "tracer.commands.serve",
    "tracer.commands.scenario",
)


class UserError(Exception):
    """A mistake the user can fix (bad file, unknown name): printed as one line, exit 2."""


def check_writable(path: Path | None) -> None:
    """Refuse an output file that cannot be written before any work is done, in one line."""
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not a file")
    if not folder.is_dir():
        raise UserError(f"{path}: no such folder {folder}")
    if not os.access(path if path.exists() else folder, os.W_OK):
        raise UserError(f"{path}: not writable")


def state_dir(args: argparse.Namespace) -> str:
    """The deployment's state folder: --state-dir, else $BOOTFLOW_STATE_DIR, else /tmp/bootflow."""
    return args.state_dir or os.environ.get("BOOTFLOW_STATE_DIR") or "/tmp/bootflow"


def add_attach_args(p: argparse.ArgumentParser) -> None:
    """--state-dir, --transport and --trace-exchange of a command that attaches to a
    running deployment (``record``, ``tui``); `attach_target` reads them."""
    p.add_argument("--state-dir", default=None,
                   help="the deployment's state folder (default $BOOTFLOW_STATE_DIR or "
                   "/tmp/bootflow)")
    p.add_argument("--transport", metavar="URL", default=None,
                   help="broker URL (default: the deployment's)")
    p.add_argument("--trace-exchange", default=None,
                   help="trace exchange (default: the deployment's, else bootflow.trace)")


def attach_target(args: argparse.Namespace) -> tuple[Any, Any, str, str]:
    """(deployment, its config, broker URL, trace exchange) for `add_attach_args`' options; a
    deployment that is not there is a UserError."""
    from tracer.cloud.processes import DeployError, Deployment

    deployment = Deployment(state_dir(args))
    try:
        config = deployment.config()
    except DeployError as exc:
        raise UserError(str(exc)) from exc
    url = args.transport or config.transport_url
    exchange = (args.trace_exchange or deployment.meta().get("trace_exchange")
                or "bootflow.trace")
    return deployment, config, url, exchange
