"""bootflow-api: nova-api (osapi_compute) over HTTP on 127.0.0.1 (nova/cmd/api.py).

Like Nova's WSGIService it keeps a service record (binary ``nova-osapi_compute``) and
here also beats it every ``report_interval`` so ``bootflow status`` can tell it is up.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence
from typing import Any

from services.cmd import common
from services.conf import Config

BINARY = "nova-osapi_compute"


class APIService:
    """HTTP server + service record heartbeat; ``stop()`` stops both."""

    def __init__(self, config: Config, host: str, port: int | None,
                 log: logging.Logger) -> None:
        from services import rpc
        from services.api.router import build_app
        from services.api.wsgi_server import APIServer
        from services.context import get_admin_context
        from services.db import api as db
        from services.objects import Service as ServiceObj
        from tracer.instrument import api as trace

        self.config, self.host, self.log = config, host, log
        db.configure(config)
        self.transport = rpc.get_transport(config)
        with trace.identity("nova-api", host), trace.span(
                "start nova-api", "INTERNAL", parent=None,
                attrs={"binary": "nova-api", "host": host,
                       "code.location": "nova/cmd/api.py:main"}):
            app = build_app(self.transport, config)
            self.server = APIServer(app, config.api_host,
                                    config.api_port if port is None else port,
                                    trace_host=host, threads=config.api_threads,
                                    backlog=config.api_backlog)
            ctxt = get_admin_context()
            ref = ServiceObj.get_by_host_and_binary(ctxt, host, BINARY)
            if ref is None:
                ref = ServiceObj(ctxt, host=host, binary=BINARY, topic=None,
                                 report_count=0, disabled=False)
                ref.create()
            else:
                ref._context = ctxt
            self.ref = ref
            self.server.start()
        log.info("serving %s/v2.1", self.server.endpoint)
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                      name="nova-api-heartbeat")
        self._beat.start()

    def _heartbeat(self) -> None:
        self._report()
        while not self._stop.wait(self.config.report_interval):
            self._report()

    def _report(self) -> None:
        try:
            self.ref.report_count = (self.ref.report_count or 0) + 1
            self.ref.save()
        except Exception as exc:  # keep beating, say why
            self.log.warning("service heartbeat failed: %r", exc)

    def stop(self) -> None:
        self._stop.set()
        self.server.stop()
        self._beat.join(timeout=5)
        self.transport.cleanup()


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=None, help="HTTP port (default: api_port)")


def main(argv: Sequence[str] | None = None) -> int:
    def start(config: Config, args: argparse.Namespace, log: logging.Logger) -> Any:
        return APIService(config, args.host, args.port, log)

    return common.run("nova-api", "api", argv, start, _args)


if __name__ == "__main__":
    sys.exit(main())
