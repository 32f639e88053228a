"""``bootflow up/down/status/config/boot/join``: the real deployment, one process per service.

``up`` starts nova-conductor, nova-scheduler, N nova-compute (compute1..N) and nova-api
(HTTP on 127.0.0.1) over RabbitMQ; the state folder (``--state-dir``, default
``$BOOTFLOW_STATE_DIR`` or /tmp/bootflow) holds their config, pids, logs and SQLite DBs.
``boot`` is an HTTP client of the API with the noauth token ``demo:demo`` (``user:project``;
``admin:admin`` is admin), as Nova's ``noauth2`` pipeline accepts.
``up --listen ADDR`` opens the deployment to other machines and prints the ``join`` line
that adds a compute from one (tracer/cloud/classroom.py).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tracer.cloud.api_client import DEFAULT_TOKEN, APIClient
from tracer.commands import UserError, state_dir


def _state_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state-dir", default=None,
                   help="state folder (default $BOOTFLOW_STATE_DIR or /tmp/bootflow)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = sub.add_parser("up", help="start api, conductor, scheduler and N computes as processes",
                        description="One OS process per service over RabbitMQ; returns when "
                        "all report up. Intervals default to Stein's (10/60/60 s).")
    _state_arg(up)
    up.add_argument("--computes", type=int, default=1,
                    help="compute hosts compute1..N (0 with --listen: all computes join)")
    up.add_argument("--transport", default=None,
                    help="transport URL (default rabbit://guest:guest@127.0.0.1:5672/)")
    up.add_argument("--virt", choices=("qemu", "test"), default=None,
                    help="libvirt: qemu:///system real guest, or test:///default (default)")
    up.add_argument("--db", default=None,
                    help="database server URL, e.g. postgresql+psycopg://postgres@127.0.0.1:"
                         "5432/ (databases nova_api, nova_cell0, nova_cell1, placement, "
                         "created when missing); with a database name, .../NAME, all in "
                         "that one database as schemas of those names (PostgreSQL); "
                         "default SQLite in the state folder")
    up.add_argument("--api-port", type=int, default=None, help="HTTP port (default 8774)")
    up.add_argument("--placement-port", type=int, default=None,
                    help="placement-api HTTP port (default 8778)")
    up.add_argument("--control-exchange", default=None, help="oslo.messaging exchange (nova)")
    up.add_argument("--trace-exchange", default=None, help="trace exchange (bootflow.trace)")
    up.add_argument("--report-interval", type=int, default=None, help="heartbeat s (10)")
    up.add_argument("--service-down-time", type=int, default=None, help="down after s (60)")
    up.add_argument("--periodic-interval", type=int, default=None, help="periodic s (60)")
    up.add_argument("--boot-timeout", type=float, default=None, help="guest boot s (60)")
    up.add_argument("--instance-build-timeout", type=int, default=None,
                    help="a build older than this many s goes to ERROR (compute periodic "
                         "task; default 600 here, 0 = off as in Stein)")
    up.add_argument("--conductor-workers", type=int, default=None, metavar="N",
                    help="[conductor] workers: N conductor processes forked by the "
                         "launcher, all consuming the conductor topic (1)")
    up.add_argument("--netns", action="append", default=[], metavar="HOST=NAME",
                    help="run that service host (e.g. compute2) inside network namespace "
                         "NAME (ip netns exec); repeatable")
    up.add_argument("--host-transport", action="append", default=[], metavar="HOST=URL",
                    help="that host's transport URL (e.g. a forwarder its namespace "
                         "reaches); repeatable")
    up.add_argument("--listen", default=None, metavar="ADDR",
                    help="reachable from other machines on ADDR (this machine's address): "
                         "the API and placement listen there, RabbitMQ gets a user and "
                         "vhost of this deployment's own (never guest) and a listener on "
                         "ADDR:5672; prints the `bootflow join` line a second machine runs")
    up.add_argument("--timeout", type=float, default=90.0, help="wait this long for all up")
    up.set_defaults(func=cmd_up)

    jn = sub.add_parser("join", help="add this machine's nova-compute to a deployment made "
                        "with `bootflow up --listen` (bus and placement only, no database)",
                        description="Starts one nova-compute that reaches only RabbitMQ and "
                        "placement, as a Nova compute on another machine; `bootflow down` "
                        "(same --state-dir) stops it and removes its resource provider.")
    _state_arg(jn)
    jn.add_argument("transport", metavar="TRANSPORT_URL",
                    help="the rabbit:// URL `bootflow up --listen` printed")
    jn.add_argument("--placement", required=True, metavar="URL",
                    help="placement endpoint, e.g. http://ADDR:8778")
    jn.add_argument("--host", required=True, help="this compute's host name (unique)")
    jn.add_argument("--virt", choices=("qemu", "test"), default=None,
                    help="libvirt: qemu:///system real guest, or test:///default (default)")
    jn.add_argument("--control-exchange", default=None, help="oslo.messaging exchange (nova)")
    jn.add_argument("--trace-exchange", default=None, help="trace exchange (bootflow.trace)")
    jn.add_argument("--report-interval", type=int, default=None, help="heartbeat s (10)")
    jn.add_argument("--periodic-interval", type=int, default=None, help="periodic s (60)")
    jn.add_argument("--timeout", type=float, default=90.0,
                    help="wait this long for the compute to reach placement")
    jn.set_defaults(func=cmd_join)

    down = sub.add_parser("down", help="stop every process (SIGTERM: RPC servers drain)")
    _state_arg(down)
    down.add_argument("--timeout", type=float, default=30.0, help="SIGKILL after this many s")
    down.set_defaults(func=cmd_down)

    st = sub.add_parser("status", help="each service: host, pid, up/down, last report")
    _state_arg(st)
    st.add_argument("--json", action="store_true", help="machine-readable")
    st.set_defaults(func=cmd_status)

    rs = sub.add_parser("restart", help="restart one service of the deployment (SIGTERM, "
                        "then start it again), e.g. compute1 or conductor",
                        description="Stops the service (SIGKILL after --stop-timeout) and "
                        "starts it from the same state folder; returns when it reports up. "
                        "A restarted compute settles what it left half-done (init_host).")
    _state_arg(rs)
    rs.add_argument("service", help="host (compute1, conductor, scheduler, api) or binary")
    rs.add_argument("--stop-timeout", type=float, default=30.0,
                    help="SIGKILL after this many s")
    rs.add_argument("--timeout", type=float, default=60.0, help="wait this long for up")
    rs.set_defaults(func=cmd_restart)

    cf = sub.add_parser("config", help="the effective configuration (passwords masked)")
    _state_arg(cf)
    cf.set_defaults(func=cmd_config)

    bt = sub.add_parser("boot", help="POST /v2.1/servers on the running API (HTTP client)")
    _state_arg(bt)
    bt.add_argument("name", help="server name (with --count N: NAME-1..NAME-N)")
    bt.add_argument("--count", type=int, default=1, help="min_count = max_count = N")
    bt.add_argument("--flavor", default=None,
                    help="flavor name or id (default bootflow.guest with qemu, else m1.tiny)")
    bt.add_argument("--image", default="bootflow-guest", help="image name or id")
    bt.add_argument("--token", default=DEFAULT_TOKEN, help="noauth token user:project")
    bt.add_argument("--wait", action="store_true", help="wait until ACTIVE or ERROR")
    bt.add_argument("--timeout", type=float, default=180.0, help="--wait limit in s")
    bt.set_defaults(func=cmd_boot)


def _deployment(args: argparse.Namespace) -> Any:
    from tracer.cloud.processes import Deployment

    return Deployment(state_dir(args))


def cmd_up(args: argparse.Namespace, console: Console) -> int:
    from tracer.cloud.processes import DeployError

    if args.computes < (0 if args.listen else 1):
        raise UserError("--computes must be at least 1 (0 only with --listen, where every "
                        "compute joins from another machine)")
    d = _deployment(args)
    db: dict[str, Any] = {}
    if args.db:
        from tracer.cloud.processes import db_connections

        try:
            db = db_connections(args.db)
        except DeployError as exc:
            raise UserError(str(exc)) from None
    host_options: dict[str, dict[str, str]] = {}
    for flag, key, items in (("--netns", "netns", args.netns),
                             ("--host-transport", "transport_url", args.host_transport)):
        for item in items:
            host, sep, value = item.partition("=")
            if not sep or not host or not value:
                raise UserError(f"{flag} wants HOST=VALUE, got {item!r}")
            host_options.setdefault(host, {})[key] = value
    if args.conductor_workers is not None and args.conductor_workers < 1:
        raise UserError("--conductor-workers must be at least 1")
    listen: dict[str, Any] = {}
    if args.listen:
        if args.transport:
            raise UserError("--listen makes a RabbitMQ user and vhost of its own on this "
                            "machine's broker; drop --transport")
        listen = {"api_host": args.listen, "placement_host": args.listen,
                  "discover_hosts_in_cells_interval": _discover_interval()}
    try:
        cfg = d.make_config(transport_url=args.transport, virt_type=args.virt,
                            api_port=args.api_port, placement_port=args.placement_port,
                            control_exchange=args.control_exchange,
                            report_interval=args.report_interval,
                            service_down_time=args.service_down_time,
                            periodic_interval=args.periodic_interval,
                            boot_timeout=args.boot_timeout,
                            instance_build_timeout=args.instance_build_timeout,
                            conductor_workers=args.conductor_workers, **db, **listen)
        t0 = time.monotonic()
        with console.status(f"starting {args.computes + 4} processes…"):
            rows = d.up(cfg, computes=args.computes, trace_exchange=args.trace_exchange,
                        timeout=args.timeout, host_options=host_options,
                        listen=args.listen)
    except (DeployError, ValueError) as exc:
        raise UserError(str(exc)) from None
    console.print(_table(rows))
    console.print(f"all up in {time.monotonic() - t0:.1f}s; API http://{cfg.api_host}:"
                  f"{cfg.api_port}/v2.1 (token {DEFAULT_TOKEN}); state {d.state_dir}",
                  highlight=False)
    join = d.join_command()
    if join:
        console.print("to add a compute from another machine, run there (NAME: its host "
                      "name; add --virt qemu for real guests; the password is shown only "
                      f"here, kept in {d.config_path} mode 0600):", highlight=False)
        print(join, flush=True)
    return 0


def _discover_interval() -> int:
    from tracer.cloud.classroom import DISCOVER_INTERVAL

    return DISCOVER_INTERVAL


def cmd_join(args: argparse.Namespace, console: Console) -> int:
    from tracer.cloud.processes import DeployError

    d = _deployment(args)
    try:
        cfg = d.make_config(transport_url=args.transport, placement_endpoint=args.placement,
                            virt_type=args.virt, control_exchange=args.control_exchange,
                            report_interval=args.report_interval,
                            periodic_interval=args.periodic_interval)
        t0 = time.monotonic()
        with console.status(f"starting nova-compute {args.host}…"):
            rows = d.join(cfg, args.host, trace_exchange=args.trace_exchange,
                          timeout=args.timeout)
    except (DeployError, ValueError) as exc:
        raise UserError(str(exc)) from None
    console.print(_table(rows))
    console.print(f"nova-compute {args.host} joined in {time.monotonic() - t0:.1f}s "
                  f"(bus {cfg.masked()['transport_url']}, placement "
                  f"{cfg.placement_endpoint}); stop it with: bootflow down"
                  + (f" --state-dir {args.state_dir}" if args.state_dir else ""),
                  highlight=False)
    return 0


def cmd_down(args: argparse.Namespace, console: Console) -> int:
    d = _deployment(args)
    stopped = d.down(timeout=args.timeout)
    left = d.running()
    console.print(f"stopped {len(stopped)} process(es)"
                  + (f"; still running: {left}" if left else ""), highlight=False)
    for note in d.notes:
        console.print(note, highlight=False)
    return 1 if left else 0


def cmd_restart(args: argparse.Namespace, console: Console) -> int:
    from tracer.cloud.processes import DeployError

    d = _deployment(args)
    try:
        proc = d.find_proc(args.service)
        old = d.pid_of(proc)
        t0 = time.monotonic()
        row = d.restart(proc, stop_timeout=args.stop_timeout, timeout=args.timeout)
    except DeployError as exc:
        raise UserError(str(exc)) from None
    console.print(f"{proc.binary} on {proc.host}: pid {old or '-'} → {row.pid}, "
                  f"{row.state} in {time.monotonic() - t0:.1f}s", highlight=False)
    return 0 if row.state == "up" else 1


def _stuck_lines(stuck: list[dict[str, Any]]) -> str:
    """One line per server (whole uuids, whatever the terminal's width)."""
    lines = [f"{len(stuck)} server(s) stuck in BUILD:"]
    for b in stuck:
        lines.append(f"  {b['uuid']}  task_state {b['task_state']}  host {b['host'] or '-'}"
                     f"  {b['age_s']:.0f}s  {b['where']}")
    return "\n".join(lines)


def _table(rows: list[Any]) -> Table:
    t = Table("service", "host", "pid", "state", "last report", "reports")
    for r in rows:
        state = Text("up", "green") if r.state == "up" else Text("down", "red")
        if not r.alive:
            state.append(" (no process)")
        if getattr(r, "mapped", None) is False:  # joined, not discovered yet
            state.append(" (no cell yet: discover_hosts)", "yellow")
        pid = "joined" if getattr(r, "remote", False) else str(r.pid or "-")
        t.add_row(Text(r.binary), Text(r.host), pid, state,
                  r.last_report.strftime("%H:%M:%S") + " UTC" if r.last_report else "-",
                  str(r.report_count if r.report_count is not None else "-"))
    return t


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    from tracer.cloud.processes import DeployError

    d = _deployment(args)
    try:
        rows = d.status()
    except DeployError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps([{"binary": r.binary, "host": r.host, "pid": r.pid,
                           "state": r.state, "alive": r.alive, "remote": r.remote,
                           "mapped": r.mapped,
                           "last_report": r.last_report.isoformat() if r.last_report else None,
                           "report_count": r.report_count} for r in rows]))
    else:
        console.print(_table(rows))
        _warn_unreachable(d, console)
        stuck = d.stuck_builds()
        if stuck:
            console.print(_stuck_lines(stuck), highlight=False, markup=False,
                          soft_wrap=True)
            console.print("older than instance_build_timeout: one on a compute goes to "
                          "ERROR at its next periodic task; one without a compute was "
                          "lost before a compute got it (e.g. with a killed conductor): "
                          "delete it (DELETE /v2.1/servers/UUID) and boot again",
                          highlight=False)
    return 0 if rows and all(r.state == "up" for r in rows) else 1


def _warn_unreachable(d: Any, console: Console) -> None:
    """``up --listen``: RabbitMQ's listener on ADDR is a runtime one, gone when RabbitMQ
    restarts; say so, since the joined computes then cannot reach the bus."""
    opened = d.meta().get("listen")
    if not opened:
        return
    from tracer.cloud.classroom import accepts

    addr, port = opened["addr"], opened["rabbit_port"]
    if not accepts(addr, port):
        console.print(f"[red]RabbitMQ does not listen on {addr}:{port} any more[/] (restarted?)"
                      f"; joined computes cannot reach the bus. fix: bootflow down && "
                      f"bootflow up --listen {addr}", highlight=False)


def cmd_config(args: argparse.Namespace, console: Console) -> int:
    from tracer.cloud.processes import DeployError

    d = _deployment(args)
    try:
        cfg = d.config()
        running = True
    except DeployError:
        cfg, running = d.make_config(), False
    masked = cfg.masked()
    masked.pop("extra", None)
    print(f"# state folder {d.state_dir} ({'deployed' if running else 'not deployed'})")
    if d.meta().get("joined"):   # bootflow join: one compute, the API is the teacher's
        print("# a joined nova-compute: it uses transport_url and placement_endpoint only")
    else:
        print(f"api_endpoint = http://{cfg.api_host}:{cfg.api_port}")
    for k, v in masked.items():
        print(f"{k} = {json.dumps(v)}")
    return 0


def cmd_boot(args: argparse.Namespace, console: Console) -> int:
    from tracer.cloud.processes import DeployError

    d = _deployment(args)
    try:
        cfg = d.config()
    except DeployError as exc:
        raise UserError(str(exc)) from None
    client = APIClient(f"http://{cfg.api_host}:{cfg.api_port}", args.token)
    flavor = args.flavor or ("bootflow.guest" if cfg.virt_type == "qemu" else "m1.tiny")
    server: dict[str, Any] = {"name": args.name, "flavorRef": flavor, "imageRef": args.image}
    if args.count > 1:
        server.update(min_count=args.count, max_count=args.count,
                      return_reservation_id=True)
    t0 = time.monotonic()
    try:
        code, body = client.request("POST", "/v2.1/servers", {"server": server})
    except OSError as exc:
        raise UserError(f"API not answering at {client.endpoint} ({exc}); run: bootflow up"
                        ) from None
    if code != 202:
        fault = next(iter(body.values()), None) if isinstance(body, dict) else None
        message = (fault.get("message") if isinstance(fault, dict) else None) or json.dumps(body)
        raise UserError(f"POST /v2.1/servers: {code}: {message}")
    if args.count > 1:
        rid = body["reservation_id"]
        listing = client.request("GET", f"/v2.1/servers/detail?reservation_id={rid}")[1]
        uuids = [s["id"] for s in listing["servers"]]
    else:
        uuids = [body["server"]["id"]]
    console.print(f"202 accepted: {', '.join(uuids)}", highlight=False, markup=False)
    if not args.wait:
        return 0
    try:
        servers = client.wait(uuids, args.timeout)
    except TimeoutError as exc:
        raise UserError(str(exc)) from None
    for s in servers:
        host = s.get("OS-EXT-SRV-ATTR:host")
        where = f"on {host}" if host else "(no host)"
        line = f"{s['id']} {s['name']} {s['status']} {where} after {time.monotonic() - t0:.1f}s"
        if s["status"] == "ERROR":
            line += f": {str(s.get('fault', {}).get('message', '')).strip()}"
        console.print(line, highlight=False, markup=False)  # names, faults: not markup
    return 0 if all(s["status"] == "ACTIVE" for s in servers) else 1
