"""Client side of the compute RPC API (nova/compute/rpcapi.py), 5.x in Stein.

Everything here is a **cast** to ``compute.<host>``: the conductor does not wait for a
build, the API does not wait for a delete or a reboot.
"""

from __future__ import annotations

from typing import Any

from services import messaging, rpc

RPC_TOPIC = "compute"


class ComputeAPI:
    VERSION_ALIASES = {"icehouse": "3.23", "juno": "3.35", "kilo": "4.0", "liberty": "4.5",
                       "mitaka": "4.11", "newton": "4.13", "ocata": "4.13", "pike": "4.17",
                       "queens": "5.0", "rocky": "5.0", "stein": "5.1"}

    def __init__(self, transport: Any, config: Any, version_cap: str | None = None) -> None:
        target = messaging.Target(topic=RPC_TOPIC, version="5.0")
        if version_cap is None and (config.upgrade_levels or {}).get("compute") == "auto":
            version_cap = _determine_version_cap(config)
        version_cap = version_cap or rpc.version_cap(config, "compute", self.VERSION_ALIASES)
        self.client = rpc.get_client(transport, target, version_cap=version_cap,
                                     code_location="nova/compute/rpcapi.py:ComputeAPI",
                                     timeout=config.rpc_response_timeout)

    def build_and_run_instance(self, ctxt: Any, instance: Any, host: str, image: Any,
                               request_spec: Any, filter_properties: Any,
                               admin_password: Any = None, injected_files: Any = None,
                               requested_networks: Any = None, security_groups: Any = None,
                               block_device_mapping: Any = None, node: str | None = None,
                               limits: Any = None, host_list: Any = None) -> None:
        cctxt = self.client.prepare(server=host, version="5.0")
        cctxt.cast(ctxt, "build_and_run_instance", instance=instance, image=image,
                   request_spec=request_spec, filter_properties=filter_properties,
                   admin_password=admin_password, injected_files=injected_files,
                   requested_networks=requested_networks, security_groups=security_groups,
                   block_device_mapping=block_device_mapping, node=node, limits=limits,
                   host_list=host_list)

    def terminate_instance(self, ctxt: Any, instance: Any, bdms: Any = None) -> None:
        cctxt = self.client.prepare(server=instance.host, version="5.0")
        cctxt.cast(ctxt, "terminate_instance", instance=instance, bdms=bdms or [])

    def reboot_instance(self, ctxt: Any, instance: Any, block_device_info: Any,
                        reboot_type: str) -> None:
        """A cast like Stein's: the API answers 202 and never waits for the guest."""
        cctxt = self.client.prepare(server=instance.host, version="5.0")
        cctxt.cast(ctxt, "reboot_instance", instance=instance,
                   block_device_info=block_device_info, reboot_type=reboot_type)

    def external_instance_event(self, ctxt: Any, instances: list[Any], events: list[Any],
                                host: str) -> None:
        """Neutron's network-vif-plugged reaches compute as this cast (via the API)."""
        cctxt = self.client.prepare(server=host, version="5.0")
        cctxt.cast(ctxt, "external_instance_event", instances=instances, events=events)


# LAST_VERSION of Stein: the cap once found from running computes is kept by the process;
# here per service and database, since one process may host a whole embedded cloud (and
# several, one after another)
_LAST_VERSION: dict[tuple[str, tuple[str, str]], str] = {}


def _determine_version_cap(config: Any) -> str:
    """``[upgrade_levels] compute = auto``: the compute RPC version of the oldest
    nova-compute registered (SERVICE_VERSION_HISTORY). No compute yet: the current
    version, not remembered, so a later client asks again."""
    from services.context import get_admin_context
    from services.objects import Service
    from services.objects.compute_node import SERVICE_VERSION_HISTORY
    from tracer.instrument import api as trace

    key = (config.database_connection, trace.whoami())
    if key in _LAST_VERSION:
        return _LAST_VERSION[key]
    with trace.span("_determine_version_cap", "INTERNAL", attrs={
            "code.location": "nova/compute/rpcapi.py:ComputeAPI._determine_version_cap"}
            ) as sp:
        service_version = Service.get_minimum_version(get_admin_context(), "nova-compute")
        sp.set_attr("minimum_service_version", service_version)
        if service_version == 0:
            version_cap = SERVICE_VERSION_HISTORY[Service.SERVICE_VERSION]["compute_rpc"]
            trace.annotate("log", {"level": "DEBUG", "message": (
                "Not caching compute RPC version_cap, because min service_version is 0. "
                "Please ensure a nova-compute service has been started. Defaulting to "
                "current version.")})
        else:
            version_cap = SERVICE_VERSION_HISTORY[service_version]["compute_rpc"]
            _LAST_VERSION[key] = version_cap
            trace.annotate("log", {"level": "INFO", "message": (
                f"Automatically selected compute RPC version {version_cap} from minimum "
                f"service version {service_version}")})
        sp.set_attr("version_cap", version_cap)
        return version_cap
