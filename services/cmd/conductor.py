"""bootflow-conductor: nova-conductor as its own process (nova/cmd/conductor.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from services.cmd import common
from services.conf import Config


def _workers_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=None,
                   help="conductor worker processes ([conductor] workers; default from "
                        "the config, 1)")


def _workers(config: Config, args: argparse.Namespace) -> int:
    """nova/cmd/conductor.py: ``CONF.conductor.workers`` (the flag wins here)."""
    return int(args.workers or config.conductor_workers or 1)


def main(argv: Sequence[str] | None = None) -> int:
    return common.run("nova-conductor", "conductor", argv,
                      lambda config, args, log: common.start_rpc_service(
                          "nova-conductor", config, args.host, log),
                      extra_args=_workers_arg, workers=_workers)


if __name__ == "__main__":
    sys.exit(main())
