"""The process manager behind ``bootflow up/down/status``: one OS process per service.

State folder layout (default ``$BOOTFLOW_STATE_DIR`` or /tmp/bootflow)::

    bootflow.toml        the effective config every process loads (--config-file)
    deploy.json          what was started: processes, api endpoint, trace exchange
    pids/<name>.pid      one per process, e.g. nova-compute.compute1.pid
    logs/<name>.log      its stdout + stderr
    nova_*.sqlite        the API, cell0, cell1 and placement databases (SQLite default)
    instances/<uuid>/    the guests' kernel, initrd and console.log

Why a separate manager process writes the schema first: several processes creating
the same SQLite tables at once race; Nova has ``nova-manage db sync`` for that.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.conf import Config
from tracer.cloud.netfault import broker_address

REPO_ROOT = Path(__file__).resolve().parents[2]
FIX_RABBIT = "rabbitmq-server -detached"
FIX_LIBVIRT = "bash scripts/libvirt-up.sh"
FIX_GUEST = "make guest-image"
FIX_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
DB_NAMES = {"api_database_connection": "nova_api", "cell0_database_connection": "nova_cell0",
            "database_connection": "nova_cell1", "placement_database_connection": "placement"}
CMD_MODULES = {"nova-api": "services.cmd.api", "nova-conductor": "services.cmd.conductor",
               "nova-scheduler": "services.cmd.scheduler",
               "nova-compute": "services.cmd.compute",
               "placement-api": "services.cmd.placement"}
PLACEMENT = "placement-api"   # no Nova service record: up when it answers HTTP
RECORD_BINARY = {"nova-api": "nova-osapi_compute"}  # service record name of a binary
# instance_build_timeout of a deployment (Stein's default 0 never ends a stuck build):
# longer than the slowest build that can still succeed (vif_plugging_timeout 300 s, the
# guest's boot_timeout 60 s, a few rpc_response_timeout waits)
DEPLOY_INSTANCE_BUILD_TIMEOUT = 600


class DeployError(Exception):
    """Something the operator can fix; the message names the fix."""


@dataclass(frozen=True)
class Proc:
    binary: str
    host: str

    @property
    def name(self) -> str:
        return f"{self.binary}.{self.host}"


def _is_mapped(host: str) -> bool:
    """Whether nova-manage cell_v2 discover_hosts (or the scheduler's periodic
    discovery) has mapped *host* to a cell."""
    from services import exception
    from services.context import get_admin_context
    from services.objects import HostMapping

    try:
        HostMapping.get_by_host(get_admin_context(), host)
    except exception.ComputeHostNotFound:
        return False
    return True


@dataclass
class StatusRow:
    binary: str
    host: str
    pid: int | None
    alive: bool
    up: bool
    last_report: dt.datetime | None
    report_count: int | None
    remote: bool = False   # a compute joined from another machine (no pid here)
    # a compute's host mapped to a cell (discover_hosts)? None for other services: until
    # it is, Stein's scheduler may still pick it and the conductor buries the instance in
    # cell0 ("Compute host … could not be found")
    mapped: bool | None = None

    @property
    def state(self) -> str:
        return "up" if self.alive and self.up else "down"


def write_toml(path: Path, values: dict[str, Any]) -> None:
    """Flat TOML of str/int/float/bool values (what Config holds), atomically, readable
    by its owner only (mode 0600): it holds the broker and database URLs, passwords
    included, as nova.conf does (packaged 0640 root:nova)."""
    lines = ["# written by bootflow up: the effective configuration of every process"]
    for key, value in values.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int | float):
            lines.append(f"{key} = {value!r}")
        elif isinstance(value, str):
            lines.append(f"{key} = {json.dumps(value)}")
    write_private(path, "\n".join(lines) + "\n")


def write_private(path: Path, text: str) -> None:
    """*text* into *path* atomically, mode 0600 whatever the umask or the old file's."""
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)  # a leftover could have other modes or another owner
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        done, _status = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def check_rabbit(url: str, timeout: float = 2.0) -> None:
    """Fail with the fix when the broker of a rabbit:// URL does not accept connections."""
    if not url.startswith(("rabbit://", "amqp://")):
        return
    host, port = broker_address(url)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise DeployError(f"RabbitMQ not reachable at {host}:{port} ({exc}); "
                          f"fix: {FIX_RABBIT}") from None


def check_libvirt(uri: str) -> None:
    try:
        import libvirt
    except ImportError:
        raise DeployError("libvirt-python is missing; fix: make setup") from None
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    try:
        libvirt.open(uri).close()
    except libvirt.libvirtError as exc:
        raise DeployError(f"libvirtd not reachable at {uri} ({exc}); "
                          f"fix: {FIX_LIBVIRT}") from None


def check_guest(guest_dir: str) -> None:
    gdir = Path(guest_dir)
    gdir = gdir if gdir.is_absolute() else REPO_ROOT / gdir
    missing = [str(gdir / f) for f in ("vmlinuz", "initrd.img") if not (gdir / f).is_file()]
    if missing:
        raise DeployError(f"guest image missing ({', '.join(missing)}); fix: {FIX_GUEST}")


def db_connections(url: str) -> dict[str, str]:
    """``--db URL``: the four database connections on that server.

    A URL ending in ``/`` (no database name) names four databases: nova_api, nova_cell0,
    nova_cell1 and placement, created when missing. A URL naming a database
    (``postgresql+psycopg://postgres@127.0.0.1:5432/bootflow``) puts everything in that
    one database, created when missing, as four PostgreSQL schemas of those names
    (``search_path``); the cells' schemas are alike, so one database needs schemas, and
    only PostgreSQL has them apart from databases (MySQL: end the URL with ``/``).
    """
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy's ArgumentError and friends
        raise DeployError(f"--db {url!r} is not a database URL ({exc})") from None
    if parsed.get_backend_name() == "sqlite":
        raise DeployError("--db names a database server; SQLite is the default already "
                          "(files in the state folder)")
    if not parsed.database:
        base = url if url.endswith("/") else url + "/"
        return {key: base + name for key, name in DB_NAMES.items()}
    if parsed.get_backend_name() != "postgresql":
        raise DeployError(f"--db with a database name ({parsed.database!r}) needs "
                          "PostgreSQL (one schema per Nova database); for "
                          f"{parsed.get_backend_name()} end the URL with / instead")
    return {key: parsed.update_query_dict({"options": f"-csearch_path={name}"})
            .render_as_string(hide_password=False) for key, name in DB_NAMES.items()}


def _schema_of(url: Any) -> str | None:
    """The schema a connection URL sets with ``options=-csearch_path=NAME``, if any."""
    options = url.query.get("options")
    if isinstance(options, tuple):
        options = " ".join(options)
    for part in str(options or "").split():
        if part.startswith("-csearch_path="):
            return part.split("=", 1)[1].split(",")[0] or None
    return None


def ensure_databases(config: Config) -> list[str]:
    """Create the server databases of *config* that do not exist yet (as an operator
    does before ``nova-manage db sync``), and the schema a URL selects with
    ``search_path`` (``db_connections``); SQLite files need nothing. Returns the
    databases created; a server that does not answer fails with the fix."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    created = []
    for key in DB_NAMES:
        url = make_url(getattr(config, key))
        if url.get_backend_name() == "sqlite" or not url.database:
            continue
        admin_db = "postgres" if url.get_backend_name() == "postgresql" else None
        schema = _schema_of(url) if url.get_backend_name() == "postgresql" else None
        server = url.set(database=admin_db).difference_update_query(["options"])
        try:
            engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
            try:
                with engine.connect() as conn:
                    if url.get_backend_name() == "postgresql":
                        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE "
                                                      "datname = :n"), {"n": url.database}
                                              ).first()
                        if not exists:
                            conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
                            created.append(url.database)
                    else:
                        conn.execute(sa.text(
                            f"CREATE DATABASE IF NOT EXISTS `{url.database}`"))
            finally:
                engine.dispose()
            if schema:
                engine = sa.create_engine(url.difference_update_query(["options"]),
                                          isolation_level="AUTOCOMMIT")
                try:
                    with engine.connect() as conn:
                        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                finally:
                    engine.dispose()
        except sa.exc.OperationalError as exc:
            fix = FIX_POSTGRES if url.get_backend_name() == "postgresql" else \
                "start the database server"
            raise DeployError(f"database server of {url.render_as_string()} not reachable "
                              f"({str(exc.orig).strip()}); fix: {fix}") from None
    return created


def check_port(host: str, port: int, what: str = "API", flag: str = "--api-port") -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise DeployError(f"{what} port {host}:{port} is taken ({exc}); choose another "
                              f"with {flag} (or `bootflow down` the deployment using it)"
                              ) from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Deployment:
    """A state folder and the processes started from it."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.config_path = self.state_dir / "bootflow.toml"
        self.meta_path = self.state_dir / "deploy.json"
        self.pid_dir = self.state_dir / "pids"
        self.log_dir = self.state_dir / "logs"
        self.notes: list[str] = []   # what the last down() did besides stopping

    # ---- configuration -------------------------------------------------------------
    def make_config(self, **overrides: Any) -> Config:
        """Defaults ← ``BOOTFLOW_*`` env ← *overrides*, with state_dir set to this folder."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        overrides["state_dir"] = str(self.state_dir)
        if overrides.get("transport_url") is None and not os.environ.get(
                "BOOTFLOW_TRANSPORT_URL"):
            overrides["transport_url"] = "rabbit://guest:guest@127.0.0.1:5672/"
        if "instance_name_template" not in overrides and not os.environ.get(
                "BOOTFLOW_INSTANCE_NAME_TEMPLATE"):
            overrides["instance_name_template"] = self.instance_name_template()
        if "instance_build_timeout" not in overrides and not os.environ.get(
                "BOOTFLOW_INSTANCE_BUILD_TIMEOUT"):
            overrides["instance_build_timeout"] = DEPLOY_INSTANCE_BUILD_TIMEOUT
        cfg = Config.load(**overrides)
        if not cfg.placement_endpoint:   # the placement-api process of this deployment
            cfg = cfg.replace(placement_endpoint=(
                f"http://{cfg.placement_host}:{cfg.placement_port}"))
        if cfg.virt_type == "qemu" and cfg.connection_uri == "test:///default":
            cfg = cfg.replace(connection_uri="qemu:///system")
        return cfg

    def instance_name_template(self) -> str:
        """Nova's ``instance_name_template`` with a prefix of this state folder, so two
        deployments (a user's and the tests') never share a libvirt domain name."""
        tag = hashlib.sha1(str(self.state_dir).encode()).hexdigest()[:8]
        return f"bootflow-{tag}-instance-%08x"

    def config(self) -> Config:
        """The config written by ``up`` (error when the folder has none)."""
        if not self.config_path.is_file():
            raise DeployError(f"no deployment in {self.state_dir} (run: bootflow up)")
        return Config.load(self.config_path)

    def meta(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.meta_path.read_text()))
        except (OSError, ValueError):
            return {}

    def endpoint(self) -> str:
        cfg = self.config()
        return f"http://{cfg.api_host}:{cfg.api_port}"

    # ---- processes -----------------------------------------------------------------
    def pid_of(self, proc: Proc) -> int | None:
        try:
            return int((self.pid_dir / f"{proc.name}.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def procs(self) -> list[Proc]:
        return [Proc(**p) for p in self.meta().get("procs", [])]

    def running(self) -> list[tuple[Proc, int]]:
        out = []
        for proc in self.procs():
            pid = self.pid_of(proc)
            if pid is not None and _pid_alive(pid):
                out.append((proc, pid))
        return out

    def prepare(self, config: Config, computes: int, trace_exchange: str | None = None,
                check: bool = True,
                host_options: dict[str, dict[str, str]] | None = None) -> None:
        """Check the real parts, write config + schema + deploy.json (nothing started).

        *host_options* per service host: ``netns`` (start it with ``ip netns exec NAME``)
        and ``transport_url`` (its broker URL, e.g. a forwarder reachable from there).
        """
        host_options = {h: dict(o) for h, o in (host_options or {}).items()}
        for host, opts in host_options.items():
            unknown = sorted(set(opts) - {"netns", "transport_url", "placement_endpoint"})
            if unknown:
                raise DeployError(f"unknown option(s) {', '.join(unknown)} for host {host}")
            if opts.get("netns") and not Path(f"/run/netns/{opts['netns']}").exists():
                raise DeployError(f"network namespace {opts['netns']!r} (for {host}) does "
                                  f"not exist; fix: ip netns add {opts['netns']}")
        if self.running():
            raise DeployError(f"already running from {self.state_dir}; "
                              "run `bootflow down` first")
        if check:
            check_rabbit(config.transport_url)
            if config.virt_type == "qemu":
                check_libvirt(config.connection_uri)
                check_guest(config.guest_dir)
            check_port(config.api_host, config.api_port)
            check_port(config.placement_host, config.placement_port, "placement",
                       "--placement-port")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.pid_dir.mkdir(exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        write_toml(self.config_path, dataclasses.asdict(config))
        from services.db import api as db

        ensure_databases(config)  # CREATE DATABASE on a server (PostgreSQL, MySQL)
        db.configure(config)  # nova-manage db sync + cell_v2 map_cell0/create_cell
        from services.placement import db as placement_db  # placement-manage db sync

        placement_db.metadata.create_all(db.make_engine(config.placement_database_connection))
        procs = [Proc(PLACEMENT, "placement"),
                 Proc("nova-conductor", "conductor"), Proc("nova-scheduler", "scheduler"),
                 *(Proc("nova-compute", f"compute{i}") for i in range(1, computes + 1)),
                 Proc("nova-api", "api")]
        # host_options may hold a transport URL with its password: private too
        write_private(self.meta_path, json.dumps({
            "procs": [dataclasses.asdict(p) for p in procs],
            "endpoint": f"http://{config.api_host}:{config.api_port}",
            "trace_exchange": trace_exchange, "virt_type": config.virt_type,
            "host_options": host_options,
            "created": dt.datetime.now(dt.UTC).isoformat()}, indent=1))

    def start(self, proc: Proc) -> int:
        """Start one service process (detached, own session); returns its pid."""
        trace_exchange = self.meta().get("trace_exchange")
        argv = [sys.executable, "-m", CMD_MODULES[proc.binary], "--config-file",
                str(self.config_path), "--host", proc.host]
        if trace_exchange:
            argv += ["--trace-exchange", trace_exchange]
        opts = self.meta().get("host_options", {}).get(proc.host, {})
        if opts.get("transport_url"):
            argv += ["--transport", opts["transport_url"]]
        if opts.get("placement_endpoint"):
            argv += ["--placement", opts["placement_endpoint"]]
        if opts.get("netns"):  # ip netns exec execs: the pid stays the service's
            argv = ["ip", "netns", "exec", opts["netns"], *argv]
        log = open(self.log_dir / f"{proc.name}.log", "ab")  # child owns it
        try:
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=str(REPO_ROOT),
                                     start_new_session=True)
        finally:
            log.close()
        (self.pid_dir / f"{proc.name}.pid").write_text(f"{child.pid}\n")
        return child.pid

    def up(self, config: Config, computes: int = 1, trace_exchange: str | None = None,
           timeout: float = 60.0, host_options: dict[str, dict[str, str]] | None = None,
           listen: str | None = None) -> list[StatusRow]:
        """prepare, start every process, wait until all report up, map the computes.

        *listen*: reachable from other machines on that address (``up --listen``): a
        RabbitMQ user + vhost of its own and a broker listener there (classroom.py);
        the caller sets api_host/placement_host to it.
        """
        opened: dict[str, Any] | None = None
        if listen is not None:
            if self.running():
                raise DeployError(f"already running from {self.state_dir}; "
                                  "run `bootflow down` first")
            config, opened = self.open_to_network(config, listen)
        try:
            self.prepare(config, computes, trace_exchange, host_options=host_options)
            if opened is not None:
                self._keep_private()
                self.meta_path.write_text(json.dumps({**self.meta(), "listen": opened},
                                                     indent=1))
        except BaseException:
            if opened is not None:
                _close_network(opened)
            raise
        try:
            # placement and conductor first: a compute reports its inventory to placement
            # at start, and one pinging before the conductor's queue exists loses the ping
            # and waits a whole early_timeout (10 s) in wait_until_ready
            first = [p for p in self.procs() if p.binary in ("nova-conductor", PLACEMENT)]
            for proc in first:
                self.start(proc)
            self.wait_up(first, timeout=timeout)
            for proc in self.procs():
                if proc not in first:
                    self.start(proc)
            rows = self.wait_up(timeout=timeout)
            self.discover_hosts()
        except BaseException:
            self.down()
            raise
        return rows

    def open_to_network(self, config: Config, addr: str) -> tuple[Config, dict[str, Any]]:
        """A RabbitMQ account of this deployment's own and a broker listener on *addr*;
        returns the config on that account (local services reach the broker on
        127.0.0.1 with it) and what ``down`` undoes (no password in it)."""
        from tracer.cloud import classroom

        if config.transport_url.split("@")[-1].split("/")[0] not in (
                "127.0.0.1:5672", "localhost:5672"):
            raise DeployError("--listen sets up this machine's RabbitMQ (127.0.0.1:5672); "
                              f"drop --transport {config.masked()['transport_url']}")
        try:
            addr = classroom.listen_address(addr)
            account = classroom.create_rabbit_account(
                f"bootflow-{hashlib.sha1(os.urandom(8)).hexdigest()[:8]}")
            try:
                started = classroom.start_rabbit_listener(addr)
            except BaseException:
                classroom.delete_rabbit_account(account.user, account.vhost)
                raise
        except classroom.ClassroomError as exc:
            raise DeployError(str(exc)) from None
        opened = {"addr": addr, "rabbit_port": classroom.RABBIT_PORT, "user": account.user,
                  "vhost": account.vhost, "listener_started": started}
        return config.replace(transport_url=account.url("127.0.0.1")), opened

    def join_command(self, host: str = "NAME") -> str | None:
        """The line another machine runs to add a compute (None unless ``--listen``)."""
        from tracer.cloud import classroom

        opened = self.meta().get("listen")
        if not opened:
            return None
        cfg = self.config()
        url = urllib.parse.urlsplit(cfg.transport_url)
        netloc = url.netloc.rpartition("@")[0] + f"@{opened['addr']}:{opened['rabbit_port']}"
        return classroom.join_command(
            urllib.parse.urlunsplit(url._replace(netloc=netloc)), cfg.placement_endpoint,
            host, control_exchange=cfg.control_exchange,
            trace_exchange=self.meta().get("trace_exchange"),
            report_interval=cfg.report_interval)

    def join(self, config: Config, host: str, trace_exchange: str | None = None,
             timeout: float = 60.0) -> list[StatusRow]:
        """``bootflow join``: one nova-compute on this machine with only the bus and
        placement (no database); returns once placement has its resource provider."""
        if self.running():
            raise DeployError(f"already running from {self.state_dir}; "
                              "run `bootflow down` first")
        check_rabbit(config.transport_url)
        if not _answers(config.placement_endpoint + "/"):
            raise DeployError(f"placement not answering at {config.placement_endpoint}; fix: "
                              "the --placement URL that `bootflow up --listen` printed")
        if config.virt_type == "qemu":
            check_libvirt(config.connection_uri)
            check_guest(config.guest_dir)
        for folder in (self.state_dir, self.pid_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        write_toml(self.config_path, dataclasses.asdict(config))
        self._keep_private()
        proc = Proc("nova-compute", host)
        self.meta_path.write_text(json.dumps({
            "procs": [dataclasses.asdict(proc)], "joined": True, "endpoint": None,
            "trace_exchange": trace_exchange, "virt_type": config.virt_type,
            "host_options": {}, "created": dt.datetime.now(dt.UTC).isoformat()}, indent=1))
        try:
            self.start(proc)
            deadline = time.monotonic() + timeout
            while not (rows := self.status())[0].up:
                if not rows[0].alive:
                    raise DeployError(f"nova-compute on {host} exited during start-up; "
                                      f"log tail:\n{self.log_tail(proc)}")
                if time.monotonic() > deadline:
                    raise DeployError(f"nova-compute on {host} not in placement after "
                                      f"{timeout:.0f}s (log {self.log_dir})")
                time.sleep(0.2)
        except BaseException:
            self.down()
            raise
        return rows

    def _keep_private(self) -> None:
        """The broker password is in bootflow.toml and, as in Nova's cell_mappings, in
        the API database: only the owner reads the folder and those files."""
        self.state_dir.chmod(0o700)
        self.config_path.chmod(0o600)
        for db_file in self.state_dir.glob("*.sqlite"):
            db_file.chmod(0o600)

    def _placement(self) -> Any:
        from services.placement.client import PlacementClient

        return PlacementClient(self.config().placement_endpoint)

    def joined_status(self) -> list[StatusRow]:
        """A joined compute: its process here, and up once placement has its provider
        (what it reports through the conductor is the teacher's to see)."""
        rows = []
        for proc in self.procs():
            pid = self.pid_of(proc)
            alive = pid is not None and _pid_alive(pid)
            up = alive and bool(self._placement().get_providers_by_name(proc.host))
            rows.append(StatusRow(binary=proc.binary, host=proc.host, pid=pid, alive=alive,
                                  up=up, last_report=None, report_count=None))
        return rows

    def leave(self) -> list[str]:
        """After a joined compute stopped: delete its resource provider from placement
        unless instances still hold allocations on it (placement answers 409 then, and
        the provider stays for them); its service record stays, down after
        service_down_time, as Nova keeps a stopped compute's."""
        notes = []
        client = self._placement()
        for proc in self.procs():
            for rp in client.get_providers_by_name(proc.host):
                status = client.delete_resource_provider(rp["uuid"])
                notes.append(f"resource provider {proc.host} ({rp['uuid']}): " + {
                    204: "deleted", 404: "already gone",
                    409: "kept: instances still have allocations on it"}.get(
                        status, f"not deleted (placement answered {status or 'nothing'})"))
        return notes

    def wait_up(self, procs: list[Proc] | None = None, timeout: float = 60.0,
                poll: float = 0.2) -> list[StatusRow]:
        """Until each process's service record is fresh (and the API answers HTTP)."""
        wanted = {(p.binary, p.host) for p in (procs or self.procs())}
        deadline = time.monotonic() + timeout
        while True:
            rows = self.status()
            by_key = {(r.binary, r.host): r for r in rows}
            dead = [r for r in rows if (r.binary, r.host) in wanted and not r.alive]
            if dead:
                r = dead[0]
                raise DeployError(f"{r.binary} on {r.host} exited during start-up; "
                                  f"log tail:\n{self.log_tail(Proc(r.binary, r.host))}")
            ready = all(by_key.get(k) is not None and by_key[k].up for k in wanted)
            computes = {h for b, h in wanted if b == "nova-compute"}
            if ready and computes:  # record first, compute node after (pre_start_hook)
                ready = computes <= self.compute_nodes()
            if ready and (("nova-api", "api") not in wanted or self.api_answers()):
                return rows
            if time.monotonic() > deadline:
                late = sorted(f"{b}/{h}" for b, h in wanted
                              if by_key.get((b, h)) is None or not by_key[(b, h)].up)
                raise DeployError(f"not up after {timeout:.0f}s: {', '.join(late) or 'API'}"
                                  f" (logs in {self.log_dir})")
            time.sleep(poll)

    def compute_nodes(self) -> set[str]:
        """Hosts with a compute node record (written by update_available_resource)."""
        from services.context import get_admin_context
        from services.objects import ComputeNode

        return {cn.host for cn in ComputeNode.get_all(get_admin_context())}

    def placement_answers(self) -> bool:
        """placement-api answers its version document (GET /)."""
        try:
            with urllib.request.urlopen(self.config().placement_endpoint + "/",
                                        timeout=2) as resp:
                return bool(resp.status == 200)
        except (OSError, ValueError):
            return False

    def api_answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint() + "/v2.1/flavors",
                                        timeout=2) as resp:
                return bool(resp.status == 200)
        except urllib.error.HTTPError as exc:
            return exc.code == 401  # answering (no token given)
        except OSError:
            return False

    def discover_hosts(self) -> None:
        """nova-manage cell_v2 discover_hosts: map each compute service host to cell1."""
        from services.context import get_admin_context
        from services.db import api as db
        from services.objects import HostMapping
        from services.objects import Service as ServiceObj

        db.configure(self.config())
        ctxt = get_admin_context()
        for svc in ServiceObj.get_all(ctxt):
            if svc.binary == "nova-compute" and not _is_mapped(svc.host):
                HostMapping(ctxt, host=svc.host, cell_uuid=db.default_cell_uuid()).create()

    def log_tail(self, proc: Proc, lines: int = 15) -> str:
        try:
            text = (self.log_dir / f"{proc.name}.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def find_proc(self, name: str) -> Proc:
        """A process of this deployment by host (``compute1``), ``binary.host`` or a
        binary that runs once (``nova-conductor``)."""
        procs = self.procs()
        if not procs:
            raise DeployError(f"no deployment in {self.state_dir} (run: bootflow up)")
        found = [p for p in procs if name in (p.host, p.name)] or [
            p for p in procs if p.binary == name]
        if len(found) != 1:
            known = ", ".join(p.host for p in procs)
            raise DeployError(f"no single service {name!r} in this deployment "
                              f"(one of: {known})")
        return found[0]

    def stop(self, proc: Proc, timeout: float = 30.0) -> int | None:
        """SIGTERM one process (its RPC server drains), SIGKILL after *timeout*."""
        pid = self.pid_of(proc)
        if pid is None or not _pid_alive(pid):
            return None
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            _signal(pid, signal.SIGKILL)
            while _pid_alive(pid):
                time.sleep(0.05)
        return pid

    def restart(self, proc: Proc, stop_timeout: float = 30.0,
                timeout: float = 60.0) -> StatusRow:
        """Stop one service (if it runs) and start it again: a compute's init_host then
        settles what it left half-done. Returns when the new process has started and
        reports up."""
        self.stop(proc, timeout=stop_timeout)
        log = self.log_dir / f"{proc.name}.log"
        offset = log.stat().st_size if log.is_file() else 0
        pid = self.start(proc)
        deadline = time.monotonic() + timeout
        while True:
            if not _pid_alive(pid):
                raise DeployError(f"{proc.binary} on {proc.host} exited during start-up; "
                                  f"log tail:\n{self.log_tail(proc)}")
            try:
                with open(log, "rb") as fh:
                    fh.seek(offset)
                    started = f"started; pid {pid}".encode() in fh.read()
            except OSError:
                started = False
            if started:
                break
            if time.monotonic() > deadline:
                raise DeployError(f"{proc.name} not started after {timeout:.0f}s "
                                  f"(log {log})")
            time.sleep(0.1)
        rows = self.wait_up([proc], timeout=max(1.0, deadline - time.monotonic()))
        return next(r for r in rows if (r.binary, r.host) == (proc.binary, proc.host))

    def stuck_builds(self, older_than: float | None = None) -> list[dict[str, Any]]:
        """Servers in BUILD for longer than *older_than* s (default the deployment's
        ``instance_build_timeout``): a compute's periodic task errors out those on a
        compute; those no compute has (a request lost with a killed conductor) wait for
        the operator, as in Stein."""
        from sqlalchemy import select

        from services.db import api as db
        from services.db import models

        cfg = self.config()
        db.configure(cfg)
        limit = float(older_than if older_than is not None
                      else cfg.instance_build_timeout or DEPLOY_INSTANCE_BUILD_TIMEOUT)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        out: list[dict[str, Any]] = []

        def age(row: Any) -> float:
            return (now - row.created_at).total_seconds() if row.created_at else 0.0

        with db.api_session() as s:
            for br in s.scalars(select(models.BuildRequest)):
                if age(br) > limit:
                    out.append({"uuid": br.instance_uuid, "task_state": "scheduling",
                                "host": None, "age_s": round(age(br), 1),
                                "where": "build request (never reached a cell)"})
        with db.cell_session() as s:
            for inst in s.scalars(select(models.Instance).where(
                    models.Instance.deleted == 0, models.Instance.vm_state == "building")):
                if age(inst) > limit:
                    out.append({"uuid": inst.uuid, "task_state": inst.task_state,
                                "host": inst.host, "age_s": round(age(inst), 1),
                                "where": "cell1" + ("" if inst.host else " (no compute)")})
        return sorted(out, key=lambda r: -r["age_s"])

    # ---- status --------------------------------------------------------------------
    def status(self) -> list[StatusRow]:
        """Each started process: pid alive? record updated within service_down_time?"""
        from services.context import get_admin_context
        from services.db import api as db
        from services.objects import Service as ServiceObj
        from services.service import ServiceGroupAPI

        if self.meta().get("joined"):
            return self.joined_status()
        cfg = self.config()
        db.configure(cfg)
        sg = ServiceGroupAPI(cfg)
        records = {(s.binary, s.host): s for s in ServiceObj.get_all(get_admin_context())}
        rows = []
        for proc in self.procs():
            pid = self.pid_of(proc)
            alive = pid is not None and _pid_alive(pid)
            if proc.binary == PLACEMENT:
                rows.append(StatusRow(binary=proc.binary, host=proc.host, pid=pid,
                                      alive=alive, up=alive and self.placement_answers(),
                                      last_report=None, report_count=None))
                continue
            rec = records.get((RECORD_BINARY.get(proc.binary, proc.binary), proc.host))
            rows.append(StatusRow(
                binary=proc.binary, host=proc.host, pid=pid, alive=alive,
                up=rec is not None and sg.is_up(rec),
                last_report=(rec.updated_at or rec.created_at) if rec is not None else None,
                report_count=rec.report_count if rec is not None else None))
        local = {(RECORD_BINARY.get(p.binary, p.binary), p.host) for p in self.procs()}
        for (binary, host), rec in sorted(records.items()):
            if binary == "nova-compute" and (binary, host) not in local:  # joined
                rows.append(StatusRow(
                    binary=binary, host=host, pid=None, alive=True, up=sg.is_up(rec),
                    last_report=rec.updated_at or rec.created_at,
                    report_count=rec.report_count, remote=True))
        return [dataclasses.replace(r, mapped=_is_mapped(r.host))
                if r.binary == "nova-compute" else r for r in rows]

    # ---- down ----------------------------------------------------------------------
    def down(self, timeout: float = 30.0) -> list[str]:
        """SIGTERM (api, computes, scheduler, conductor last), SIGKILL after *timeout*;
        then destroy + undefine any libvirt domain whose files live in this folder."""
        order = {"nova-api": 0, "nova-compute": 1, "nova-scheduler": 2, "nova-conductor": 3,
                 PLACEMENT: 4}
        stopped = []
        running = sorted(self.running(), key=lambda pp: order.get(pp[0].binary, 9))
        for group in range(5):
            pids = [(p, pid) for p, pid in running if order.get(p.binary, 9) == group]
            for _p, pid in pids:
                _signal(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for p, pid in pids:
                while _pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if _pid_alive(pid):
                    _signal(pid, signal.SIGKILL)
                    while _pid_alive(pid):
                        time.sleep(0.05)
                stopped.append(p.name)
        for p in self.procs():
            (self.pid_dir / f"{p.name}.pid").unlink(missing_ok=True)
        meta = self.meta()
        if meta.get("virt_type") == "qemu":
            self.cleanup_domains()
        self.notes = self.leave() if meta.get("joined") else []
        if meta.get("listen"):   # up --listen: the broker account and listener go too
            _close_network(meta["listen"])
            self.meta_path.write_text(json.dumps(
                {k: v for k, v in meta.items() if k != "listen"}, indent=1))
        return stopped

    def domains(self) -> list[str]:
        """This deployment's libvirt domains: the name has its instance_name_template
        prefix and the console file is under this state folder (another deployment's
        guests are never touched)."""
        cfg = self.config()
        uri = cfg.connection_uri
        if not uri.startswith("qemu"):
            return []
        prefix = cfg.instance_name_template.split("%", 1)[0]
        import libvirt

        libvirt.registerErrorHandler(lambda _c, _e: None, None)
        conn = libvirt.open(uri)
        try:
            mine = str(self.state_dir / "instances") + "/"
            return [d.name() for d in conn.listAllDomains()
                    if d.name().startswith(prefix) and mine in _xml(d)]
        finally:
            conn.close()

    def cleanup_domains(self) -> list[str]:
        """Destroy + undefine the domains left behind by this deployment."""
        import libvirt

        names = self.domains()
        if not names:
            return []
        conn = libvirt.open(self.config().connection_uri)
        try:
            for name in names:
                try:
                    dom = conn.lookupByName(name)
                    if dom.isActive():
                        dom.destroy()
                    dom.undefine()
                except libvirt.libvirtError:
                    pass
        finally:
            conn.close()
        return names


def _xml(dom: Any) -> str:
    """A domain's XML, or "" when it went away meanwhile (deleted by its compute)."""
    import libvirt

    try:
        return str(dom.XMLDesc(0))
    except libvirt.libvirtError:
        return ""


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return bool(resp.status == 200)
    except (OSError, ValueError):
        return False


def _close_network(opened: dict[str, Any]) -> None:
    """Undo open_to_network: the listener (if ours) and the RabbitMQ user and vhost."""
    from tracer.cloud import classroom
    from tracer.cloud.vhost import VhostError

    if opened.get("listener_started"):
        try:
            classroom.stop_rabbit_listener(opened["addr"], opened["rabbit_port"])
        except VhostError:
            pass
    classroom.delete_rabbit_account(opened["user"], opened["vhost"])


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
