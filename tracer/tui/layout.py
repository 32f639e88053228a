"""Geometry shared by the views, kept free of widgets so it is cheap and testable.

Node names and ranks (in the order the boot reads: api -> conductor -> scheduler/computes
-> placement), the timeline's lanes and rows, the sequence view's participants. The
graph's own layout is in ``graphlayout``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tracer.model import HopView, Snapshot, SpanView
from tracer.model.constants import SERVICE_ORDER


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
    rank = SERVICE_ORDER.index(service) if service in SERVICE_ORDER else len(SERVICE_ORDER)
    return (rank, service, host)


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
