"""bootflow-conductor: nova-conductor as its own process (nova/cmd/conductor.py)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.cmd import common


def main(argv: Sequence[str] | None = None) -> int:
    return common.run("nova-conductor", "conductor", argv,
                      lambda config, args, log: common.start_rpc_service(
                          "nova-conductor", config, args.host, log))


if __name__ == "__main__":
    sys.exit(main())
