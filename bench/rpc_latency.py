"""RPC latency over RabbitMQ: bootflow vs real oslo.messaging vs a bare kombu floor.

One run measures, for each stack, call round-trip p50/p99 (sequential calls after a
warm-up) and cast throughput (msgs/s until the server has them all), prints a table and
replaces the "RPC latency" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kombu
from benchmarks_md import write_section
from rich.console import Console
from rich.table import Table

URL = os.environ.get("BOOTFLOW_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")
ROOT = Path(__file__).resolve().parent.parent
Result = dict[str, float]
Raw = dict[str, Any]


class Counter:
    """The endpoint: echo for calls, count for casts."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.n = 0
        self.want = 0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def echo(self, ctxt: Any, value: Any) -> Any:
        return value

    def tick(self, ctxt: Any, value: Any) -> None:
        with self._lock:
            self.n += 1
            if self.n >= self.want:
                self.done.set()


def measure(call: Callable[[int], Any], cast: Callable[[int], Any], ep: Counter,
            n: int, casts: int, warmup: int) -> Raw:
    for i in range(warmup):
        call(i)
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        call(i)
        lat.append(time.perf_counter() - t0)
    ep.n, ep.want = 0, casts
    ep.done.clear()
    t0 = time.perf_counter()
    for i in range(casts):
        cast(i)
    if not ep.done.wait(120):
        raise RuntimeError(f"only {ep.n}/{casts} casts arrived")
    elapsed = time.perf_counter() - t0
    return {"lat": lat, "casts": casts / elapsed}


def summarize(parts: list[dict[str, Any]]) -> Result:
    """Pool the call latencies of all rounds; casts/s is the median of the rounds."""
    lat = sorted(x for p in parts for x in p["lat"])
    return {"p50": statistics.median(lat) * 1e3, "p99": lat[int(len(lat) * 0.99) - 1] * 1e3,
            "casts": statistics.median(p["casts"] for p in parts)}


def bench_bootflow(n: int, casts: int, warmup: int, traced: bool = False) -> Raw:
    """bootflow with tracing off (as the other stacks), or with a ListEmitter on."""
    from services.messaging import RPCClient, Target, get_rpc_server, get_transport
    from tracer.instrument import api as trace
    from tracer.instrument.emitter import ListEmitter

    trace.set_emitter(ListEmitter() if traced else None)
    tag = uuid.uuid4().hex[:8]  # queues are per vhost, not per exchange: unique names
    tr = get_transport(URL, control_exchange=f"bench_{tag}")
    ep = Counter(Target(version="1.0"))
    srv = get_rpc_server(tr, Target(topic=f"bench_{tag}", server="h"), [ep],
                         service="bench-server" if traced else None, host="h")
    srv.start()
    c = RPCClient(tr, Target(topic=f"bench_{tag}", version="1.0"), timeout=30)
    try:
        return measure(lambda i: c.call({}, "echo", value=i),
                       lambda i: c.cast({}, "tick", value=i), ep, n, casts, warmup)
    finally:
        srv.stop()
        srv.wait()
        tr.cleanup()
        trace.set_emitter(None)


def bench_bootflow_traced(n: int, casts: int, warmup: int) -> Raw:
    return bench_bootflow(n, casts, warmup, traced=True)


def _oslo_transport(exchange: str) -> Any:
    import oslo_messaging as om
    import oslo_messaging.opts
    from oslo_config import cfg
    from oslo_messaging._metrics import client as om_metrics
    from oslo_messaging._tracing import client as om_tracing

    conf = cfg.ConfigOpts()
    conf([], project="bootflow-bench")
    for group, opts in oslo_messaging.opts.list_opts():
        conf.register_opts(list(opts), group=group)
    conf.register_opts(om_tracing.oslo_messaging_tracing, group="oslo_messaging_tracing")
    conf.register_opts(om_metrics.oslo_messaging_metrics, group="oslo_messaging_metrics")
    conf.set_override("control_exchange", exchange)
    conf.set_override("tracing_enabled", False, group="oslo_messaging_tracing")  # as bootflow
    return om.get_rpc_transport(conf, url=URL)


def bench_oslo(n: int, casts: int, warmup: int) -> Raw:
    import warnings

    import oslo_messaging as om

    warnings.simplefilter("ignore")
    exchange = f"bench_{uuid.uuid4().hex[:8]}"
    s_tr, c_tr = _oslo_transport(exchange), _oslo_transport(exchange)
    ep = Counter(om.Target(version="1.0"))
    srv = om.get_rpc_server(s_tr, om.Target(topic=exchange, server="h"), [ep],
                            executor="threading")
    srv.start()
    c = om.get_rpc_client(c_tr, om.Target(topic=exchange, version="1.0"), timeout=30)
    try:
        c.prepare(timeout=30).call({}, "echo", value=0)
        return measure(lambda i: c.call({}, "echo", value=i),
                       lambda i: c.cast({}, "tick", value=i), ep, n, casts, warmup)
    finally:
        srv.stop()
        srv.wait()
        s_tr.cleanup()
        c_tr.cleanup()


def bench_kombu(n: int, casts: int, warmup: int) -> Raw:
    """The floor: JSON request on a queue, reply on a reply queue; no framework."""
    url = URL.replace("rabbit://", "amqp://")
    tag = uuid.uuid4().hex[:8]
    req_q, reply_q = f"floor_req_{tag}", f"floor_reply_{tag}"
    ep = Counter(None)
    stop = threading.Event()
    ready = threading.Event()

    def server() -> None:
        with kombu.Connection(url) as conn:
            ch = conn.channel()
            pub = conn.channel()

            def on_message(message: Any) -> None:
                message.ack()
                req = json.loads(message.body)
                if req.get("cast"):
                    ep.tick(None, None)
                    return
                msg = pub.prepare_message(json.dumps({"result": req["v"]}), None,
                                          "application/json", "utf-8", {}, {})
                pub.basic_publish(msg, exchange="", routing_key=reply_q)

            q = kombu.Queue(req_q, auto_delete=True, durable=False)
            kombu.Consumer(ch, [q], on_message=on_message).consume()
            ready.set()
            while not stop.is_set():
                try:
                    conn.drain_events(timeout=0.2)
                except TimeoutError:
                    pass

    t = threading.Thread(target=server, daemon=True)
    t.start()
    ready.wait(10)
    conn = kombu.Connection(url)
    ch = conn.channel()
    got: list[Any] = []
    rq = kombu.Queue(reply_q, auto_delete=True, durable=False)

    def on_reply(message: Any) -> None:
        message.ack()
        got.append(message.body)

    kombu.Consumer(conn.channel(), [rq], on_message=on_reply).consume()

    def publish(body: dict[str, Any]) -> None:
        msg = ch.prepare_message(json.dumps(body), None, "application/json", "utf-8", {}, {})
        ch.basic_publish(msg, exchange="", routing_key=req_q)

    def call(i: int) -> Any:
        publish({"v": i})
        while not got:
            conn.drain_events(timeout=10)
        return got.pop()

    try:
        return measure(call, lambda i: publish({"cast": 1, "v": i}), ep, n, casts, warmup)
    finally:
        stop.set()
        t.join(5)
        conn.release()


def write_markdown(rows: dict[str, Result], n: int, casts: int, rounds: int) -> str:
    b, o, k = rows["bootflow"], rows["oslo.messaging"], rows["kombu floor"]
    vs_oslo = "met" if b["p50"] <= 0.6 * o["p50"] else "missed"
    vs_floor = "met" if b["p50"] <= 1.3 * k["p50"] else "missed"
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    machine = (f"{platform.node()}, {os.cpu_count()} cores, {platform.machine()}, "
               f"Python {platform.python_version()}, RabbitMQ at {URL.split('@')[-1]}")
    lines = [
        "## RPC latency", "",
        f"Run {now} on {machine}. `make bench` (bench/rpc_latency.py): {n} sequential calls "
        f"after warm-up, {casts} casts, per stack, in {rounds} interleaved rounds.", "",
        "| stack | call p50 ms | call p99 ms | casts/s |", "|---|---:|---:|---:|",
    ]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['p50']:.3f} | {r['p99']:.3f} | {r['casts']:.0f} |")
    lines += [
        f"| bootflow / oslo | {b['p50'] / o['p50']:.2f}x | {b['p99'] / o['p99']:.2f}x | "
        f"{b['casts'] / o['casts']:.2f}x |",
        f"| bootflow / kombu | {b['p50'] / k['p50']:.2f}x | {b['p99'] / k['p99']:.2f}x | "
        f"{b['casts'] / k['casts']:.2f}x |", "",
        f"Goal: bootflow call p50 <= 0.6x oslo's ({vs_oslo} in this run) and <= 1.3x the",
        f"kombu floor ({vs_floor} in this run). All stacks run",
        "with tracing off; the \"bootflow (traced)\" row has a ListEmitter on (spans,",
        "traceparent, envelopes) and is not part of the goal. The floor replies from its",
        "consumer thread and the caller drains its own reply connection. bootflow does the",
        "same without giving up concurrency: the server thread that reads a request runs",
        "it and then drains on, and a follower thread is promoted to drain only if that",
        "request runs longer than 10 ms (leader/follower); a lone caller drains the reply",
        "connection itself, and a caller that finds it taken gets its reply from the one",
        "draining. oslo hands each request to a worker pool and each reply from a",
        "reply-consumer thread to the caller. The machine is shared (other developers'",
        "test runs): the stacks alternate in rounds so that noise hits them all, yet the",
        "bootflow / kombu p50 ratio still varies between runs (1.1x .. 1.4x seen on",
        "2026-11-26).", "", "",
    ]
    section = "\n".join(lines)
    write_section("RPC latency", section)
    return section


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=2000, help="timed calls per stack")
    ap.add_argument("--casts", type=int, default=5000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=4,
                    help="run the stacks one after another this many times (n/rounds calls "
                         "each) so that a noisy moment on a shared machine hits them all")
    ap.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = ap.parse_args()
    stacks = (("bootflow", bench_bootflow), ("oslo.messaging", bench_oslo),
              ("kombu floor", bench_kombu), ("bootflow (traced)", bench_bootflow_traced))
    parts: dict[str, list[Raw]] = {name: [] for name, _ in stacks}
    rounds = max(1, args.rounds)
    for _ in range(rounds):
        for name, fn in stacks:
            parts[name].append(fn(max(1, args.n // rounds), max(1, args.casts // rounds),
                                  args.warmup))
    rows: dict[str, Result] = {name: summarize(p) for name, p in parts.items()}
    table = Table(title="RPC over RabbitMQ")
    for col in ("stack", "call p50 ms", "call p99 ms", "casts/s"):
        table.add_column(col, justify="left" if col == "stack" else "right")
    for name, r in rows.items():
        table.add_row(name, f"{r['p50']:.3f}", f"{r['p99']:.3f}", f"{r['casts']:.0f}")
    b, o, k = rows["bootflow"], rows["oslo.messaging"], rows["kombu floor"]
    for name, ref in (("bootflow / oslo", o), ("bootflow / kombu", k)):
        table.add_row(name, f"{b['p50'] / ref['p50']:.2f}x", f"{b['p99'] / ref['p99']:.2f}x",
                      f"{b['casts'] / ref['casts']:.2f}x", style="bold")
    Console().print(table)
    if not args.no_write:
        write_markdown(rows, args.n, args.casts, rounds)
        print(f"wrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
