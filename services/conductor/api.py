"""Conductor client facades (nova/conductor/api.py): API and ComputeTaskAPI."""

from __future__ import annotations

import time
from typing import Any

from services import baserpc, messaging
from services.conductor import rpcapi
from tracer.instrument import api as trace


class API:
    """What a conductor-using service (compute) holds; also its wait_until_ready ping."""

    STEIN_LOCATION = "nova/conductor/api.py:API"

    def __init__(self, transport: Any, config: Any) -> None:
        self.config = config
        self.conductor_rpcapi = rpcapi.ConductorAPI(transport, config)
        self.base_rpcapi = baserpc.BaseAPI(rpcapi.RPC_TOPIC, transport, config)

    def wait_until_ready(self, context: Any, early_timeout: float | None = None,
                         early_attempts: int | None = None,
                         log: Any = print) -> None:
        """Ping the conductor until it answers (nova/conductor/api.py:API.wait_until_ready).

        The first ``early_attempts`` pings use ``early_timeout``; after that the normal
        rpc_response_timeout. Each MessagingTimeout is logged and retried, forever.
        """
        early_timeout = early_timeout or self.config.early_timeout
        early_attempts = early_attempts or self.config.early_attempts
        attempt = 0
        with trace.span("wait_until_ready", "INTERNAL",
                        attrs={"code.location": f"{self.STEIN_LOCATION}.wait_until_ready",
                               "early_timeout": early_timeout,
                               "early_attempts": early_attempts}) as sp:
            while True:
                timeout = early_timeout if attempt < early_attempts else None
                attempt += 1
                try:
                    self.base_rpcapi.ping(context, "1.21 GigaWatts", timeout=timeout)
                    sp.set_attr("attempts", attempt)
                    return
                except messaging.MessagingTimeout:
                    msg = ("Timed out waiting for nova-conductor.  Is it running? "
                           "Or did this service start before nova-conductor?  "
                           f"Reattempting establishment of nova-conductor connection... "
                           f"(attempt {attempt})")
                    trace.annotate("log", {"level": "WARNING", "message": msg})
                    log(msg)
                    time.sleep(0)


class ComputeTaskAPI:
    """The API's entry into the build flow (nova/conductor/api.py:ComputeTaskAPI)."""

    def __init__(self, transport: Any, config: Any) -> None:
        self.conductor_compute_rpcapi = rpcapi.ComputeTaskAPI(transport, config)

    def schedule_and_build_instances(self, context: Any, build_requests: Any,
                                     request_specs: Any, image: Any, admin_password: Any,
                                     injected_files: Any, requested_networks: Any,
                                     block_device_mapping: Any, tags: Any = None) -> None:
        self.conductor_compute_rpcapi.schedule_and_build_instances(
            context, build_requests, request_specs, image, admin_password, injected_files,
            requested_networks, block_device_mapping, tags)

    def build_instances(self, context: Any, **kwargs: Any) -> None:
        self.conductor_compute_rpcapi.build_instances(context, **kwargs)
