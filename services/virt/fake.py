"""FakeDriver (nova/virt/fake.py): instant spawn, no hypervisor; for scale tests."""

from __future__ import annotations

import threading
from typing import Any

from services.virt import driver
from tracer.instrument import api as trace


class FakeDriver(driver.ComputeDriver):
    STEIN_LOCATION = "nova/virt/fake.py:FakeDriver"
    # resources of one fake host; config.extra["fake_resources"] overrides
    DEFAULT_RESOURCES = {"vcpus": 16, "memory_mb": 32768, "local_gb": 1024}

    def __init__(self, virtapi: Any, config: Any, host: str) -> None:
        super().__init__(virtapi, config, host)
        self.resources = {**self.DEFAULT_RESOURCES,
                          **dict(config.extra.get("fake_resources", {}))}
        self.instances: dict[str, int] = {}
        self._lock = threading.Lock()
        # hosts listed here fail every spawn (reschedule scenarios)
        self.fail_spawn = set(config.extra.get("fake_fail_spawn_hosts", []))

    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        return {**self.resources, "vcpus_used": 0, "memory_mb_used": 0, "local_gb_used": 0,
                "hypervisor_type": "fake", "hypervisor_version": 1000,
                "hypervisor_hostname": nodename,
                "supported_instances": [["x86_64", "fake", "hvm"], ["i686", "fake", "hvm"]],
                "cpu_info": {"arch": "x86_64", "model": "fake", "vendor": "fake",
                             "topology": {"sockets": 1, "cores": self.resources["vcpus"],
                                          "threads": 1}}}

    def list_instances(self) -> list[str]:
        return list(self.instances)

    def get_info(self, instance: Any) -> int:
        return self.instances.get(instance.uuid, driver.NOSTATE)

    def spawn(self, context: Any, instance: Any, image_meta: Any, injected_files: Any,
              admin_password: Any, allocations: Any, network_info: Any = None,
              block_device_info: Any = None) -> None:
        with trace.span("FakeDriver.spawn", "INTERNAL",
                        attrs={"code.location": f"{self.STEIN_LOCATION}.spawn"}):
            # scenario hook: a shared list of failures, one popped per spawn anywhere
            failures = self.config.extra.get("fake_spawn_failures")
            reason = None
            if self.host in self.fail_spawn:
                reason = f"fake spawn failure on {self.host}"
            elif failures:
                reason = failures.pop(0)
            if reason:
                from services import exception
                raise exception.VirtDriverError(reason=reason)
            with self._lock:
                self.instances[instance.uuid] = driver.RUNNING

    def reboot(self, context: Any, instance: Any, network_info: Any, reboot_type: str,
               block_device_info: Any = None, bad_volumes_callback: Any = None) -> None:
        """nova/virt/fake.py: instant; the guest is running afterwards."""
        with trace.span("FakeDriver.reboot", "INTERNAL",
                        attrs={"code.location": f"{self.STEIN_LOCATION}.reboot",
                               "reboot_type": reboot_type}):
            with self._lock:
                if instance.uuid not in self.instances:
                    from services import exception
                    raise exception.VirtDriverError(
                        reason=f"instance {instance.uuid} is not on {self.host}")
                self.instances[instance.uuid] = driver.RUNNING

    def destroy(self, context: Any, instance: Any, network_info: Any,
                block_device_info: Any = None, destroy_disks: bool = True) -> None:
        with self._lock:
            self.instances.pop(instance.uuid, None)
