"""The scheduler's decision, read from its spans as Nova's log tells it: each filter with
the hosts in → out (and which host went, why), each weigher with its weights, the host
chosen. The scheduler emits one span per filter (``filter RamFilter``: ``hosts_in``,
``hosts_out``, ``reasons``), per weigher (``weigher RAMWeigher``: ``normalized``,
``multiplier``) and one ``_get_sorted_hosts`` per instance (``hosts_in``, ``chosen``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text

from tracer.model import HopView, Snapshot, SpanView
from tracer.tui import words
from tracer.tui.i18n import t

FILTER = "filter "
WEIGHER = "weigher "
SORT = "_get_sorted_hosts"


def _hosts(value: Any) -> list[str] | None:
    return [str(h) for h in value] if isinstance(value, list) else None


def host_counts(span: SpanView) -> str:
    """``3→2`` after a filter's or a weigher's name (hosts in → hosts left), ``2→…``
    while it runs, "" for any other span."""
    if span.name.startswith(FILTER):
        before = _hosts(span.attrs.get("hosts_in"))
        after = _hosts(span.attrs.get("hosts_out"))
    elif span.name.startswith(WEIGHER):
        before = after = _hosts(span.attrs.get("hosts"))
    else:
        return ""
    if before is None:
        return ""
    return f"{len(before)}→{len(after) if after is not None else '…'}"


def _subtree(snap: Snapshot, hop: HopView) -> list[SpanView]:
    """The spans under the hop's server spans, in start order."""
    spans = snap.trace_spans(hop.trace_id)
    kids: dict[str, list[SpanView]] = {}
    for span in spans:
        if span.parent_id:
            kids.setdefault(span.parent_id, []).append(span)
    out: list[SpanView] = []
    todo = list(hop.server_span_ids)
    while todo:
        for kid in kids.get(todo.pop(), ()):
            out.append(kid)
            todo.append(kid.span_id)
    out.sort(key=lambda s: (s.start_ns, s.seq))
    return out


def _fmt_weight(value: Any) -> str:
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return str(value)


def _under(span: SpanView, sort: SpanView, by_id: Mapping[str, SpanView]) -> bool:
    parent = span.parent_id
    while parent:
        if parent == sort.span_id:
            return True
        up = by_id.get(parent)
        parent = up.parent_id if up is not None else None
    return False


def scheduler_decision(snap: Snapshot, hop: HopView, lang: str = "en") -> Text | None:
    """The block for a select_destinations hop (None when the hop ran no filter): one
    section per instance scheduled."""
    spans = _subtree(snap, hop)
    sorts = [s for s in spans if s.name == SORT]
    if not sorts:
        return None
    by_id = {s.span_id: s for s in spans}
    text = Text("\n")
    text.append(t(words.DECISION_TITLE, lang), style="bold reverse")
    text.append("\n")
    for n, sort in enumerate(sorts, 1):
        if len(sorts) > 1:
            text.append(t("instance {n} of {m}", lang, n=n, m=len(sorts)) + "\n", style="bold")
        hosts = _hosts(sort.attrs.get("hosts_in")) or []
        text.append(t(words.DECISION_FROM_PLACEMENT, lang), style="dim")
        text.append(", ".join(hosts) or t("none", lang))
        text.append("\n")
        mine = [s for s in spans if _under(s, sort, by_id)]
        filters = [s for s in mine if s.name.startswith(FILTER)]
        width = max((len(s.name) - len(FILTER) for s in filters), default=0)
        for span in filters:
            text.append(f" {span.name[len(FILTER):]:<{width}}  ")
            counts = host_counts(span)
            before, _, after = counts.partition("→")
            text.append(t("{a} → {b} hosts", lang, a=before, b=after), style="bold")
            reasons = span.attrs.get("reasons")
            gone = _hosts(span.attrs.get("rejected")) or []
            for host in gone:
                why = reasons.get(host) if isinstance(reasons, Mapping) else None
                text.append(t("  {host} went", lang, host=host), style="bold red")
                if why:
                    text.append(f": {why}", style="red")
            if span.attrs.get("skipped"):
                text.append(t("  (skipped: {why})", lang, why=span.attrs["skipped"]), style="dim")
            text.append("\n")
        weighers = [s for s in mine if s.name.startswith(WEIGHER)]
        if weighers:
            text.append(t(words.DECISION_WEIGHERS, lang) + "\n", style="dim")
        width = max((len(s.name) - len(WEIGHER) for s in weighers), default=0)
        for span in weighers:
            text.append(f" {span.name[len(WEIGHER):]:<{width}} ")
            norm = span.attrs.get("normalized")
            if isinstance(norm, Mapping):
                text.append(" · ".join(f"{h} {_fmt_weight(w)}" for h, w in norm.items()))
            mult = span.attrs.get("multiplier")
            if isinstance(mult, (int, float)) and mult != 1:
                text.append(f"  ×{mult:.0f}" if abs(mult) >= 1e4 else f"  ×{mult:g}",
                            style="dim")
            text.append("\n")
        chosen = sort.attrs.get("chosen")
        if chosen:
            text.append(t(words.DECISION_CHOSEN, lang), style="bold green")
            text.append(str(chosen), style="bold green")
            weighed = sort.attrs.get("weighed")
            if isinstance(weighed, list) and weighed:
                text.append(t("  (total weight ", lang) + ", ".join(
                    f"{w[0]} {_fmt_weight(w[1])}" for w in weighed
                    if isinstance(w, list) and len(w) == 2) + ")", style="dim")
            text.append("\n")
        elif sort.end_ns is not None:
            text.append(t(words.DECISION_NONE, lang) + "\n", style="bold red")
    text.rstrip()
    return text
