"""The compute driver interface (nova/virt/driver.py) and the power states it reports."""

from __future__ import annotations

import importlib
from typing import Any

# nova/compute/power_state.py
NOSTATE, RUNNING, PAUSED, SHUTDOWN, CRASHED, SUSPENDED = 0, 1, 3, 4, 6, 7


class ComputeDriver:
    """What ComputeManager asks of a hypervisor; the subset the boot flow needs."""

    STEIN_LOCATION = "nova/virt/driver.py:ComputeDriver"

    def __init__(self, virtapi: Any, config: Any, host: str) -> None:
        self.virtapi = virtapi
        self.config = config
        self.host = host

    def init_host(self, host: str) -> None:
        """Connect to the hypervisor; raise with a one-line fix when it is missing."""

    def get_available_nodes(self, refresh: bool = False) -> list[str]:
        return [self.host]

    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        raise NotImplementedError

    def list_instances(self) -> list[str]:
        raise NotImplementedError

    def get_info(self, instance: Any) -> int:
        """The instance's power state."""
        raise NotImplementedError

    def spawn(self, context: Any, instance: Any, image_meta: Any, injected_files: Any,
              admin_password: Any, allocations: Any, network_info: Any = None,
              block_device_info: Any = None) -> None:
        raise NotImplementedError

    def destroy(self, context: Any, instance: Any, network_info: Any,
                block_device_info: Any = None, destroy_disks: bool = True) -> None:
        raise NotImplementedError

    def reboot(self, context: Any, instance: Any, network_info: Any, reboot_type: str,
               block_device_info: Any = None, bad_volumes_callback: Any = None) -> None:
        """SOFT (guest shutdown, then start) or HARD (power cycle)."""
        raise NotImplementedError

    def cleanup_host(self, host: str) -> None:
        """Close the hypervisor connection on service stop."""


def load_compute_driver(virtapi: Any, config: Any, host: str) -> ComputeDriver:
    """``compute_driver`` option: fake.FakeDriver, or libvirt for virt_type test/qemu.

    As Nova's ``importutils.import_object_ns('nova.virt', compute_driver, ...)``: the
    driver is named by a string, so this interface does not import its implementations.
    """
    name = "fake.FakeDriver" if config.virt_type == "fake" else "libvirt.driver.LibvirtDriver"
    module, _, cls = f"services.virt.{name}".rpartition(".")
    driver: ComputeDriver = getattr(importlib.import_module(module), cls)(virtapi, config, host)
    return driver
