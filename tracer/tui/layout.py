"""Geometry shared by the views, kept free of widgets so it is cheap and testable.

Node names, the service graph's layout (networkx, layered the way the boot reads:
api -> conductor -> scheduler/computes -> placement) and the timeline's lanes and rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx

from tracer.model import HopView, Snapshot, SpanView

BASE_NODES = ("nova-api", "nova-conductor", "nova-scheduler", "placement")
_LAYER = {"client": 0, "nova-api": 0, "nova-conductor": 1, "nova-scheduler": 2,
          "nova-compute": 2, "placement": 3, "database": 3}
_ORDER = ("client", "nova-api", "nova-conductor", "nova-scheduler", "nova-compute",
          "placement")


def node_of(service: str, host: str) -> str:
    """Graph node for an endpoint: one node per compute host, one per other service."""
    if service == "nova-compute":
        return f"compute:{host}" if host and host != "?" else "nova-compute"
    return service


def node_label(node: str) -> str:
    if node.startswith("compute:"):
        return node.split(":", 1)[1]
    return node.removeprefix("nova-")


def node_service(node: str) -> str:
    return "nova-compute" if node.startswith("compute:") else node


def endpoint_rank(service: str, host: str) -> tuple[int, str, str]:
    rank = _ORDER.index(service) if service in _ORDER else len(_ORDER)
    return (rank, service, host)


def build_graph(snap: Snapshot) -> nx.MultiDiGraph:
    """Nodes = services (each compute host on its own); edges = hops, keyed by hop id."""
    g = nx.MultiDiGraph()
    for node in BASE_NODES[:3]:
        g.add_node(node)
    for (binary, host) in snap.services:
        g.add_node(node_of(binary, host))
    for hop in snap.hops:
        if hop.src_service == "client":
            continue
        src = node_of(hop.src_service, hop.src_host)
        dst = node_of(hop.dst_service, hop.dst_host)
        g.add_edge(src, dst, key=hop.hop_id, style=hop.style)
    for node in g.nodes:
        g.nodes[node]["layer"] = _LAYER.get(node_service(node), 3)
    return g


def graph_positions(g: nx.Graph, width: int, height: int,
                    box_w: int) -> dict[str, tuple[int, int]]:
    """Top-left cell of each node's box: a layered (multipartite) layout of *g*.

    networkx's own multipartite_layout needs numpy; this is the same idea without it:
    one column per layer, nodes of a column spread evenly, in boot order.
    """
    if not g.nodes:
        return {}
    layers: dict[int, list[str]] = {}
    for node in g.nodes:
        layers.setdefault(g.nodes[node]["layer"], []).append(node)
    cols = sorted(layers)
    out: dict[str, tuple[int, int]] = {}
    for ci, layer in enumerate(cols):
        nodes = sorted(layers[layer], key=_node_key)
        fx = ci / (len(cols) - 1) if len(cols) > 1 else 0.5
        x = round(fx * max(0, width - box_w))
        for ni, node in enumerate(nodes):
            fy = (ni + 0.5) / len(nodes)
            y = round(fy * height - 1.5)
            out[node] = (x, max(0, y))
    return _spread(out, height)


def _node_key(node: str) -> tuple[int, str]:
    svc = node_service(node)
    return (_ORDER.index(svc) if svc in _ORDER else len(_ORDER), node)


def _spread(pos: dict[str, tuple[int, int]], height: int) -> dict[str, tuple[int, int]]:
    """Boxes are 3 rows high: push apart nodes of one column that would overlap."""
    cols: dict[int, list[str]] = {}
    for node, (x, _y) in pos.items():
        cols.setdefault(x, []).append(node)
    out = dict(pos)
    for nodes in cols.values():
        nodes.sort(key=lambda n: pos[n][1])
        last = -10
        for node in nodes:
            x, y = out[node]
            y = max(y, last + 4)
            out[node] = (x, min(y, max(0, height - 3)))
            last = y
    return out


@dataclass(frozen=True)
class Lane:
    """One timeline lane (a service on a host) and its packed rows of spans."""

    service: str
    host: str
    rows: tuple[tuple[SpanView, ...], ...]

    @property
    def label(self) -> str:
        short = self.service.removeprefix("nova-")
        return short if self.host in ("", "?", short) else f"{short}@{self.host}"


def pack_lanes(spans: Sequence[SpanView], now_ns: int) -> list[Lane]:
    """Spans grouped per endpoint, each lane packed into rows where spans don't overlap."""
    by_ep: dict[tuple[str, str], list[SpanView]] = {}
    for span in spans:
        by_ep.setdefault((span.service, span.host), []).append(span)
    lanes = []
    for ep in sorted(by_ep, key=lambda e: endpoint_rank(*e)):
        rows: list[list[SpanView]] = []
        ends: list[int] = []
        for span in sorted(by_ep[ep], key=lambda s: (s.start_ns, s.seq)):
            end = span.end_ns if span.end_ns is not None else now_ns
            for i, row_end in enumerate(ends):
                if row_end <= span.start_ns:
                    rows[i].append(span)
                    ends[i] = max(end, span.start_ns + 1)
                    break
            else:
                rows.append([span])
                ends.append(max(end, span.start_ns + 1))
        lanes.append(Lane(ep[0], ep[1], tuple(tuple(r) for r in rows)))
    return lanes


def hop_for_span(snap: Snapshot, span: SpanView) -> HopView | None:
    """The hop a span belongs to: as sender, or as the handler of its parent."""
    for hop in snap.hops:
        if hop.hop_id == span.span_id or span.span_id in hop.server_span_ids:
            return hop
    return None


def participants(hops: Iterable[HopView]) -> list[tuple[str, str]]:
    """Sequence-diagram lifelines in boot order."""
    seen: set[tuple[str, str]] = set()
    for hop in hops:
        seen.add((hop.src_service, hop.src_host if hop.src_service == "nova-compute" else ""))
        seen.add((hop.dst_service, hop.dst_host if hop.dst_service == "nova-compute" else ""))
    return sorted(seen, key=lambda e: endpoint_rank(*e))
