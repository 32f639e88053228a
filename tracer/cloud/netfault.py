"""Network faults for a deployment: a TCP forwarder to the broker and network namespaces.

Why a userspace forwarder: the RabbitMQ here is shared, so it is never paused or
firewalled; instead one deployment's path to it is. A ``Forwarder`` listens on an
address of ours and relays to the broker; ``cut()`` closes every relayed connection and
refuses new ones (a partition), ``pause()`` holds every byte in both directions and new
connections too (a broker that freezes), ``restore()`` / ``resume()`` undo them.

``NetNamespace`` is a network namespace with a veth pair to the host (``ip netns``,
iproute2): a process started with ``ip netns exec NAME`` reaches only the host-side veth
address, where a Forwarder listens. Both need root; ``check_netns`` names the fix.
"""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid as uuidlib
from pathlib import Path

FIX_NETNS = ("run as root with iproute2 installed (`apt-get install iproute2`; "
             "`ip netns add x` must work)")


class NetFaultError(Exception):
    """A namespace or forwarder could not be set up; the message names the fix."""


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


class Forwarder:
    """``listen`` -> ``upstream`` TCP relay whose path can be cut or paused."""

    def __init__(self, upstream: tuple[str, int], listen: tuple[str, int] = ("127.0.0.1", 0)
                 ) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(listen)
        self.host, self.port = self._listener.getsockname()[:2]
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._flowing = threading.Event()
        self._flowing.set()
        self._up = True
        self._closed = False
        self.accepted = 0
        self.refused = 0
        self.cuts: list[tuple[float, float | None]] = []  # (start, end) monotonic
        self.pauses: list[tuple[float, float | None]] = []
        threading.Thread(target=self._accept, name=f"forwarder-{self.port}",
                         daemon=True).start()

    def url(self, template: str) -> str:
        """*template* (a rabbit:// URL) with its host:port replaced by ours."""
        p = urllib.parse.urlsplit(template)
        auth = p.netloc.rpartition("@")[0]
        netloc = (auth + "@" if auth else "") + f"{self.host}:{self.port}"
        return urllib.parse.urlunsplit((p.scheme, netloc, p.path or "/", p.query, p.fragment))

    # ---- faults --------------------------------------------------------------------
    def cut(self) -> None:
        """Close every relayed connection (both sides see a reset) and refuse new ones."""
        with self._lock:
            self._up = False
            socks, self._socks = list(self._socks), set()
            self.cuts.append((time.monotonic(), None))
        for s in socks:
            _close(s)

    def restore(self) -> None:
        with self._lock:
            if not self._up and self.cuts:
                self.cuts[-1] = (self.cuts[-1][0], time.monotonic())
            self._up = True

    def pause(self) -> None:
        """Hold every byte (both directions) and every new connection until resume()."""
        with self._lock:
            if self._flowing.is_set():
                self.pauses.append((time.monotonic(), None))
            self._flowing.clear()

    def resume(self) -> None:
        with self._lock:
            if not self._flowing.is_set() and self.pauses:
                self.pauses[-1] = (self.pauses[-1][0], time.monotonic())
            self._flowing.set()

    @property
    def paused(self) -> bool:
        return not self._flowing.is_set()

    def close(self) -> None:
        self._closed = True
        self._flowing.set()
        self.cut()
        _close(self._listener)

    # ---- relaying ------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        self._flowing.wait()  # a paused broker does not answer a new connection either
        with self._lock:
            up = self._up and not self._closed
        if not up:
            self.refused += 1
            _close(client)
            return
        try:
            server = socket.create_connection(self.upstream, timeout=5)
            server.settimeout(None)
        except OSError:
            _close(client)
            return
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if not self._up or self._closed:  # cut while connecting
                _close(client)
                _close(server)
                return
            self._socks |= {client, server}
            self.accepted += 1
        for a, b in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                self._flowing.wait()
                data = src.recv(65536)
                if not data:
                    break
                self._flowing.wait()  # read before the pause, delivered after it
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            _close(s)
        with self._lock:
            self._socks -= {src, dst}


def broker_address(url: str) -> tuple[str, int]:
    """(host, port) of a rabbit:// / amqp:// URL (the first of a list)."""
    p = urllib.parse.urlsplit(url.split(",")[0])
    return p.hostname or "127.0.0.1", p.port or 5672


# ---- network namespaces ------------------------------------------------------------
def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if check and r.returncode != 0:
        raise NetFaultError(f"`ip {' '.join(args)}` failed: {r.stderr.strip()}; "
                            f"fix: {FIX_NETNS}")
    return r


def check_netns() -> None:
    """Fail with the fix unless this process can create network namespaces."""
    if shutil.which("ip") is None:
        raise NetFaultError(f"the `ip` command (iproute2) is missing; fix: {FIX_NETNS}")
    if os.geteuid() != 0:
        raise NetFaultError(f"network namespaces need root (euid {os.geteuid()}); "
                            f"fix: {FIX_NETNS}")


def _used_addresses() -> set[ipaddress.IPv4Network]:
    out = _ip("-4", "-o", "addr", "show", check=False).stdout
    nets: set[ipaddress.IPv4Network] = set()
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            nets.add(ipaddress.IPv4Interface(parts[parts.index("inet") + 1]).network)
    return nets


class NetNamespace:
    """``ip netns`` NAME with veth ``bfh<tag>`` (host, ``host_ip``) <-> ``bfn<tag>``
    (inside, ``ns_ip``) on a /30 of 10.254.0.0/16, loopback up inside."""

    def __init__(self, name: str | None = None) -> None:
        tag = uuidlib.uuid4().hex[:8]
        self.name = name or f"bootflow-{tag}"
        self.host_if, self.ns_if = f"bfh{tag}", f"bfn{tag}"
        used = _used_addresses()
        for _ in range(100):
            net = ipaddress.ip_network(
                f"10.254.{random.randrange(256)}.{random.randrange(64) * 4}/30")
            if not any(net.overlaps(u) for u in used):
                break
        else:
            raise NetFaultError("no free /30 in 10.254.0.0/16 for a veth pair")
        hosts = list(net.hosts())
        self.host_ip, self.ns_ip = str(hosts[0]), str(hosts[1])
        self.created = False

    def create(self) -> NetNamespace:
        check_netns()
        if Path(f"/run/netns/{self.name}").exists():
            raise NetFaultError(f"network namespace {self.name!r} exists already")
        _ip("netns", "add", self.name)
        self.created = True
        try:
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _ip("link", "set", self.ns_if, "netns", self.name)
            _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            _ip("-n", self.name, "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
            _ip("-n", self.name, "link", "set", self.ns_if, "up")
            _ip("-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.delete()
            raise
        return self

    def prefix(self) -> list[str]:
        """The command prefix that runs a program inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def pids(self) -> list[int]:
        """Processes still running inside (``ip netns pids``)."""
        out = _ip("netns", "pids", self.name, check=False).stdout
        return [int(p) for p in out.split() if p.isdigit()]

    def delete(self, timeout: float = 10.0) -> None:
        """Delete the namespace and the veth pair; idempotent.

        Retried until both are really gone: right after its processes were killed the
        kernel can refuse for a moment (seen on a loaded machine), and a namespace left
        behind would hold an address of ours.
        """
        deadline = time.monotonic() + timeout
        while True:
            link = _ip("link", "del", self.host_if, check=False)
            if Path(f"/run/netns/{self.name}").exists():
                _ip("netns", "del", self.name, check=False)
            link_gone = _ip("link", "show", self.host_if, check=False).returncode != 0
            if link_gone and not Path(f"/run/netns/{self.name}").exists():
                break
            if time.monotonic() > deadline:
                raise NetFaultError(f"could not delete {self.host_if} / netns {self.name}: "
                                    f"{link.stderr.strip()}; fix: ip netns del {self.name}")
            time.sleep(0.2)
        self.created = False

    def __enter__(self) -> NetNamespace:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.delete()
