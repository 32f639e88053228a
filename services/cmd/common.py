"""What every ``bootflow-*`` entry point does (nova/cmd/*.py + nova/service.py serve/wait).

Parse the options, load the config (file, ``BOOTFLOW_*`` env, flags), set up logging
and the trace emitter (``BrokerEmitter`` to ``bootflow.trace``), then run until SIGTERM
or SIGINT, when the service stops its RPC server (drain) and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from services.conf import Config
from tracer.instrument import api as trace

TRACE_EXCHANGE_ENV = "BOOTFLOW_TRACE_EXCHANGE"
DEFAULT_TRACE_EXCHANGE = "bootflow.trace"


def parser(binary: str, default_host: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"bootflow-{binary.rpartition('-')[2]}",
                                description=f"{binary} (one process, like Nova's).")
    p.add_argument("--config-file", type=Path, default=None,
                   help="TOML config (bootflow up writes STATE_DIR/bootflow.toml)")
    p.add_argument("--host", default=default_host, help=f"service host (default {default_host})")
    p.add_argument("--transport", default=None, help="transport URL (overrides the config)")
    p.add_argument("--trace-exchange", default=None,
                   help=f"trace exchange (default ${TRACE_EXCHANGE_ENV} or "
                        f"{DEFAULT_TRACE_EXCHANGE})")
    p.add_argument("--no-trace", action="store_true", help="emit no trace events")
    p.add_argument("--placement", default=None, metavar="URL",
                   help="placement-api endpoint (overrides the config's placement_endpoint)")
    return p


def load_config(args: argparse.Namespace) -> Config:
    overrides: dict[str, Any] = {}
    if args.transport:
        overrides["transport_url"] = args.transport
    if args.placement:
        overrides["placement_endpoint"] = args.placement
    return Config.load(args.config_file, **overrides)


def setup_logging(binary: str, host: str) -> logging.Logger:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format=f"%(asctime)s %(process)d %(levelname)s {binary} [{host}] "
                               "%(name)s: %(message)s", force=True)
    logging.getLogger("kombu").setLevel(logging.WARNING)
    logging.getLogger("amqp").setLevel(logging.WARNING)
    return logging.getLogger(binary)


def setup_emitter(config: Config, args: argparse.Namespace, binary: str, host: str,
                  worker: int | None = None) -> Any:
    """BrokerEmitter on the config's broker (no emitter for memory:// or --no-trace)."""
    if args.no_trace or not config.transport_url.startswith(("rabbit://", "amqp://")):
        return None
    from tracer.instrument.emitter import BrokerEmitter

    exchange = (args.trace_exchange or os.environ.get(TRACE_EXCHANGE_ENV)
                or DEFAULT_TRACE_EXCHANGE)
    suffix = "" if worker is None else f"-worker{worker}"
    spool = Path(config.state_dir) / "spool" / f"{binary}-{host}{suffix}.jsonl"
    spool.parent.mkdir(parents=True, exist_ok=True)
    emitter = BrokerEmitter(config.transport_url, exchange=exchange, spool_path=spool,
                            linger=config.trace_linger)
    trace.set_emitter(emitter)
    return emitter


def setup_gate(config: Config) -> Any:
    """Every process holds a walkthrough gate, open until a TUI turns it on.

    ``bootflow tui --walkthrough`` switches it on over the ``bootflow.control`` exchange;
    until then each message passes with one uncontended lock check.
    """
    if not config.transport_url.startswith(("rabbit://", "amqp://")):
        return None
    from services.messaging.gate import ControlGate, set_gate

    gate = ControlGate(config.transport_url, enabled=False)
    set_gate(gate)
    return gate


class StopSignal:
    """SIGTERM/SIGINT: set ``event``; before the service runs, leave at once (SystemExit)."""

    def __init__(self, log: logging.Logger) -> None:
        self.event = threading.Event()
        self.running = False
        self.log = log
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        self.log.info("caught %s, stopping", signal.Signals(signum).name)
        self.event.set()
        if not self.running:
            raise SystemExit(0)

    def wait(self) -> None:
        self.running = True
        while not self.event.wait(0.5):
            pass


def run(binary: str, default_host: str, argv: Sequence[str] | None,
        start: Callable[[Config, argparse.Namespace, logging.Logger], Any],
        extra_args: Callable[[argparse.ArgumentParser], None] | None = None,
        workers: Callable[[Config, argparse.Namespace], int] | None = None) -> int:
    """Parse, then serve (nova/service.py ``serve``/``wait``): start (returns an object
    with ``stop()``), wait for a signal, stop; in this process, or in each of the
    *workers* processes a ProcessLauncher forks."""
    from services.launcher import launch

    p = parser(binary, default_host)
    if extra_args is not None:
        extra_args(p)
    args = p.parse_args(argv)
    log = setup_logging(binary, args.host)
    config = load_config(args)
    count = workers(config, args) if workers is not None else None

    def serve(worker: int | None) -> int:
        return _serve(binary, args, config, start, worker)

    return launch(serve, count, log).wait()


def _serve(binary: str, args: argparse.Namespace, config: Config,
           start: Callable[[Config, argparse.Namespace, logging.Logger], Any],
           worker: int | None) -> int:
    """One process of the service: emitter, gate, start, wait for a signal, stop."""
    log = setup_logging(binary, args.host if worker is None else f"{args.host} #{worker}")
    trace.set_worker(worker)
    emitter = setup_emitter(config, args, binary, args.host, worker)
    gate = setup_gate(config)
    stopper = StopSignal(log)
    started: Any = None
    try:
        log.info("starting on %s (transport %s)", args.host, config.masked()["transport_url"])
        started = start(config, args, log)
        log.info("started; pid %d", os.getpid())
        stopper.wait()
    finally:
        if gate is not None:
            gate.close()  # release anything a walkthrough still holds, so we can drain
        if started is not None:
            log.info("draining and stopping")
            started.stop()
            log.info("stopped")
        if emitter is not None:
            emitter.close(timeout=5)
    return 0


def start_rpc_service(binary: str, config: Config, host: str, log: logging.Logger,
                      use_db: bool = True) -> Any:
    """Service.create + start (one start-up trace) with its own transport."""
    from services import rpc
    from services.launcher import start_service

    if use_db:
        from services.db import api as db

        db.configure(config)
    transport = rpc.get_transport(config)
    service = start_service(binary, host, config, transport, log=log.warning)
    return _Stoppable(service, transport)


class _Stoppable:
    def __init__(self, service: Any, transport: Any) -> None:
        self.service, self.transport = service, transport

    def stop(self) -> None:
        try:
            self.service.stop()
        finally:
            self.transport.cleanup()
