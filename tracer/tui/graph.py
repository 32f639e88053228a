"""The service graph: who talks to whom, which edge carries a message right now.

An edge lights while a hop on it is in flight or being handled; calls are heavy solid
lines and their caller's box shows ``⏳ waiting`` until the reply; casts are dashed and
the sender is released at once; fanout dotted. Click an edge to select its latest hop.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.events import Click
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from tracer.model import EMPTY_SNAPSHOT, HopView, Snapshot
from tracer.tui.canvas import Canvas
from tracer.tui.layout import build_graph, graph_positions, node_label, node_of
from tracer.tui.palette import GLYPHS, HOP_COMPONENTS, Palette

BOX_W = 16
LIVE_STATES = ("in_flight", "waiting", "running")
LEGEND = (("call", "━▶", "call (caller blocked)"), ("cast", "╌▷", "cast (returns at once)"),
          ("fanout", "┅▷", "fanout"), ("http", "─▶", "http"))
SHORT_LEGEND = (("call", "━▶", "call blocks"), ("cast", "╌▷", "cast returns"),
                ("fanout", "┅▷", "fanout"), ("http", "─▶", "http"))



# what an edge label may be written over: blank or a horizontal line, never a box,
# a corner, an arrow head or a vertical line
_LABEL_OVER = frozenset(" ━╌┅─")


def _free(cv: Canvas, x: int, y: int) -> bool:
    return 0 <= y < cv.height and 0 <= x < cv.width and cv.chars[y][x] in _LABEL_OVER


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


class ServiceGraph(Widget):
    """Nodes laid out by networkx (layered), edges routed orthogonally on a canvas."""

    COMPONENT_CLASSES = set(HOP_COMPONENTS)  # hop colours: app.tcss

    DEFAULT_CSS = "ServiceGraph { height: 13; }"

    snapshot: reactive[Snapshot] = reactive(EMPTY_SNAPSHOT, always_update=True, layout=False)
    selected: reactive[str | None] = reactive(None)
    trace_id: reactive[str | None] = reactive(None)
    held: reactive[frozenset[str]] = reactive(frozenset())

    class HopClicked(Message):
        def __init__(self, hop_id: str) -> None:
            super().__init__()
            self.hop_id = hop_id

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._tags: dict[tuple[int, int], str] = {}
        self._box_w = BOX_W

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        pal = Palette(self)
        canvas = Canvas(width, height)
        self._draw(canvas, pal, self.snapshot, height - 1)
        self._legend(canvas, pal, height - 1)
        self._tags = canvas.tags
        return canvas.to_text()

    def _draw(self, cv: Canvas, pal: Palette, snap: Snapshot, height: int) -> None:
        g = build_graph(snap)
        layers = len({g.nodes[n]["layer"] for n in g.nodes}) or 1
        self._box_w = max(11, min(BOX_W, (cv.width - 2) // layers - 4))
        pos = graph_positions(g, cv.width - 2, height, self._box_w)
        pos = {n: (x + 1, y) for n, (x, y) in pos.items()}
        edges: dict[tuple[str, str, str], _Edge] = {}
        for hop in snap.hops:
            if hop.src_service == "client":
                continue
            src, dst = node_of(hop.src_service, hop.src_host), node_of(hop.dst_service,
                                                                          hop.dst_host)
            if src not in pos or dst not in pos:
                continue
            key = (src, dst, hop.style)
            edges.setdefault(key, _Edge(src, dst, hop.style, [])).hops.append(hop)
        waiting = {node_of(h.src_service, h.src_host) for h in snap.hops
                   if h.style in ("call", "http") and h.state in LIVE_STATES
                   and h.src_service != "client"}
        busy = {node_of(h.dst_service, h.dst_host) for h in snap.hops
                if h.state in ("running", "waiting")}
        # idle edges first, lit ones on top
        order = sorted(edges.values(), key=lambda e: (e.live, e.error))
        lanes: dict[tuple[int, int], int] = {}
        labels: list[tuple[int, int, int, str, Style, str]] = []
        for edge in order:
            self._edge(cv, pal, edge, pos, lanes, labels)
        heads = [item for item in labels if item[2] == 0]
        labels = [item for item in labels if item[2] != 0]
        for hx, hy, _, head, st, tag in heads:
            cv.put(hx, hy, head, st, tag)
        for node, (x, y) in pos.items():
            self._box(cv, pal, node, x, y, node in waiting, node in busy)
        # labels last, lit edges' first, each only over plain horizontal line or blank:
        # a label cut by a box, a vertical line or another label showed fragments
        # ("exte", "PO") that read as garbage
        taken: set[tuple[int, int]] = set()
        for lx, ly, span, label, st, tag in reversed(labels):
            room = 0
            while room < span and _free(cv, lx + room, ly) and (lx + room, ly) not in taken:
                room += 1
            shown = label if len(label) <= room else label[:room - 1] + "…"
            if room < 6 or len(shown) < 6:
                continue
            cv.text(lx, ly, shown, st, tag)
            taken.update((lx + i, ly) for i in range(-1, len(shown) + 1))

    def _edge(self, cv: Canvas, pal: Palette, e: _Edge, pos: dict[str, tuple[int, int]],
              lanes: dict[tuple[int, int], int],
              labels: list[tuple[int, int, int, str, Style, str]]) -> None:
        style_name = pal.style_for(e.style)
        gl = GLYPHS[style_name]
        if e.error:
            st = pal.fg("error", bold=True)
        elif e.live:
            st = pal.fg(style_name, bold=True)
        else:
            st = pal.fg(style_name, dim=True)
        latest = e.hops[-1]
        held = next((h for h in e.hops if h.hop_id in self.held), None)
        if held is not None:  # walkthrough: the gate holds this message on the broker
            latest = held
            st = pal.fg(style_name, bold=True) + Style(blink=False, reverse=True)
        elif any(h.hop_id == self.selected for h in e.hops):
            latest = next(h for h in e.hops if h.hop_id == self.selected)
            st = st + (pal.fg("select", bold=True) if not e.live else Style(underline=True))
        tag = latest.hop_id
        (sx, sy), (dx, dy) = pos[e.src], pos[e.dst]
        forward = dx > sx or (dx == sx and dy > sy)
        row_off = 1 if forward else 2
        if dx > sx:
            x0, x1 = sx + self._box_w, dx - 1
        elif dx < sx:
            x0, x1 = sx - 1, dx + self._box_w
        else:  # same column: go round the right side
            x0 = x1 = sx + self._box_w
        y0, y1 = sy + row_off, dy + (1 if forward else 2)
        if x0 == x1:
            mid = x0 + 2 + lanes.get((x0, 0), 0)
            lanes[(x0, 0)] = lanes.get((x0, 0), 0) + 1
        else:
            mid = (x0 + x1) // 2 + (-1 if forward else 1)
        cv.hline(x0, mid, y0, gl.h, st, tag)
        cv.vline(mid, y0, y1, gl.v, st, tag)
        cv.hline(mid, x1, y1, gl.h, st, tag)
        corner_a = "┐" if y1 > y0 else "┘" if y1 < y0 else gl.h
        corner_b = "└" if y1 > y0 else "┌" if y1 < y0 else gl.h
        if mid > x0 and mid > x1 or mid < x0 and mid < x1:
            pass
        elif y0 != y1:
            cv.put(mid, y0, corner_a if x1 >= x0 else ("┌" if y1 > y0 else "└"), st, tag)
            cv.put(mid, y1, corner_b if x1 >= x0 else ("┘" if y1 > y0 else "┐"), st, tag)
        head = gl.right if x1 > mid or (x1 == mid and x0 < x1) else gl.left
        if x0 == x1:
            head = gl.left
        labels.append((x1, y1, 0, head, st, tag))  # drawn after every line: never lost
        label = latest.method if len(e.hops) == 1 else f"{latest.method} ×{len(e.hops)}"
        if held is not None:
            label = f"⏸ {latest.method}"
        span = abs(mid - x0) - 1
        lx = min(x0, mid) + 1
        ly = y0
        if span < 6:
            span, lx, ly = abs(x1 - mid) - 1, min(mid, x1) + 1, y1
        if span >= 6:
            labels.append((lx, ly, span, label, st, tag))

    def _box(self, cv: Canvas, pal: Palette, node: str, x: int, y: int, waiting: bool,
             busy: bool) -> None:
        st = pal.fg("waiting", bold=True) if waiting else (
            pal.fg("running", bold=True) if busy else pal.fg("node"))
        inner = self._box_w - 2
        top = "─" * inner
        if waiting:
            top = ("⏳waiting" + "─" * inner)[:inner]
        elif busy:
            top = ("⚙ busy" + "─" * inner)[:inner]
        cv.text(x, y, "┌" + top + "┐", st)
        cv.text(x, y + 1, "│" + node_label(node)[:inner].center(inner) + "│", st)
        cv.text(x, y + 2, "└" + "─" * inner + "┘", st)

    def _legend(self, cv: Canvas, pal: Palette, y: int) -> None:
        x = 1
        legend = LEGEND if cv.width >= 100 else SHORT_LEGEND
        for style, glyph, text in legend:
            cv.text(x, y, glyph, pal.fg(style, bold=True))
            cv.text(x + 3, y, text, pal.fg("label"))
            x += len(text) + (5 if legend is LEGEND else 4)
        cv.text(x, y, "⏳ waiting" if cv.width >= 100 else "⏳wait", pal.fg("waiting"))

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
