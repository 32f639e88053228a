"""One self-contained HTML page: a trace selector and a waterfall, as Jaeger draws a trace.

Open it from a mail attachment, offline, on a projector. Inline CSS and JS only, and a
Content-Security-Policy that forbids every fetch, so the file works without network and
leaks nothing. The data rides in a ``<script type="application/json">`` block with ``<``,
``>``, ``&`` and ``/`` escaped: an attribute value holding ``</script>`` (or a URL) stays
inert text. The page renders recorded strings only through ``textContent``, never as markup.

One trace at a time (the newest user request first; start-up and background traces in the
selector), one row per span: an indented, collapsible name column coloured by service, one
bar per row on the trace's own time axis. WSGI middleware and ``db`` spans are folded into
their parent row (a ``+2 db`` badge unfolds them), as the TUI folds them. A blocked caller's
bar is hatched (it waits for the reply); arrows join a message's sender and handlers:
solid out and dashed back for a call, dashed one way for a cast, one per consumer for a
fanout. The critical path (``critical_path``) is drawn through the bars; "messages only"
folds every span that sent or handled no message; ``/`` finds spans by name; the URL's
``#trace=ID&span=ID`` picks a trace and opens a span's details.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tracer.export.spans import ExportSpan, ExportView
from tracer.model.constants import UNKNOWN
from tracer.model.views import endpoint_order

_JSON_ESCAPES = {
    "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "/": "\\/",
    "\u2028": "\\u2028", "\u2029": "\\u2029",
}
_JSON_TABLE = str.maketrans(_JSON_ESCAPES)

SERVICE_COLOURS = {
    "client": "#7f7f7f", "nova-api": "#4e79a7", "nova-conductor": "#59a14f",
    "nova-scheduler": "#b07aa1", "nova-compute": "#f28e2b", "placement": "#edc948",
    "glance": "#76b7b2", "neutron": "#9c755f", "nova-manage": "#bab0ac",
}
"""A bar's colour names its service, as in Jaeger; known services keep theirs across
recordings (error red is left for failures)."""
_PALETTE = ("#17becf", "#bcbd22", "#8c564b", "#e377c2", "#1f77b4", "#aec7e8")

MIDDLEWARE_LOCATIONS = ("nova/api/openstack/__init__.py", "nova/api/openstack/auth.py")
"""Stein's WSGI middleware (FaultWrapper, NoAuthMiddleware): folded by default."""


def embed_json(value: Any) -> str:
    """JSON that is safe inside a script element: no tag, entity or ``//`` can appear."""
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return text.translate(_JSON_TABLE)


def fold_of(span: ExportSpan) -> str | None:
    """``middleware`` or ``db`` for the plumbing the waterfall folds away by default."""
    if span.kind != "INTERNAL":
        return None
    loc = str(span.attrs.get("code.location", ""))
    if span.name.startswith("db ") or loc.startswith("nova/objects/"):
        return "db"
    if loc.startswith(MIDDLEWARE_LOCATIONS):
        return "middleware"
    return None


def who(service: str, host: str) -> str:
    """``compute1`` where the host names the service, else ``conductor@node7``."""
    short = service.removeprefix("nova-")
    if host in ("", UNKNOWN):
        return short
    return host if host.startswith(short) else f"{short}@{host}"


def tree_order(spans: list[ExportSpan]) -> list[tuple[ExportSpan, str | None, int]]:
    """Depth first, children by start time: (span, parent id in this list, depth).

    A span whose parent is missing (another trace, not recorded) is a root; a parent
    cycle cannot loop (each span is placed once)."""
    ids = {s.span_id for s in spans}
    kids: dict[str | None, list[ExportSpan]] = {}
    for s in sorted(spans, key=lambda s: (s.start_ns, -s.end_ns)):
        parent = s.parent_id if s.parent_id in ids and s.parent_id != s.span_id else None
        kids.setdefault(parent, []).append(s)
    out: list[tuple[ExportSpan, str | None, int]] = []
    seen: set[str] = set()
    starts = kids.get(None, []) + sorted(spans, key=lambda s: (s.start_ns, -s.end_ns))
    for root in starts:
        if root.span_id in seen:
            continue
        stack: list[tuple[ExportSpan, str | None, int]] = [(root, None, 0)]
        while stack:
            span, parent, depth = stack.pop()
            if span.span_id in seen:
                continue
            seen.add(span.span_id)
            out.append((span, parent, depth))
            stack.extend((c, span.span_id, depth + 1)
                         for c in reversed(kids.get(span.span_id, [])))
    return out


def critical_path(placed: list[tuple[ExportSpan, str | None, int]]
                  ) -> dict[str, list[tuple[int, int]]]:
    """The chain of work the trace's end waited for, as Jaeger marks it: span id → the
    stretches of its own time on that path.

    Walking back from the end: the child whose subtree finished last (a cast's consumer
    counts: the boot goes on there) is on the path up to where it started; before that the
    next such child; what no child covers is the span's own time (for a blocked caller:
    its message and the reply in transit)."""
    if not placed:
        return {}
    kids: dict[str, list[ExportSpan]] = {}
    for span, parent, _ in placed:
        if parent is not None:
            kids.setdefault(parent, []).append(span)
    reach = {s.span_id: s.end_ns for s, _, _ in placed}  # when the subtree finished
    for span, parent, _ in reversed(placed):
        if parent is not None:
            reach[parent] = max(reach[parent], reach[span.span_id])
    roots = [s for s, parent, _ in placed if parent is None]
    root = max(roots, key=lambda s: (reach[s.span_id], -s.start_ns))
    path: dict[str, list[tuple[int, int]]] = {}
    todo = [(root, reach[root.span_id])]
    while todo:
        span, until = todo.pop()
        own = path.setdefault(span.span_id, [])
        left = sorted(kids.get(span.span_id, ()), key=lambda s: s.start_ns)
        cur = until
        while True:
            while left and left[-1].start_ns >= cur:
                left.pop()
            if not left:
                break
            child = max(left, key=lambda c: (min(reach[c.span_id], cur), c.start_ns))
            left.remove(child)
            end = min(reach[child.span_id], cur)
            if end < cur:
                own.append((end, cur))
            todo.append((child, end))
            cur = child.start_ns
        if span.start_ns < cur:
            own.append((span.start_ns, cur))
    return path


def model(folded: ExportView, events: list[Mapping[str, Any]]) -> dict[str, Any]:
    """What the page draws: traces (each a run of spans in tree order), hops, notes; times
    in ns relative to the recording's first timestamp."""
    t0 = folded.t0_ns
    services = sorted({s.service for s in folded.spans},
                      key=lambda svc: endpoint_order((svc, "")))
    colour = {svc: SERVICE_COLOURS.get(svc) or _PALETTE[i % len(_PALETTE)]
              for i, svc in enumerate(services)}
    hops = folded.hops + folded.http_hops
    # a hop's style on its sender and on its handlers (paired by the model, not by parent)
    style_of = {sid: h.style for h in hops for sid in (h.client_span_id, *h.server_span_ids)}
    label_of = {sid: h.label() for h in hops for sid in (h.client_span_id, *h.server_span_ids)}
    by_trace: dict[str, list[ExportSpan]] = {}
    for s in folded.spans:
        by_trace.setdefault(s.trace_id, []).append(s)
    known = [t for t in folded.traces if t.trace_id in by_trace]
    known_ids = {t.trace_id for t in known}
    extra = [tid for tid in by_trace if tid not in known_ids]
    traces: list[dict[str, Any]] = []
    spans: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for tid in [t.trace_id for t in known] + extra:
        placed = tree_order(by_trace[tid])
        crit = critical_path(placed)
        index[tid] = len(traces)
        root = placed[0][0]
        start = min(s.start_ns for s, _, _ in placed)
        end = max(s.end_ns for s, _, _ in placed)
        traces.append({
            "id": tid, "name": root.name, "kind": root.kind, "service": root.service,
            "request": root.kind in ("HTTP", "SERVER"),
            "start": start - t0, "end": end - t0, "spans": len(placed),
            "errors": sum(s.status == "ERROR" for s, _, _ in placed),
            "hops": sum(1 for h in hops if h.trace_id == tid),
            "first": len(spans), "services": sorted({s.service for s, _, _ in placed},
                                                    key=services.index)})
        for s, parent, depth in placed:
            spans.append({
                "id": s.span_id, "trace": index[tid], "parent": parent, "depth": depth,
                "name": s.name, "kind": s.kind, "svc": services.index(s.service),
                "who": who(s.service, s.host), "service": s.service, "host": s.host,
                "start": s.start_ns - t0, "end": s.end_ns - t0, "finished": s.finished,
                "status": s.status, "status_message": s.status_message,
                "style": style_of.get(s.span_id), "hop": label_of.get(s.span_id),
                "fold": fold_of(s) if parent is not None else None,
                "critical": ([[a - t0, b - t0] for a, b in crit[s.span_id]]
                             if s.span_id in crit else None),
                "attrs": s.attrs})
    default = index.get(folded.default_trace or "", 0)
    return {
        "t0_ns": t0, "t_end": folded.t_last_ns - t0, "default": default,
        "services": [{"name": svc, "colour": colour[svc]} for svc in services],
        "traces": traces,
        "spans": spans,
        "hops": [{"style": h.style, "label": h.label(), "client": h.client_span_id,
                  "servers": list(h.server_span_ids), "trace": index.get(h.trace_id)}
                 for h in hops],
        "notes": [{"span": a.span_id, "trace": index.get(a.trace_id or ""),
                   "ts": a.ts_ns - t0, "name": a.name, "label": a.label(),
                   "attrs": dict(a.attrs)}
                  for a in folded.annotations if (a.trace_id or "") in index],
        "events": list(events),
    }


def render(folded: ExportView, events: list[Mapping[str, Any]]) -> str:
    """Return the whole HTML document."""
    return _PAGE.replace("@DATA@", embed_json(model(folded, events)))


_PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bootflow trace</title>
<style>
:root { --bg:#fff; --fg:#1b1f24; --muted:#5b6370; --grid:#e3e6ea; --alt:#f7f8fa;
  --hover:#eef3fb; --sel:#e2ecfb; --call:#2f6fd6; --cast:#d9822b; --fanout:#8a4fbf;
  --http:#2b9a66; --err:#c9302c; --hit:#fff3b0; --namew:520px; --row:24px; }
@media (prefers-color-scheme: dark) { :root { --bg:#15181c; --fg:#e6e8eb; --muted:#a0a8b4;
  --grid:#2a2f36; --alt:#1a1e23; --hover:#212833; --sel:#243247; --hit:#4a4320; } }
* { box-sizing:border-box; }
body { margin:0; font:14px system-ui, sans-serif; background:var(--bg); color:var(--fg); }
header { padding:8px 12px; display:flex; gap:8px 18px; align-items:center; flex-wrap:wrap;
  border-bottom:1px solid var(--grid); }
header h1 { font-size:16px; margin:0; }
select, input, button { font:inherit; color:inherit; background:var(--bg);
  border:1px solid var(--muted); border-radius:4px; padding:2px 6px; }
#trace { max-width:60vw; }
#summary { color:var(--muted); }
.legend { display:flex; flex-wrap:wrap; gap:4px 14px; padding:6px 12px; color:var(--muted);
  font-size:13px; border-bottom:1px solid var(--grid); }
.legend span { display:inline-flex; align-items:center; gap:5px; }
.sw { width:22px; height:10px; display:inline-block; border-radius:2px; }
.ln { width:26px; height:0; display:inline-block; border-top:2px solid; }
#wf { position:relative; }
.row { display:flex; height:var(--row); align-items:stretch; cursor:pointer;
  content-visibility:auto; contain-intrinsic-size:auto var(--row); }
.row:nth-child(even) { background:var(--alt); }
.row:hover { background:var(--hover); }
.row.sel { background:var(--sel); }
.row.hit .op { background:var(--hit); }
.nm { flex:0 0 var(--namew); width:var(--namew); display:flex; align-items:center; gap:5px;
  overflow:hidden; white-space:nowrap; border-right:1px solid var(--grid); padding-right:6px; }
.tg { flex:0 0 12px; text-align:center; color:var(--muted); font-size:11px; }
.sv { flex:0 0 4px; align-self:stretch; margin:3px 0; border-radius:2px; }
.op { flex:0 1 auto; min-width:0; overflow:hidden; text-overflow:ellipsis; }
.err .op { color:var(--err); font-weight:600; }
.who { flex:1 1 0; min-width:0; overflow:hidden; text-overflow:ellipsis;
  color:var(--muted); font-size:12px; }
.chip { flex:0 0 auto; font-size:11px; padding:0 5px; border-radius:8px;
  border:1px solid; line-height:15px; }
.chip.call { color:var(--call); } .chip.cast { color:var(--cast); }
.chip.fanout { color:var(--fanout); } .chip.http { color:var(--http); }
.fold { flex:0 0 auto; font-size:11px; color:var(--muted); border:1px dashed var(--muted);
  border-radius:8px; padding:0 5px; line-height:15px; }
.fold:hover { color:var(--fg); border-color:var(--fg); }
.tl { flex:1; position:relative; }
.in { position:absolute; left:10px; right:110px; top:0; bottom:0; }
.bar { position:absolute; top:5px; height:calc(var(--row) - 10px); min-width:2px;
  border-radius:2px; border:1px solid transparent; }
.bar.open { opacity:.55; border-style:dashed; }
.err .bar { outline:2px solid var(--err); }
.dur { position:absolute; top:0; line-height:var(--row); font-size:12px; color:var(--muted);
  white-space:nowrap; }
.critseg { position:absolute; top:calc(var(--row) / 2 - 1.5px); height:3px; min-width:1px;
  background:var(--fg); opacity:.8; pointer-events:none; }
.note { position:absolute; top:1px; width:8px; height:8px; margin-left:-4px;
  transform:rotate(45deg); background:var(--fg); }
#axis { position:sticky; top:0; z-index:3; background:var(--bg); display:flex;
  height:26px; border-bottom:1px solid var(--grid); }
#axis .nm { font-weight:600; padding-left:10px; cursor:default; }
.tick { position:absolute; top:0; bottom:0; border-left:1px solid var(--grid);
  font-size:12px; color:var(--muted); padding:5px 0 0 3px; white-space:nowrap; }
#grid { position:absolute; top:0; bottom:0; pointer-events:none; }
#grid div { position:absolute; top:0; bottom:0; border-left:1px solid var(--grid); }
#arrows { position:absolute; top:0; pointer-events:none; overflow:visible; z-index:2; }
#split { position:absolute; top:0; bottom:0; width:7px; margin-left:-3px; cursor:col-resize;
  z-index:4; }
.detail { position:relative; z-index:3; max-height:60vh; overflow:auto;
  padding:8px 12px 10px 40px; border-bottom:1px solid var(--grid);
  background:var(--alt); font:12px ui-monospace, monospace; cursor:default; }
.detail table { border-collapse:collapse; }
.detail td { padding:1px 10px 1px 0; vertical-align:top; white-space:pre-wrap;
  word-break:break-all; }
.detail td:first-child { color:var(--muted); white-space:nowrap; }
#empty { padding:20px; color:var(--muted); }
</style>
</head>
<body>
<header>
 <h1>bootflow trace</h1>
 <label>trace <select id="trace"></select></label>
 <label><input type="checkbox" id="show-middleware"> WSGI middleware</label>
 <label><input type="checkbox" id="show-db"> db calls</label>
 <label><input type="checkbox" id="only-messages"> messages only</label>
 <label><input type="checkbox" id="show-critical" checked> critical path</label>
 <label>find <input id="find" type="search" size="18" placeholder="/ span name"></label>
 <span id="summary"></span>
</header>
<div class="legend" id="legend">
 <span><i class="sw" style="background:repeating-linear-gradient(45deg,var(--muted) 0 3px,
  transparent 3px 6px);border:1px solid var(--muted)"></i>caller blocked, waiting for the
  reply</span>
 <span><i class="ln" style="border-color:var(--call)"></i>call (dashed back: reply)</span>
 <span><i class="ln" style="border-color:var(--cast);border-top-style:dashed"></i>cast</span>
 <span><i class="ln" style="border-color:var(--fanout);border-top-style:dashed"></i>fanout
  (one per consumer)</span>
 <span><i class="ln" style="border-color:var(--http)"></i>HTTP</span>
 <span><i class="note" style="position:static;margin:0 2px"></i>state change</span>
 <span><i class="ln" style="border-top:3px solid var(--fg)"></i>critical path</span>
 <span id="services"></span>
</div>
<div id="wf">
 <div id="axis"><div class="nm">Service &amp; operation</div><div class="tl">
  <div class="in" id="ticks"></div></div></div>
 <div id="split"></div>
 <div id="rows"></div>
 <svg id="arrows" width="10" height="10">
  <defs>
   <marker id="ah-call" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"
    markerHeight="7" orient="auto"><path d="M0 0L10 5L0 10z" style="fill:var(--call)"></path>
   </marker>
   <marker id="ah-cast" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8"
    markerHeight="8" orient="auto"><path d="M0 0L10 5L0 10z" style="fill:var(--cast)"></path>
   </marker>
   <marker id="ah-fanout" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8"
    markerHeight="8" orient="auto"><path d="M0 0L10 5L0 10z"
    style="fill:var(--fanout)"></path></marker>
   <marker id="ah-http" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"
    markerHeight="7" orient="auto"><path d="M0 0L10 5L0 10z" style="fill:var(--http)"></path>
   </marker>
  </defs>
  <g id="layer"></g>
 </svg>
</div>
<script type="application/json" id="bootflow-data">@DATA@</script>
<script>
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("bootflow-data").textContent);
  const $ = function (id) { return document.getElementById(id); };
  const NS = $("arrows").namespaceURI;
  const byId = {};
  D.spans.forEach(function (s) { byId[s.id] = s; });
  const notesOf = {};
  D.notes.forEach(function (n) {
    const key = n.span && byId[n.span] ? n.span : "trace:" + n.trace;
    (notesOf[key] = notesOf[key] || []).push(n);
  });
  const hopsOf = {};
  D.hops.forEach(function (h) { (hopsOf[h.trace] = hopsOf[h.trace] || []).push(h); });
  const ui = { trace: D.default, collapsed: new Set(), shown: new Set(), open: null,
    find: "" };

  function el(tag, cls, parent, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function svgEl(tag, attrs) {
    const e = document.createElementNS(NS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    $("layer").appendChild(e);
    return e;
  }
  function ms(ns) {
    const v = ns / 1e6;
    if (v >= 1000) return (v / 1000).toFixed(3) + " s";
    return (v >= 100 ? v.toFixed(1) : v >= 10 ? v.toFixed(2) : v.toFixed(3)) + " ms";
  }
  function colour(s) { return D.services[s.svc].colour; }
  function blocks(s) { return s.kind === "CLIENT" && (s.style === "call" || s.style === "http"); }

  /* the trace selector: requests to the REST API first, start-up and background after */
  (function fillSelector() {
    const sel = $("trace");
    const groups = [["requests (REST API)", true], ["start-up and background", false]];
    groups.forEach(function (g) {
      const og = el("optgroup", "", null);
      og.label = g[0];
      D.traces.forEach(function (t, i) {
        if (t.request !== g[1]) return;
        const o = el("option", "", og, t.name + "  \u00b7  " + t.spans + " spans, " +
          ms(t.end - t.start) + (t.errors ? ", " + t.errors + " errors" : "") +
          "  \u00b7  at +" + ms(t.start) + "  \u00b7  " + t.id.slice(-8));
        o.value = String(i);
      });
      if (og.children.length) sel.appendChild(og);
    });
    sel.addEventListener("change", function () { select(Number(sel.value), true); });
  })();

  function fromHash() {
    const m = /trace=([^&]*)/.exec(location.hash);
    if (!m) return null;
    const want = decodeURIComponent(m[1]);
    const i = D.traces.findIndex(function (t) { return t.id === want; });
    return i >= 0 ? i : null;
  }
  function select(i, push) {
    if (i === null || i === undefined || !D.traces[i]) return;
    ui.trace = i; ui.collapsed.clear(); ui.shown.clear(); ui.open = null;
    $("trace").value = String(i);
    if (push) location.hash = "trace=" + encodeURIComponent(D.traces[i].id);
    render();
  }

  /* which spans of the trace are rows: folded plumbing hangs on its nearest shown
     ancestor (a "+2 db" badge there), a collapsed row hides everything below it */
  function layout(t) {
    const showMw = $("show-middleware").checked, showDb = $("show-db").checked;
    const onlyMsg = $("only-messages").checked;
    const spans = D.spans.slice(t.first, t.first + t.spans);
    const anchor = {}, how = {}, depth = {}, kids = {}, folded = {}, hidden = {};
    const rows = [];
    spans.forEach(function (s) {
      const folds = s.fold === "middleware" ? !showMw : s.fold === "db" ? !showDb :
        onlyMsg && !s.style;
      if (s.parent === null || anchor[s.parent] === undefined) {
        anchor[s.id] = s.id; how[s.id] = "row"; depth[s.id] = 0; rows.push(s);
        return;
      }
      const a = anchor[s.parent];
      if (how[s.parent] === "hidden" || ui.collapsed.has(a)) {
        anchor[s.id] = a; how[s.id] = "hidden"; hidden[a] = (hidden[a] || 0) + 1;
      } else if (folds && !ui.shown.has(s.id)) {
        anchor[s.id] = a; how[s.id] = "fold";
        (folded[a] = folded[a] || []).push(s);
      } else {
        anchor[s.id] = s.id; how[s.id] = "row"; depth[s.id] = depth[a] + 1;
        kids[a] = (kids[a] || 0) + 1; rows.push(s);
      }
    });
    return { rows: rows, anchor: anchor, how: how, depth: depth, kids: kids,
      folded: folded, hidden: hidden };
  }

  /* an attribute as text; a JSON document (a message envelope) laid out readably */
  function shown(v) {
    if (typeof v !== "string") return JSON.stringify(v);
    if (v.charAt(0) === "{" || v.charAt(0) === "[") {
      try { return JSON.stringify(JSON.parse(v), null, 2); } catch (e) { return v; }
    }
    return v;
  }
  function describe(s, t) {
    const lines = [["operation", s.name], ["kind", s.kind + (s.style ? ", " + s.style : "")],
      ["service", s.service + " @ " + s.host],
      ["start", "+" + ms(s.start - t.start) + " in the trace"],
      ["duration", ms(s.end - s.start) + (s.finished ? "" : " (unfinished: no span_end)")],
      ["status", s.status + (s.status_message ? ": " + s.status_message : "")]];
    if (s.hop) lines.push(["message", s.hop]);
    if (blocks(s)) lines.push(["caller", "blocked until the reply arrives"]);
    if (s.kind === "PRODUCER") lines.push(["caller", "goes on at once (no reply)"]);
    (notesOf[s.id] || []).forEach(function (n) {
      lines.push(["+" + ms(n.ts - t.start), n.name + "  " + n.label]);
    });
    Object.keys(s.attrs).forEach(function (k) {
      lines.push([k, shown(s.attrs[k])]);
    });
    lines.push(["span id", s.id]);
    return lines;
  }

  function render() {
    const t = D.traces[ui.trace];
    const rowsBox = $("rows");
    while (rowsBox.firstChild) rowsBox.removeChild(rowsBox.firstChild);
    if (!t) { el("div", "", rowsBox, "no spans").id = "empty"; return; }
    const L = layout(t);
    const T0 = t.start, T = Math.max(1, t.end - t.start);
    const pct = function (ns) { return Math.min(100, Math.max(0, (ns - T0) / T * 100)); };
    const needle = ui.find.toLowerCase();
    let hits = 0;
    $("summary").textContent = t.spans + " spans (" + L.rows.length + " rows), " +
      t.hops + " messages, " + ms(T) + (t.errors ? ", " + t.errors + " errors" : "") +
      "  \u00b7  trace " + t.id;
    const sv = $("services");
    while (sv.firstChild) sv.removeChild(sv.firstChild);
    t.services.forEach(function (name) {
      const svc = D.services.find(function (x) { return x.name === name; });
      const sp = el("span", "", sv);
      el("i", "sw", sp).style.background = svc.colour;
      sp.appendChild(document.createTextNode(name));
      sp.style.marginRight = "10px";
    });
    const rowOf = {};
    L.rows.forEach(function (s) {
      const row = el("div", "row", rowsBox);
      row.dataset.span = s.id;
      rowOf[s.id] = row;
      if (s.status === "ERROR") row.classList.add("err");
      if (ui.open === s.id) row.classList.add("sel");
      const nm = el("div", "nm", row);
      nm.style.paddingLeft = (4 + 12 * L.depth[s.id]) + "px";
      const below = (L.kids[s.id] || 0) + (L.hidden[s.id] || 0);
      const tg = el("span", "tg", nm, below ? (ui.collapsed.has(s.id) ? "\u25b8" : "\u25be") : "");
      if (below) {
        tg.title = ui.collapsed.has(s.id) ? "expand (" + L.hidden[s.id] + " hidden)" : "collapse";
        tg.addEventListener("click", function (ev) {
          ev.stopPropagation();
          if (ui.collapsed.has(s.id)) ui.collapsed.delete(s.id); else ui.collapsed.add(s.id);
          render();
        });
      }
      el("i", "sv", nm).style.background = colour(s);
      const op = el("span", "op", nm, s.name);
      if (s.style && (s.kind !== "INTERNAL")) {
        el("span", "chip " + s.style, nm, s.style);
      }
      const f = L.folded[s.id];
      if (f && f.length) {
        const cats = {};
        f.forEach(function (x) {
          const k = x.fold || "internal";
          cats[k] = (cats[k] || 0) + 1;
        });
        const badge = el("span", "fold", nm, "+" + Object.keys(cats).map(function (k) {
          return cats[k] + " " + k; }).join(", +"));
        badge.title = "show " + f.map(function (x) { return x.name; }).join(", ");
        badge.addEventListener("click", function (ev) {
          ev.stopPropagation();
          f.forEach(function (x) { ui.shown.add(x.id); });
          render();
        });
      }
      el("span", "who", nm, s.who);
      if (needle && s.name.toLowerCase().indexOf(needle) >= 0) {
        row.classList.add("hit"); hits += 1;
      }
      const inner = el("div", "in", el("div", "tl", row));
      const bar = el("div", "bar" + (s.finished ? "" : " open"), inner);
      const x0 = pct(s.start), x1 = pct(s.end);
      bar.style.left = x0 + "%";
      bar.style.width = (x1 - x0) + "%";
      const c = colour(s);
      if (blocks(s)) {
        bar.style.background = "repeating-linear-gradient(45deg," + c + " 0 3px," +
          "transparent 3px 6px)";
        bar.style.borderColor = c;
      } else {
        bar.style.background = c;
      }
      const label = ms(s.end - s.start) + (blocks(s) ? "  waiting for reply" :
        s.kind === "PRODUCER" ? "  " + (s.style || "sent") + ", no wait" : "");
      if (s.critical && $("show-critical").checked) {
        row.classList.add("crit");
        s.critical.forEach(function (seg) {
          const c0 = pct(seg[0]), cs = el("div", "critseg", inner);
          cs.style.left = c0 + "%";
          cs.style.width = (pct(seg[1]) - c0) + "%";
        });
      }
      const dur = el("span", "dur", inner, label);
      if (x1 > 70) dur.style.right = "calc(" + (100 - x0) + "% + 4px)";
      else dur.style.left = "calc(" + x1 + "% + 4px)";
      const notes = (notesOf[s.id] || []).concat(
        L.depth[s.id] === 0 ? notesOf["trace:" + ui.trace] || [] : []);
      (f || []).forEach(function (x) { notes.push.apply(notes, notesOf[x.id] || []); });
      notes.forEach(function (n) {
        const d = el("i", "note", inner);
        d.style.left = pct(n.ts) + "%";
        d.title = n.name + "  " + n.label + "  at +" + ms(n.ts - T0);
      });
      row.addEventListener("click", function () {
        ui.open = ui.open === s.id ? null : s.id;
        render();
      });
      if (ui.open === s.id) {
        const det = el("div", "detail", rowsBox);
        det.addEventListener("click", function (ev) { ev.stopPropagation(); });
        const tb = el("table", "", det);
        describe(s, t).forEach(function (kv) {
          const tr = el("tr", "", tb);
          el("td", "", tr, kv[0]);
          el("td", "", tr, kv[1]);
        });
      }
    });
    if (needle) $("summary").textContent += "  \u00b7  " + hits + " match";
    /* names cut by the column get their full text as a tooltip */
    markCut(Array.prototype.slice.call(rowsBox.querySelectorAll(".op"), 0,
      Math.ceil(window.innerHeight / 20) + 20));
    drawAxis(T);
    drawArrows(t, rowOf, pct);
  }

  /* a name the column cuts gets its whole text as a tooltip: measured for the first
     screen at once (all names first, then marks: one layout), further rows when the
     pointer reaches them, so a trace of thousands of spans is not laid out in full
     (rows off screen skip layout: content-visibility) */
  const range = document.createRange();
  function isCut(op) {
    range.selectNodeContents(op);
    const need = range.getBoundingClientRect().width;
    return op.scrollWidth > op.clientWidth || need > op.getBoundingClientRect().width + 0.01;
  }
  function markCut(ops) {
    ops.filter(isCut).forEach(function (op) {
      op.classList.add("cut");
      op.title = op.textContent;
    });
  }
  $("rows").addEventListener("mouseover", function (ev) {
    const op = ev.target.closest ? ev.target.closest(".op") : null;
    if (op && !op.dataset.measured) { op.dataset.measured = "1"; markCut([op]); }
  });

  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    const f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }
  function tickLabel(v, step) {
    const digits = step >= 1e6 ? 0 : step >= 1e5 ? 1 : step >= 1e4 ? 2 : 3;
    return (v / 1e6).toFixed(digits) + " ms";
  }
  function drawAxis(T) {
    const ticks = $("ticks");
    while (ticks.firstChild) ticks.removeChild(ticks.firstChild);
    const width = Math.max(200, ticks.clientWidth);
    const step = niceStep(T / Math.max(1, width / 110));
    for (let v = 0; v <= T; v += step) {
      const k = el("div", "tick", ticks, tickLabel(v, step));
      k.style.left = (v / T * 100) + "%";
    }
  }

  function drawArrows(t, rowOf, pct) {
    const svg = $("arrows"), layer = $("layer"), box = $("rows");
    while (layer.firstChild) layer.removeChild(layer.firstChild);
    const first = box.querySelector(".row .in");
    if (!first) return;
    const wf = $("wf").getBoundingClientRect(), r = first.getBoundingClientRect();
    svg.style.left = (r.left - wf.left) + "px";
    svg.style.top = "0px";
    svg.setAttribute("width", String(Math.max(1, r.width)));
    svg.setAttribute("height", String($("wf").scrollHeight));
    const y = function (id) {
      const row = rowOf[id];
      return row.offsetTop + row.offsetHeight / 2;
    };
    function line(style, dashed, a, ta, b, tb) {
      svgEl("line", { x1: pct(ta) + "%", y1: y(a.id), x2: pct(tb) + "%", y2: y(b.id),
        style: "stroke:var(--" + style + ")", "stroke-width": 1.6,
        "stroke-dasharray": dashed ? "5 3" : "", "marker-end": "url(#ah-" + style + ")" });
    }
    (hopsOf[ui.trace] || []).forEach(function (h) {
      const c = byId[h.client];
      if (!c || !rowOf[c.id]) return;
      h.servers.forEach(function (sid) {
        const s = byId[sid];
        if (!s || !rowOf[s.id]) return;
        if (h.style === "call" || h.style === "http") {
          line(h.style, false, c, c.start, s, s.start);
          if (s.finished) line(h.style, true, s, s.end, c, c.end);
        } else {
          line(h.style in { cast: 1, fanout: 1 } ? h.style : "cast", true, c, c.end, s,
            s.start);
        }
      });
    });
  }

  /* the name column's width follows a drag on its right edge */
  (function splitter() {
    const sp = $("split");
    const place = function () {
      sp.style.left = getComputedStyle(document.documentElement)
        .getPropertyValue("--namew").trim();
    };
    place();
    sp.addEventListener("mousedown", function (ev) {
      ev.preventDefault();
      const move = function (e) {
        const w = Math.max(220, Math.min(window.innerWidth - 300, e.clientX));
        document.documentElement.style.setProperty("--namew", w + "px");
        place();
      };
      const up = function () {
        window.removeEventListener("mousemove", move);
        window.removeEventListener("mouseup", up);
        render();
      };
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
    });
  })();

  $("show-middleware").addEventListener("change", render);
  $("show-db").addEventListener("change", render);
  $("only-messages").addEventListener("change", render);
  $("show-critical").addEventListener("change", render);
  $("find").addEventListener("input", function () { ui.find = $("find").value; render(); });
  document.addEventListener("keydown", function (ev) {
    const find = $("find");
    if (ev.key === "/" && document.activeElement !== find) {
      ev.preventDefault();
      find.focus();
    } else if (ev.key === "Escape" && document.activeElement === find) {
      find.value = ""; ui.find = ""; find.blur(); render();
    }
  });
  window.addEventListener("hashchange", function () {
    const i = fromHash();
    if (i !== ui.trace) select(i, false);
  });
  window.addEventListener("resize", render);
  const w = Math.round(Math.min(640, Math.max(360, window.innerWidth * 0.42)));
  document.documentElement.style.setProperty("--namew", w + "px");
  $("split").style.left = w + "px";
  const start = fromHash();
  select(start === null ? D.default : start, false);
  /* "#trace=ID&span=ID" opens that span's details (a link to one span) */
  const opened = /span=([^&]*)/.exec(location.hash);
  if (opened && byId[decodeURIComponent(opened[1])]) {
    ui.open = decodeURIComponent(opened[1]);
    render();
    const row = document.querySelector(".row.sel");
    if (row) row.scrollIntoView({ block: "center" });
  }
})();
</script>
</body>
</html>
"""
