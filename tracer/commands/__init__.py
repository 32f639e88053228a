"""The ``bootflow`` subcommands, one module each; each module has ``register(subparsers)``.

A module's ``register`` adds its parser(s) and sets ``func(args, console) -> int`` as the
parser default. Modules import services/ and Textual only inside their functions, so
``bootflow --help`` stays fast and the tracer core stays free of both.
"""

from __future__ import annotations

import os
from pathlib import Path

COMMAND_MODULES = (
    "tracer.commands.demo",
    "tracer.commands.deploy",
    "tracer.commands.export",
    "tracer.commands.record",
    "tracer.commands.tui",
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
