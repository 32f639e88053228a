"""Configuration with Nova Stein's defaults (``nova/conf/*.py``), one TOML file + env.

Why one dataclass: every service in a process reads the same options, and a learner
can print them all with ``Config.masked()`` (broker password hidden).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tracer.instrument.redact import redact_url

DEFAULT_STATE_DIR = Path(os.environ.get("BOOTFLOW_STATE_DIR", "/tmp/bootflow"))


@dataclass
class Config:
    """Stein option values; names follow nova.conf where Nova has the option."""

    # [DEFAULT] / oslo.messaging
    transport_url: str = "memory://"
    control_exchange: str = "nova"
    rpc_response_timeout: int = 60
    long_rpc_timeout: int = 1800
    # service group / periodic tasks
    report_interval: int = 10
    service_down_time: int = 60
    periodic_interval: int = 60
    # [DEFAULT] periodic_fuzzy_delay: periodic tasks start after random 0..N s (0: at once)
    periodic_fuzzy_delay: int = 60
    # conductor wait_until_ready (nova/service.py)
    early_timeout: int = 10
    early_attempts: int = 10
    # [conductor] workers: processes forked by the launcher, all consuming the conductor
    # topic. Stein's default is the CPU count (processutils.get_worker_count); bootflow's
    # is 1 so that one process is the conductor unless asked (bootflow up
    # --conductor-workers N).
    conductor_workers: int = 1
    # [scheduler]
    max_attempts: int = 3
    # [DEFAULT] instance_build_timeout: a build older than this many s goes to ERROR
    # (compute periodic task _check_instance_build_time); 0 disables it, Stein's default.
    # `bootflow up` sets DEPLOY_INSTANCE_BUILD_TIMEOUT (tracer/cloud/processes.py).
    instance_build_timeout: int = 0
    # [scheduler] discover_hosts_in_cells_interval: the scheduler maps new compute hosts
    # to their cell every this many seconds; negative (Stein's default): never, an
    # operator runs `nova-manage cell_v2 discover_hosts` (`bootflow up` does it once).
    # `bootflow up --listen` sets a few seconds, so computes that join later get mapped.
    discover_hosts_in_cells_interval: int = -1
    # [DEFAULT] vif plugging
    vif_plugging_timeout: int = 300
    vif_plugging_is_fatal: bool = True
    # databases: [api_database] connection, [database] connection (cell1), cell0
    state_dir: str = str(DEFAULT_STATE_DIR)
    api_database_connection: str = ""
    database_connection: str = ""
    cell0_database_connection: str = ""
    placement_database_connection: str = ""
    # [placement] endpoint_override (keystoneauth): where the report client finds the
    # placement-api process; empty: placement runs in this process on
    # placement_database_connection (the embedded default).
    placement_endpoint: str = ""
    placement_host: str = "127.0.0.1"
    placement_port: int = 8778
    # [DEFAULT] instance_name_template: the libvirt domain name, % the instance id (or
    # %(uuid)s-style keys). `bootflow up` sets a per-deployment prefix (deploy.py).
    instance_name_template: str = "instance-%08x"
    # [libvirt]
    virt_type: str = "test"  # test | qemu | fake
    connection_uri: str = ""
    instances_path: str = ""
    boot_timeout: float = 60.0
    wait_soft_reboot_seconds: int = 120  # [libvirt]: then a soft reboot turns hard
    guest_dir: str = "build/guest"
    # [DEFAULT] api
    api_host: str = "127.0.0.1"
    api_port: int = 8774
    default_availability_zone: str = "nova"
    # [oslo_middleware] max_request_body_size: bigger request bodies are 413
    max_request_body_size: int = 114688
    # [wsgi]: Nova's eventlet server listens with backlog 128 (nova/wsgi.py) and a pool of
    # default_pool_size (1000) green threads; bootflow's cheroot server has OS threads, so
    # a pool of its own size. Connections beyond the pool wait, queued, not refused.
    api_backlog: int = 1024
    api_threads: int = 16
    # [quota] per project (Stein's defaults; -1: unlimited)
    quota_instances: int = 10
    quota_cores: int = 20
    quota_ram: int = 51200
    quota_metadata_items: int = 128
    # allocation ratios (Stein defaults)
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    reserved_host_memory_mb: int = 512
    reserved_host_disk_mb: int = 0
    # embedded transport tuning (kombu memory:// polls; see DESIGN.md)
    polling_interval: float = 0.001
    # bootflow's own: seconds a service's trace emitter lets events gather into one
    # message (fewer messages under load; a viewer sees an event up to that much later).
    # 0.1 s: tracing costs <= 1.10x at scale (BENCHMARKS.md) and a live view stays live.
    trace_linger: float = 0.1
    # [oslo_messaging_notifications] driver: Stein's default sends none; bootflow is on
    # as devstack configures it (messagingv2: the oslo.version 2.0 envelope).
    # [notifications] notification_format (Stein default both: the unversioned
    # ``notifications`` topic and ``versioned_notifications``) and notify_on_state_change
    # (devstack: vm_and_task_state; Stein's default none sends no instance.update).
    notification_driver: str = "messagingv2"
    notification_topics: list[str] = field(default_factory=lambda: ["notifications"])
    notification_format: str = "both"
    versioned_notifications_topics: list[str] = field(
        default_factory=lambda: ["versioned_notifications"])
    notify_on_state_change: str = "vm_and_task_state"
    # [upgrade_levels]: rpcapi version caps during a rolling upgrade, per API (compute,
    # conductor, scheduler, baseapi as Stein; compute may be "auto": the cap follows the
    # oldest nova-compute's service version). A value is a version or a release alias.
    upgrade_levels: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        state = Path(self.state_dir)
        if not self.api_database_connection:
            self.api_database_connection = f"sqlite:///{state / 'nova_api.sqlite'}"
        if not self.database_connection:
            self.database_connection = f"sqlite:///{state / 'nova_cell1.sqlite'}"
        if not self.cell0_database_connection:
            self.cell0_database_connection = f"sqlite:///{state / 'nova_cell0.sqlite'}"
        if not self.placement_database_connection:
            self.placement_database_connection = f"sqlite:///{state / 'placement.sqlite'}"
        if not self.instances_path:
            self.instances_path = str(state / "instances")
        if not self.connection_uri:
            self.connection_uri = ("qemu:///system" if self.virt_type == "qemu"
                                   else "test:///default")

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None,
             env: dict[str, str] | None = None, **overrides: Any) -> Config:
        """File values, then ``BOOTFLOW_<FIELD>`` env values, then keyword overrides."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        if path is not None:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
            for section in data.values() if all(isinstance(v, dict) for v in data.values()) \
                    else [data]:
                values.update(section)
        known = {f.name: f for f in fields(cls)}
        for name in known:
            raw = env.get(f"BOOTFLOW_{name.upper()}")
            if raw is not None and name not in ("extra", "upgrade_levels"):
                values[name] = _coerce(raw, cls.__dataclass_fields__[name].default)
        values.update(overrides)
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown config option(s): {', '.join(unknown)}")
        return cls(**values)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def masked(self) -> dict[str, Any]:
        """Options for printing: passwords in URLs replaced by ``***``."""
        return {k: (redact_url(v) if isinstance(v, str) else v)
                for k, v in dataclasses.asdict(self).items()}


def _coerce(raw: str, default: Any) -> Any:
    if default is dataclasses.MISSING:  # the list options: comma separated
        return [part.strip() for part in raw.split(",") if part.strip()]
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw
