"""Graphviz DOT of the service graph: who sends what to whom, and how often.

A cluster per service holds its hosts; one edge per (src, dst, method, style) with a count.
The line style carries the rpc semantics: call solid, cast dashed, fanout dotted.
"""

from __future__ import annotations

from tracer.export.spans import Endpoint, ExportView

EDGE_STYLE = {"call": "solid", "cast": "dashed", "fanout": "dotted"}


def quote(value: str) -> str:
    """A DOT double-quoted string; backslashes are escapes in DOT labels, so double them."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render(folded: ExportView) -> str:
    """Return the digraph source (``dot -Tsvg`` renders it)."""
    endpoints = folded.endpoints()
    node = {ep: f"n{i}" for i, ep in enumerate(endpoints)}
    lines = [
        "digraph bootflow {",
        "  graph [rankdir=LR, fontname=Helvetica, label=\"bootflow service graph\", "
        "labelloc=t];",
        "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", "
        "fontname=Helvetica];",
        "  edge [fontname=Helvetica, fontsize=10];",
    ]
    has_user = any(s.kind == "HTTP" and s.parent_id not in folded.by_id for s in folded.spans)
    if has_user:
        lines.append("  user [shape=plaintext, style=\"\", label=\"user (HTTP)\"];")
    services = list(dict.fromkeys(svc for svc, _ in endpoints))
    for ci, svc in enumerate(services):
        lines.append(f"  subgraph cluster_{ci} {{")
        lines.append(f"    label={quote(svc)}; style=rounded; color=\"#7a8ca8\";")
        for ep in endpoints:
            if ep[0] == svc:
                lines.append(f"    {node[ep]} [label={quote(ep[0] + chr(10) + ep[1])}];")
        lines.append("  }")

    counts: dict[tuple[Endpoint, Endpoint, str, str, str], int] = {}
    for hop in folded.hops:
        for dst in hop.receivers:
            key = (hop.src, dst, hop.method, hop.style, hop.version)
            counts[key] = counts.get(key, 0) + 1
    for (src, dst, method, style, version), n in counts.items():
        label = f"{method} ×{n}" if n > 1 else method
        label += f"\n{style} {version}".rstrip()
        lines.append(f"  {node[src]} -> {node[dst]} [label={quote(label)}, "
                     f"style={EDGE_STYLE[style]}];")
    if has_user:
        http: dict[tuple[Endpoint, str], int] = {}
        for span in folded.spans:
            if span.kind == "HTTP" and span.parent_id not in folded.by_id:
                http[(span.endpoint, span.name)] = http.get((span.endpoint, span.name), 0) + 1
        for (ep, name), n in http.items():
            label = f"{name} ×{n}" if n > 1 else name
            lines.append(f"  user -> {node[ep]} [label={quote(label)}, style=bold];")

    lines += [
        "  subgraph cluster_legend {",
        "    label=\"legend\"; style=dashed; color=\"#999999\"; fontsize=10;",
        "    node [shape=point, width=0.05, style=\"\", label=\"\"];",
        "    lg_a1; lg_b1; lg_a2; lg_b2; lg_a3; lg_b3;",
        "    lg_a1 -> lg_b1 [label=\"call (caller waits for reply)\", style=solid];",
        "    lg_a2 -> lg_b2 [label=\"cast (fire and forget)\", style=dashed];",
        "    lg_a3 -> lg_b3 [label=\"fanout cast (every host of the topic)\", style=dotted];",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"
