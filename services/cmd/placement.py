"""bootflow-placement: placement-api as its own process (openstack/placement's WSGI app).

Stein split placement out of Nova: its own service, its own database, reached over HTTP
by the scheduler and every compute. It listens on ``placement_host:placement_port``
(8778, as devstack puts it) and has no Nova service record: ``bootflow status`` asks
it over HTTP.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from services.cmd import common
from services.conf import Config


class PlacementService:
    """The WSGI server in a thread over placement's own database; ``stop()`` stops it."""

    def __init__(self, config: Config, host: str, port: int | None,
                 log: logging.Logger) -> None:
        from services.api.wsgi_server import APIServer
        from services.placement.handler import PlacementApp
        from services.placement.objects import PlacementStore
        from tracer.instrument import api as trace

        with trace.identity("placement", host), trace.span(
                "start placement-api", "INTERNAL", parent=None,
                attrs={"binary": "placement-api", "host": host,
                       "code.location": "placement/wsgi.py:init_application"}):
            app = PlacementApp(PlacementStore(config.placement_database_connection), host)
            self.server = APIServer(app, config.placement_host,
                                    config.placement_port if port is None else port,
                                    service="placement", trace_host=host)
            self.server.start()
        log.info("serving placement at %s", self.server.endpoint)

    def stop(self) -> None:
        self.server.stop()


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=None,
                   help="HTTP port (default: placement_port, 8778)")


def main(argv: Sequence[str] | None = None) -> int:
    def start(config: Config, args: argparse.Namespace, log: logging.Logger) -> Any:
        return PlacementService(config, args.host, args.port, log)

    return common.run("placement-api", "placement", argv, start, _args)


if __name__ == "__main__":
    sys.exit(main())
