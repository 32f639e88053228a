"""One self-contained HTML timeline: open it from a mail attachment, offline, on a projector.

Inline CSS and JS only, and a Content-Security-Policy that forbids every fetch, so the file
works without network and leaks nothing. The data rides in a ``<script type=
"application/json">`` block with ``<``, ``>``, ``&`` and ``/`` escaped: an attribute value
holding ``</script>`` (or a URL) stays inert text. The page renders recorded strings only
through ``textContent``, never as markup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tracer.export.spans import ExportView, pack_rows

_JSON_ESCAPES = {
    "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "/": "\\/",
    "\u2028": "\\u2028", "\u2029": "\\u2029",
}


def embed_json(value: Any) -> str:
    """JSON that is safe inside a script element: no tag, entity or ``//`` can appear."""
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return "".join(_JSON_ESCAPES.get(ch, ch) for ch in text)


def model(folded: ExportView, events: list[Mapping[str, Any]]) -> dict[str, Any]:
    """What the page draws: lanes, spans placed on rows, hops, notes; times relative to t0."""
    t0 = folded.t0_ns
    endpoints = folded.endpoints()
    lane = {ep: i for i, ep in enumerate(endpoints)}
    rows = pack_rows(folded.spans)
    # a hop's style on its sender and on its handlers (paired by the model, not by parent)
    style_of = {sid: h.style for h in folded.hops
                for sid in (h.client_span_id, *h.server_span_ids)}
    return {
        "t_end": folded.t_last_ns - t0,
        "t0_ns": t0,
        "lanes": [{"service": svc, "host": host,
                   "rows": 1 + max([rows[s.span_id] for s in folded.spans
                                    if s.endpoint == (svc, host)], default=0)}
                  for svc, host in endpoints],
        "spans": [{"id": s.span_id, "parent": s.parent_id, "name": s.name, "kind": s.kind,
                   "lane": lane[s.endpoint], "row": rows[s.span_id],
                   "start": s.start_ns - t0, "end": s.end_ns - t0, "finished": s.finished,
                   "status": s.status, "style": style_of.get(s.span_id), "attrs": s.attrs}
                  for s in folded.spans],
        "hops": [{"style": h.style, "label": h.label(), "client": h.client_span_id,
                  "servers": list(h.server_span_ids)} for h in folded.hops],
        "notes": [{"lane": lane[a.endpoint], "ts": a.ts_ns - t0, "name": a.name,
                   "label": a.label(), "attrs": dict(a.attrs)}
                  for a in folded.annotations if a.endpoint in lane],
        "events": list(events),
    }


def render(folded: ExportView, events: list[Mapping[str, Any]]) -> str:
    """Return the whole HTML document."""
    return _PAGE.replace("@DATA@", embed_json(model(folded, events)))


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bootflow trace</title>
<style>
:root { --bg:#fff; --fg:#1b1f24; --muted:#667; --grid:#e3e6ea; --lane:#f6f8fa;
  --call:#2f6fd6; --cast:#d9822b; --fanout:#8a4fbf; --internal:#9aa4ae; --http:#2b9a66;
  --err:#c9302c; }
@media (prefers-color-scheme: dark) { :root { --bg:#15181c; --fg:#e6e8eb; --muted:#99a;
  --grid:#2a2f36; --lane:#1c2026; } }
body { margin:0; font:13px system-ui, sans-serif; background:var(--bg); color:var(--fg); }
header { padding:8px 12px; display:flex; gap:18px; align-items:center; flex-wrap:wrap; }
header h1 { font-size:15px; margin:0; }
.legend span { display:inline-flex; align-items:center; gap:5px; margin-right:12px; }
.sw { width:26px; height:10px; display:inline-block; border-radius:2px; }
#wrap { display:flex; border-top:1px solid var(--grid); }
#names { flex:0 0 190px; }
#names div { box-sizing:border-box; padding:4px 8px; border-bottom:1px solid var(--grid);
  overflow:hidden; white-space:nowrap; text-overflow:ellipsis; }
#names small { color:var(--muted); }
#scroll { flex:1; overflow-x:auto; }
svg text { fill:var(--fg); font-size:11px; pointer-events:none; }
svg .axis { fill:var(--muted); }
.bar { stroke-width:1; cursor:default; }
.bar:hover { stroke:var(--fg); stroke-width:2; }
#tip { position:fixed; display:none; max-width:520px; background:var(--bg); color:var(--fg);
  border:1px solid var(--muted); padding:6px 8px; font:12px ui-monospace, monospace;
  white-space:pre-wrap; word-break:break-all; box-shadow:0 2px 8px rgba(0,0,0,.3);
  pointer-events:none; z-index:10; }
</style>
</head>
<body>
<header>
 <h1>bootflow trace</h1>
 <span class="legend">
  <span><i class="sw" style="background:var(--call)"></i>call (server side)</span>
  <span><i class="sw" style="background:repeating-linear-gradient(45deg,var(--call) 0 3px,
   transparent 3px 6px);border:1px solid var(--call)"></i>caller blocked, waiting for reply</span>
  <span><i class="sw" style="background:var(--cast)"></i>cast</span>
  <span><i class="sw" style="background:var(--fanout)"></i>fanout</span>
  <span><i class="sw" style="background:var(--http)"></i>HTTP</span>
  <span><i class="sw" style="background:var(--internal)"></i>internal</span>
  <span>&#9670; state change</span>
 </span>
 <label>zoom <input id="zoom" type="range" min="1" max="40" value="1"></label>
 <span id="summary"></span>
</header>
<div id="wrap"><div id="names"></div><div id="scroll">
<svg id="tl" height="10" width="10">
 <defs>
  <pattern id="wait" width="6" height="6" patternUnits="userSpaceOnUse"
   patternTransform="rotate(45)">
   <rect width="6" height="6" style="fill:var(--bg)"></rect>
   <rect width="3" height="6" style="fill:var(--call)"></rect>
  </pattern>
  <marker id="ah-call" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"
   markerHeight="7" orient="auto">
   <path d="M0 0L10 5L0 10z" style="fill:var(--call)"></path></marker>
  <marker id="ah-cast" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"
   markerHeight="7" orient="auto">
   <path d="M0 0L10 5L0 10z" style="fill:var(--cast)"></path></marker>
  <marker id="ah-fanout" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"
   markerHeight="7" orient="auto">
   <path d="M0 0L10 5L0 10z" style="fill:var(--fanout)"></path></marker>
 </defs>
 <g id="layer"></g>
</svg></div></div>
<div id="tip"></div>
<script type="application/json" id="bootflow-data">@DATA@</script>
<script>
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("bootflow-data").textContent);
  const svg = document.getElementById("tl");
  const layer = document.getElementById("layer");
  const NS = svg.namespaceURI;
  const tip = document.getElementById("tip");
  const ROW = 18, PAD = 6, AXIS = 24;
  const byId = {};
  D.spans.forEach(function (s) { byId[s.id] = s; });
  const laneTop = [];
  let y = AXIS;
  D.lanes.forEach(function (l) { laneTop.push(y); y += l.rows * ROW + 2 * PAD; });
  const height = y + 4;

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) {
      if (k === "fill" || k === "stroke") e.style[k] = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (parent || layer).appendChild(e);
    return e;
  }
  function ms(ns) { return (ns / 1e6).toFixed(3) + " ms"; }
  function color(s) {
    if (s.status === "ERROR") return "var(--err)";
    if (s.kind === "HTTP") return "var(--http)";
    if (s.kind === "INTERNAL") return "var(--internal)";
    if (s.kind === "PRODUCER" || s.kind === "CONSUMER") {
      return s.style === "fanout" ? "var(--fanout)" : "var(--cast)";
    }
    return "var(--call)";
  }
  function describe(s) {
    const lane = D.lanes[s.lane];
    const lines = [s.name + "  [" + s.kind + (s.style ? ", " + s.style : "") + "]",
      lane.service + " @ " + lane.host,
      "start +" + ms(s.start) + "  duration " + ms(s.end - s.start) +
        (s.finished ? "" : "  (unfinished: no span_end recorded)"),
      "status " + s.status, ""];
    if (s.kind === "CLIENT" && s.style === "call") {
      lines.splice(4, 0, "caller blocked until the reply arrives");
    }
    Object.keys(s.attrs).forEach(function (k) {
      const v = s.attrs[k];
      lines.push(k + " = " + (typeof v === "string" ? v : JSON.stringify(v)));
    });
    return lines.join("\\n");
  }
  function hover(node, text) {
    node.addEventListener("mousemove", function (ev) {
      tip.textContent = text;
      tip.style.display = "block";
      tip.style.left = Math.min(ev.clientX + 12, window.innerWidth - 540) + "px";
      tip.style.top = (ev.clientY + 14) + "px";
    });
    node.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  }

  const names = document.getElementById("names");
  names.style.paddingTop = AXIS + "px";
  D.lanes.forEach(function (l) {
    const d = document.createElement("div");
    d.style.height = (l.rows * ROW + 2 * PAD) + "px";
    d.textContent = l.service + " ";
    const sm = document.createElement("small");
    sm.textContent = l.host;
    d.appendChild(sm);
    names.appendChild(d);
  });
  document.getElementById("summary").textContent = D.spans.length + " spans, " +
    D.hops.length + " rpc messages, " + ms(D.t_end);

  function draw() {
    while (layer.firstChild) layer.removeChild(layer.firstChild);
    const zoom = Number(document.getElementById("zoom").value);
    const avail = Math.max(400, document.getElementById("scroll").clientWidth - 20);
    const width = avail * zoom;
    const span = Math.max(1, D.t_end);
    const x = function (ns) { return 10 + (ns / span) * (width - 20); };
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    D.lanes.forEach(function (l, i) {
      el("rect", {x: 0, y: laneTop[i], width: width, height: l.rows * ROW + 2 * PAD,
        fill: i % 2 ? "var(--bg)" : "var(--lane)"});
    });
    const step = niceStep(span / (width / 110));
    for (let t = 0; t <= span; t += step) {
      el("line", {x1: x(t), x2: x(t), y1: AXIS - 4, y2: height, stroke: "var(--grid)"});
      el("text", {x: x(t) + 2, y: AXIS - 8, class: "axis"}).textContent = ms(t);
    }
    function rowY(s) { return laneTop[s.lane] + PAD + s.row * ROW; }
    D.spans.forEach(function (s) {
      const waiting = s.kind === "CLIENT" && s.style === "call";
      const w = Math.max(2, x(s.end) - x(s.start));
      const r = el("rect", {x: x(s.start), y: rowY(s) + 1, width: w, height: ROW - 3,
        rx: 2, class: "bar", fill: waiting ? "url(#wait)" : color(s),
        stroke: color(s), "fill-opacity": s.finished ? 1 : 0.55,
        "stroke-dasharray": s.finished ? "" : "4 2"});
      hover(r, describe(s));
      if (w > 40) {
        el("text", {x: x(s.start) + 3, y: rowY(s) + ROW - 6}).textContent =
          (waiting ? "waiting: " : "") + s.name;
      }
    });
    function arrow(style, dashed, a, ta, b, tb) {
      el("line", {x1: x(ta), y1: rowY(a) + ROW / 2, x2: x(tb), y2: rowY(b) + ROW / 2,
        stroke: "var(--" + style + ")", "stroke-width": 1.5,
        "stroke-dasharray": dashed ? "5 3" : "", "marker-end": "url(#ah-" + style + ")"});
    }
    D.hops.forEach(function (h) {
      const c = byId[h.client];
      h.servers.forEach(function (sid) {
        const s = byId[sid];
        if (h.style === "call") {
          arrow("call", false, c, c.start, s, s.start);
          if (s.finished) arrow("call", true, s, s.end, c, c.end);
        } else {
          arrow(h.style, true, c, c.end, s, s.start);
        }
      });
    });
    D.notes.forEach(function (n) {
      const cx = x(n.ts), cy = laneTop[n.lane] + 4;
      const m = el("path", {d: "M" + cx + " " + (cy - 4) + "l4 4l-4 4l-4 -4z",
        fill: "var(--fg)"});
      const lines = [n.name + "  " + n.label, "at +" + ms(n.ts)];
      Object.keys(n.attrs).forEach(function (k) { lines.push(k + " = " + n.attrs[k]); });
      hover(m, lines.join("\\n"));
    });
  }
  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    const f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }
  document.getElementById("zoom").addEventListener("input", draw);
  window.addEventListener("resize", draw);
  draw();
})();
</script>
</body>
</html>
"""
