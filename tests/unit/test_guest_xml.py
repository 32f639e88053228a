"""services.virt.libvirt.config.guest_xml: escaping, shape, and libvirt's test driver."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import libvirt
import pytest

from services.virt.libvirt.config import METADATA_KEYS, NOVA_NS, guest_xml

NASTY = "evil<>&'\"-name </name><name>x"

METADATA = {
    "name": "vm <1> & 'two'",
    "creation_time": "2019-04-10 12:00:00",
    "package_version": "19.0.0",
    "flavor_name": 'm1."tiny"',
    "flavor_memory": "128",
    "flavor_disk": "0",
    "flavor_swap": "0",
    "flavor_ephemeral": "0",
    "flavor_vcpus": "1",
    "user_name": "admin",
    "user_uuid": "u-1",
    "project_name": "demo&co",
    "project_uuid": "p-1",
    "root_type": "image",
    "root_uuid": "img-1",
}


def _qemu_xml(**over: object) -> str:
    kw: dict[str, object] = dict(
        name="bootflow-x",
        uuid=str(uuid.uuid4()),
        memory_mb=128,
        vcpus=1,
        virt_type="qemu",
        kernel="/k/vmlinuz",
        initrd="/k/initrd.img",
        cmdline="console=ttyS0 quiet",
        console_log="/tmp/console.log",
    )
    kw.update(over)
    return guest_xml(**kw)  # type: ignore[arg-type]


def _test_xml(name: str, dom_uuid: str, metadata: dict[str, str] | None = None) -> str:
    return guest_xml(
        name=name,
        uuid=dom_uuid,
        memory_mb=64,
        vcpus=1,
        virt_type="test",
        kernel=None,
        initrd=None,
        cmdline=None,
        console_log=None,
        metadata=metadata,
    )


def test_metadata_keys_cover_the_fixture() -> None:
    assert set(METADATA) == METADATA_KEYS


def test_escaping_round_trips_through_a_parser() -> None:
    path = "/tmp/a <b> & 'c' \"d\".log"
    root = ET.fromstring(
        _qemu_xml(name=NASTY, console_log=path, cmdline="a=<b>&'\"", metadata=METADATA)
    )
    assert root.tag == "domain"
    assert root.get("type") == "qemu"
    names = root.findall("name")
    assert len(names) == 1 and names[0].text == NASTY
    assert root.findtext("os/cmdline") == "a=<b>&'\""
    assert root.find("devices/serial/source").get("path") == path  # type: ignore[union-attr]
    assert root.find("devices/console/source").get("path") == path  # type: ignore[union-attr]

    ns = {"nova": NOVA_NS}
    inst = root.find("metadata/nova:instance", ns)
    assert inst is not None
    assert inst.findtext("nova:name", namespaces=ns) == METADATA["name"]
    flavor = inst.find("nova:flavor", ns)
    assert flavor is not None and flavor.get("name") == METADATA["flavor_name"]
    assert flavor.findtext("nova:memory", namespaces=ns) == "128"
    assert inst.findtext("nova:owner/nova:project", namespaces=ns) == "demo&co"
    assert inst.find("nova:owner/nova:user", ns).get("uuid") == "u-1"  # type: ignore[union-attr]
    assert inst.find("nova:root", ns).get("type") == "image"  # type: ignore[union-attr]
    assert inst.find("nova:package", ns).get("version") == "19.0.0"  # type: ignore[union-attr]


def test_qemu_shape() -> None:
    u = str(uuid.uuid4())
    root = ET.fromstring(_qemu_xml(uuid=u.upper(), memory_mb=128, vcpus=2))
    assert root.findtext("uuid") == u
    assert root.find("memory").get("unit") == "KiB"  # type: ignore[union-attr]
    assert root.findtext("memory") == str(128 * 1024)
    assert root.findtext("vcpu") == "2"
    assert root.findtext("os/type") == "hvm"
    assert root.findtext("os/kernel") == "/k/vmlinuz"
    assert root.findtext("os/initrd") == "/k/initrd.img"
    assert root.findtext("on_poweroff") == "destroy"
    assert root.find("devices/serial").get("type") == "file"  # type: ignore[union-attr]
    assert root.find("devices/console/target").get("type") == "serial"  # type: ignore[union-attr]
    assert root.find("devices/disk") is None
    assert root.find("devices/interface") is None
    assert root.find("metadata") is None


@pytest.mark.parametrize(
    ("over", "err"),
    [
        ({"virt_type": "xen"}, ValueError),
        ({"kernel": None}, ValueError),
        ({"uuid": "not-a-uuid"}, ValueError),
        ({"memory_mb": 0}, ValueError),
        ({"vcpus": True}, ValueError),
        ({"name": ""}, ValueError),
        ({"name": "bad\x00name"}, ValueError),
        ({"console_log": "/tmp/\x1b.log"}, ValueError),
        ({"metadata": {"nmae": "typo"}}, ValueError),
        ({"metadata": {"name": 3}}, TypeError),
    ],
)
def test_rejects_bad_input(over: dict[str, object], err: type[Exception]) -> None:
    with pytest.raises(err):
        _qemu_xml(**over)


@pytest.fixture
def test_conn() -> libvirt.virConnect:
    conn = libvirt.open("test:///default")
    yield conn
    conn.close()


def test_test_driver_defines_and_starts_the_domain(test_conn: libvirt.virConnect) -> None:
    name = f"bootflow-test-{uuid.uuid4().hex[:8]}-<>&'\""
    dom_uuid = str(uuid.uuid4())
    dom = test_conn.defineXML(_test_xml(name, dom_uuid, METADATA))
    try:
        assert dom.name() == name
        assert dom.UUIDString() == dom_uuid
        assert not dom.isActive()
        dom.create()
        assert dom.isActive()
        state, _reason = dom.state()
        assert state == libvirt.VIR_DOMAIN_RUNNING
        active = test_conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
        running = {d.name() for d in active}
        assert name in running

        # libvirt files the nova metadata under its namespace (the API returns it
        # with the namespace stripped)
        md = ET.fromstring(dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NOVA_NS))
        assert md.tag == "instance"
        assert md.findtext("name") == METADATA["name"]
        # name and namespaced metadata survive libvirt's own XML round trip
        desc = ET.fromstring(dom.XMLDesc())
        assert desc.findtext("name") == name
        nova_name = f"metadata/{{{NOVA_NS}}}instance/{{{NOVA_NS}}}name"
        assert desc.findtext(nova_name) == METADATA["name"]
    finally:
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    with pytest.raises(libvirt.libvirtError):
        test_conn.lookupByName(name)
