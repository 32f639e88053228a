"""Chrome Trace Event JSON, the format Perfetto (ui.perfetto.dev) and chrome://tracing open.

One process per service, one thread per host, a complete event per span, instant events for
annotations, and flow arrows for every rpc message so the call→reply round trip and the
cast producer→consumer hand-off are visible between threads.
"""

from __future__ import annotations

import json
from typing import Any

from tracer.export.spans import ExportSpan, ExportView, pack_rows


def _us(ns: int, t0: int) -> float:
    """Trace Event timestamps are microseconds; keep ns precision as decimals."""
    return round((ns - t0) / 1000.0, 3)


def render(folded: ExportView) -> str:
    """Return the Trace Event JSON object as text."""
    t0 = folded.t0_ns
    services = list(dict.fromkeys(ep[0] for ep in folded.endpoints()))
    pid = {svc: i + 1 for i, svc in enumerate(services)}
    rows = pack_rows(folded.spans)
    tids: dict[tuple[str, str, int], int] = {}

    def tid_of(service: str, host: str, row: int = 0) -> int:
        key = (service, host, row)
        if key not in tids:
            tids[key] = len([k for k in tids if k[0] == service]) + 1
        return tids[key]

    for ep in folded.endpoints():
        tid_of(*ep)
    events: list[dict[str, Any]] = []
    for span in folded.spans:
        tid_of(span.service, span.host, rows[span.span_id])

    for svc in services:
        events.append({"ph": "M", "name": "process_name", "pid": pid[svc], "tid": 0,
                       "args": {"name": svc}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid[svc], "tid": 0,
                       "args": {"sort_index": pid[svc]}})
    for (svc, host, row), tid in sorted(tids.items(), key=lambda kv: (pid[kv[0][0]], kv[1])):
        name = host if row == 0 else f"{host} ({row + 1})"
        events.append({"ph": "M", "name": "thread_name", "pid": pid[svc], "tid": tid,
                       "args": {"name": name}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": pid[svc], "tid": tid,
                       "args": {"sort_index": tid}})

    def where(span: ExportSpan) -> dict[str, int]:
        return {"pid": pid[span.service], "tid": tids[(span.service, span.host,
                                                        rows[span.span_id])]}

    for span in folded.spans:
        args: dict[str, Any] = dict(span.attrs)
        args.update({"span.kind": span.kind, "span.id": span.span_id, "trace.id": span.trace_id,
                     "parent.id": span.parent_id, "status": span.status})
        if span.status_message:
            args["status.message"] = span.status_message
        cat = span.kind.lower() + ("" if span.finished else ",unfinished")
        name = span.name if span.finished else f"{span.name} (unfinished)"
        events.append({"ph": "X", "name": name, "cat": cat, "ts": _us(span.start_ns, t0),
                       "dur": round(span.duration_ns / 1000.0, 3), "args": args, **where(span)})
        for ann in span.annotations:
            events.append({"ph": "i", "s": "t", "name": f"{ann.name} {ann.label()}",
                           "cat": ann.name, "ts": _us(ann.ts_ns, t0), "args": dict(ann.attrs),
                           **where(span)})
    for ann in folded.annotations:
        if ann.span_id is None or ann.span_id not in folded.by_id:
            ep_tid = tids.get((ann.service, ann.host, 0))
            if ep_tid is None:
                continue
            events.append({"ph": "i", "s": "t", "name": f"{ann.name} {ann.label()}",
                           "cat": ann.name, "ts": _us(ann.ts_ns, t0), "args": dict(ann.attrs),
                           "pid": pid[ann.service], "tid": ep_tid})

    flow_id = 0

    def inside(span: ExportSpan, ns: int) -> float:
        """A flow binds to the slice enclosing its ts: stay 1 ns inside the span's edges."""
        lo, hi = span.start_ns, span.end_ns
        if hi - lo >= 2:
            ns = min(max(ns, lo + 1), hi - 1)
        else:
            ns = lo
        return _us(ns, t0)

    def flow(cat: str, name: str, src: ExportSpan, src_ns: int, dst: ExportSpan,
             dst_ns: int) -> None:
        nonlocal flow_id
        flow_id += 1
        events.append({"ph": "s", "id": flow_id, "cat": cat, "name": name,
                       "ts": inside(src, src_ns), **where(src)})
        events.append({"ph": "f", "bp": "e", "id": flow_id, "cat": cat, "name": name,
                       "ts": inside(dst, dst_ns), **where(dst)})

    for hop in folded.hops:
        client = folded.client(hop)
        for server in folded.servers(hop):
            if hop.style == "call":
                flow("rpc.call", hop.method, client, client.start_ns, server, server.start_ns)
                if server.finished:
                    flow("rpc.reply", f"{hop.method} reply", server, server.end_ns,
                         client, client.end_ns)
            else:
                flow(f"rpc.{hop.style}", hop.method, client, client.end_ns, server,
                     server.start_ns)

    doc = {"traceEvents": events, "displayTimeUnit": "ms",
           "otherData": {"source": "bootflow", "t0_unix_ns": folded.t0_ns}}
    return json.dumps(doc, indent=None, separators=(",", ":"), default=str)
