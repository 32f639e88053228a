"""LibvirtDriver (nova/virt/libvirt/driver.py) on libvirt-python.

``test:///default`` (libvirt's in-library test driver, no daemon) by default; ``qemu``
boots the real guest and waits for its own "booted" line on the serial console. Each
spawn step is an INTERNAL span named like Stein's method.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services import exception
from services.virt import driver, images
from services.virt.libvirt import config as vconfig
from tracer.instrument import api as trace

STEIN_LOCATION = "nova/virt/libvirt/driver.py:LibvirtDriver"
BOOT_LINE = "bootflow-guest: booted"


def _libvirt() -> Any:
    try:
        import libvirt
    except ImportError as exc:  # pragma: no cover - depends on the host
        raise exception.VirtDriverError(
            reason="libvirt-python is missing (fix: make setup; it needs libvirt-dev, "
                   "pkg-config)") from exc
    # errors arrive as libvirtError; the C library's stderr printing is noise
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    return libvirt


class LibvirtDriver(driver.ComputeDriver):
    STEIN_LOCATION = STEIN_LOCATION

    def __init__(self, virtapi: Any, config: Any, host: str) -> None:
        super().__init__(virtapi, config, host)
        self.uri = config.connection_uri
        self.virt_type = "test" if self.uri.startswith("test:") else config.virt_type
        self._conn: Any = None
        self._domains: set[str] = set()  # uuids this driver defined (test driver is shared)
        self.boot_poll = 0.5

    # ---- host ---------------------------------------------------------------------
    @property
    def conn(self) -> Any:
        if self._conn is None:
            libvirt = _libvirt()
            try:
                self._conn = libvirt.open(self.uri)
            except libvirt.libvirtError as exc:
                raise exception.VirtDriverError(
                    reason=f"cannot connect to {self.uri}: {exc} (fix: sudo bash "
                           "scripts/libvirt-up.sh)") from exc
        return self._conn

    def init_host(self, host: str) -> None:
        with trace.stein_step(STEIN_LOCATION, "init_host", qualified=True,
                              **{"libvirt.uri": self.uri}):
            self.conn.getVersion()
            Path(self.config.instances_path).mkdir(parents=True, exist_ok=True)

    def cleanup_host(self, host: str) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        info = self.conn.getInfo()  # [model, memory MiB, cpus, mhz, nodes, sockets, cores, thr]
        disk = shutil.disk_usage(Path(self.config.instances_path))
        used_mb = vcpus_used = 0
        libvirt = _libvirt()
        for uuid in list(self._domains):
            # a parallel delete may undefine the domain between the lookup and info()
            # (Stein's Host.list_guests skips VIR_ERR_NO_DOMAIN the same way)
            try:
                _state, _max, mem_kib, ncpu, _t = self.conn.lookupByUUIDString(uuid).info()
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
                self._domains.discard(uuid)
                continue
            used_mb += mem_kib // 1024
            vcpus_used += ncpu
        return {"vcpus": int(info[2]), "memory_mb": int(info[1]),
                "local_gb": int(disk.total // 2**30), "vcpus_used": vcpus_used,
                "memory_mb_used": used_mb,
                "local_gb_used": int((disk.total - disk.free) // 2**30),
                "hypervisor_type": "QEMU" if self.virt_type == "qemu" else "test",
                "hypervisor_version": int(self.conn.getVersion()),
                "hypervisor_hostname": nodename,
                "supported_instances": [["x86_64", "qemu" if self.virt_type == "qemu"
                                         else "test", "hvm"]],
                "cpu_info": {"arch": "x86_64", "model": str(info[0]),
                             "topology": {"sockets": int(info[5]), "cores": int(info[6]),
                                          "threads": int(info[7])}}}

    def list_instances(self) -> list[str]:
        return sorted(self._domains)

    def get_info(self, instance: Any) -> int:
        libvirt = _libvirt()
        try:
            state = self.conn.lookupByUUIDString(instance.uuid).info()[0]
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise
            return driver.NOSTATE  # none, or undefined right after the lookup
        return {libvirt.VIR_DOMAIN_RUNNING: driver.RUNNING,
                libvirt.VIR_DOMAIN_PAUSED: driver.PAUSED,
                libvirt.VIR_DOMAIN_SHUTOFF: driver.SHUTDOWN,
                libvirt.VIR_DOMAIN_CRASHED: driver.CRASHED}.get(state, driver.NOSTATE)

    # ---- spawn --------------------------------------------------------------------
    def _instance_dir(self, instance: Any) -> Path:
        return Path(self.config.instances_path) / instance.uuid

    def _domain_name(self, instance: Any) -> str:
        """Instance.name: ``instance_name_template % id``, or % a dict of the instance's
        fields (``%(uuid)s``-style); the uuid when a key is unknown (nova/objects)."""
        template = getattr(self.config, "instance_name_template", "instance-%08x")
        try:
            return template % (instance.id or 0)
        except TypeError:
            info = {k: getattr(instance, k, None) for k in ("id", "uuid", "hostname",
                                                             "display_name", "host")}
            try:
                return template % info
            except (KeyError, TypeError, ValueError):
                return str(instance.uuid)
        except (KeyError, ValueError):
            return str(instance.uuid)

    def _owns(self, dom: Any) -> bool:
        """A domain this compute's deployment made: its files live in our instances_path
        (test:///default is private to the process, so everything there is ours)."""
        if self.uri.startswith("test:"):
            return True
        try:
            return str(Path(self.config.instances_path)) + "/" in dom.XMLDesc(0)
        except Exception:  # gone meanwhile
            return False

    def spawn(self, context: Any, instance: Any, image_meta: Any, injected_files: Any,
              admin_password: Any, allocations: Any, network_info: Any = None,
              block_device_info: Any = None) -> None:
        # Stein: disk_info = blockinfo.get_disk_info(...) (a module function, not a method)
        with trace.span("get_disk_info", "INTERNAL", attrs={
                "code.location": "nova/virt/libvirt/blockinfo.py:get_disk_info",
                "virt_type": self.virt_type}):
            disk_info = {"disk_bus": "virtio", "cdrom_bus": "ide",
                         "mapping": {"root": {"bus": "virtio", "dev": "vda", "type": "disk"}}
                         if self.virt_type != "qemu" else {}}
        with trace.stein_step(STEIN_LOCATION, "_create_image"):
            idir = self._instance_dir(instance)
            idir.mkdir(parents=True, exist_ok=True)
            boot = (images.fetch_to_raw(context, image_meta, idir)
                    if self.virt_type == "qemu" else {"kernel": None, "initrd": None,
                                                      "cmdline": None})
            if self.virt_type == "qemu" and not boot["kernel"]:
                raise exception.VirtDriverError(
                    reason="image has no kernel (fix: make guest-image)")
        with trace.stein_step(STEIN_LOCATION, "_ensure_console_log_for_instance"):
            console = idir / "console.log"
            console.touch()
        with trace.stein_step(STEIN_LOCATION, "_get_guest_xml") as sp:
            flavor = instance.flavor
            xml = vconfig.guest_xml(
                name=self._domain_name(instance), uuid=instance.uuid,
                memory_mb=int(flavor.memory_mb), vcpus=int(flavor.vcpus),
                virt_type=self.virt_type, kernel=boot["kernel"], initrd=boot["initrd"],
                cmdline=boot["cmdline"], console_log=str(console),
                metadata={"name": instance.display_name or instance.uuid,
                          "flavor_name": flavor.name, "flavor_memory": str(flavor.memory_mb),
                          "flavor_vcpus": str(flavor.vcpus), "flavor_disk": str(flavor.root_gb),
                          "user_uuid": instance.user_id or "",
                          "project_uuid": instance.project_id or ""})
            sp.set_attr("xml.size", len(xml))
            sp.set_attr("disk_info", str(disk_info))
        self._create_domain_and_network(context, xml, instance, network_info)
        self._wait_for_boot(instance, console)

    def _create_domain_and_network(self, context: Any, xml: str, instance: Any,
                                   network_info: Any) -> Any:
        """Stein: start the guest *paused* when neutron will say the VIFs are plugged,
        wait for ``network-vif-plugged``, then resume it. No event within
        ``vif_plugging_timeout``: with ``vif_plugging_is_fatal`` the guest is destroyed and
        VirtualInterfaceCreateException raised (the build aborts, no reschedule);
        otherwise the guest is resumed all the same."""
        timeout = self.config.vif_plugging_timeout
        events = [f"network-vif-plugged-{vif['id']}" for vif in (network_info or [])
                  if not vif.get("active")] if timeout else []
        pause = bool(events)
        with trace.stein_step(STEIN_LOCATION, "_create_domain_and_network", events=events,
                              vif_plugging_timeout=timeout, pause=pause):
            try:
                with self.virtapi.wait_for_instance_event(instance, events, deadline=timeout):
                    self.virtapi.plug_vifs(instance, network_info or [])
                    dom = self._create_domain(xml, instance, pause)
            except TimeoutError as exc:
                trace.annotate("log", {"level": "WARNING", "message": (
                    f"{exc}: vif_plugging_is_fatal={self.config.vif_plugging_is_fatal}")})
                if self.config.vif_plugging_is_fatal:
                    with trace.stein_step(STEIN_LOCATION, "_cleanup_failed_start"):
                        self._destroy_domain(instance)
                    raise exception.VirtualInterfaceCreateException() from exc
            if pause:
                with trace.span("resume", "INTERNAL", attrs={
                        "code.location": "nova/virt/libvirt/guest.py:Guest.resume"}):
                    dom.resume()
            return dom

    def _create_domain(self, xml: str, instance: Any, pause: bool) -> Any:
        """Define the domain and launch it (paused when *pause*: Guest.launch(pause))."""
        libvirt = _libvirt()
        with trace.stein_step(STEIN_LOCATION, "_create_domain", libvirt_uri=self.uri,
                              pause=pause):
            self._undefine_stale(instance)
            dom = self.conn.defineXML(xml)
            self._domains.add(instance.uuid)
            with trace.span("launch", "INTERNAL", attrs={
                    "code.location": "nova/virt/libvirt/guest.py:Guest.launch",
                    "pause": pause}):
                if not pause:
                    dom.create()
                elif self.virt_type == "test":
                    # libvirt's test driver has no VIR_DOMAIN_START_PAUSED: start, then
                    # suspend at once, which is the state a paused start leaves
                    dom.create()
                    dom.suspend()
                else:
                    dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
            return dom

    def _destroy_domain(self, instance: Any) -> None:
        """Destroy and undefine the instance's domain if it exists (a failed start)."""
        libvirt = _libvirt()
        try:
            dom = self.conn.lookupByName(self._domain_name(instance))
        except libvirt.libvirtError:
            return
        if dom.isActive():
            dom.destroy()
        dom.undefine()
        self._domains.discard(instance.uuid)

    def _undefine_stale(self, instance: Any) -> None:
        """Drop an older same-named domain of ours (test:///default lives as long as the
        process; a qemu leftover of this deployment). Another deployment's is left alone:
        defineXML then fails on the name, which instance_name_template prevents."""
        libvirt = _libvirt()
        try:
            old = self.conn.lookupByName(self._domain_name(instance))
        except libvirt.libvirtError:
            return
        if old.UUIDString() != instance.uuid and self._owns(old):
            if old.isActive():
                old.destroy()
            old.undefine()

    def _wait_for_boot(self, instance: Any, console: Path) -> None:
        """Poll every 0.5 s: running (test) / the guest's own boot line (qemu)."""
        self._wait_running("_wait_for_boot", instance, console,
                           lambda: BOOT_LINE in _tail(console), "",
                           location="spawn.<locals>._wait_for_boot")

    def _wait_running(self, step: str, instance: Any, console: Path,
                      booted: Callable[[], bool], when: str, location: str) -> None:
        """The *step* span around polling every ``boot_poll`` s until the domain runs and,
        under qemu, *booted()* (the guest's boot line is on the console); its ``polls``
        attribute counts the polls. InstanceBootTimeout after ``boot_timeout`` s."""
        libvirt = _libvirt()
        deadline = time.monotonic() + float(self.config.boot_timeout)
        # *location*: Stein's function under LibvirtDriver, e.g. spawn's nested
        # _wait_for_boot (run by a FixedIntervalLoopingCall)
        with trace.span(step, "INTERNAL", attrs={
                "code.location": f"{STEIN_LOCATION}.{location}",
                "poll_interval": self.boot_poll}) as sp:
            polls = 0
            while True:
                polls += 1
                dom = self.conn.lookupByUUIDString(instance.uuid)
                running = dom.info()[0] == libvirt.VIR_DOMAIN_RUNNING
                if running and (self.virt_type != "qemu" or booted()):
                    sp.set_attr("polls", polls)
                    return
                if time.monotonic() > deadline:
                    sp.set_attr("polls", polls)
                    raise exception.InstanceBootTimeout(
                        instance_uuid=instance.uuid,
                        reason=f"{self.config.boot_timeout}s{when}, console tail: "
                               f"{_tail(console)[-200:]!r}")
                time.sleep(self.boot_poll)

    # ---- reboot -------------------------------------------------------------------
    def reboot(self, context: Any, instance: Any, network_info: Any, reboot_type: str,
               block_device_info: Any = None, bad_volumes_callback: Any = None) -> None:
        """SOFT: ACPI shutdown, wait, start; a guest that ignores it gets a HARD one."""
        libvirt = _libvirt()
        if reboot_type == "SOFT":
            try:
                ok = self._soft_reboot(instance)
            except libvirt.libvirtError as exc:
                trace.annotate("log", {"level": "DEBUG",
                                       "message": f"Instance soft reboot failed: {exc}"})
                ok = False
            if ok:
                trace.annotate("log", {"level": "INFO",
                                       "message": "Instance soft rebooted successfully."})
                return
            trace.annotate("log", {"level": "WARNING", "message":
                                   "Failed to soft reboot instance. Trying hard reboot."})
        self._hard_reboot(context, instance, network_info, block_device_info)

    def _soft_reboot(self, instance: Any) -> bool:
        """True once the domain went down (new domain id) and was started again."""
        libvirt = _libvirt()
        wait = int(self.config.wait_soft_reboot_seconds)
        with trace.stein_step(STEIN_LOCATION, "_soft_reboot", wait_soft_reboot_seconds=wait) as sp:
            dom = self.conn.lookupByUUIDString(instance.uuid)
            old_id = dom.ID()
            offset = _size(self._instance_dir(instance) / "console.log")
            if dom.info()[0] == libvirt.VIR_DOMAIN_RUNNING:
                dom.shutdown()
            for attempt in range(wait):
                dom = self.conn.lookupByUUIDString(instance.uuid)
                state = dom.info()[0]
                if dom.ID() != old_id:
                    sp.set_attr("waited_s", attempt)
                    if state in (libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_CRASHED):
                        with trace.stein_step(STEIN_LOCATION, "_create_domain",
                                              libvirt_uri=self.uri):
                            dom.create()
                        self._wait_for_reboot(instance, offset, soft=True)
                    return True  # else the guest rebooted itself meanwhile
                time.sleep(1)
            sp.set_attr("waited_s", wait)
            return False

    def _hard_reboot(self, context: Any, instance: Any, network_info: Any,
                     block_device_info: Any = None) -> None:
        """Destroy (disks kept), define and start again; no wait for vif events.

        Stein regenerates the XML with _get_guest_xml; the inputs have not changed here,
        so the domain's own XML is reused.
        """
        libvirt = _libvirt()
        with trace.stein_step(STEIN_LOCATION, "_hard_reboot"):
            try:
                xml = self.conn.lookupByUUIDString(instance.uuid).XMLDesc(0)
            except libvirt.libvirtError as exc:
                raise exception.VirtDriverError(
                    reason=f"no domain for instance {instance.uuid}: {exc}") from exc
            offset = _size(self._instance_dir(instance) / "console.log")
            self.destroy(context, instance, network_info, destroy_disks=False,
                         block_device_info=block_device_info)
            with trace.stein_step(STEIN_LOCATION, "_create_domain_and_network",
                                  vifs_already_plugged=True):
                with trace.stein_step(STEIN_LOCATION, "_create_domain", libvirt_uri=self.uri):
                    dom = self.conn.defineXML(xml)
                    self._domains.add(instance.uuid)
                    dom.create()
            self._wait_for_reboot(instance, offset)

    def _wait_for_reboot(self, instance: Any, offset: int, soft: bool = False) -> None:
        """Poll every 0.5 s until running (qemu: a new boot line on the console).

        libvirt truncates a file serial console when the domain starts; the offset only
        matters if it did not.
        """
        console = self._instance_dir(instance) / "console.log"
        if _size(console) < offset:
            offset = 0
        self._wait_running("_wait_for_reboot", instance, console,
                           lambda: BOOT_LINE in _read_from(console, offset), " after reboot",
                           location="_wait_for_running" if soft
                           else "_hard_reboot.<locals>._wait_for_reboot")

    # ---- destroy ------------------------------------------------------------------
    def destroy(self, context: Any, instance: Any, network_info: Any,
                block_device_info: Any = None, destroy_disks: bool = True) -> None:
        libvirt = _libvirt()
        with trace.stein_step(STEIN_LOCATION, "destroy"):
            try:
                dom = self.conn.lookupByUUIDString(instance.uuid)
            except libvirt.libvirtError:
                dom = None
            if dom is not None:
                with trace.stein_step(STEIN_LOCATION, "_destroy"):
                    if dom.isActive():
                        dom.destroy()
                with trace.stein_step(STEIN_LOCATION, "_undefine_domain"):
                    dom.undefine()
            self._domains.discard(instance.uuid)
            if destroy_disks:
                shutil.rmtree(self._instance_dir(instance), ignore_errors=True)


def _tail(path: Path, size: int = 4096) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - size))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
