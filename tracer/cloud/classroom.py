"""A classroom across machines: ``bootflow up --listen ADDR`` and ``bootflow join``.

Why a RabbitMQ user of the deployment's own: RabbitMQ refuses ``guest`` from anything
but loopback (``loopback_users.guest = true``, its default, left alone here), and a
student's machine must never need it. ``up --listen`` adds a user and a vhost named
after the deployment (``rabbitmqctl add_user`` with a generated password read from stdin,
``add_vhost``, ``set_permissions``), and RabbitMQ, which listens on 127.0.0.1 only here,
gets an extra AMQP listener on ADDR at run time (``rabbitmqctl eval
'rabbit_networking:start_tcp_listener(...)'``): no restart of the shared broker, and
since the connection's local address is ADDR, RabbitMQ still treats it as remote, so
``guest`` stays refused there. A RabbitMQ restart drops that listener; ``bootflow up``
again (or ``listeners.tcp.default`` in rabbitmq.conf) brings it back.

``join`` starts one nova-compute with only the bus and placement, as a Nova compute on
another machine has: its objects go through the conductor, its inventory to placement
over HTTP. The teacher's scheduler maps its host to the cell by itself
(``[scheduler] discover_hosts_in_cells_interval``, set by ``--listen``).
"""

from __future__ import annotations

import ipaddress
import secrets
import shlex
import socket
import subprocess
import urllib.parse
from dataclasses import dataclass

from tracer.cloud.vhost import VhostError, rabbitmqctl

RABBIT_PORT = 5672
DISCOVER_INTERVAL = 2   # s: a joined compute is schedulable this soon after it reports


class ClassroomError(Exception):
    """The broker or the address cannot be set up for other machines; names the fix."""


def listen_address(addr: str) -> str:
    """*addr* checked: a concrete IP address of this machine that others can reach."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        raise ClassroomError(f"--listen wants an IP address of this machine (e.g. "
                             f"192.168.1.10), got {addr!r}") from None
    if ip.version != 4:
        raise ClassroomError(f"--listen {addr}: an IPv4 address, please (the endpoints "
                             "bootflow writes have no IPv6 brackets yet)")
    if ip.is_unspecified or ip.is_loopback:
        raise ClassroomError(f"--listen {addr}: other machines cannot reach it; give the "
                             "address of this machine on the classroom network "
                             "(`ip -4 addr`)")
    with socket.socket(socket.AF_INET) as s:
        try:
            s.bind((addr, 0))
        except OSError as exc:
            raise ClassroomError(f"--listen {addr}: not an address of this machine "
                                 f"({exc}); see `ip addr`") from None
    return str(ip)


def accepts(addr: str, port: int, timeout: float = 2.0) -> bool:
    try:
        socket.create_connection((addr, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _erlang_listener(addr: str, port: int) -> str:
    """The listener term for rabbit_networking, from an address already validated."""
    return f'{{"{ipaddress.ip_address(addr)}", {int(port)}}}'


def start_rabbit_listener(addr: str, port: int = RABBIT_PORT) -> bool:
    """Make RabbitMQ accept AMQP on *addr*:*port*; True when this call started a
    listener (False: something there answers already, e.g. listeners.tcp.default)."""
    if accepts(addr, port):
        return False
    try:
        _eval(f"rabbit_networking:start_tcp_listener({_erlang_listener(addr, port)}, 10).")
    except VhostError as exc:
        raise ClassroomError(f"RabbitMQ would not listen on {addr}:{port} ({exc}); fix: "
                             f"set `listeners.tcp.default = {port}` in "
                             "/etc/rabbitmq/rabbitmq.conf and restart RabbitMQ") from None
    if not accepts(addr, port):
        raise ClassroomError(f"RabbitMQ started no listener on {addr}:{port}; fix: set "
                             f"`listeners.tcp.default = {port}` in "
                             "/etc/rabbitmq/rabbitmq.conf and restart RabbitMQ")
    return True


def stop_rabbit_listener(addr: str, port: int = RABBIT_PORT) -> None:
    _eval(f"rabbit_networking:stop_tcp_listener({_erlang_listener(addr, port)}).")


def _eval(expr: str) -> None:
    """``rabbitmqctl eval`` that fails when the expression answers an error tuple."""
    r = subprocess.run(["rabbitmqctl", "eval", expr], capture_output=True, text=True,
                       timeout=60)
    out = (r.stdout + r.stderr).strip()
    if r.returncode != 0 or out.startswith("{error"):
        raise VhostError(f"rabbitmqctl eval failed: {out.splitlines()[-1:] or out}")


@dataclass(frozen=True)
class RabbitAccount:
    """A deployment's own RabbitMQ user and vhost (the same name) and its password."""

    user: str
    password: str
    vhost: str

    def url(self, host: str, port: int = RABBIT_PORT) -> str:
        auth = (urllib.parse.quote(self.user, safe="") + ":"
                + urllib.parse.quote(self.password, safe=""))
        return f"rabbit://{auth}@{host}:{port}/{urllib.parse.quote(self.vhost, safe='')}"


def create_rabbit_account(name: str) -> RabbitAccount:
    """User + vhost *name* with every right in that vhost and nowhere else; the password
    goes to rabbitmqctl on stdin (never on a command line other users can read)."""
    account = RabbitAccount(name, secrets.token_urlsafe(18), name)
    r = subprocess.run(["rabbitmqctl", "add_user", name], input=account.password + "\n",
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise ClassroomError(f"rabbitmqctl add_user {name} failed: "
                             f"{(r.stderr or r.stdout).strip().splitlines()[-1:]}; fix: run "
                             "as a user allowed to use rabbitmqctl (root)")
    try:
        rabbitmqctl("add_vhost", name)
        rabbitmqctl("set_permissions", "-p", name, name, ".*", ".*", ".*")
    except VhostError as exc:
        delete_rabbit_account(account.user, account.vhost)
        raise ClassroomError(str(exc)) from None
    return account


def delete_rabbit_account(user: str, vhost: str) -> None:
    """Remove the user and the vhost with all its queues (each may be gone already)."""
    for args in (("delete_vhost", vhost), ("delete_user", user)):
        try:
            rabbitmqctl(*args)
        except VhostError:
            pass


def join_command(transport_url: str, placement_endpoint: str, host: str = "NAME",
                 virt: str | None = None, control_exchange: str | None = None,
                 trace_exchange: str | None = None, report_interval: int | None = None,
                 ) -> str:
    """The one line a second machine runs; the options that must agree with the
    deployment's (exchanges, heartbeat interval) appear when they are not the defaults."""
    argv = ["bootflow", "join", transport_url, "--placement", placement_endpoint,
            "--host", host]
    if virt:
        argv += ["--virt", virt]
    if control_exchange and control_exchange != "nova":
        argv += ["--control-exchange", control_exchange]
    if trace_exchange and trace_exchange != "bootflow.trace":
        argv += ["--trace-exchange", trace_exchange]
    if report_interval is not None and report_interval != 10:
        argv += ["--report-interval", str(report_interval)]
    return " ".join(shlex.quote(a) for a in argv)
