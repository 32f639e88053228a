"""Starting one service the way ``nova/cmd/<binary>.py:main`` does: create, then start.

The per-process entry points (``services/cmd``) and bootflow's embedded cloud both use it.
"""

from __future__ import annotations

from typing import Any

from services import rpc
from services.conf import Config
from services.db import api as db
from services.service import Service
from tracer.instrument import api as trace


def start_service(binary: str, host: str, config: Config, transport: Any = None,
                  log: Any = None) -> Service:
    """Service.create + start under the service's identity; one start-up trace each.

    Usable by a one-service-per-process entry point: services with database access open
    it here; nova-compute has none (its objects go through the conductor).
    """
    if binary != "nova-compute":
        db.configure(config)
    transport = transport or rpc.get_transport(config)
    with trace.identity(binary, host), trace.span(
            f"start {binary}", "INTERNAL", parent=None,
            attrs={"binary": binary, "host": host,
                   "transport_url": config.transport_url,
                   "code.location": f"nova/cmd/{binary.rpartition('-')[2]}.py:main"}):
        service = Service.create(binary=binary, host=host, config=config,
                                 transport=transport, log=log)
        service.start()
    return service
