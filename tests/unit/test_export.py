"""Exporters, checked against the tools' own parsers where one exists (protobuf, Graphviz)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support.trace_fixtures import TraceBuilder, boot_flow, truncated

from tracer.export import FORMATS, ExportError, export
from tracer.export.spans import read

EVIL = '</script><script>alert("x")</script><img src=x onerror=alert(1)> & //evil.example'


@pytest.fixture
def events() -> list[dict]:
    return boot_flow()


# --- dispatch and input errors -------------------------------------------------------------

def test_formats_and_dispatch(events: list[dict]) -> None:
    assert FORMATS == ("chrome", "otlp", "mermaid", "dot", "html")
    for fmt in FORMATS:
        assert export(events, fmt).strip()


@pytest.mark.parametrize(
    ("bad", "fmt", "needle"),
    [
        ([], "chrome", "no span or annotation events"),
        ("not a list", "otlp", "list of event dicts"),
        ([42], "dot", "event 0 is a int"),
        ([{"type": "span_start", "span_id": "1"}], "mermaid", "missing field 'ts_ns'"),
        ([{"type": "span_end", "span_id": "a", "ts_ns": "soon"}], "html", "bad value"),
    ],
)
def test_unusable_input_raises_clear_error(bad: object, fmt: str, needle: str) -> None:
    with pytest.raises(ExportError, match=re.escape(needle)):
        export(bad, fmt)  # type: ignore[arg-type]


def test_unknown_format_names_the_choices(events: list[dict]) -> None:
    with pytest.raises(ExportError, match="unknown export format 'pdf'.*chrome, otlp"):
        export(events, "pdf")


def test_otlp_rejects_ids_that_are_not_hex(events: list[dict]) -> None:
    events[1] = {**events[1], "span_id": "not-hex"}
    with pytest.raises(ExportError, match="not a valid 16-hex-digit"):
        export(events, "otlp")


# --- folding -------------------------------------------------------------------------------

def test_fold_pairs_starts_ends_and_annotations(events: list[dict]) -> None:
    folded = read(list(reversed(events)) + events[:5])  # out of order, duplicated
    assert len(folded.spans) == sum(e["type"] == "span_start" for e in events)
    assert all(s.finished for s in folded.spans)
    build = [s for s in folded.spans if s.kind == "CONSUMER" and s.service == "nova-compute"]
    states = [a.label() for a in build[0].annotations]
    assert states == ["building/-", "building/networking", "building/block_device_mapping",
                      "building/spawning", "active/-"]
    styles = [(h.method, h.style) for h in folded.hops]
    assert styles.count(("object_action", "call")) == 5
    fan = [h for h in folded.hops if h.style == "fanout"][0]
    assert {d[1] for d in fan.receivers} == {"scheduler1", "scheduler2"}


def test_unfinished_spans_end_at_last_timestamp_and_are_marked(events: list[dict]) -> None:
    # cut inside the scheduler's filters: HTTP done, conductor waiting in select_destinations
    cut = truncated(events, [e.get("name") for e in events].index("RetryFilter") + 1)
    folded = read(cut)
    last = max(e["ts_ns"] for e in cut)
    open_spans = [s for s in folded.spans if not s.finished]
    assert {(s.name, s.kind) for s in open_spans} == {
        ("schedule_and_build_instances", "CONSUMER"), ("select_destinations", "CLIENT"),
        ("select_destinations", "SERVER"), ("RetryFilter", "INTERNAL")}
    for span in open_spans:
        assert span.end_ns == last
        assert span.attrs["bootflow.unfinished"] is True
    for fmt in FORMATS:
        assert export(cut, fmt)
    chrome = json.loads(export(cut, "chrome"))["traceEvents"]
    assert any("unfinished" in e.get("cat", "") for e in chrome if e["ph"] == "X")


# --- OTLP ----------------------------------------------------------------------------------

def _hex_to_b64(doc: object) -> object:
    """The plain protobuf JSON mapping wants bytes as base64; OTLP/JSON uses hex."""
    if isinstance(doc, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode()
                    if k in ("traceId", "spanId", "parentSpanId") else _hex_to_b64(v))
                for k, v in doc.items()}
    if isinstance(doc, list):
        return [_hex_to_b64(v) for v in doc]
    return doc


def test_otlp_validates_against_the_official_protobuf(events: list[dict]) -> None:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    text = export(events, "otlp")
    json_format.Parse(text, ExportTraceServiceRequest())  # OTLP/JSON as written: hex ids
    doc = json.loads(text)
    for rs in doc["resourceSpans"]:
        for sp in rs["scopeSpans"][0]["spans"]:
            assert re.fullmatch(r"[0-9a-f]{32}", sp["traceId"])
            assert re.fullmatch(r"[0-9a-f]{16}", sp["spanId"])
            assert isinstance(sp["startTimeUnixNano"], str)
    req = json_format.Parse(json.dumps(_hex_to_b64(doc)), ExportTraceServiceRequest())

    spans = []
    services = {}
    for rs in req.resource_spans:
        res = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
        assert rs.scope_spans[0].scope.name == "bootflow"
        for sp in rs.scope_spans[0].spans:
            spans.append(sp)
            services[sp.span_id] = (res["service.name"], res["host.name"])
    assert len(spans) == sum(e["type"] == "span_start" for e in events)
    by_id = {sp.span_id: sp for sp in spans}
    assert all(len(sp.trace_id) == 16 and len(sp.span_id) == 8 for sp in spans)
    kinds = [sp.kind for sp in spans]
    assert kinds.count(Span.SPAN_KIND_CLIENT) == 6  # select_destinations + 5 object_action
    assert kinds.count(Span.SPAN_KIND_SERVER) == 7  # the 6 handlers + the HTTP request
    assert kinds.count(Span.SPAN_KIND_PRODUCER) == 3
    assert kinds.count(Span.SPAN_KIND_CONSUMER) == 4  # fanout reached two schedulers
    for sp in spans:
        if sp.kind == Span.SPAN_KIND_SERVER and sp.parent_span_id:
            assert by_id[sp.parent_span_id].kind == Span.SPAN_KIND_CLIENT
            assert by_id[sp.parent_span_id].name == sp.name
        if sp.kind == Span.SPAN_KIND_CONSUMER:
            assert by_id[sp.parent_span_id].kind == Span.SPAN_KIND_PRODUCER
            assert [lk.span_id for lk in sp.links] == [sp.parent_span_id]
        assert sp.status.code == Status.STATUS_CODE_OK
        assert sp.end_time_unix_nano >= sp.start_time_unix_nano
    sel = [sp for sp in spans if sp.name == "select_destinations"
           and sp.kind == Span.SPAN_KIND_SERVER][0]
    assert services[sel.span_id] == ("nova-scheduler", "scheduler1")
    attrs = {kv.key: kv.value for kv in sel.attributes}
    assert attrs["rpc.version"].string_value == "4.5"
    assert attrs["messaging.message.body.size"].int_value > 0
    assert "rpc.namespace" not in attrs  # None is not a valid OTel attribute value
    build = [sp for sp in spans if sp.name == "build_and_run_instance"
             and sp.kind == Span.SPAN_KIND_CONSUMER][0]
    assert [ev.name for ev in build.events][-1] == "instance.state active/-"
    battrs = {kv.key: kv.value.string_value for kv in build.attributes}
    assert battrs["messaging.rabbitmq.destination.routing_key"] == "compute.compute1"


# --- Chrome / Perfetto ---------------------------------------------------------------------

def test_chrome_trace_event_format(events: list[dict]) -> None:
    doc = json.loads(export(events, "chrome"))
    assert doc["displayTimeUnit"] == "ms"
    evs = doc["traceEvents"]
    procs = {e["pid"]: e["args"]["name"] for e in evs if e["name"] == "process_name"}
    assert sorted(procs.values()) == ["nova-api", "nova-compute", "nova-conductor",
                                      "nova-scheduler"]
    threads = {(procs[e["pid"]], e["args"]["name"]) for e in evs if e["name"] == "thread_name"}
    assert ("nova-scheduler", "scheduler1") in threads
    assert ("nova-scheduler", "scheduler2") in threads
    slices = [e for e in evs if e["ph"] == "X"]
    assert len(slices) == sum(e["type"] == "span_start" for e in events)
    assert all(e["dur"] >= 0 and isinstance(e["args"], dict) for e in slices)
    sel = [e for e in slices if e["name"] == "select_destinations"
           and e["args"]["span.kind"] == "SERVER"][0]
    assert sel["args"]["rpc.version"] == "4.5"
    instants = [e for e in evs if e["ph"] == "i"]
    assert sum(e["cat"] == "instance.state" for e in instants) == 6

    starts: dict[tuple, dict] = {}
    finishes: dict[tuple, dict] = {}
    for e in evs:
        if e["ph"] == "s":
            assert (e["id"], e["cat"]) not in starts
            starts[(e["id"], e["cat"])] = e
        elif e["ph"] == "f":
            assert e["bp"] == "e"
            assert (e["id"], e["cat"]) not in finishes
            finishes[(e["id"], e["cat"])] = e
    assert starts.keys() == finishes.keys()
    cats = [cat for _id, cat in starts]
    assert cats.count("rpc.call") == 6 and cats.count("rpc.reply") == 6
    assert cats.count("rpc.cast") == 2 and cats.count("rpc.fanout") == 2
    for flow in list(starts.values()) + list(finishes.values()):
        enclosing = [x for x in slices if x["pid"] == flow["pid"] and x["tid"] == flow["tid"]
                     and x["ts"] <= flow["ts"] <= x["ts"] + x["dur"]]
        assert enclosing, f"flow {flow} binds to no slice"
    for key, s in starts.items():
        assert finishes[key]["ts"] >= s["ts"]


def test_chrome_slices_nest_per_thread(events: list[dict]) -> None:
    """Perfetto drops mis-nested slices: overlapping spans must go to separate threads."""
    extra = [dict(e) for e in events if e.get("name") == "spawn"]
    for e in extra:  # a second spawn that overlaps the first one without nesting
        e["span_id"] = "00000000000000ff"
        e["ts_ns"] += 1_000_000
    doc = json.loads(export(events + extra, "chrome"))
    lanes: dict[tuple, list] = {}
    for e in doc["traceEvents"]:
        if e["ph"] == "X":
            lanes.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    for slices in lanes.values():
        for a0, a1 in slices:
            for b0, b1 in slices:
                assert b1 <= a0 or b0 >= a1 or (a0 <= b0 and b1 <= a1) or (b0 <= a0 and a1 <= b1)


# --- Graphviz ------------------------------------------------------------------------------

def test_dot_renders_with_graphviz(events: list[dict], tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.fail("install graphviz: apt-get install graphviz")
    src = export(events, "dot")
    assert re.search(r'label="object_action ×5\\ncall 3.0", style=solid', src)
    assert re.search(r'label="build_and_run_instance\\ncast 5.0", style=dashed', src)
    assert src.count('label="update_instance_info\\nfanout 4.2", style=dotted') == 2
    assert "cluster_legend" in src
    out = subprocess.run(["dot", "-Tsvg"], input=src.encode(), capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    svg = out.stdout.decode()
    assert "<svg" in svg and "scheduler2" in svg and "select_destinations" in svg
    assert b"Warning" not in out.stderr and b"Error" not in out.stderr


# --- HTML ----------------------------------------------------------------------------------

class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.data: list[str] = []
        self.refs: list[tuple[str, str]] = []
        self._in: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        for k, v in attrs:
            if k in ("src", "href", "xlink:href", "action", "srcset", "poster"):
                self.refs.append((k, v or ""))
        if tag == "script":
            self._in = dict(attrs)
            self.scripts.append(self._in)
            self.data.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self.data[-1] += data


def test_html_is_self_contained(events: list[dict]) -> None:
    page = export(events, "html")
    for needle in ("http://", "https://", "//", "@import", "<link", "<iframe"):
        assert needle not in page, needle
    scan = _Scan()
    scan.feed(page)
    assert scan.refs == []
    assert len(scan.scripts) == 2 and not any("src" in s for s in scan.scripts)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_html_embedded_script_close_cannot_break_out(events: list[dict]) -> None:
    events[1] = {**events[1], "attrs": {**events[1]["attrs"], "evil": EVIL},
                 "name": "</script><b>x</b>"}
    page = export(events, "html")
    assert page.count("</script") == 2  # only the page's own two script elements
    assert "<img" not in page and "//evil" not in page
    scan = _Scan()
    scan.feed(page)
    assert len(scan.scripts) == 2 and scan.refs == []
    data = json.loads(scan.data[0])
    span = [s for s in data["spans"] if s["id"] == events[1]["span_id"]][0]
    assert span["attrs"]["evil"] == EVIL and span["name"] == "</script><b>x</b>"
    assert data["events"][1]["attrs"]["evil"] == EVIL
    assert "innerHTML" not in page  # recorded strings only ever go through textContent


def test_html_script_is_valid_javascript(events: list[dict], tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None, "node is missing: install it with `apt-get install nodejs`"
    scan = _Scan()
    scan.feed(export(events, "html"))
    js = tmp_path / "page.js"
    js.write_text(scan.data[1])
    out = subprocess.run([node, "--check", str(js)], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _page_model(events: list[dict]) -> dict:
    scan = _Scan()
    scan.feed(export(events, "html"))
    return json.loads(scan.data[0])


def _recording(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()[1:]]


def test_html_one_trace_at_a_time_in_tree_order() -> None:
    data = _page_model(_recording("boot_three.jsonl"))
    ids = [t["id"] for t in data["traces"]]
    assert len(ids) == 3 and ids == sorted(ids)  # by start time: the boots ran one by one
    for i, t in enumerate(data["traces"]):
        rows = data["spans"][t["first"]:t["first"] + t["spans"]]
        assert {s["trace"] for s in rows} == {i}
        assert rows[0]["parent"] is None and rows[0]["depth"] == 0
        seen: dict[str, int] = {}
        for s in rows:  # depth first: a parent before its children, one level deeper
            if s["parent"] is not None:
                assert seen[s["parent"]] == s["depth"] - 1
            seen[s["id"]] = s["depth"]
    assert len(data["spans"]) == sum(t["spans"] for t in data["traces"])
    assert data["default"] == 2  # the newest boot


def test_html_folds_plumbing_and_keeps_start_up_apart() -> None:
    data = _page_model(_recording("boot_real.jsonl"))
    boot = data["traces"][data["default"]]
    assert boot["name"] == "POST /v2.1/servers" and boot["request"]
    assert {t["name"] for t in data["traces"] if not t["request"]} >= {
        "start nova-conductor", "start nova-scheduler", "start nova-compute"}
    rows = data["spans"][boot["first"]:boot["first"] + boot["spans"]]
    fold = {s["name"]: s["fold"] for s in rows}
    assert fold["FaultWrapper"] == fold["NoAuthMiddleware"] == "middleware"
    assert fold["db Flavor.get_by_flavor_id"] == "db"
    assert fold["ServersController.create"] is None and fold["POST /v2.1/servers"] is None
    on_path = {s["name"] for s in rows if s["critical"] is not None}
    assert {"POST /v2.1/servers", "select_destinations", "build_and_run_instance",
            "_do_build_and_run_instance"} <= on_path


def test_html_critical_path_follows_what_finished_last() -> None:
    b = TraceBuilder()
    t0 = b.now
    root = b.start("POST /v2.1/servers", "nova-api", "api", "HTTP")
    b.tick(10)
    a = b.start("a", "nova-api", "api", "INTERNAL", root)
    b.tick(10)
    short = b.start("short", "nova-api", "api", "INTERNAL", root)  # overlapped by a
    b.tick(10)
    b.end(short)
    b.tick(10)
    b.end(a)  # at 40 us
    b.tick(10)
    cast = b.start("later", "nova-conductor", "conductor", "CONSUMER", root)  # at 50 us
    b.tick(50)
    b.end(root)  # at 100 us: the request answered, the cast's consumer goes on
    b.tick(100)
    b.end(cast)  # at 200 us
    data = _page_model(b.events)
    crit = {s["name"]: s["critical"] for s in data["spans"]}
    us = [[(x - (t0 - data["t0_ns"])) // 1000 for x in seg] for seg in crit[
        "POST /v2.1/servers"]]
    assert sorted(us) == [[0, 10], [40, 50]]
    assert crit["a"] is not None and crit["later"] is not None
    assert crit["short"] is None


# --- Mermaid -------------------------------------------------------------------------------

def test_mermaid_sequence(events: list[dict]) -> None:
    text = export(events, "mermaid")
    lines = [ln.strip() for ln in text.splitlines()]
    assert lines[0] == "sequenceDiagram"
    assert "participant nova_api as nova-api" in lines
    assert "participant nova_scheduler_scheduler1 as nova-scheduler (scheduler1)" in lines
    assert "participant nova_compute as nova-compute" in lines
    expected = [
        "user->>nova_api: POST /v2.1/servers",
        "Note over nova_api: instance.state building/scheduling",
        "nova_api-)nova_conductor: schedule_and_build_instances (cast, 1.17)",
        "nova_api-->>user: 202",
        "nova_conductor->>nova_scheduler_scheduler1: select_destinations (call, 4.5)",
        "nova_scheduler_scheduler1-->>nova_conductor: select_destinations reply",
        "nova_conductor-)nova_compute: build_and_run_instance (cast, 5.0)",
        "Note over nova_compute: instance.state building/-",
        "nova_compute->>nova_conductor: object_action (call, 3.0)",
        "nova_conductor-->>nova_compute: object_action reply",
        "Note over nova_compute: instance.state building/networking",
        "Note over nova_compute: instance.state building/block_device_mapping",
        "Note over nova_compute: instance.state building/spawning",
        "Note over nova_compute: instance.state active/-",
        "nova_compute->>nova_conductor: object_action (call, 3.0)",
        "nova_conductor-->>nova_compute: object_action reply",
        "nova_compute-)nova_scheduler_scheduler1: update_instance_info (fanout, 4.2)",
        "nova_compute-)nova_scheduler_scheduler2: update_instance_info (fanout, 4.2)",
    ]
    pos = 0
    for want in expected:  # in order, other lines may sit between
        assert want in lines[pos:], f"{want!r} missing after line {pos}"
        pos = lines.index(want, pos) + 1
    assert sum(ln.endswith("object_action (call, 3.0)") for ln in lines) == 5
    assert sum(ln.endswith("object_action reply") for ln in lines) == 5


def test_mermaid_escapes_statement_breakers(events: list[dict]) -> None:
    for e in events:
        if e.get("name") == "select_destinations" and e["type"] == "span_start":
            e["attrs"] = {**e["attrs"], "rpc.method": "a;b#c\nd"}
    text = export(events, "mermaid")
    assert "a#59;b#35;c d (call, 4.5)" in text


# --- import edges --------------------------------------------------------------------------

def test_export_imports_neither_textual_nor_services() -> None:
    code = ("import sys, tracer.export as e; from tracer.export import chrome, otlp, mermaid, "
            "dot, html; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('textual', 'services')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"
