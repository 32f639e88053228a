"""The ``bootflow`` subcommands, one module each; each module has ``register(subparsers)``.

A module's ``register`` adds its parser(s) and sets ``func(args, console) -> int`` as the
parser default. Modules import services/ and Textual only inside their functions, so
``bootflow --help`` stays fast and the tracer core stays free of both.
"""

from __future__ import annotations

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
