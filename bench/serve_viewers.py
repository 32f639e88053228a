"""Classroom viewers: N browsers on `bootflow serve` while a multi-create runs.

Goal (issue 12): 30 browser viewers on one deployment while a multi-create of 10 runs,
each viewer's picture at most 0.5 s behind the teacher's terminal; CPU and memory per
viewer. Not a test: run it and read the table (``--write`` puts it in BENCHMARKS.md).

What is measured. A process deployment (virt test, its own RabbitMQ vhost) and `bootflow
serve` as a process; N tabs of one headless Debian Chromium (DevTools protocol, background
throttling off) each open the page and get their own viewer process. Then `POST
/v2.1/servers` with min_count = max_count = 10. The picture's progress is the span count
of the boot's trace in the status line ("POST /v2.1/servers (N spans"), read every 50 ms
by a script in each page from xterm's screen buffer (what the tab shows). The reference
is the moment the k-th span of that trace reached a collector on the same trace exchange
in this process: a teacher's terminal drawing each event the instant it arrives, so the
lag is an upper bound of the lag behind the real teacher's terminal. The table gives the
median, 95th percentile and worst lag over every span and every tab, and when
each tab showed the finished picture. CPU is the viewer processes' own (and the server's)
from /proc over the multi-create window; memory is their RSS at the end. The browser's
cost is reported apart: in a classroom it is on the students' machines, here it shares
the same cores.

    .venv/bin/python bench/serve_viewers.py [--viewers 5,10,20,30] [--count 10] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from support.devtools import Browser, Page  # noqa: E402

from bench.benchmarks_md import write_section  # noqa: E402
from tracer.cloud.api_client import APIClient  # noqa: E402
from tracer.cloud.processes import Deployment, free_port  # noqa: E402
from tracer.cloud.vhost import own_vhost  # noqa: E402
from tracer.collector import Collector  # noqa: E402

RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
SECTION = "Classroom viewers"
SPANS = re.compile(r"POST /v2\.1/servers \(([\d,]+) spans")
PAGE_PROBE = """
(() => {
  window.__bfMarks = [];
  let last = -1;
  setInterval(() => {
    const screen = window.__bfScreen ? window.__bfScreen() : null;
    if (!screen) return;
    const m = /POST \\/v2\\.1\\/servers \\(([\\d,]+) spans/.exec(screen.split("\\n", 3).join(" "));
    const n = m ? parseInt(m[1].replace(/,/g, ""), 10) : 0;
    if (n !== last) { last = n; window.__bfMarks.push([Date.now() / 1000, n]); }
  }, 50);
})();
"""
WIRE_PROBE = """
(() => {
  // when the status line's span count arrives on the websocket, before xterm draws it
  window.__bfWire = [];
  const Native = window.WebSocket, decoder = new TextDecoder();
  window.WebSocket = function (...args) {
    const socket = new Native(...args);
    socket.addEventListener("message", (e) => {
      if (typeof e.data === "string") return;
      const text = decoder.decode(new Uint8Array(e.data));
      const m = /POST \\/v2\\.1\\/servers \\(([\\d,]+) spans/.exec(text);
      if (m) window.__bfWire.push([Date.now() / 1000, parseInt(m[1].replace(/,/g, ""), 10)]);
    });
    return socket;
  };
  window.WebSocket.prototype = Native.prototype;
})();
"""
CLK = os.sysconf("SC_CLK_TCK")
BROWSER_FLAGS = ("--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows")


def descendants(pid: int) -> list[int]:
    """Every process under *pid* (from /proc: parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def is_viewer(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"--viewer" in cmd and any(c.endswith(b"python") or b"python3" in c for c in cmd)


def _health(base: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as resp:
            found: dict[str, Any] = json.load(resp)
            return found
    except OSError:
        return None


class Teacher:
    """The reference: when each span of each trace reached a collector on the trace
    exchange (a teacher's terminal that would draw every event the instant it came)."""

    def __init__(self, transport: str, exchange: str) -> None:
        self.collector = Collector(transport, self.on_event, exchange=exchange)
        self.arrived: dict[str, list[float]] = {}  # trace id → arrival time of each new span
        self.roots: dict[str, str] = {}  # trace id → root span name
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def on_event(self, event: dict[str, Any]) -> None:
        """The collector's thread: note when each span of each trace first arrived."""
        now = time.time()
        span, trace = str(event.get("span_id")), str(event.get("trace_id"))
        with self._lock:
            if span not in self._seen:
                self._seen.add(span)
                self.arrived.setdefault(trace, []).append(now)
            if event.get("type") == "span_start" and not event.get("parent_id"):
                self.roots[trace] = str(event.get("name"))

    def event_marks(self) -> list[tuple[float, int]]:
        """(arrival time, span count) of the multi-create's trace: the picture of a
        terminal that would draw each event the moment it arrives."""
        with self._lock:
            boots = [t for t, name in self.roots.items() if name == "POST /v2.1/servers"]
            if not boots:
                return []
            times = list(self.arrived[boots[-1]])
        return [(t, i + 1) for i, t in enumerate(times)]

    def count(self) -> int:
        marks = self.event_marks()
        return marks[-1][1] if marks else 0


TEACHER_CODE = """
import asyncio, sys, time
from tracer.collector import Collector
from tracer.tui import BootflowApp, PushSource

async def main(url: str, exchange: str) -> None:
    source = PushSource()
    app = BootflowApp(source, mode="live")
    collector = Collector(url, source, exchange=exchange)
    last = -1
    try:
        async with app.run_test(size=(155, 45)):
            collector.start()
            print("ready", flush=True)
            while True:
                snap = app.snapshot
                trace = snap.traces.get(snap.latest_trace() or "")
                n = trace.n_spans if trace and trace.root_name == "POST /v2.1/servers" else 0
                if n != last:
                    last = n
                    print(f"{time.time()} {n}", flush=True)
                await asyncio.sleep(0.02)
    finally:
        collector.stop()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


class TeacherApp:
    """`bootflow tui` (live) in a process of its own with Textual's headless driver: the
    teacher's terminal, less the writing to a real terminal. Prints (time, span count)
    whenever its picture's count of the boot trace changes."""

    def __init__(self, transport: str, exchange: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", TEACHER_CODE, transport, exchange],
                                     cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the teacher's app did not start: {line!r}")

    def stop(self) -> list[tuple[float, int]]:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=30)
        marks = []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2:
                marks.append((float(parts[0]), int(parts[1])))
        return marks


def lags(teacher: list[tuple[float, int]], viewer: list[tuple[float, int]]) -> list[float]:
    """For each step of the teacher's picture: when the viewer first showed as much, minus
    when the teacher did (inf if it never did)."""
    out = []
    for t_at, n in teacher:
        if n <= 0:
            continue
        seen = [t for t, m in viewer if m >= n]
        out.append(min(seen) - t_at if seen else float("inf"))
    return out


async def run_once(n_viewers: int, count: int, dep: Deployment, transport: str,
                   exchange: str) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = subprocess.Popen(
        [sys.executable, "-m", "tracer.cli", "serve", "--state-dir", str(dep.state_dir),
         "--port", str(port), "--max-sessions", str(n_viewers + 1)], cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    teacher = Teacher(transport, exchange)
    teacher_app: TeacherApp | None = None
    try:
        while _health(base) is None:
            await asyncio.sleep(0.2)
        await asyncio.to_thread(teacher.collector.start)
        teacher_app = await asyncio.to_thread(TeacherApp, transport, exchange)
        async with Browser(extra_flags=BROWSER_FLAGS) as browser:
            pages: list[Page] = []
            t_open = time.monotonic()
            for _ in range(n_viewers):
                page = await browser.open(base + "/", before_load=WIRE_PROBE)
                pages.append(page)
            for page in pages:
                await page.wait_screen(lambda s: "VIEWER" in s and "conductor" in s, 600,
                                       "a viewer's first picture", poll=0.5)
            opened_s = time.monotonic() - t_open
            await asyncio.sleep(3.0)  # let the start-up pictures settle
            for page in pages:
                await page.evaluate(PAGE_PROBE)
            viewer_pids = [p for p in descendants(serve.pid) if is_viewer(p)]
            browser_pids = [browser.process.pid, *descendants(browser.process.pid)] \
                if browser.process else []
            cpu0 = {p: cpu_s(p) for p in [serve.pid, *viewer_pids, *browser_pids]}
            t0 = time.monotonic()
            api = APIClient(dep.endpoint())
            status, body = await asyncio.to_thread(api.request, "POST", "/v2.1/servers", {
                "server": {"name": "bench", "flavorRef": "m1.tiny",
                           "imageRef": "bootflow-guest", "min_count": count,
                           "max_count": count, "return_reservation_id": False}})
            assert status == 202, body

            def active() -> int:
                _, listing = api.request("GET", "/v2.1/servers/detail")
                return sum(1 for s in listing.get("servers", [])
                           if s["name"].startswith("bench") and s["status"] == "ACTIVE")
            while await asyncio.to_thread(active) < count:
                if time.monotonic() - t0 > 300:
                    raise RuntimeError("the multi-create did not finish in 300 s")
                await asyncio.sleep(0.5)
            # quiet: the teacher's picture stops moving, then every page catches up
            while True:
                before = teacher.count()
                await asyncio.sleep(2.0)
                if teacher.count() == before:
                    break
            final = teacher.count()
            deadline = time.monotonic() + 30
            marks: list[list[tuple[float, int]]] = []
            while True:
                marks = [[(float(t), int(m)) for t, m in
                          await page.evaluate("window.__bfMarks")] for page in pages]
                if all(mk and mk[-1][1] >= final for mk in marks) or \
                        time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            window = time.monotonic() - t0
            wires = [[(float(t), int(m)) for t, m in
                      await page.evaluate("window.__bfWire || []")] for page in pages]
            cpu = {p: cpu_s(p) - cpu0.get(p, 0.0) for p in cpu0}
            viewer_rss = [rss_mb(p) for p in viewer_pids]
            browser_rss = sum(rss_mb(p) for p in browser_pids)
            shot = REPO / "build" / "test-artifacts" / f"bench-viewer-{n_viewers}.png"
            await pages[-1].screenshot(shot)
    finally:
        teacher.collector.stop()
        app_marks = await asyncio.to_thread(teacher_app.stop) if teacher_app else []
        serve.terminate()
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
        for server in await asyncio.to_thread(
                lambda: APIClient(dep.endpoint()).request("GET", "/v2.1/servers")[1]
                .get("servers", [])):
            await asyncio.to_thread(APIClient(dep.endpoint()).request, "DELETE",
                                    f"/v2.1/servers/{server['id']}")
    events = teacher.event_marks()
    final = events[-1][1] if events else final
    all_lags = [x for mk in marks for x in lags(events, mk)]
    finite = sorted(x for x in all_lags if x != float("inf"))
    t_final = events[-1][0]
    behind_final = [min((t for t, n in mk if n >= final), default=float("inf")) - t_final
                    for mk in marks]

    vs_app = sorted(x for mk in marks for x in lags(app_marks, mk))
    app_final = min((t for t, n in app_marks if n >= final), default=float("inf"))
    wire_final = [min((t for t, n in w if n >= final), default=float("inf")) - app_final
                  for w in wires]
    n_viewer_procs = max(1, len(viewer_pids))
    return {
        "viewers": n_viewers, "viewer_procs": len(viewer_pids), "opened_s": opened_s,
        "window_s": window, "final_spans": final, "steps": len(events),
        "lag_p50": statistics.median(finite) if finite else float("nan"),
        "lag_p95": finite[int(0.95 * (len(finite) - 1))] if finite else float("nan"),
        "lag_max": max(all_lags) if all_lags else float("nan"),
        "final_max": max(behind_final),
        "app_p95": vs_app[int(0.95 * (len(vs_app) - 1))] if vs_app else float("nan"),
        "app_final_max": max(min((t for t, n in mk if n >= final), default=float("inf"))
                             - app_final for mk in marks),
        "app_behind_events": app_final - t_final,
        "wire_final_max": max(wire_final),
        "within_05": sum(1 for b in behind_final if b <= 0.5),
        "viewer_cpu_pct": 100 * sum(cpu[p] for p in viewer_pids) / window / n_viewer_procs,
        "server_cpu_pct": 100 * cpu[serve.pid] / window,
        "viewer_rss_mb": statistics.mean(viewer_rss) if viewer_rss else float("nan"),
        "browser_cpu_pct": 100 * sum(cpu[p] for p in browser_pids) / window,
        "browser_rss_mb": browser_rss,
    }


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally: down
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--viewers", default="5,10,20,30",
                    help="comma-separated viewer counts, one run each (default 5,10,20,30)")
    ap.add_argument("--count", type=int, default=10, help="instances in the multi-create")
    ap.add_argument("--write", action="store_true", help="write the table to BENCHMARKS.md")
    ap.add_argument("--nice", type=int, default=0,
                    help="niceness for the whole run (deployment, server, viewers, browser); "
                    "e.g. -10 on a machine shared with other work (root)")
    args = ap.parse_args()
    if args.nice:
        os.nice(args.nice)
    counts = [int(x) for x in args.viewers.split(",") if x.strip()]
    rows: list[dict[str, Any]] = []
    state = tempfile.TemporaryDirectory(prefix="bootflow-bench-serve-")
    with own_vhost(RABBIT, "bf-bench-serve") as transport:
        dep = Deployment(Path(state.name) / "state")
        exchange = "bf-bench-serve.trace"
        cfg = dep.make_config(transport_url=transport, virt_type="test", api_port=free_port(),
                              placement_port=free_port(), control_exchange="bf-bench-serve",
                              report_interval=10, service_down_time=60)
        dep.up(cfg, computes=2, trace_exchange=exchange)
        try:
            for n in counts:
                print(f"{n} viewers …", flush=True)
                try:
                    row = asyncio.run(run_once(n, args.count, dep, transport, exchange))
                except Exception as exc:  # a size the machine cannot take: say so, go on
                    print(f"  failed: {exc!r}", flush=True)
                    rows.append({"viewers": n, "error": repr(exc)[:200]})
                    continue
                print("  " + json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                         for k, v in row.items()}), flush=True)
                rows.append(row)
        finally:
            dep.down(timeout=20)
    state.cleanup()
    md = table(rows, args.count, nice=os.nice(0))
    print(md)
    if args.write:
        write_section(SECTION, md + "\n")
    return 0


def table(rows: list[dict[str, Any]], count: int, nice: int = 0) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"## {SECTION}",
        "",
        f"`bench/serve_viewers.py`, {dt.date.today().isoformat()}: N browser tabs on "
        "`bootflow serve` (one headless Debian Chromium, one viewer process per tab) watch "
        f"a process deployment (virt test, 2 computes) while a multi-create of {count} "
        "runs. Lag: when a tab's status line first showed the boot trace's span count, "
        "minus when that many spans of the trace had reached a collector on the same trace "
        "exchange, i.e. the lag behind a teacher's terminal that drew every event the "
        "instant it arrived (an upper bound of the lag behind a real one); over every span "
        "of the flow and every tab. 'final': the same for the finished picture. The "
        "teacher's app: `bootflow tui` (live) in a process of its own with Textual's "
        "headless driver, its picture's span count sampled every 20 ms; the viewers' lag "
        "behind it is measured the same way (this is the goal's measure). 'On the wire': "
        "when the finished status line reached each tab's websocket (a script wrapping "
        "the page's WebSocket), before xterm.js parsed and drew it, minus when the "
        "teacher's app showed it: the lag of the server side alone. "
        "CPU: % of one core over the multi-create window, and CPU seconds per viewer "
        "process for the whole multi-create; memory: RSS "
        "at the end. The browser is apart (summed over its processes, shared pages "
        "counted in each): in a classroom it runs on the students' machines. Machine: "
        f"{os.cpu_count()} cores shared with other work (load average {load:.1f} at the end "
        f"of the run{f', the whole run at nice {nice}' if nice else ''}).",
        "",
        "| viewers | lag p50 | lag p95 | lag max | final max | final ≤ 0.5 s | "
        "teacher's app: final behind events | viewers behind it: p95 / final max | "
        "on the wire: final max behind it | "
        "CPU / viewer | CPU s / viewer | RSS / viewer | serve CPU | browser CPU | "
        "browser RSS |",
        "|" + " --- |" * 15,
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['viewers']} | failed: {r['error']} |" + " |" * 13)
            continue
        lines.append(
            f"| {r['viewers']} | {r['lag_p50']:.2f} s | {r['lag_p95']:.2f} s | "
            f"{r['lag_max']:.2f} s | {r['final_max']:.2f} s | "
            f"{r['within_05']}/{r['viewers']} | "
            f"{r.get('app_behind_events', float('nan')):.2f} s | "
            f"{r.get('app_p95', float('nan')):.2f} s / "
            f"{r.get('app_final_max', float('nan')):.2f} s | "
            f"{r.get('wire_final_max', float('nan')):.2f} s | {r['viewer_cpu_pct']:.0f} % | "
            f"{r['viewer_cpu_pct'] * r['window_s'] / 100:.2f} s | "
            f"{r['viewer_rss_mb']:.0f} MB | {r['server_cpu_pct']:.0f} % | "
            f"{r['browser_cpu_pct']:.0f} % | {r['browser_rss_mb']:.0f} MB |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
