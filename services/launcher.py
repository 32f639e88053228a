"""Starting services the way ``nova/cmd/<binary>.py:main`` does: create, then serve.

``start_service`` is ``Service.create`` + ``start`` (the per-process entry points in
``services/cmd`` and bootflow's embedded cloud both use it). ``launch`` is nova/service.py's
``serve(server, workers)`` → oslo.service's ``launch``: a ``ServiceLauncher`` runs the
service in this process, a ``ProcessLauncher`` forks ``workers`` processes that each run
it and consume the same topic queue (``[conductor] workers``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import traceback
from collections.abc import Callable
from typing import Any

from services import rpc
from services.conf import Config
from services.db import api as db
from services.service import Service
from tracer.instrument import api as trace


def start_service(binary: str, host: str, config: Config, transport: Any = None,
                  log: Any = None) -> Service:
    """Service.create + start under the service's identity; one start-up trace each.

    Usable by a one-service-per-process entry point: services with database access open
    it here; nova-compute has none (its objects go through the conductor).
    """
    if binary != "nova-compute":
        db.configure(config)
    transport = transport or rpc.get_transport(config)
    attrs: dict[str, Any] = {"binary": binary, "host": host,
                             "transport_url": config.transport_url,
                             "code.location": f"nova/cmd/{binary.rpartition('-')[2]}.py:main"}
    if trace.worker() is not None:   # forked by a ProcessLauncher: which one, which pid
        attrs.update({"bootflow.worker": trace.worker(), "process.pid": os.getpid()})
    with trace.identity(binary, host), trace.span(f"start {binary}", "INTERNAL", parent=None,
                                                  attrs=attrs):
        service = Service.create(binary=binary, host=host, config=config,
                                 transport=transport, log=log)
        service.start()
    return service


Runner = Callable[[int | None], int]
"""Runs one service until it is told to stop; gets its worker index (None: no workers)."""


class ServiceLauncher:
    """oslo.service's ServiceLauncher: the one service runs in this process."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    def wait(self) -> int:
        return self._run(None)


class ProcessLauncher:
    """oslo.service's ProcessLauncher: fork *workers* children that each run the service.

    Every child consumes the same topic queue (the broker hands each message to one of
    them); a child that dies is forked again; SIGTERM/SIGINT to the parent stops them all.
    The parent forks before any thread or connection exists, as oslo.service requires.
    """

    RESPAWN_DELAY = 1.0

    def __init__(self, run: Runner, workers: int, log: logging.Logger,
                 stop_timeout: float = 30.0) -> None:
        self._run = run
        self.workers = workers
        self.log = log
        self.stop_timeout = stop_timeout
        self.children: dict[int, int] = {}   # pid -> worker index
        self._stopping = False

    def _spawn(self, index: int) -> None:
        pid = os.fork()
        if pid == 0:   # the child: run the service, never return into the parent's code
            code = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                code = self._run(index)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        self.children[pid] = index
        self.log.info("forked worker %d of %d: pid %d", index, self.workers, pid)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.log.info("caught %s, stopping %d workers", signal.Signals(signum).name,
                      len(self.children))
        self._stopping = True

    def wait(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for index in range(self.workers):
            self._spawn(index)
        while not self._stopping:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                time.sleep(0.2)
                continue
            if pid not in self.children:
                continue
            index = self.children.pop(pid)
            self.log.warning("worker %d (pid %d) exited with %d; forking it again", index,
                             pid, os.waitstatus_to_exitcode(status))
            time.sleep(self.RESPAWN_DELAY)
            if not self._stopping:
                self._spawn(index)
        return self._stop_children()

    def _stop_children(self) -> int:
        for pid in self.children:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        worst = 0
        while self.children and time.monotonic() < deadline:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                time.sleep(0.1)
                continue
            if pid in self.children:
                del self.children[pid]
                worst = max(worst, abs(os.waitstatus_to_exitcode(status)))
        for pid in self.children:   # did not drain in time
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            worst = max(worst, 1)
        return worst


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def launch(run: Runner, workers: int | None, log: logging.Logger
           ) -> ServiceLauncher | ProcessLauncher:
    """oslo.service's ``launch(conf, service, workers)``: 1 (or None) runs in-process."""
    if workers is None or workers == 1:
        return ServiceLauncher(run)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return ProcessLauncher(run, workers, log)
