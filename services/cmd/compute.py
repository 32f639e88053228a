"""bootflow-compute: nova-compute as its own process (nova/cmd/compute.py).

Like Nova's compute it has no database access: objects go through the conductor
(indirection API), so it waits for nova-conductor in ``wait_until_ready`` first.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.cmd import common


def main(argv: Sequence[str] | None = None) -> int:
    return common.run("nova-compute", "compute1", argv,
                      lambda config, args, log: common.start_rpc_service(
                          "nova-compute", config, args.host, log, use_db=False))


if __name__ == "__main__":
    sys.exit(main())
