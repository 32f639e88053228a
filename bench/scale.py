"""The boot flow at scale: many instances over many fake computes, every span recorded.

    .venv/bin/python bench/scale.py [--instances 1000] [--computes 50] [--batch 50]
                                    [--conductor-workers N] [--db sqlite|postgresql]
                                    [--time-limit 900] [--transport URL] [--no-write]

By default one process runs nova-conductor, nova-scheduler and N nova-compute services
as threads (``virt_type`` fake: spawn is instant, so the flow itself is measured) over
RabbitMQ with a control exchange of its own; nova-api is called in-process.

``--conductor-workers N`` leaves the conductor out of that process: it runs as
``bootflow-conductor --workers N`` (``services.cmd.conductor.main``: a ProcessLauncher
forks N workers that all consume the one ``conductor`` topic queue), started through
``bench/scale_conductor.py``, which only adds a tracing switch to each worker. The
databases are then PostgreSQL (127.0.0.1:5432), scratch databases of the run's own,
created before and dropped after, with ``synchronous_commit = off`` (the durability of
the SQLite default's WAL + ``synchronous=NORMAL``; with SQLite every write of every
process would queue for the one file lock);
``--db`` chooses either store for either mode.

Multi-create batches (``min_count = max_count = --batch``) alternate between tracing
on and off, ABBA order, so that the database's growth weighs on both alike:
``--instances`` are booted traced and as many again untraced. Tracing is switched only
between batches, when nothing is in flight: in this process by installing or removing
the emitter; in the conductor workers the same, on a message of the bench's own fanout
exchange that every worker answers (so the bench knows all switched before it posts,
and how many events each handed to tracing). The workers are started once and switched,
not restarted per batch: traced and untraced batches see the same processes, warm
caches and database. Traced events take the real path: ``tracer.instrument.api`` →
BrokerEmitter → RabbitMQ → Collector; the Collector and its sink run in a process of
their own (as ``bootflow record`` would: its CPU competes for the same cores, not for
the services' GIL), unless ``--collector-in-process`` (the setup of the runs before
2026-11-26).

Each batch is timed from the POST to every instance ACTIVE ("flow"); a traced batch also
until the collector holds every emitted event and every span of the batch has ended
("recorded": the arrival of the batch's last event at the collector). Between batches
the flow settles untimed. The run has a RabbitMQ vhost of its own unless
``--transport`` names one. Reported: instances/s, hops/s (rpc client spans), p50/p99
client span duration per rpc method and style, spans lost (span_start without span_end
in the request traces; emitted vs collected), collector memory per event (tracemalloc,
the collected events parsed and kept as the collector's sink keeps them, and fed to the
TUI's reducer), RSS growth, the tracing overhead ratios, CPU seconds per instance of
each part (this process, conductor workers, collector, PostgreSQL, RabbitMQ, the whole
machine) with the ceiling they imply on idle cores, and the load average: the machine
may be shared. Replaces this mode's table in the "Scale" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid as uuidlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench.benchmarks_md import write_section  # noqa: E402
from services.conf import Config  # noqa: E402
from services.db import api as db  # noqa: E402
from services.db import models  # noqa: E402
from tracer.cloud.embedded import EmbeddedCloud  # noqa: E402
from tracer.cloud.processes import db_connections, ensure_databases, write_toml  # noqa: E402
from tracer.cloud.vhost import own_vhost  # noqa: E402
from tracer.collector import Collector  # noqa: E402
from tracer.commands.record import RECORD_NICE  # noqa: E402
from tracer.instrument import api as trace  # noqa: E402
from tracer.instrument.emitter import BrokerEmitter  # noqa: E402
from tracer.instrument.events import dumps, parse_body, validate  # noqa: E402
from tracer.instrument.redact import redact_url  # noqa: E402
from tracer.model import TraceState  # noqa: E402
from tracer.model.constants import SENDING_KINDS  # noqa: E402
from tracer.session import is_request_root, request_trace_ids  # noqa: E402

SECTION = "## Scale"
MODE_ONE = "### Conductor in the process (threads)"
MODE_WORKERS = "### Conductor as worker processes"
INTRO = """Traced and untraced multi-create batches alternate in one run (ABBA); a traced
batch is timed to ACTIVE (flow) and until its last event reached the collector
(recorded); the tracing overhead is traced per instance over untraced per instance, in
the same run. Each mode below keeps the table of its latest run.

Collector memory per event: the collected events re-parsed from their JSON and kept as a
list of dicts (what the collector's sink holds), measured with tracemalloc; reducer: the
same events fed to the TUI's TraceState. RSS covers the services in the bench's process,
not the collector. CPU per instance: CPU seconds of each part over the timed batches
(traced and untraced) divided by the instances booted in them; PostgreSQL and RabbitMQ
are whole servers, so other work on them counts too (an upper bound), and the ceiling
(cores over the parts' CPU per instance) is what the run would reach with the machine
to itself and every part busy all the time (a lower bound on that ceiling: the upper
bounds above are in it)."""
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/"


class CountingEmitter:
    """Counts what the services hand to tracing, so 'emitted' is not the emitter's word."""

    def __init__(self, inner: BrokerEmitter) -> None:
        self.inner = inner
        self._n = itertools.count()
        self._last = 0

    def __call__(self, event: dict[str, Any]) -> None:
        self._last = next(self._n) + 1
        self.inner(event)

    @property
    def emitted(self) -> int:
        return self._last


class Sink:
    """The collector's consumer: keeps every event and which request spans are open."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.open: dict[str, str] = {}      # span_id -> trace_id, not yet ended
        self.request_traces: set[str] = set()
        self.last_ns = time.monotonic_ns()      # arrival of the latest event
        self.last_req_ns = self.last_ns          # ... of the latest request-trace event
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(event)
            self.last_ns = time.monotonic_ns()
            kind = event.get("type")
            if kind == "span_start":
                self.open[event["span_id"]] = event["trace_id"]
                if is_request_root(event):
                    self.request_traces.add(event["trace_id"])
            elif kind == "span_end":
                self.open.pop(event["span_id"], None)
            if event.get("trace_id") in self.request_traces:
                self.last_req_ns = self.last_ns

    def open_request_spans(self) -> int:
        with self._lock:
            return sum(1 for t in self.open.values() if t in self.request_traces)


class _SharedSink(Sink):
    """The Sink in the collector process: events to a file, counters to the parent."""

    def __init__(self, path: str, shared: dict[str, Any]) -> None:
        super().__init__()
        self.fh = open(path, "w", encoding="utf-8")
        self.shared = shared
        self.open_req = 0

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "span_start":
            if is_request_root(event):
                self.request_traces.add(event["trace_id"])
            if event["trace_id"] in self.request_traces:
                self.open[event["span_id"]] = event["trace_id"]
                self.open_req += 1
        elif kind == "span_end" and self.open.pop(event["span_id"], None) is not None:
            self.open_req -= 1
        self.fh.write(dumps(event) + "\n")   # as RecordingWriter writes a line
        self.shared["open"].value = self.open_req
        now = time.monotonic_ns()   # CLOCK_MONOTONIC: one clock for both processes
        self.shared["last_ns"].value = now
        if event.get("trace_id") in self.request_traces:
            self.shared["last_req_ns"].value = now


def _collect(url: str, exchange: str, path: str, shared: dict[str, Any]) -> None:
    os.nice(RECORD_NICE)   # as `bootflow record` runs: the cloud comes first
    sink = _SharedSink(path, shared)
    collector = Collector(url, sink, exchange=exchange)

    def on_event(event: dict[str, Any]) -> None:
        sink(event)
        _count(shared, collector)

    collector.on_event = on_event
    collector.start()
    shared["ready"].set()
    shared["stop"].wait()
    collector.stop()
    _count(shared, collector)
    sink.fh.close()
    shared["done"].set()


def _count(shared: dict[str, Any], collector: Collector) -> None:
    shared["received"].value = collector.received
    shared["dropped"].value = collector.dropped


class RemoteCollector:
    """Collector + Sink in a process of their own, as ``bootflow record`` runs beside the
    services in a deployment: its CPU still competes for the same cores, but not for the
    services' GIL (an artifact of this one-process bench). Events go to a JSON Lines
    file, read back at the end; received / open request spans / last arrival are shared.
    """

    def __init__(self, url: str, exchange: str, path: str) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.path = path
        self.shared = {"received": ctx.Value("q", 0, lock=False),
                       "dropped": ctx.Value("q", 0, lock=False),
                       "open": ctx.Value("q", 0, lock=False),
                       "last_ns": ctx.Value("q", time.monotonic_ns(), lock=False),
                       "last_req_ns": ctx.Value("q", time.monotonic_ns(), lock=False),
                       "ready": ctx.Event(), "stop": ctx.Event(), "done": ctx.Event()}
        self.proc = ctx.Process(target=_collect, args=(url, exchange, path, self.shared),
                                daemon=True)

    def start(self) -> None:
        self.proc.start()
        if not self.shared["ready"].wait(60):
            raise RuntimeError("collector process did not start")

    def stop(self) -> None:
        self.shared["stop"].set()
        self.shared["done"].wait(30)
        self.proc.join(10)

    @property
    def received(self) -> int:
        return int(self.shared["received"].value)

    @property
    def dropped(self) -> int:
        return int(self.shared["dropped"].value)

    @property
    def last_ns(self) -> int:
        return int(self.shared["last_ns"].value)

    @property
    def last_req_ns(self) -> int:
        return int(self.shared["last_req_ns"].value)

    def open_request_spans(self) -> int:
        return int(self.shared["open"].value)

    def events(self) -> list[dict[str, Any]]:
        with open(self.path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh]


class ConductorWorkers:
    """``bootflow-conductor --workers N`` as a child process (``bench.scale_conductor``:
    the same entry point, its workers' tracing switched by the bench between batches)."""

    def __init__(self, config: Config, workers: int, trace_exchange: str, tag: str) -> None:
        import kombu

        from tracer.instrument.broker import kombu_url

        self.workers = workers
        self.switch_exchange = f"bootflow.scale.{tag}.switch"
        state = Path(config.state_dir)
        self.config_path = state / "bootflow.toml"
        write_toml(self.config_path, dataclasses.asdict(config))
        self.log_path = state / "conductor.log"
        self._log = open(self.log_path, "w")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.scale_conductor", "--switch", self.switch_exchange,
             "--config-file", str(self.config_path), "--workers", str(workers),
             "--trace-exchange", trace_exchange],
            cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self._seq = itertools.count(1)
        self._replies: list[dict[str, Any]] = []
        self.conn = kombu.Connection(kombu_url(config.transport_url))
        self.exchange = kombu.Exchange(self.switch_exchange, type="fanout", durable=False,
                                       auto_delete=True)
        self.reply_queue = kombu.Queue(f"bootflow.scale.{tag}.switch-reply", exclusive=True,
                                       auto_delete=True)
        self.reply_queue.maybe_bind(self.conn)
        self.reply_queue.declare()
        self.exchange.maybe_bind(self.conn)
        self.exchange.declare()
        self.consumer = self.conn.Consumer([self.reply_queue], callbacks=[self._on_reply],
                                           accept=["json"])
        self.consumer.consume()
        self.producer = self.conn.Producer()
        self.emitted = 0
        self.pids: list[int] = []

    def _on_reply(self, body: Any, message: Any) -> None:
        self._replies.append(dict(body))
        message.ack()

    def switch(self, traced: bool, timeout: float = 60.0, need_ready: bool = True) -> int:
        """Tracing on/off in every worker; waits for each to answer, returns the events
        the workers handed to tracing so far (all of them)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"conductor exited with {self.proc.returncode}; "
                                   f"see {self.log_path}")
            seq = next(self._seq)
            self.producer.publish({"seq": seq, "trace": traced,
                                   "reply_to": self.reply_queue.name},
                                  exchange=self.exchange, serializer="json", retry=True)
            got: dict[int, dict[str, Any]] = {}
            answer_by = min(deadline, time.monotonic() + 2.0)
            while len(got) < self.workers and time.monotonic() < answer_by:
                try:
                    self.conn.drain_events(timeout=0.2)
                except TimeoutError:
                    pass
                for r in self._replies:
                    if r["seq"] == seq:
                        got[int(r["worker"] or 0)] = r
                self._replies.clear()
            if len(got) == self.workers and (not need_ready
                                             or all(r["ready"] for r in got.values())):
                self.pids = sorted(int(r["pid"]) for r in got.values())
                self.emitted = sum(int(r["emitted"]) for r in got.values())
                return self.emitted
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(got)}/{self.workers} conductor workers answered "
                                   f"the tracing switch; see {self.log_path}")
            time.sleep(0.2)

    def rss_mib(self) -> float:
        """RSS of the launcher and its workers."""
        total = 0.0
        for pid in [self.proc.pid, *self.pids]:
            try:
                with open(f"/proc/{pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) / 1024
            except OSError:
                pass
        return total

    def stop(self) -> None:
        try:
            self.consumer.cancel()
            self.conn.release()
        except Exception:  # the broker's vhost may be gone; the process matters more
            pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)   # ProcessLauncher stops its workers
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@contextlib.contextmanager
def scratch_postgres(tag: str) -> Iterator[dict[str, str]]:
    """The four databases of a run on the local PostgreSQL, dropped after."""
    import sqlalchemy as sa

    conns = db_connections(f"{POSTGRES}bfscale_{tag}_")
    ensure_databases(Config.load(env={}, **conns))
    try:
        engine = sa.create_engine(POSTGRES + "postgres", isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:   # commits as SQLite's WAL + synchronous=NORMAL:
                for url in conns.values():   # no fsync wait per commit (crash-safe still)
                    name = url.rpartition("/")[2]
                    conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit '
                                         "= off"))
        finally:
            engine.dispose()
        yield conns
    finally:
        from services.db import api as dbapi

        for eng in list(dbapi._engines.values()):
            eng.dispose()
        engine = sa.create_engine(POSTGRES + "postgres", isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for url in conns.values():
                    name = url.rpartition("/")[2]
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            engine.dispose()


@dataclasses.dataclass
class Batch:
    traced: bool
    count: int
    flow_s: float
    recorded_s: float
    ok: int


def cpu_s(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process (all its threads) so far; 0 when gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rabbitmq_cpu_s() -> float:
    """CPU seconds of the RabbitMQ server (beam.smp: every vhost, others' tests too)."""
    return sum(cpu_s(d) for d in os.listdir("/proc") if d.isdigit() and _comm(d) == "beam.smp")


def _comm(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def postgres_cpu_s() -> float:
    """CPU seconds of the whole PostgreSQL server: its live processes, and the backends
    it has reaped (the postmaster's children times). Every database of the server counts
    (a pool's overflow connections come and go, so the run's own are not separable)."""
    total = 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        name = stat[stat.find("(") + 1:stat.rfind(")")]
        if name != "postgres" and not name.startswith("postgres:"):
            continue
        fields = stat.rpartition(")")[2].split()
        ppid_is_init = fields[1] == "1" or not _is_postgres(fields[1])
        ticks = int(fields[11]) + int(fields[12])
        if ppid_is_init:   # the postmaster: + its reaped children
            ticks += int(fields[13]) + int(fields[14])
        total += ticks / os.sysconf("SC_CLK_TCK")
    return total


def _is_postgres(pid: str) -> bool:
    return _comm(pid).startswith("postgres")


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (every core; /proc/stat)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def instance_states(reservation_id: str) -> list[tuple[str | None, str | None]]:
    """One query for the whole batch (cell1), untraced and without the ORM: the poll
    shares the interpreter with the services, so it must cost them little."""
    with db.cell_engine(db.default_cell_uuid()).connect() as conn:
        rows = conn.execute(select(models.Instance.vm_state, models.Instance.task_state)
                            .where(models.Instance.reservation_id == reservation_id)).all()
    return [(v, t) for v, t in rows]


def wait_final(reservation_id: str, count: int, deadline: float, poll: float = 0.02,
               coarse: float = 0.1) -> int:
    """Block until the batch's *count* instances are active or error (task None).

    Returns how many are active. Polls cell1 directly: an instance buried in cell0 (no
    valid host) would never show up here, and the time limit reports it. Every *coarse*
    seconds until 80 % are final, then every *poll* seconds (the end is timed to that).
    """
    while True:
        states = instance_states(reservation_id)
        done = [s for s in states if s[0] in ("active", "error") and s[1] is None]
        if len(done) >= count:
            return sum(1 for s in done if s[0] == "active")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(done)}/{count} instances final at the time limit")
        time.sleep(poll if len(done) >= 0.8 * count else coarse)


def wait_recorded(emitted: Callable[[], int], emitter: BrokerEmitter, collector: Collector,
                  sink: Sink, deadline: float, settle: float = 0.1) -> None:
    """Until the collector holds all that was emitted and no request span is open."""
    while time.monotonic() < deadline:
        emitter.flush(max(0.1, deadline - time.monotonic()))
        quiet = (time.monotonic_ns() - sink.last_ns) / 1e9 >= settle
        if collector.received >= emitted() and sink.open_request_spans() == 0 and quiet:
            return
        time.sleep(0.01)
    raise TimeoutError("trace not fully recorded at the time limit")


def boot_batch(cloud: EmbeddedCloud, name: str, count: int) -> str:
    """One multi-create POST (202 after the cast); returns the reservation id."""
    resp = cloud.request("POST", "/v2.1/servers", {"server": {
        "name": name, "flavorRef": "m1.tiny", "imageRef": "bootflow-guest",
        "min_count": count, "max_count": count, "return_reservation_id": True}})
    if resp.status_int != 202:
        raise RuntimeError(f"POST /v2.1/servers: {resp.status} {resp.text}")
    return str(resp.json["reservation_id"])


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def hop_stats(events: list[dict[str, Any]], traces: set[str]) -> dict[tuple[str, str],
                                                                      list[float]]:
    """Client-span durations (ms) per (rpc method, style) in the request traces."""
    starts: dict[str, dict[str, Any]] = {}
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for e in events:
        if e.get("trace_id") not in traces:
            continue
        if e["type"] == "span_start" and e.get("kind") in SENDING_KINDS \
                and "rpc.method" in e.get("attrs", {}):
            starts[e["span_id"]] = e
        elif e["type"] == "span_end" and e["span_id"] in starts:
            s = starts.pop(e["span_id"])
            out[(s["attrs"]["rpc.method"], s["attrs"].get("rpc.style", "?"))].append(
                (e["ts_ns"] - s["ts_ns"]) / 1e6)
    return out


def worker_share(events: list[dict[str, Any]], traces: set[str]) -> dict[int, int]:
    """Conductor server spans per worker (``bootflow.worker``) in the request traces."""
    out: dict[int, int] = defaultdict(int)
    for e in events:
        if e["type"] == "span_start" and e.get("trace_id") in traces \
                and e.get("service") == "nova-conductor" \
                and "bootflow.worker" in e.get("attrs", {}):
            out[int(e["attrs"]["bootflow.worker"])] += 1
    return dict(out)


def memory_per_event(events: list[dict[str, Any]]) -> tuple[float, float]:
    """Bytes per event: parsed and kept (the collector's sink), and in the reducer."""
    bodies = [json.dumps(e, separators=(",", ":")) for e in events]
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    kept = [validate(item) for body in bodies for item in parse_body(body)]
    kept_bytes = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    state = TraceState()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for e in kept:
        state.feed(e)
    state.snapshot()
    reducer_bytes = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    n = max(1, len(kept))
    return kept_bytes / n, reducer_bytes / n


def write_scale_section(mode: str, body: str) -> None:
    """Replace *mode*'s subsection of "## Scale" in BENCHMARKS.md, keep the other's.

    A section without subsections (written before the worker mode existed) was a
    one-process run: it is kept as that mode's table."""
    from bench.benchmarks_md import PATH

    old = PATH.read_text() if PATH.exists() else ""
    m = re.search(r"^## Scale\n(.*?)(?=^## |\Z)", old, re.S | re.M)
    subs: dict[str, str] = {}
    if m:
        parts = re.split(r"^(### .*)$", m.group(1), flags=re.M)
        if len(parts) == 1:
            subs[MODE_ONE] = parts[0].strip()
        for head, text in zip(parts[1::2], parts[2::2], strict=True):
            subs[head.strip()] = text.strip()
    subs[mode] = body.strip()
    text = [SECTION, "", INTRO, ""]
    for head in (MODE_ONE, MODE_WORKERS):
        if head in subs:
            text += [head, "", subs[head], ""]
    write_section(SECTION.removeprefix("## "), "\n".join(text) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=1000, help="traced instances")
    ap.add_argument("--computes", type=int, default=50)
    ap.add_argument("--batch", type=int, default=50, help="instances per multi-create")
    ap.add_argument("--time-limit", type=float, default=900.0, help="seconds, whole run")
    ap.add_argument("--transport", default=None,
                    help="default: a fresh vhost on the local RabbitMQ, deleted after (an "
                         "earlier run's fanout queues live on for 30 minutes, as oslo's "
                         "do, and would be sent a copy of every update_instance_info)")
    ap.add_argument("--executor-size", type=int, default=0,
                    help="rpc server worker threads per service of this process (0: the "
                         "default, 64; conductor workers keep 64)")
    ap.add_argument("--collector-in-process", action="store_true",
                    help="run the collector as a thread of the services' process (as "
                         "before 2026-11-26: it then also competes for their GIL)")
    ap.add_argument("--conductor-workers", type=int, default=0, metavar="N",
                    help="run nova-conductor as `bootflow-conductor --workers N` (N forked "
                         "processes on the one conductor queue) instead of as a thread of "
                         "this process (0, the default)")
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default=None,
                    help="sqlite: files in the run's state folder (default with the "
                         "conductor in-process); postgresql: scratch databases on "
                         f"{redact_url(POSTGRES)}, dropped after (default with "
                         "--conductor-workers: with SQLite every process's writes queue for one "
                         "file lock)")
    ap.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = ap.parse_args(argv)
    if args.db is None:
        args.db = "postgresql" if args.conductor_workers else "sqlite"
    with contextlib.ExitStack() as stack:
        args.db_connections = {}
        if args.db == "postgresql":
            args.db_connections = stack.enter_context(scratch_postgres(uuidlib.uuid4().hex[:8]))
        if args.transport is None:
            args.transport = stack.enter_context(own_vhost(RABBIT, "bootflow-scale"))
        return run(args)


def run(args: argparse.Namespace) -> int:
    t_start = time.monotonic()
    deadline = t_start + args.time_limit
    console = Console()
    n_batches = max(1, args.instances // args.batch)
    # ABBA: on off off on on off off on ...
    order = [i % 4 in (0, 3) for i in range(2 * n_batches)]

    tag = uuidlib.uuid4().hex[:8]
    state_dir = tempfile.TemporaryDirectory(prefix="bootflow-scale-")
    per_host = max(16, 4 * args.instances // max(1, args.computes) + 8)
    config = Config.load(env={}, state_dir=state_dir.name, transport_url=args.transport,
                         virt_type="fake", control_exchange=f"scale_{tag}",
                         # one project boots them all: Stein's quotas (10 instances)
                         # would refuse the second batch, so unlimited, as an operator
                         # sets for such a project
                         quota_instances=-1, quota_cores=-1, quota_ram=-1,
                         extra={"fake_resources": {"vcpus": per_host,
                                                   "memory_mb": 1024 * per_host,
                                                   "local_gb": 2 * per_host}},
                         **args.db_connections)
    exchange = f"bootflow.scale.{tag}.trace"
    if args.collector_in_process:
        sink: Any = Sink()
        collector: Any = Collector(args.transport, sink, exchange=exchange)
    else:
        collector = sink = RemoteCollector(args.transport, exchange,
                                           os.path.join(state_dir.name, "events.jsonl"))
    emitter = BrokerEmitter(args.transport, exchange=exchange)
    counter = CountingEmitter(emitter)
    collector.start()
    rss0 = rss_mib()

    from services.messaging import transport as mtransport
    orig_init = mtransport.Transport.__init__
    if args.executor_size:  # fewer worker threads per service: 50 computes on 2 cores
        def small_executor(self: Any, *a: Any, **kw: Any) -> None:
            kw.setdefault("executor_size", args.executor_size)
            orig_init(self, *a, **kw)

        mtransport.Transport.__init__ = small_executor  # type: ignore[method-assign]
    workers: ConductorWorkers | None = None
    t0 = time.monotonic()
    if args.conductor_workers:
        from services.placement.client import local_app

        db.configure(config)   # the schema once, before N processes open it
        local_app(config.placement_database_connection)
        console.print(f"starting bootflow-conductor --workers {args.conductor_workers} …")
        workers = ConductorWorkers(config, args.conductor_workers, exchange, tag)
        workers.switch(False, timeout=120)
    console.print(f"starting {'' if workers else 'conductor, '}scheduler and "
                  f"{args.computes} computes (fake driver) on {redact_url(args.transport)} …")
    try:
        cloud = EmbeddedCloud(config, computes=tuple(f"compute{i}" for i in
                                                     range(1, args.computes + 1)),
                              transport_url=args.transport, conductor=workers is None)
    except BaseException:
        if workers is not None:
            workers.stop()
        raise

    def emitted() -> int:
        return counter.emitted + (workers.emitted if workers is not None else 0)
    startup_s = time.monotonic() - t0
    rss_started = rss_mib()
    console.print(f"  up in {startup_s:.1f}s, {threading.active_count()} threads, "
                  f"RSS {rss_started:.0f} MiB")
    batches: list[Batch] = []
    threads_max = threading.active_count()
    cpu0: dict[str, float] = {}
    cpu1: dict[str, float] = {}
    t_timed = time.monotonic()

    def cpu_now() -> dict[str, float]:
        """CPU seconds so far of each part of the run (the machine's other load apart)."""
        out = {"this process: api, scheduler, computes"
               + ("" if workers else ", conductor"): cpu_s(),
               "collector process": 0.0 if args.collector_in_process else
               cpu_s(collector.proc.pid)}
        if workers is not None:
            out["conductor workers"] = sum(cpu_s(p) for p in [workers.proc.pid,
                                                                  *workers.pids])
        if args.db_connections:
            out["PostgreSQL server (all its databases)"] = postgres_cpu_s()
        out["RabbitMQ server (all its vhosts)"] = rabbitmq_cpu_s()
        out["the machine, all processes"] = machine_busy_s()
        return out

    note = ""
    try:
        # warm-up (untimed, untraced): first hops pay imports, placement rows, queues
        warm = min(args.batch, args.computes)
        wait_final(boot_batch(cloud, "warm", warm), warm, deadline)
        time.sleep(0.5)
        cpu0 = cpu_now()
        t_timed = time.monotonic()
        for i, traced in enumerate(order):
            if time.monotonic() > deadline - 5:
                note = (f"time limit {args.time_limit:.0f}s reached after {i} of "
                        f"{len(order)} batches")
                break
            trace.set_emitter(counter if traced else None)
            if workers is not None and traced:
                workers.switch(True)
            t_b = time.monotonic()
            rid = boot_batch(cloud, f"b{i}", args.batch)
            ok = wait_final(rid, args.batch, deadline)
            flow_s = time.monotonic() - t_b
            if traced:
                wait_recorded(emitted, emitter, collector, sink, deadline)
                if workers is not None:   # off, and their final counts: all collected?
                    workers.switch(False)
                    wait_recorded(emitted, emitter, collector, sink, deadline)
                # when the batch's last event reached the collector, not when this
                # loop noticed (it waits for a quiet spell first)
                recorded_s = max(flow_s, sink.last_req_ns / 1e9 - t_b)
                trace.set_emitter(None)
            else:
                recorded_s = flow_s
                time.sleep(0.3)  # trailing casts of the untraced batch finish, untimed
            batches.append(Batch(traced, args.batch, flow_s, recorded_s, ok))
            threads_max = max(threads_max, threading.active_count())
            console.print(f"  batch {i + 1}/{len(order)} {'traced  ' if traced else 'untraced'}"
                          f" {args.batch} → {ok} active  flow {flow_s:.2f}s"
                          + (f"  recorded {recorded_s:.2f}s" if traced else ""))
    except TimeoutError as exc:
        note = f"stopped: {exc}"
    finally:
        trace.set_emitter(None)
        with contextlib.suppress(Exception):
            cpu1 = cpu_now()
        wall_s = time.monotonic() - t_timed if cpu0 else 0.0
        rss_end = rss_mib()
        conductor_rss = 0.0
        if workers is not None:
            with contextlib.suppress(Exception):
                workers.switch(False, timeout=30, need_ready=False)
            conductor_rss = workers.rss_mib()
        cloud.stop()
        if workers is not None:
            workers.stop()
        mtransport.Transport.__init__ = orig_init  # type: ignore[method-assign]
    emitter.flush(30)
    wait_deadline = time.monotonic() + 30
    while collector.received < emitted() and time.monotonic() < wait_deadline:
        time.sleep(0.05)
    emitter.close()
    collector.stop()

    on = [b for b in batches if b.traced]
    off = [b for b in batches if not b.traced]
    events = list(sink.events) if args.collector_in_process else sink.events()
    traces = request_trace_ids(events)
    started = {e["span_id"] for e in events if e["type"] == "span_start"
               and e["trace_id"] in traces}
    ended = {e["span_id"] for e in events if e["type"] == "span_end"}
    lost = len(started - ended)
    hops = hop_stats(events, traces)
    n_hops = sum(len(v) for v in hops.values())
    on_flow = sum(b.flow_s for b in on)
    on_rec = sum(b.recorded_s for b in on)
    off_flow = sum(b.flow_s for b in off)
    inst_on = sum(b.ok for b in on)
    inst_off = sum(b.ok for b in off)
    # per-instance time ratios (batches may differ in count when the limit cut a run)
    ratio_flow = (on_flow / max(1, inst_on)) / (off_flow / max(1, inst_off)) if off else 0
    ratio_rec = (on_rec / max(1, inst_on)) / (off_flow / max(1, inst_off)) if off else 0
    console.print(f"measuring collector memory per event over {len(events)} events …")
    kept_b, reducer_b = memory_per_event(events)

    summary = Table(title=f"Scale: {inst_on} traced + {inst_off} untraced instances, "
                          f"{args.computes} computes, batches of {args.batch}")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    rows: list[tuple[str, str]] = [
        ("instances/s, traced (POST → ACTIVE)", f"{inst_on / on_flow:.1f}" if on_flow else "-"),
        ("instances/s, untraced", f"{inst_off / off_flow:.1f}" if off_flow else "-"),
        ("instances/s, traced incl. recording", f"{inst_on / on_rec:.1f}" if on_rec else "-"),
        ("hops/s (rpc client spans, traced)", f"{n_hops / on_rec:.0f}" if on_rec else "-"),
        ("rpc hops per instance", f"{n_hops / max(1, inst_on):.1f}"),
        ("events emitted / collected", f"{emitted()} / {collector.received}"),
        ("events dropped by collector", str(collector.dropped)),
        ("spans lost (start without end)", str(lost)),
        ("events per instance", f"{len(events) / max(1, inst_on):.0f}"),
        ("collector memory per event (kept)", f"{kept_b:.0f} B"),
        ("reducer memory per event", f"{reducer_b:.0f} B"),
        ("RSS: start → services up → end", f"{rss0:.0f} → {rss_started:.0f} → "
                                             f"{rss_end:.0f} MiB"),
        ("tracing overhead, flow (on/off)", f"{ratio_flow:.2f}×"),
        ("tracing overhead, incl. recording", f"{ratio_rec:.2f}×"),
        ("service start-up", f"{startup_s:.1f} s"),
        ("threads while running (max)", str(threads_max)),
    ]
    if workers is not None:
        per_worker = worker_share(events, traces)
        rows += [("conductor RSS at the end (launcher + workers)", f"{conductor_rss:.0f} MiB"),
                 ("conductor messages handled per worker (traced)",
                  " / ".join(f"#{w}: {n}" for w, n in sorted(per_worker.items())) or "-")]
    booted = inst_on + inst_off
    if cpu0 and cpu1 and booted:
        for part in cpu1:
            used = cpu1[part] - cpu0.get(part, 0.0)
            rows.append((f"CPU per instance: {part}", f"{1000 * used / booted:.0f} ms"))
        machine = "the machine, all processes"
        ours = sum(cpu1[p] - cpu0.get(p, 0.0) for p in cpu1 if p != machine) / booted
        rows.append(("instances/s ceiling on idle cores (cores / CPU per instance, "
                     "parts above)", f"{os.cpu_count() or 1} / {1000 * ours:.0f} ms = "
                                     f"{(os.cpu_count() or 1) / max(ours, 1e-9):.0f}"))
        busy = cpu1[machine] - cpu0[machine]
        rows.append(("machine busy while timed (all processes)",
                     f"{busy / max(wall_s, 1e-9):.2f} of {os.cpu_count()} cores"))
        rows.append(("load average at the end (1 / 5 / 15 min)",
                     " / ".join(f"{x:.1f}" for x in os.getloadavg())))
    for r in rows:
        summary.add_row(*r)
    console.print(summary)
    hop_table = Table(title="rpc client span duration per hop kind (traced batches)")
    for col in ("method", "style", "n", "p50 ms", "p99 ms"):
        hop_table.add_column(col, justify="left" if col in ("method", "style") else "right")
    hop_rows = sorted(hops.items(), key=lambda kv: -len(kv[1]))
    for (method, style), vals in hop_rows:
        hop_table.add_row(method, style, str(len(vals)), f"{pct(vals, 50):.1f}",
                          f"{pct(vals, 99):.1f}")
    console.print(hop_table)
    if note:
        console.print(f"[yellow]{note}[/yellow]")

    if not args.no_write:
        when = dt.datetime.now().strftime("%Y-%m-%d")
        cmd = (f"`bench/scale.py --instances {args.instances} --computes {args.computes} "
               f"--batch {args.batch}"
               + (f" --conductor-workers {args.conductor_workers}" if workers else "")
               + (" --db postgresql" if args.db == "postgresql" and not workers else "")
               + "`")
        where = (f"nova-conductor as `bootflow-conductor --workers {args.conductor_workers}` "
                 f"({args.conductor_workers} forked processes on the one conductor queue, "
                 "tracing switched per batch over a fanout of the bench's own, see "
                 "bench/scale_conductor.py); this process: nova-api in-process, scheduler "
                 f"and {args.computes} fake computes as threads" if workers else
                 f"one process: conductor, scheduler and {args.computes} fake computes as "
                 "threads")
        database = ("PostgreSQL 127.0.0.1:5432, scratch databases of the run's own with "
                    "`synchronous_commit = off` (as SQLite's WAL + synchronous=NORMAL), "
                    "dropped after" if args.db == "postgresql" else
                    "SQLite files (WAL, synchronous=NORMAL)")
        md = [f"{cmd} ({when}, {os.cpu_count()} cores shared with other work: see the load "
              f"average; {where}; rpc executor {args.executor_size or 64} workers per "
              f"service; {database}; RabbitMQ, "
              "every span through BrokerEmitter → RabbitMQ → Collector"
              + (" in the same process" if args.collector_in_process else
                 " in a process of its own at nice 10, as `bootflow record` runs: same "
                 "cores, not the services' GIL") + "; services emit with "
              "`trace_linger` 0.1 s; a RabbitMQ vhost of the run's own).", "",
              "| measure | value |", "|---|---|"]
        md += [f"| {a} | {b} |" for a, b in rows]
        md += ["", "| rpc method | style | n | p50 ms | p99 ms |", "|---|---|---|---|---|"]
        md += [f"| {m} | {s} | {len(v)} | {pct(v, 50):.1f} | {pct(v, 99):.1f} |"
               for (m, s), v in hop_rows]
        if note:
            md += ["", f"Note: {note}."]
        write_scale_section(MODE_WORKERS if workers else MODE_ONE, "\n".join(md))
    state_dir.cleanup()
    ok = lost == 0 and emitted() == collector.received and not note
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
