"""One recording, every reader: the TUI's snapshot, each export, the scenario checks and the
headless tree name the same hops (sender, receiver, style, status).

Each reader's *output* is parsed back (Chrome flows, OTLP parent/links, Mermaid arrows,
DOT edges, the HTML page's data, the tree's hop lines), so a reader that pairs a handler
with its sender by its own rule, or names an unanswered destination its own way, fails.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tracer.export import export
from tracer.model import HopView, Replay, Snapshot, TraceState
from tracer.model.constants import RPC_STYLES, UNKNOWN
from tracer.render import render_text
from tracer.scenario.spec import check_trace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# synthetic boots (one, three) and what the embedded scenario runner recorded: a reschedule
# after a failed spawn, NoValidHost (an ERROR reply), a call nobody answered (no scheduler)
RECORDINGS = ["boot_one.jsonl", "boot_three.jsonl", "boot_real.jsonl",
              "scenario_reschedule.jsonl", "scenario_no_valid_host.jsonl",
              "scenario_call_timeout.jsonl"]

Endpoint = tuple[str, str]


def _load(name: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["format"] == "bootflow-trace"
    return [json.loads(line) for line in lines[1:] if line.strip()]


def _linked() -> list[dict[str, Any]]:
    """Handlers found only through links, arriving before their senders: a consumer whose
    parent is local work and whose first link is not a sender, a server without parent."""
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    t = 1_700_000_000_000_000_000

    def start(sid: int, name: str, ep: Endpoint, kind: str, at: int, parent: int | None = None,
              links: tuple[int, ...] = (), **attrs: Any) -> dict[str, Any]:
        return {"type": "span_start", "trace_id": trace, "span_id": f"{sid:016x}",
                "parent_id": f"{parent:016x}" if parent else None, "name": name,
                "service": ep[0], "host": ep[1], "kind": kind, "ts_ns": t + at,
                "attrs": attrs, "links": [{"trace_id": trace, "span_id": f"{lk:016x}"}
                                          for lk in links]}

    def end(sid: int, at: int, status: str = "OK") -> dict[str, Any]:
        return {"type": "span_end", "trace_id": trace, "span_id": f"{sid:016x}",
                "ts_ns": t + at, "status": status, "attrs": {}}

    api, cond, sched = ("nova-api", "api"), ("nova-conductor", "conductor"), (
        "nova-scheduler", "scheduler")
    rpc = {"rpc.version": "1.0", "rpc.namespace": "x"}
    events = [
        start(1, "POST /v2.1/servers", api, "HTTP", 0),
        start(2, "schedule_and_build_instances", api, "PRODUCER", 10, 1, **rpc,
              **{"rpc.style": "cast", "rpc.method": "schedule_and_build_instances",
                 "rpc.topic": "conductor"}),
        end(2, 20), end(1, 30),
        start(3, "poll", cond, "INTERNAL", 5),
        start(4, "schedule_and_build_instances", cond, "CONSUMER", 40, 3, links=(3, 2)),
        start(5, "select_destinations", cond, "CLIENT", 50, 4, **rpc,
              **{"rpc.style": "call", "rpc.method": "select_destinations",
                 "rpc.topic": "scheduler"}),
        start(6, "select_destinations", sched, "SERVER", 60, None, links=(5,)),
        end(6, 70, "ERROR"), end(5, 80, "ERROR"), end(4, 90), end(3, 95),
        start(7, "build_and_run_instance", cond, "PRODUCER", 85, 4, **rpc,
              **{"rpc.style": "cast", "rpc.method": "build_and_run_instance",
                 "rpc.topic": "compute", "rpc.server": "compute1"}),
        end(7, 88),
    ]
    return list(reversed(events))


@pytest.fixture(scope="module", params=[*RECORDINGS, "linked"])
def recording(request: pytest.FixtureRequest) -> tuple[list[dict[str, Any]], Snapshot]:
    """The events and the snapshot the TUI draws at the end of a replay."""
    events = _linked() if request.param == "linked" else _load(request.param)
    replay = Replay(events, checkpoint_every=25)
    replay.seek(len(events))
    replay.step(-40)  # back through a checkpoint and forward again, as a user would
    replay.seek(len(events))
    return events, replay.snapshot()


def _handled(snap: Snapshot, hop: HopView) -> frozenset[Endpoint]:
    return frozenset(snap.spans[sid].endpoint for sid in hop.server_span_ids)


def _model(snap: Snapshot) -> Counter[tuple[Any, ...]]:
    """(sender, handlers, style, method, sender status) of every rpc hop of the model."""
    return Counter((h.src, _handled(snap, h), h.style, h.method, h.status)
                   for h in snap.rpc_hops())


def _arrows(snap: Snapshot) -> Counter[tuple[Any, ...]]:
    """(sender, receiver, style, method) per arrow: a handler, or the named destination."""
    return Counter((h.src, r, h.style, h.method) for h in snap.rpc_hops() for r in h.receivers)


def test_the_tui_live_and_replayed_see_the_same_hops(
        recording: tuple[list[dict[str, Any]], Snapshot]) -> None:
    events, replayed = recording
    live = TraceState()
    for event in events:  # the collector hands events one by one
        live.feed(event)
        if event.get("type") == "span_end":
            live.snapshot()  # frames in between must not change the end result
    assert live.snapshot().hops == replayed.hops
    hops = replayed.rpc_hops()
    assert hops, "a recording without rpc hops proves nothing"
    for hop in hops:
        client = replayed.spans[hop.client_span_id]
        assert hop.src == client.endpoint and hop.status == client.status
        if hop.server_span_ids:
            assert hop.receivers == tuple(dict.fromkeys(
                replayed.spans[s].endpoint for s in hop.server_span_ids))
        else:
            assert len(hop.receivers) == 1


def test_chrome_flows_and_slices(recording: tuple[list[dict[str, Any]], Snapshot]) -> None:
    events, snap = recording
    doc = json.loads(export(events, "chrome"))["traceEvents"]
    service = {e["pid"]: e["args"]["name"] for e in doc if e["name"] == "process_name"}
    host = {(e["pid"], e["tid"]): re.sub(r" \(\d+\)$", "", e["args"]["name"])
            for e in doc if e["name"] == "thread_name"}

    def ep(e: dict[str, Any]) -> Endpoint:
        return (service[e["pid"]], host[(e["pid"], e["tid"])])

    starts = {e["id"]: e for e in doc if e["ph"] == "s"}
    flows = Counter((ep(starts[e["id"]]), ep(e), e["cat"].removeprefix("rpc."), e["name"])
                    for e in doc if e["ph"] == "f" and e["cat"] != "rpc.reply")
    assert flows == Counter((h.src, snap.spans[s].endpoint, h.style, h.method)
                            for h in snap.rpc_hops() for s in h.server_span_ids)
    senders = Counter((ep(e), e["args"]["rpc.style"], e["args"]["rpc.method"],
                       e["args"]["status"])
                      for e in doc if e["ph"] == "X"
                      and e["args"]["span.kind"] in ("CLIENT", "PRODUCER")
                      and e["args"].get("rpc.style") in RPC_STYLES)
    assert senders == Counter((h.src, h.style, h.method, h.status) for h in snap.rpc_hops())


def test_otlp_parents_and_links(recording: tuple[list[dict[str, Any]], Snapshot]) -> None:
    events, snap = recording
    spans: dict[str, dict[str, Any]] = {}
    for rs in json.loads(export(events, "otlp"))["resourceSpans"]:
        res = {a["key"]: a["value"]["stringValue"] for a in rs["resource"]["attributes"]}
        for sp in rs["scopeSpans"][0]["spans"]:
            attrs = {a["key"]: next(iter(a["value"].values())) for a in sp["attributes"]}
            spans[sp["spanId"]] = {**sp, "ep": (res["service.name"], res["host.name"]),
                                   "attrs": attrs}
    sending = {3, 4}  # CLIENT, PRODUCER
    handlers: dict[str, set[Endpoint]] = {}
    for sp in spans.values():
        if sp["kind"] not in (2, 5):  # SERVER, CONSUMER
            continue
        refs = [sp.get("parentSpanId")] + [lk["spanId"] for lk in sp.get("links", ())]
        sender = next((r for r in refs if r in spans and spans[r]["kind"] in sending), None)
        if sender is not None:
            handlers.setdefault(sender, set()).add(sp["ep"])
    status = {0: "UNSET", 1: "OK", 2: "ERROR"}
    got = Counter((sp["ep"], frozenset(handlers.get(sid, ())), sp["attrs"]["rpc.style"],
                   sp["attrs"].get("rpc.method", sp["name"]), status[sp["status"]["code"]])
                  for sid, sp in spans.items()
                  if sp["kind"] in sending and sp["attrs"].get("rpc.style") in RPC_STYLES)
    assert got == _model(snap)


def test_mermaid_arrows(recording: tuple[list[dict[str, Any]], Snapshot]) -> None:
    events, snap = recording
    text = export(events, "mermaid")
    label = dict(re.findall(r"^    participant (\w+) as (.+)$", text, re.M))
    arrow = re.compile(r"^    (\w+)(?:->>|-\))(\w+): (.+?) \((call|cast|fanout), [^)]*\)$", re.M)

    def service(pid: str) -> str:
        return label[pid].split(" (")[0]

    got = Counter((service(a), service(b), style, method)
                  for a, b, method, style in arrow.findall(text))
    assert got == Counter((src[0], dst[0], style, method)
                          for src, dst, style, method in _arrows(snap).elements())
    # a call that ended unanswered is a note on its caller, with its status
    notes = Counter(re.findall(r"^    Note over (\w+): (\S+): ", text, re.M))
    assert Counter((service(p), m) for p, m in notes.elements()) == Counter(
        (h.src_service, h.method) for h in snap.rpc_hops()
        if h.style == "call" and not h.server_span_ids and h.done_ns is not None)


def test_dot_edges(recording: tuple[list[dict[str, Any]], Snapshot]) -> None:
    events, snap = recording
    text = export(events, "dot")
    nodes = {n: tuple(lab.split("\\n")) for n, lab in
             re.findall(r'^    (n\d+) \[label="([^"]*)"\];$', text, re.M)}
    got: Counter[tuple[Any, ...]] = Counter()
    for a, b, lab in re.findall(r'^  (n\d+) -> (n\d+) \[label="([^"]*)"', text, re.M):
        head, style_version = lab.split("\\n")
        method, _, times = head.partition(" ×")
        got[(nodes[a], nodes[b], style_version.split()[0], method)] += int(times or 1)
    assert got == _arrows(snap)


def test_html_data(recording: tuple[list[dict[str, Any]], Snapshot]) -> None:
    events, snap = recording
    page = export(events, "html")
    data = json.loads(re.search(r'id="bootflow-data">(.*?)</script>', page, re.S)[1])
    spans = {s["id"]: s for s in data["spans"]}

    def where(sid: str) -> Endpoint:
        return (spans[sid]["service"], spans[sid]["host"])

    got = Counter((where(h["client"]), frozenset(where(s) for s in h["servers"]),
                   h["style"], h["label"].split(" (")[0], spans[h["client"]]["status"])
                  for h in data["hops"] if h["style"] != "http")
    assert got == _model(snap)
    # every span sits in its own trace's rows, once
    assert sorted(spans) == sorted(snap.spans)
    assert all(data["traces"][s["trace"]]["id"] == snap.spans[sid].trace_id
               for sid, s in spans.items())


def _shown(ep: Endpoint) -> str:
    """How the headless tree names an endpoint (``compute1``, ``conductor@node7``)."""
    short = ep[0].removeprefix("nova-")
    if ep[1] == UNKNOWN:
        return short
    return ep[1] if ep[1].startswith(short) else f"{short}@{ep[1]}"


def test_headless_tree(recording: tuple[list[dict[str, Any]], Snapshot]) -> None:
    events, snap = recording
    text = render_text(events, width=400, compact=False)
    line = re.compile(r"\[(call|cast|fanout)\] (\S+)(?: v\S+)?(?: \(\w+\))?  (\S+) → (.+?)  "
                      r"(?:[\d.]+ ms|open)(.*)$")
    got = Counter((m[3], tuple(m[4].split(", ")), m[1], m[2], "ERROR" in m[5])
                  for m in (line.search(row) for row in text.splitlines()) if m)
    assert got == Counter((_shown(h.src), tuple(dict.fromkeys(_shown(r) for r in h.receivers)),
                           h.style, h.method, h.status == "ERROR") for h in snap.rpc_hops())


def _expected(hops: Iterable[HopView]) -> list[dict[str, Any]]:
    """The hops as a scenario file would expect them: ``to`` names the first receiver's
    host, or its service when nobody answered and no server was named."""
    out = []
    for h in hops:
        service, host = h.receivers[0]
        want: dict[str, Any] = {"method": h.method, "style": h.style, "from": h.src_host,
                                "to": host if host != UNKNOWN else service}
        if h.status in ("OK", "ERROR"):
            want["status"] = h.status
        out.append(want)
    return out


def test_scenario_checks(recording: tuple[list[dict[str, Any]], Snapshot]) -> None:
    events, snap = recording
    expect = _expected(snap.rpc_hops())
    checks = check_trace({"hops": expect, "counts": [{**w, "exactly": sum(
        1 for o in expect if o == w)} for w in expect]}, events)
    failed = [c.line() for c in checks if not c.ok]
    assert checks and not failed, "\n".join(failed)
    # and the checker is not blind: the opposite status or another receiver fails
    for want in expect:
        if "status" in want:
            flipped = {**want, "status": "OK" if want["status"] == "ERROR" else "ERROR"}
            (count,) = check_trace({"counts": [{**flipped, "exactly": 0}]}, events)
            others = [o for o in expect if o == flipped]
            assert count.ok == (not others), count.line()
    (wrong,) = check_trace({"hops": [{**expect[0], "to": "nowhere"}]}, events)
    assert not wrong.ok


def test_the_pairing_rule_and_the_unanswered_name() -> None:
    """Parent first, else the first link that is a sending span, whatever the arrival
    order; nobody answered: Nova's binary for the topic on the addressed server."""
    events = _linked()
    for order in (events, list(reversed(events))):
        state = TraceState()
        state.feed_all(order)
        hops = {h.method: h for h in state.snapshot().rpc_hops()}
        assert hops["schedule_and_build_instances"].server_span_ids == (f"{4:016x}",)
        assert hops["select_destinations"].server_span_ids == (f"{6:016x}",)
        assert hops["select_destinations"].receivers == (("nova-scheduler", "scheduler"),)
        assert (hops["select_destinations"].status, hops["select_destinations"].state) == (
            "ERROR", "error")
        build = hops["build_and_run_instance"]
        assert build.server_span_ids == () and build.state == "in_flight"
        assert build.receivers == (("nova-compute", "compute1"),)
