"""The service graph: who talks to whom, which edge carries a message right now.

An edge lights while a hop on it is in flight or being handled; calls are heavy solid
lines and their caller's box shows ``WAIT`` until the reply; casts are dashed and
the sender is released at once; fanout dotted. Click an edge to select its latest hop.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.events import Click
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from tracer.model import EMPTY_SNAPSHOT, HopView, Snapshot
from tracer.model.constants import LIVE_HOP_STATES, RPC_STYLES
from tracer.tui.canvas import Canvas
from tracer.tui.graphlayout import (
    BOX_H,
    MIN_DRAW_WIDTH,
    Box,
    EdgeKey,
    GraphLayout,
    layout_graph,
    node_layer,
    trace_edges,
)
from tracer.tui.i18n import lang_of, t
from tracer.tui.layout import node_label, node_of, node_service
from tracer.tui.palette import GLYPHS, HOP_COMPONENTS, Palette

LIVE_STATES = LIVE_HOP_STATES
ORCHESTRATORS = ("nova-api", "nova-conductor")  # they send the boot's main messages
LEGEND = (("call", "━▶", "call (caller blocked)"), ("cast", "╌▷", "cast (returns at once)"),
          ("fanout", "┅▷", "fanout"), ("http", "─▶", "http"))
SHORT_LEGEND = (("call", "━▶", "call blocks"), ("cast", "╌▷", "cast returns"),
                ("fanout", "┅▷", "fanout"), ("http", "─▶", "http"))




@dataclass
class _Edge:
    src: str
    dst: str
    style: str
    hops: list[HopView]

    @property
    def live(self) -> bool:
        return any(h.state in LIVE_STATES for h in self.hops)

    @property
    def error(self) -> bool:
        return any(h.state == "error" for h in self.hops)


def needed_height(snap: Snapshot, trace_id: str | None, width: int) -> int:
    """Rows the graph's content wants at this width: one per edge in the list, or the
    tallest column of boxes with a row between them; plus the legend."""
    edges = trace_edges(snap, trace_id)
    if width < MIN_DRAW_WIDTH:
        return max(2, min(len(edges), 8)) + 1
    per_col: dict[int, int] = {}
    for node in _nodes(edges):
        layer = node_layer(node)
        per_col[layer] = per_col.get(layer, 0) + 1
    tallest = max(per_col.values(), default=1)
    return max(8, tallest * (BOX_H + 1) + 1) + 1


def _label_len(hops: list[HopView]) -> int:
    """Room an edge's label needs: its longest method, ``×N`` when several hops."""
    return max(len(h.method) for h in hops) + (len(f" ×{len(hops)}") if len(hops) > 1 else 0)


def _nodes(edges: dict[EdgeKey, list[HopView]]) -> list[str]:
    nodes = {"nova-api", "nova-conductor", "nova-scheduler"}
    for src, dst, _style in edges:
        nodes.update((src, dst))
    return sorted(nodes)


class ServiceGraph(Widget):
    """The selected trace's services as boxes and its edges routed apart
    (``graphlayout``); a list of edges when too narrow to draw."""

    COMPONENT_CLASSES = set(HOP_COMPONENTS)  # hop colours: app.tcss

    DEFAULT_CSS = "ServiceGraph { height: 13; }"

    snapshot: reactive[Snapshot] = reactive(EMPTY_SNAPSHOT, always_update=True, layout=False)
    selected: reactive[str | None] = reactive(None)
    trace_id: reactive[str | None] = reactive(None)
    held: reactive[frozenset[str]] = reactive(frozenset())
    others: reactive[bool] = reactive(False)  # o: other traces' traffic too, dimmed

    class HopClicked(Message):
        def __init__(self, hop_id: str) -> None:
            super().__init__()
            self.hop_id = hop_id

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._tags: dict[tuple[int, int], str] = {}
        self._layouts: dict[tuple[object, ...], GraphLayout] = {}
        self.layout_model: GraphLayout | None = None  # the last one drawn (tests)

    def graph_layout(self, width: int, height: int) -> GraphLayout:
        """The layout for the selected trace at this size (cached per edge set)."""
        edges = self._edge_hops()
        nodes = _nodes(edges)
        key = (tuple(nodes), tuple((k, _label_len(v)) for k, v in edges.items()), width,
               height)
        found = self._layouts.get(key)
        if found is None:
            if len(self._layouts) > 32:
                self._layouts.clear()
            # what the api and the conductor send once (the boot's casts and its
            # scheduling call) is named whole on the drawing, or the edges are listed;
            # a compute's object calls repeat, and must not flip the picture mid-flow
            found = layout_graph(nodes, list(edges), width, height,
                                 {k: _label_len(v) for k, v in edges.items()},
                                 whole=[k for k, v in edges.items() if len(v) == 1 and
                                        node_service(k[0]) in ORCHESTRATORS])
            self._layouts[key] = found
        return found

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        pal = Palette(self)
        canvas = Canvas(width, height)
        edges = {k: _Edge(k[0], k[1], k[2], v) for k, v in self._edge_hops().items()}
        layout = self.graph_layout(width, height - 1)
        self.layout_model = layout
        if layout.compact:
            self._list(canvas, pal, edges, height - 1)
        else:
            self._draw(canvas, pal, layout, edges)
        self._legend(canvas, pal, height - 1)
        self._tags = canvas.tags
        return canvas.to_text()

    def _edge_hops(self) -> dict[EdgeKey, list[HopView]]:
        """The selected trace's edges; with ``others`` also the edges only other traces
        (start-up, periodic tasks) used, drawn dimmed."""
        edges = trace_edges(self.snapshot, self.trace_id)
        if self.others:
            for trace in self.snapshot.traces:
                if trace == self.trace_id:
                    continue
                for key, hops in trace_edges(self.snapshot, trace).items():
                    if key not in edges:
                        edges.setdefault((key[0], key[1], f"other:{key[2]}"), []).extend(hops)
        return edges

    def _pick(self, e: _Edge) -> tuple[HopView, str, Style]:
        """The hop an edge stands for (held, selected, live, else latest), its label and
        its line style."""
        pal = Palette(self)
        if e.style.startswith("other:"):  # another trace's traffic: quiet, no label
            return e.hops[-1], "", pal.fg("idle", dim=True)
        style_name = pal.style_for(e.style)
        if e.error:
            st = pal.fg("error", bold=True)
        elif e.live:
            st = pal.fg(style_name, bold=True)
        else:
            st = pal.fg(style_name)
        latest = e.hops[-1]
        live = [h for h in e.hops if h.state in LIVE_STATES]
        label = latest.method if len(e.hops) == 1 else f"{latest.method} ×{len(e.hops)}"
        if live:  # the in-flight method on the active edge
            latest = live[-1]
            label = latest.method
        held = next((h for h in e.hops if h.hop_id in self.held), None)
        if held is not None:  # walkthrough: the gate holds this message on the broker
            latest = held
            label = f"‖ {held.method}"
            st = pal.fg(style_name, bold=True) + Style(reverse=True)
        elif any(h.hop_id == self.selected for h in e.hops):
            latest = next(h for h in e.hops if h.hop_id == self.selected)
            st = st + (pal.fg("select", bold=True) if not e.live else Style(underline=True))
        return latest, label, st

    def _draw(self, cv: Canvas, pal: Palette, layout: GraphLayout,
              edges: dict[EdgeKey, _Edge]) -> None:
        hops = [h for e in edges.values() if not e.style.startswith("other:") for h in e.hops]
        waiting = {node_of(h.src_service, h.src_host) for h in hops
                   if h.style in ("call", "http") and h.state in LIVE_STATES}
        busy = {node_of(h.dst_service, h.dst_host) for h in hops
                if h.state in ("running", "waiting")}
        for route in layout.edges:
            edge = edges.get(route.key)
            if edge is None:
                continue
            hop, label, st = self._pick(edge)
            gl = GLYPHS[pal.style_for(edge.style)]
            for cell, kind in zip(route.cells, route.kinds, strict=True):
                ch = gl.h if kind == "h" else gl.v if kind == "v" else kind
                if cv.chars[cell[1]][cell[0]] not in (" ",) and kind in ("h", "v"):
                    ch = "┼" if kind in ("h", "v") else ch  # a crossing
                cv.put(cell[0], cell[1], ch, st, hop.hop_id)
            hx, hy = route.cells[-1]
            cv.put(hx, hy, gl.left if route.head_dir == "left" else gl.right, st, hop.hop_id)
            if route.label_room >= 3:
                shown = label if len(label) <= route.label_room else \
                    label[:route.label_room - 1] + "…"
                cv.text(route.label_x, route.label_y, shown, st, hop.hop_id)
        for box in layout.boxes:
            self._box(cv, pal, box, box.node in waiting, box.node in busy)

    def _list(self, cv: Canvas, pal: Palette, edges: dict[EdgeKey, _Edge],
              rows: int) -> None:
        """Too narrow to draw: one line per edge, in the order the flow sent them. When
        they do not all fit: the live, held and selected ones first, then the RPC
        messages (the calls and casts a class is there to see) before HTTP requests."""
        items = [e for e in edges.values() if not e.style.startswith("other:")]
        if len(items) > rows:
            def tier(e: _Edge) -> int:
                if e.live or any(h.hop_id in self.held or h.hop_id == self.selected
                                 for h in e.hops):
                    return 0
                return 1 if e.style in RPC_STYLES else 2

            ranked = sorted(range(len(items)), key=lambda i: (tier(items[i]), i))
            chosen = set(ranked[:rows])
            items = [e for i, e in enumerate(items) if i in chosen]
        lang = lang_of(self)
        src_w = max((len(node_label(e.src)) for e in items), default=4)
        dst_w = max((len(node_label(e.dst)) for e in items), default=4)
        for y, edge in enumerate(items[:rows]):
            hop, label, st = self._pick(edge)
            gl = GLYPHS[pal.style_for(edge.style)]
            arrow = gl.h * 2 + gl.right
            state = t("‖ held" if any(h.hop_id in self.held for h in edge.hops) else (
                "waiting" if edge.live and edge.style in ("call", "http") else
                hop.state.replace("_", " ")), lang)
            state += " " * max(0, 8 - cell_len(state))
            text = (f"{node_label(edge.src):>{src_w}} {arrow} {node_label(edge.dst):<{dst_w}}"
                    f"  {edge.style:<6} {state} {label}")
            cv.text(1, y, text, st, hop.hop_id)

    def _box(self, cv: Canvas, pal: Palette, box: Box, waiting: bool, busy: bool) -> None:
        st = pal.fg("waiting", bold=True) if waiting else (
            pal.fg("running", bold=True) if busy else pal.fg("node", bold=True))
        inner = box.w - 2
        top = "─" * inner
        if waiting:
            top = ("WAIT" + "─" * inner)[:inner]
        elif busy:
            top = ("BUSY" + "─" * inner)[:inner]
        x, y = box.x, box.y
        cv.text(x, y, "┌" + top + "┐", st)
        cv.text(x, y + 1, "│" + node_label(box.node)[:inner].center(inner) + "│", st)
        cv.text(x, y + 2, "└" + "─" * inner + "┘", st)

    def _legend(self, cv: Canvas, pal: Palette, y: int) -> None:
        lang = lang_of(self)
        x = 1
        legend = LEGEND if cv.width >= 100 else SHORT_LEGEND
        for style, glyph, text in legend:
            cv.text(x, y, glyph, pal.fg(style, bold=True))
            x += cv.text(x + 3, y, t(text, lang), pal.fg("label")) + (
                5 if legend is LEGEND else 4)
        cv.text(x, y, t("WAIT caller blocked" if cv.width >= 100 else "WAIT blocked", lang),
                pal.fg("waiting", bold=True))

    def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        hop_id = None
        for dx in (0, -1, 1):
            hop_id = self._tags.get((offset.x + dx, offset.y))
            if hop_id:
                break
        if hop_id:
            self.post_message(self.HopClicked(hop_id))
