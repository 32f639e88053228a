"""Base Manager (Stein's nova/manager.py): the hooks nova.service.Service calls.

Service.start(): init_host, service record, pre_start_hook, RPC server with the manager
and its ``additional_endpoints``, post_start_hook; periodic_tasks on a timer. Each is a
no-op here; a manager overrides what it needs.
"""

from __future__ import annotations

from typing import Any


class Manager:
    additional_endpoints: list[Any]
    # Stein's Manager.__init__(service_name=...): what BaseRPCAPI's ping answers with
    service_name = "undefined"

    def init_host(self) -> None:
        """Before the service record and the RPC server exist."""

    def pre_start_hook(self) -> None:
        """After the service record, before the RPC server starts."""

    def post_start_hook(self) -> None:
        """After the RPC server started."""

    def periodic_tasks(self, context: Any) -> None:
        """Every report interval."""
