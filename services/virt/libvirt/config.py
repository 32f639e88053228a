"""Libvirt domain XML for bootflow guests (pure functions, no libvirt import).

Nova builds its domain XML in ``nova/virt/libvirt/config.py`` (``LibvirtConfigGuest`` and
friends, serialised with lxml). This module is the compact counterpart: one function that
returns the whole ``<domain>`` document. Everything goes through
:mod:`xml.etree.ElementTree`, so every value (names, paths, metadata) is escaped by the
serialiser; nothing is string-formatted into XML.

Two shapes:

* ``virt_type="qemu"`` (or ``"kvm"``): an x86_64 ``hvm`` guest with direct kernel boot
  (``<kernel>``, ``<initrd>``, ``<cmdline>``), no disk, no network, the first serial port
  written to ``console_log`` (``<serial type='file'>`` plus the matching ``<console>``),
  ``<on_poweroff>destroy</on_poweroff>``.
* ``virt_type="test"``: the minimal domain that libvirt's ``test:///default`` driver
  accepts (``type='test'``, os type ``hvm``, no devices).

Nova-like metadata goes under ``<metadata>`` in the ``nova`` namespace, declared on
``<nova:instance>`` the way Nova writes it (``LibvirtConfigGuestMetaNovaInstance``).
"""

from __future__ import annotations

import re
import uuid as uuid_mod
import xml.etree.ElementTree as ET
from collections.abc import Mapping

NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.0"
NOVA_PREFIX = "nova"

VIRT_TYPES = ("qemu", "kvm", "test")

#: Keys accepted in ``metadata`` and where they land under ``<nova:instance>``.
#: ``name`` -> ``<nova:name>``; ``creation_time`` -> ``<nova:creationTime>``;
#: ``package_version`` -> ``<nova:package version=.../>``;
#: ``flavor_name`` -> ``<nova:flavor name=...>`` with ``flavor_memory``, ``flavor_disk``,
#: ``flavor_swap``, ``flavor_ephemeral``, ``flavor_vcpus`` as its children;
#: ``user_name``/``user_uuid`` and ``project_name``/``project_uuid`` -> ``<nova:owner>``;
#: ``root_type``/``root_uuid`` -> ``<nova:root type=... uuid=.../>``.
METADATA_KEYS = frozenset(
    {
        "name",
        "creation_time",
        "package_version",
        "flavor_name",
        "flavor_memory",
        "flavor_disk",
        "flavor_swap",
        "flavor_ephemeral",
        "flavor_vcpus",
        "user_name",
        "user_uuid",
        "project_name",
        "project_uuid",
        "root_type",
        "root_uuid",
    }
)

_FLAVOR_CHILDREN = (
    ("flavor_memory", "memory"),
    ("flavor_disk", "disk"),
    ("flavor_swap", "swap"),
    ("flavor_ephemeral", "ephemeral"),
    ("flavor_vcpus", "vcpus"),
)


# Characters XML 1.0 cannot carry at all (escaping does not help): reject them.
_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _check(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected str, got {type(value).__name__}")
    bad = _XML_INVALID.search(value)
    if bad:
        raise ValueError(f"character {bad.group()!r} cannot be represented in XML: {value!r}")
    return value


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: _check(v) for k, v in attrib.items()})
    if text is not None:
        el.text = _check(text)
    return el


def _nova(tag: str) -> str:
    # Literal prefixed tag; the xmlns:nova declaration sits on <nova:instance> (as in Nova).
    return f"{NOVA_PREFIX}:{tag}"


def nova_metadata(metadata: Mapping[str, str]) -> ET.Element:
    """Return the ``<nova:instance>`` element for ``metadata`` (see :data:`METADATA_KEYS`)."""
    unknown = sorted(set(metadata) - METADATA_KEYS)
    if unknown:
        raise ValueError(f"unknown metadata keys {unknown}; known: {sorted(METADATA_KEYS)}")
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise TypeError(f"metadata[{key!r}] must be str, got {type(value).__name__}")

    inst = ET.Element(_nova("instance"), {f"xmlns:{NOVA_PREFIX}": NOVA_NS})
    if "package_version" in metadata:
        _sub(inst, _nova("package"), version=metadata["package_version"])
    if "name" in metadata:
        _sub(inst, _nova("name"), metadata["name"])
    if "creation_time" in metadata:
        _sub(inst, _nova("creationTime"), metadata["creation_time"])
    flavor_keys = [k for k, _ in _FLAVOR_CHILDREN]
    if "flavor_name" in metadata or any(k in metadata for k in flavor_keys):
        flavor = _sub(inst, _nova("flavor"))
        if "flavor_name" in metadata:
            flavor.set("name", _check(metadata["flavor_name"]))
        for key, tag in _FLAVOR_CHILDREN:
            if key in metadata:
                _sub(flavor, _nova(tag), metadata[key])
    owner_parts = (("user", "user_name", "user_uuid"), ("project", "project_name", "project_uuid"))
    if any(k in metadata for _, n, u in owner_parts for k in (n, u)):
        owner = _sub(inst, _nova("owner"))
        for tag, name_key, uuid_key in owner_parts:
            if name_key in metadata or uuid_key in metadata:
                el = _sub(owner, _nova(tag), metadata.get(name_key, ""))
                if uuid_key in metadata:
                    el.set("uuid", _check(metadata[uuid_key]))
    if "root_type" in metadata or "root_uuid" in metadata:
        root = _sub(inst, _nova("root"))
        if "root_type" in metadata:
            root.set("type", _check(metadata["root_type"]))
        if "root_uuid" in metadata:
            root.set("uuid", _check(metadata["root_uuid"]))
    return inst


def guest_xml(
    *,
    name: str,
    uuid: str,
    memory_mb: int,
    vcpus: int,
    virt_type: str,
    kernel: str | None,
    initrd: str | None,
    cmdline: str | None,
    console_log: str | None,
    metadata: dict[str, str] | None = None,
) -> str:
    """Return the libvirt ``<domain>`` XML document for one guest.

    ``uuid`` must parse as a UUID (it is normalised to the canonical form). For ``qemu`` /
    ``kvm`` a ``kernel`` is required; ``initrd``, ``cmdline`` and ``console_log`` are
    optional. For ``test`` the boot and console arguments are ignored.
    """
    if virt_type not in VIRT_TYPES:
        raise ValueError(f"virt_type must be one of {VIRT_TYPES}, got {virt_type!r}")
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty str")
    if isinstance(memory_mb, bool) or not isinstance(memory_mb, int) or memory_mb <= 0:
        raise ValueError(f"memory_mb must be a positive int, got {memory_mb!r}")
    if isinstance(vcpus, bool) or not isinstance(vcpus, int) or vcpus <= 0:
        raise ValueError(f"vcpus must be a positive int, got {vcpus!r}")
    canonical_uuid = str(uuid_mod.UUID(uuid))

    dom = ET.Element("domain", type=virt_type)
    _sub(dom, "name", name)
    _sub(dom, "uuid", canonical_uuid)
    if metadata:
        md = _sub(dom, "metadata")
        md.append(nova_metadata(metadata))
    mem_kib = str(memory_mb * 1024)
    _sub(dom, "memory", mem_kib, unit="KiB")
    _sub(dom, "currentMemory", mem_kib, unit="KiB")
    _sub(dom, "vcpu", str(vcpus))

    os_el = _sub(dom, "os")
    if virt_type == "test":
        _sub(os_el, "type", "hvm")
        return _serialise(dom)

    if not kernel:
        raise ValueError(f"virt_type {virt_type!r} needs kernel= (direct kernel boot)")
    _sub(os_el, "type", "hvm", arch="x86_64")
    _sub(os_el, "kernel", kernel)
    if initrd:
        _sub(os_el, "initrd", initrd)
    if cmdline:
        _sub(os_el, "cmdline", cmdline)

    features = _sub(dom, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    _sub(dom, "clock", offset="utc")
    _sub(dom, "on_poweroff", "destroy")
    _sub(dom, "on_reboot", "restart")
    _sub(dom, "on_crash", "destroy")

    devices = _sub(dom, "devices")
    if console_log:
        serial = _sub(devices, "serial", type="file")
        _sub(serial, "source", path=console_log)
        _sub(serial, "target", port="0")
        console = _sub(devices, "console", type="file")
        _sub(console, "source", path=console_log)
        _sub(console, "target", type="serial", port="0")
    _sub(devices, "memballoon", model="none")
    return _serialise(dom)


def _serialise(dom: ET.Element) -> str:
    ET.indent(dom)
    return ET.tostring(dom, encoding="unicode")
