"""The service graph's geometry for one trace: boxes, one route per edge, label slots.

Kept free of widgets so a test can check the facts a reader relies on: no two boxes
overlap, every edge has a route of its own (lines never run along each other, they may
only cross), and an edge's label sits on cells that belong to that edge alone. When the
boxes cannot be drawn without overlapping, or the widget is narrower than
``MIN_DRAW_WIDTH``, the layout says ``compact`` and the widget lists the edges instead.

Routes are found by a bend-minimising shortest path on the character grid (boxes are
walls, another edge's cell may only be crossed at right angles, never turned on), so
the layout is computed once per set of edges and size and cached by the widget.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tracer.model import HopView, Snapshot
from tracer.model.constants import RPC_STYLES, SERVICE_ORDER
from tracer.tui.layout import node_label, node_of, node_service

MIN_DRAW_WIDTH = 96  # the graph spans the screen: ~100 terminal columns
BOX_H = 3
_LAYER = {"client": 0, "nova-api": 0, "nova-conductor": 1, "nova-scheduler": 2,
          "nova-compute": 2, "placement": 3, "database": 3}
MIN_GAP = 8  # columns between two layers of boxes, at least
_BEND = 6  # a bend costs as much as six cells of line: few bends, readable routes
_CROSS = 3  # crossing another line is allowed, but a detour of 3 cells is preferred
_E, _W, _S, _N = 0, 1, 2, 3
_STEP = {_E: (1, 0), _W: (-1, 0), _S: (0, 1), _N: (0, -1)}

Cell = tuple[int, int]
EdgeKey = tuple[str, str, str]  # (src node, dst node, hop style)


@dataclass(frozen=True)
class Box:
    node: str
    x: int
    y: int
    w: int

    @property
    def cells(self) -> set[Cell]:
        return {(x, y) for x in range(self.x, self.x + self.w)
                for y in range(self.y, self.y + BOX_H)}


@dataclass(frozen=True)
class EdgeRoute:
    """``cells`` in order from the source's side to the arrow head (the last cell);
    ``kinds`` says per cell ``h``/``v`` (a straight piece) or a corner glyph."""

    key: EdgeKey
    cells: tuple[Cell, ...]
    kinds: tuple[str, ...]
    label_x: int = 0
    label_y: int = 0
    label_room: int = 0

    @property
    def label_cells(self) -> set[Cell]:
        return {(self.label_x + i, self.label_y) for i in range(self.label_room)}

    @property
    def head_dir(self) -> str:
        (x0, _), (x1, _) = self.cells[-2] if len(self.cells) > 1 else self.cells[-1], \
            self.cells[-1]
        return "left" if x1 < x0 else "right"


@dataclass(frozen=True)
class GraphLayout:
    width: int
    height: int
    compact: bool
    boxes: tuple[Box, ...] = ()
    edges: tuple[EdgeRoute, ...] = ()
    reason: str = ""


def trace_edges(snap: Snapshot, trace_id: str | None) -> dict[EdgeKey, list[HopView]]:
    """The selected trace's hops grouped per (source, destination, style), in send order:
    start-up and periodic traffic of other traces is not drawn."""
    out: dict[EdgeKey, list[HopView]] = {}
    for hop in snap.trace_hops(trace_id):
        if hop.src_service == "client":
            continue
        src = node_of(hop.src_service, hop.src_host)
        dst = node_of(hop.dst_service, hop.dst_host)
        out.setdefault((src, dst, hop.style), []).append(hop)
    return out


def node_layer(node: str) -> int:
    """The column a node is drawn in: api, conductor, scheduler and computes, placement."""
    return _LAYER.get(node_service(node), 3)


def _node_key(node: str) -> tuple[int, str]:
    svc = node_service(node)
    return (SERVICE_ORDER.index(svc) if svc in SERVICE_ORDER else len(SERVICE_ORDER), node)


def layout_graph(nodes: Iterable[str], edges: Sequence[EdgeKey], width: int,
                 height: int, labels: Mapping[EdgeKey, int] | None = None,
                 whole: Iterable[EdgeKey] = ()) -> GraphLayout:
    """Boxes in layered columns (api → conductor → scheduler/computes → placement), then
    each edge routed in turn, the RPC messages first (they get the straight routes);
    ``compact`` when it does not fit. ``labels``: the length of each edge's label, so the
    gaps between columns go first to the calls' and casts' names; ``whole``: the edges
    whose names must read whole on the drawing (else it is a list)."""
    if width < MIN_DRAW_WIDTH:
        return GraphLayout(width, height, True, reason="narrow")
    columns: dict[int, list[str]] = {}
    for node in sorted(set(nodes), key=_node_key):
        columns.setdefault(node_layer(node), []).append(node)
    if not columns:
        return GraphLayout(width, height, False)
    layers = sorted(columns)
    cols = [columns[k] for k in layers]
    col_w = [max(len(node_label(n)) for n in col) + 4 for col in cols]
    spare = width - sum(col_w) - 2
    if spare < MIN_GAP * max(1, len(cols) - 1) + 4 or \
            any(len(c) * BOX_H > height for c in cols):
        return GraphLayout(width, height, True, reason="too small")
    gaps = _gaps(layers, edges, labels or {}, spare - 4)
    boxes: list[Box] = []
    x = 1
    for i, (col, w) in enumerate(zip(cols, col_w, strict=True)):
        free = height - len(col) * BOX_H
        for j, node in enumerate(col):
            y = round(free * (j + 0.5) / len(col)) + j * BOX_H if len(col) > 1 \
                else free // 2
            boxes.append(Box(node, x, max(0, min(height - BOX_H, y)), w))
        x += w + (gaps[i] if i < len(gaps) else 0)
    rpc_first = sorted(range(len(edges)), key=lambda i: (edges[i][2] not in RPC_STYLES, i))
    routes: list[EdgeRoute] | str = ""
    for order in (rpc_first, range(len(edges))):  # the send order when that fails
        routes = _route_all(boxes, [edges[i] for i in order], width, height)
        if not isinstance(routes, str):
            break
    if isinstance(routes, str):
        return GraphLayout(width, height, True, reason=f"no route for {routes}")
    placed = _place_labels(routes, labels or {})
    must = set(whole)
    cut = [e.key for e in placed if e.key in must and _names_the_gap(e.key, labels or {})
           and e.label_room < (labels or {})[e.key]]
    if cut:  # a call's or cast's name would be cut: the list names every edge whole
        return GraphLayout(width, height, True, reason=f"names cut: {cut[0]}")
    return GraphLayout(width, height, False, tuple(boxes), placed)


def _names_the_gap(key: EdgeKey, labels: Mapping[EdgeKey, int]) -> bool:
    """A call or cast between neighbouring columns (the names the gaps are sized for):
    the drawing is only worth it when these read whole."""
    if key[2] not in RPC_STYLES or key not in labels:
        return False
    return abs(node_layer(key[0]) - node_layer(key[1])) == 1


def _route_all(boxes: Sequence[Box], edges: Sequence[EdgeKey], width: int,
               height: int) -> list[EdgeRoute] | str:
    """Every edge routed in this order; the first that finds no way (as text) if one
    does not."""
    by_node = {b.node: b for b in boxes}
    walls: set[Cell] = set().union(*(b.cells for b in boxes))
    used: dict[Cell, str] = {}  # cell → "h", "v" or "x" (a corner or an end: untouchable)
    routes: list[EdgeRoute] = []
    for key in edges:
        src, dst = by_node.get(key[0]), by_node.get(key[1])
        if src is None or dst is None or src is dst:
            continue
        found = _route(src, dst, width, height, walls, used)
        if found is None:
            return str(key)
        cells, kinds = found
        for cell, kind in zip(cells, kinds, strict=True):
            if cell in used:  # a crossing
                used[cell] = "x"
            else:
                used[cell] = "x" if kind not in ("h", "v") or cell == cells[-1] \
                    or cell == cells[0] else kind
        routes.append(EdgeRoute(key, tuple(cells), tuple(kinds)))
    return routes


def _gaps(layers: Sequence[int], edges: Sequence[EdgeKey], labels: Mapping[EdgeKey, int],
          spare: int) -> list[int]:
    """The columns between neighbouring layers: each at least ``MIN_GAP``, then widened
    so the labels of the edges between them fit whole, the calls' and casts' first, the
    HTTP requests' with what is left, the smallest need first; the rest shared evenly."""
    n = len(layers) - 1
    if n <= 0:
        return []
    gaps = [MIN_GAP] * n
    left = spare - MIN_GAP * n
    for tier in (True, False):
        want = [0] * n
        for key in edges:
            if (key[2] in RPC_STYLES) != tier or key not in labels:
                continue
            a, b = sorted((layers.index(node_layer(key[0])), layers.index(node_layer(key[1]))))
            if b == a + 1:
                want[a] = max(want[a], labels[key] + 4)  # the arrow head and a cell each side
        need = [max(0, w - g) for w, g in zip(want, gaps, strict=True)]
        # the smallest needs first: more names whole, the longest one cut if it must
        for i in sorted(range(n), key=lambda i: need[i]):
            extra = min(need[i], left)
            gaps[i] += extra
            left -= extra
    for i in range(n):
        gaps[i] += left // n + (1 if i < left % n else 0)
    return gaps


def _route(src: Box, dst: Box, width: int, height: int, walls: set[Cell],
           used: dict[Cell, str]) -> tuple[list[Cell], list[str]] | None:
    """Fewest bends, then shortest: from a cell beside the source to one beside the
    destination, entering it horizontally (the arrow head points into the box)."""
    def free(cell: Cell) -> bool:
        x, y = cell
        return 0 <= x < width and 0 <= y < height and cell not in walls and cell not in used

    starts: list[tuple[Cell, int]] = []
    for dy in (1, 0, 2):
        for cell, d in (((src.x + src.w, src.y + dy), _E), ((src.x - 1, src.y + dy), _W)):
            if free(cell):
                starts.append((cell, d))
    goals: dict[Cell, tuple[int, int]] = {}  # cell → (direction, extra cost)
    for dy in (1, 0, 2):
        for cell, d in (((dst.x - 1, dst.y + dy), _E), ((dst.x + dst.w, dst.y + dy), _W)):
            if free(cell):
                goals[cell] = (d, 0 if dy == 1 else 2)  # the middle row reads best
    # prefer the sides facing each other
    facing = _E if dst.x > src.x else _W
    gx = [c[0] for c in goals] or [dst.x]
    gy = [c[1] for c in goals] or [dst.y]
    lo_x, hi_x, lo_y, hi_y = min(gx), max(gx), min(gy), max(gy)

    def h(cell: Cell) -> int:  # A*: the distance to the nearest goal, a lower bound
        x, y = cell
        return max(0, lo_x - x, x - hi_x) + max(0, lo_y - y, y - hi_y)

    heap: list[tuple[int, int, int, Cell, int, bool]] = []
    prev: dict[tuple[Cell, int], tuple[Cell, int] | None] = {}
    best: dict[tuple[Cell, int], int] = {}
    tie = 0
    for cell, d in starts:
        cost = 0 if d == facing else _BEND
        heapq.heappush(heap, (cost + h(cell), cost, tie, cell, d, False))
        tie += 1
        best[(cell, d)] = cost
        prev[(cell, d)] = None
    end: tuple[Cell, int] | None = None
    while heap:
        _, cost, _, cell, d, done = heapq.heappop(heap)
        if not done and best.get((cell, d), 1 << 30) < cost:
            continue
        if done:
            end = (cell, d)
            break
        goal = goals.get(cell)
        if goal is not None and goal[0] == d:
            heapq.heappush(heap, (cost + goal[1], cost + goal[1], tie, cell, d, True))
            tie += 1
        for nd in (d, *((_S, _N) if d in (_E, _W) else (_E, _W))):
            if nd != d and cell in used:
                continue  # never turn on a crossing
            dx, dy = _STEP[nd]
            nxt = (cell[0] + dx, cell[1] + dy)
            x, y = nxt
            if not (0 <= x < width and 0 <= y < height) or nxt in walls:
                continue
            step = 1
            other = used.get(nxt)
            if other is not None:
                if other == "x" or other == ("h" if nd in (_E, _W) else "v"):
                    continue
                step += _CROSS
            if nd != d:
                step += _BEND
            ncost = cost + step
            if ncost < best.get((nxt, nd), 1 << 30):
                best[(nxt, nd)] = ncost
                prev[(nxt, nd)] = (cell, d)
                heapq.heappush(heap, (ncost + h(nxt), ncost, tie, nxt, nd, False))
                tie += 1
    if end is None:
        return None
    path: list[tuple[Cell, int]] = []
    node: tuple[Cell, int] | None = end
    while node is not None:
        path.append(node)
        node = prev[node]
    path.reverse()
    cells = [c for c, _ in path]
    kinds = []
    for i, (_cell, d) in enumerate(path):
        nd = path[i + 1][1] if i + 1 < len(path) else d
        kinds.append(_corner(d, nd))
    # a cell turned on must not be a crossing (checked above); the first cell's kind
    # follows the direction the route leaves in
    return cells, kinds


def _corner(came: int, goes: int) -> str:
    """The glyph of a cell entered moving ``came`` and left moving ``goes``."""
    if came == goes:
        return "h" if came in (_E, _W) else "v"
    return {
        (_E, _S): "┐", (_E, _N): "┘", (_W, _S): "┌", (_W, _N): "└",
        (_S, _E): "└", (_S, _W): "┘", (_N, _E): "┌", (_N, _W): "┐",
    }[(came, goes)]


def _place_labels(routes: list[EdgeRoute],
                  labels: Mapping[EdgeKey, int]) -> tuple[EdgeRoute, ...]:
    """Each label on the longest run of straight horizontal cells no other edge touches
    (not the arrow head): a label never names the wrong edge."""
    owners: dict[Cell, int] = {}
    for route in routes:
        for cell in route.cells:
            owners[cell] = owners.get(cell, 0) + 1
    out = []
    for route in routes:
        best: tuple[int, int, int] = (0, 0, 0)  # room, x, y
        run: list[Cell] = []
        last = len(route.cells) - 1
        for i, (cell, kind) in enumerate([*zip(route.cells, route.kinds, strict=True),
                                           ((-9, -9), "end")]):
            own = kind == "h" and i != last and owners.get(cell, 0) == 1
            if own and (not run or (run[-1][1] == cell[1] and abs(run[-1][0] - cell[0]) == 1)):
                run.append(cell)
                continue
            if len(run) > best[0]:
                best = (len(run), min(c[0] for c in run), run[0][1])
            run = [cell] if own else []
        room, x, y = best
        # one cell of line kept on each side when there is room: the label reads as on
        # the line, not glued to a corner; the whole run when only that fits the name
        if room >= 8 and not room - 2 < labels.get(route.key, 0) <= room:
            room, x = room - 2, x + 1
        out.append(EdgeRoute(route.key, route.cells, route.kinds, x, y, room))
    return tuple(out)


def route_cells(layout: GraphLayout) -> dict[EdgeKey, set[Cell]]:
    return {e.key: set(e.cells) for e in layout.edges}
