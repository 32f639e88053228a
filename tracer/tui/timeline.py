"""The waterfall of one trace, as Jaeger and otel-tui draw it: a name column (the span
tree, indented, service coloured) and one bar per row on the time axis.

WSGI middleware spans are left out (their children take their place) and ``db`` spans
are folded into their parent (``+3``) until ``m`` shows everything; ``r`` keeps only the
messages (rpc/http hops and their handlers); ``/`` searches by name; a click on a name
folds or unfolds its subtree. The critical path (what the trace's end waited for) is
marked ``◆``. A caller blocked in a call is drawn as a hatched waiting bar (``░``); a
cast is a tick plus a dashed arrow to where its consumer starts. The selected hop's row
is kept in view. Line API (``render_line`` -> ``Strip``) so thousands of spans cost
only the visible rows. Zoom with ``+``/``-`` or ctrl+wheel, ``0`` fits again.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click, MouseScrollDown, MouseScrollUp
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tracer.model import EMPTY_SNAPSHOT, HopView, Snapshot, SpanView, TraceView
from tracer.tui.canvas import cells
from tracer.tui.decision import host_counts
from tracer.tui.i18n import lang_of, t
from tracer.tui.palette import HOP_COMPONENTS, Palette

GUTTER = 18  # the narrowest name column
MAX_INDENT = 8  # the deepest indentation, on a wide timeline


class _Row(NamedTuple):
    """One span's row: its depth in the tree, the descendants folded into it, whether it
    is on the critical path. (A tuple: a 5,000-span trace builds 5,000 of them a frame.)"""

    span: SpanView
    depth: int
    folded: int = 0
    critical: bool = False

    @property
    def spans(self) -> tuple[SpanView, ...]:  # one span per row (older callers)
        return (self.span,)


def is_middleware(span: SpanView) -> bool:
    """A WSGI middleware layer (FaultWrapper, NoAuthMiddleware, …): plumbing, not flow."""
    return span.kind == "INTERNAL" and (
        span.name.endswith(("Middleware", "Wrapper"))
        or "middleware" in str(span.attrs.get("code.location", "")).lower())


def is_db(span: SpanView) -> bool:
    return span.kind == "INTERNAL" and ("db.operation" in span.attrs
                                        or span.name.startswith("db "))


def waterfall(spans: list[SpanView], hop_spans: set[str], *, show_all: bool = False,
              rpc_only: bool = False, folded: frozenset[str] = frozenset(),
              now_ns: int = 0) -> list[_Row]:
    """The rows of the waterfall, depth first, children by start time (*spans* come by
    start time, as ``Snapshot.trace_spans`` gives them: no sort per parent)."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[SpanView]] = {}
    for span in spans:
        parent = span.parent_id
        if parent not in ids:
            parent = next((lk.span_id for lk in span.links if lk.span_id in ids), None)
        kids = children.get(parent)
        if kids is None:
            children[parent] = [span]
        else:
            kids.append(span)
    critical = _critical_path(children, now_ns)
    # each span classified once (not once per row and once per sibling)
    db = set() if show_all else {s.span_id for s in spans if is_db(s)}
    skip = set() if show_all else {s.span_id for s in spans if is_middleware(s)}
    rows: list[_Row] = []
    add = rows.append

    def count(span_id: str) -> int:
        return sum(1 + count(k.span_id) for k in children.get(span_id, ()))

    def walk(parent: str | None, depth: int) -> None:
        for span in children.get(parent, ()):
            sid = span.span_id
            if sid in skip or (rpc_only and depth > 0 and not show_all
                               and sid not in hop_spans):
                walk(sid, depth)  # left out: its children take its place
                continue
            if sid in db:
                continue  # counted in its parent
            if sid in folded:
                add(_Row(span, depth, count(sid), sid in critical))
                continue
            kids = children.get(sid)
            n_db = sum(1 for k in kids if k.span_id in db) if kids and db else 0
            add(_Row(span, depth, n_db, sid in critical))
            if kids:
                walk(sid, depth + 1)

    walk(None, 0)
    return rows


def _critical_path(children: dict[str | None, list[SpanView]], now_ns: int) -> set[str]:
    """From the root, the child that ended last, and so on down: what the end waited
    for."""
    out: set[str] = set()
    level = children.get(None, [])
    while level:
        last = max(level, key=lambda s: s.end_ns if s.end_ns is not None else now_ns)
        out.add(last.span_id)
        level = children.get(last.span_id, [])
    return out


def _suffix(row: _Row) -> str:
    """After a row's name, kept when the name is cut: a filter's or weigher's hosts in
    → out (``3→2``), the spans folded into it (``+3``)."""
    counts = host_counts(row.span)
    return (f" {counts}" if counts else "") + (f" +{row.folded}" if row.folded else "")


def indent_budget(width: int) -> int:
    """How many cells of indentation the span tree may use in a timeline *width* wide:
    shallower when narrow (a boot nests 16 deep; its names matter more than its depth)."""
    return max(2, min(MAX_INDENT, (width - 36) // 4))


def indent_cap(rows: list[tuple[int, int]], budget: int) -> int:
    """The deepest indentation (from *budget* up to MAX_INDENT) at which every name that
    fits the column at the budget's depth still fits: one depth scale for the whole
    tree, as deep as the names allow. *rows*: each row's depth and the cells left for
    its indentation."""
    cap = MAX_INDENT
    for depth, slack in rows:
        if min(depth, budget) <= slack < depth:
            cap = min(cap, slack)
    return max(budget, cap)


def name_column(widest: int, width: int) -> int:
    """The name column's width: as wide as the widest name shown needs, at most 55% of
    the timeline (the bars get the rest), never under GUTTER."""
    cap = max(GUTTER, min(44, width * 11 // 20))
    return max(GUTTER, min(widest, cap))


def elide_middle(text: str, room: int) -> str:
    """*text* in *room* cells, cut in the middle when it must (``external_in…ce_event``,
    ``PUT /allocations/8f2c…000000``): both the start and the end of a name tell."""
    if len(text) <= room:
        return text
    if room <= 1:
        return text[:room]
    tail = (room - 1) * 2 // 5
    return text[: room - 1 - tail] + "…" + (text[-tail:] if tail else "")


def fmt_ns(ns: float) -> str:
    """Short duration: 850µs, 12.3ms, 4.20s."""
    if ns < 1e6:
        return f"{ns / 1e3:.0f}µs"
    if ns < 1e9:
        return f"{ns / 1e6:.1f}ms"
    return f"{ns / 1e9:.2f}s"


class Timeline(ScrollView, can_focus=True):
    """Waterfall for ``trace_id`` in ``snapshot``; ``ns_per_cell`` is the zoom."""

    COMPONENT_CLASSES = set(HOP_COMPONENTS)  # hop colours: app.tcss

    BINDINGS = [
        Binding("plus,equals_sign", "zoom(0.5)", "Zoom in", id="timeline.zoom_in"),
        Binding("minus", "zoom(2)", "Zoom out", id="timeline.zoom_out"),
        Binding("0", "fit", "Fit", id="timeline.fit"),
    ]

    snapshot: reactive[Snapshot] = reactive(EMPTY_SNAPSHOT, always_update=True, layout=False)
    trace_id: reactive[str | None] = reactive(None)
    selected: reactive[str | None] = reactive(None)
    ns_per_cell: reactive[float] = reactive(1e6)
    fit: reactive[bool] = reactive(True)
    # (start, end) times cut out of the axis: the walkthrough's holds, drawn as ≈ marks
    cuts: reactive[tuple[tuple[int, int], ...]] = reactive((), layout=False)
    show_all: reactive[bool] = reactive(False)  # m: middleware and db spans too
    rpc_only: reactive[bool] = reactive(False)  # r: only the messages and handlers
    search: reactive[str] = reactive("")  # /: rows whose name has it are marked

    class SpanClicked(Message):
        def __init__(self, span_id: str) -> None:
            super().__init__()
            self.span_id = span_id

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._rows: list[_Row] = []
        self._folded: set[str] = set()
        self._gutter = GUTTER
        self._indent = MAX_INDENT
        self._t0 = 0
        self._t1 = 0
        self._hops: dict[str, HopView] = {}
        self._hop_of_server: dict[str, HopView] = {}
        self._rows_of: TraceView | None = None  # the trace view the rows were made from
        self._rows_opts: tuple[object, ...] = ()

    # -- model -----------------------------------------------------------------------

    def watch_snapshot(self, snap: Snapshot) -> None:
        self._rebuild()

    def watch_trace_id(self, _old: str | None, _new: str | None) -> None:
        self.fit = True
        self._rebuild()

    def watch_selected(self) -> None:
        self.scroll_to_selected()
        self.refresh()

    def watch_cuts(self) -> None:
        self._rebuild()

    def watch_show_all(self) -> None:
        self._rebuild()

    def watch_rpc_only(self) -> None:
        self._rebuild()

    def watch_search(self, text: str) -> None:
        """Scroll to the first row whose name has *text*."""
        self.refresh()
        if not text:
            return
        for i, row in enumerate(self._rows):
            if text.lower() in row.span.name.lower():
                self._keep_in_view(i)
                return

    def row_of_selected(self) -> int | None:
        hop = self._hops.get(self.selected) if self.selected else None
        if hop is None:
            return None
        ids = {hop.client_span_id, *hop.server_span_ids}
        return next((i for i, r in enumerate(self._rows) if r.span.span_id in ids), None)

    def scroll_to_selected(self) -> None:
        """The selected hop's row stays in view (the rows of a boot outgrow any screen)."""
        row = self.row_of_selected()
        if row is not None:
            self._keep_in_view(row)

    def _keep_in_view(self, row: int) -> None:
        top = int(self.scroll_offset.y)
        visible = max(1, self.size.height - 2)
        if row < top or row >= top + visible:
            self.scroll_to(y=max(0, row - visible // 3), animate=False)

    def _cut_before(self, ts: int) -> int:
        """Cut time before *ts* (within the trace's range)."""
        total = 0
        for start, end in self.cuts:
            a, b = max(start, self._t0), min(end, self._t1)
            if b > a and ts > a:
                total += min(ts, b) - a
        return total

    def cut_marks(self) -> list[tuple[int, int]]:
        """Where each cut is on the axis (cell from the time origin) and how long."""
        out = []
        for start, end in self.cuts:
            a, b = max(start, self._t0), min(end, self._t1)
            if b > a:
                out.append((self._x(a), b - a))
        return out

    def watch_ns_per_cell(self) -> None:
        self._resize_virtual()
        self.refresh()

    def on_resize(self) -> None:
        self._rebuild()  # the name column's width follows the widget's

    def watch_show_vertical_scrollbar(self) -> None:
        self._rebuild()  # the rows outgrew the view: the scrollbar took a column

    def _rebuild(self) -> None:
        snap = self.snapshot
        tv = snap.traces.get(self.trace_id) if self.trace_id else None
        now = snap.t_last_ns
        self._hops = {h.hop_id: h for h in snap.trace_hops(self.trace_id)}
        self._hop_of_server = {s: h for h in self._hops.values() for s in h.server_span_ids}
        # the rows change only with the trace: the reducer makes a new TraceView whenever
        # one of its spans changes, so the same view (and options) keeps the rows of the
        # last frame (a replay redraws 20 times a second, a 5,000-span trace is big)
        opts = (self.show_all, self.rpc_only, frozenset(self._folded), self._width)
        if tv is not self._rows_of or opts != self._rows_opts:
            self._rows_of, self._rows_opts = tv, opts
            self._layout_rows(snap)
        if tv is not None:
            self._t0 = tv.start_ns
            self._t1 = max(tv.end_ns, now if tv.open_spans else 0)
        else:
            self._t0 = self._t1 = 0
        if self.fit:
            self._fit()
        self._resize_virtual()
        self.scroll_to_selected()
        self.refresh()

    def _layout_rows(self, snap: Snapshot) -> None:
        """The rows, the name column's width and the indentation for the shown trace."""
        spans = snap.trace_spans(self.trace_id)
        hop_spans = set()
        if self.rpc_only:  # the messages and their handlers
            hop_spans = set(self._hops) | set(self._hop_of_server) | {
                s.span_id for s in spans if s.kind in ("HTTP", "SERVER", "CONSUMER")}
        rows = self._rows = waterfall(spans, hop_spans, show_all=self.show_all,
                                      rpc_only=self.rpc_only,
                                      folded=frozenset(self._folded), now_ns=snap.t_last_ns)
        budget = indent_budget(self._width)
        # mark, name, fold mark, host counts and " +N", the column's rule: what a row
        # needs but its indent
        needs = [len(r.span.name) + 2 + len(_suffix(r)) + (1 if r.folded else 0)
                 for r in rows]
        widest = max((min(r.depth, budget) + n for r, n in zip(rows, needs, strict=True)),
                     default=GUTTER)
        self._gutter = name_column(widest, self._width)
        self._indent = indent_cap([(r.depth, self._gutter - n)
                                   for r, n in zip(rows, needs, strict=True)], budget)

    def _fit(self) -> None:
        # the virtual width (gutter, cells, 4 to spare) within the widget: no scrollbar
        room = max(10, self._width - self._gutter - 5)
        span = max(1, self._t1 - self._t0 - self._cut_before(self._t1))
        self.set_reactive(Timeline.ns_per_cell, max(1.0, span / room))
        self._resize_virtual()
        self.refresh()

    def _resize_virtual(self) -> None:
        room = int((self._t1 - self._t0 - self._cut_before(self._t1))
                   / max(1.0, self.ns_per_cell)) + 4
        self.virtual_size = Size(self._gutter + room, len(self._rows) + 1)

    # -- actions ---------------------------------------------------------------------

    def action_zoom(self, factor: float) -> None:
        self.fit = False
        self.ns_per_cell = max(1.0, self.ns_per_cell * factor)

    def action_fit(self) -> None:
        self.fit = True
        self._fit()

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        if event.ctrl:
            event.stop()
            event.prevent_default()
            self.action_zoom(0.5)

    def on_mouse_scroll_down(self, event: MouseScrollDown) -> None:
        if event.ctrl:
            event.stop()
            event.prevent_default()
            self.action_zoom(2)

    def on_click(self, event: Click) -> None:
        """On a name: fold or unfold that subtree; on a bar: select its span."""
        y = event.y + int(self.scroll_offset.y) - 1
        if not 0 <= y < len(self._rows):
            return
        span = self._rows[y].span
        if event.x < self._gutter:
            if span.span_id in self._folded:
                self._folded.discard(span.span_id)
            else:
                self._folded.add(span.span_id)
            self._rebuild()
            return
        self.post_message(self.SpanClicked(span.span_id))

    # -- drawing ---------------------------------------------------------------------

    def _x(self, ts: int) -> int:
        cut = self._cut_before(ts) if self.cuts else 0
        return int((ts - self._t0 - cut) / self.ns_per_cell)

    @property
    def _width(self) -> int:
        """The cells a row has: the widget's less the vertical scrollbar (a boot's rows
        outgrow the screen, and the bar would hide the durations at the right edge)."""
        return self.scrollable_content_region.width

    _base = Style()  # the widget's colours: its own background (app.tcss)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._base = self.rich_style  # once a frame: it walks the ancestors' styles
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """Row *y* on the widget's own background, not the terminal's."""
        return self._line(y).apply_style(self._base)

    def _line(self, y: int) -> Strip:
        width = self._width
        pal = Palette(self)
        sx = int(self.scroll_offset.x)
        gutter = self._gutter
        if y == 0:
            return self._axis(width, sx, pal)
        row_index = y - 1 + int(self.scroll_offset.y)
        if row_index >= len(self._rows):
            return Strip.blank(width)
        row = self._rows[row_index]
        span = row.span
        w = max(0, width - gutter)
        chars = [" "] * w
        styles: list[Style | None] = [None] * w
        self._span(span, self._x(span.start_ns) - sx, sx, chars, styles, pal)
        mark = "◆" if row.critical else " "
        fold = "▸" if row.folded and (span.span_id in self._folded) else ""
        extra = _suffix(row)
        room = gutter - 2 - len(extra)
        depth = min(row.depth, self._indent)
        # a name that does not fit at its depth gives up indentation first (one cell
        # kept under its parent), then its middle: read from the back of a room
        depth = min(depth, max(min(depth, 1), room - len(fold) - len(span.name)))
        indent = " " * depth
        name = indent + fold + elide_middle(span.name, max(1, room - len(indent) - len(fold)))
        hop = self._hops.get(span.span_id) or self._hop_of_server.get(span.span_id)
        selected = hop is not None and hop.hop_id == self.selected
        hit = bool(self.search) and self.search.lower() in span.name.lower()
        st = pal.service(span.service, bold=row.critical or selected,
                         reverse=selected or hit)
        segs = [Segment(mark, pal.fg("call", bold=True)), Segment(name, st),
                Segment(extra.ljust(gutter - 2 - len(name)), pal.fg("axis")),
                Segment("│", pal.fg("axis"))]
        start = 0
        for x in range(1, w + 1):
            if x == w or styles[x] != styles[start]:
                segs.append(Segment("".join(chars[start:x]), styles[start]))
                start = x
        return Strip(segs, width)

    def _span(self, span: SpanView, x0: int, sx: int, chars: list[str],
              styles: list[Style | None], pal: Palette) -> None:
        w = len(chars)
        end = span.end_ns if span.end_ns is not None else self._t1
        x1 = max(x0 + 1, self._x(end) - sx)
        hop = self._hops.get(span.span_id) or self._hop_of_server.get(span.span_id)
        selected = hop is not None and hop.hop_id == self.selected
        error = span.status == "ERROR"

        def fill(a: int, b: int, ch: str, st: Style, text: str = "") -> None:
            for x in range(max(0, a), min(w, b)):
                chars[x] = ch
                styles[x] = st
            parts = cells(text)
            lo, hi = max(0, a), min(w, b)
            for k, c in enumerate(parts):
                x = a + k
                if lo <= x < hi:
                    # half a wide character at either edge is a blank
                    cut = (c == "" and x == lo) or (
                        c != "" and k + 1 < len(parts) and parts[k + 1] == "" and x + 1 >= hi)
                    chars[x] = " " if cut else c

        style = hop.style if hop is not None else ""
        if span.kind == "CLIENT" and style == "call":
            st = pal.fg("error" if error else "call", bold=True)
            if selected:
                st += Style(reverse=True)
            # no hourglass glyph: terminals draw it two cells wide, shifting what follows
            fill(x0, x1, "░", st, f"{span.name} (call, {t('waiting', lang_of(self))})")
            if x1 - 1 >= 0 and x1 - 1 < w and span.end_ns is not None:
                chars[x1 - 1] = "┫"
                if x1 >= 2 and len(cells(chars[x1 - 2])) == 2:
                    chars[x1 - 2] = "░"  # a wide character whose right half ┫ took
        elif span.kind == "PRODUCER" and hop is not None:
            kind = "fanout" if style == "fanout" else "cast"
            st = pal.fg("error" if error else kind, bold=True)
            if selected:
                st += Style(reverse=True)
            xr = self._x(hop.recv_ns) - sx if hop.recv_ns is not None else (
                self._x(self._t1) - sx)
            fill(x0 + 1, max(x0 + 2, xr), "╌" if kind == "cast" else "┅", st)
            if 0 <= xr - 1 < w and xr - 1 > x0:
                chars[xr - 1] = "▷"
            fill(x0, x0 + 1, "┃", st)
            text = f" {kind} {span.name} "
            if xr - x0 - 2 >= len(text):
                fill(x0 + 2, x0 + 2 + len(text), "╌", st, text)
        else:
            name = {"SERVER": "server", "CONSUMER": "server", "HTTP": "http",
                    "CLIENT": "http"}.get(span.kind, "internal")
            st = pal.bar("error" if error else name)
            if selected:
                st += Style(bold=True, underline=True, reverse=True)
            dur = fmt_ns(span.duration_ns(self._t1))
            fill(x0, x1, " ", st)
            if x1 + 1 + len(dur) <= w:  # the duration after the bar, as Jaeger does
                for k, c in enumerate(dur):
                    if 0 <= x1 + 1 + k < w:
                        chars[x1 + 1 + k], styles[x1 + 1 + k] = c, pal.fg("axis")
            if span.end_ns is None and 0 <= x1 - 1 < w:
                chars[x1 - 1] = "…"

    def _axis(self, width: int, sx: int, pal: Palette) -> Strip:
        gutter = self._gutter
        w = max(0, width - gutter)
        chars = ["─"] * w
        taken: set[int] = set()  # cells of the tick labels: a cut mark never overwrites one
        step = 16
        for x in range(0, w, step):
            label = "┬" + fmt_ns((sx + x) * self.ns_per_cell)
            if x + len(label) > w:  # a cut label ("3.68" of "3.68s") misreads: leave it out
                break
            for k, c in enumerate(label):
                if x + k < w:
                    chars[x + k] = c
                    taken.add(x + k)
        marks = self.cut_marks()
        for i, (cx, length) in enumerate(marks):
            # "≈" where time was cut (or the next cell free of a tick label); its length
            # too when the next mark leaves room and no label is in the way
            x0 = next((x for x in range(cx - sx, cx - sx + 10) if x not in taken
                       and (x == cx - sx or x - 1 not in taken)), None)
            if x0 is None:
                continue
            room = (marks[i + 1][0] - sx - x0) if i + 1 < len(marks) else w
            label = f"≈cut {fmt_ns(length)}"
            if room <= 12 or any(x in taken for x in range(x0, x0 + len(label))):
                label = "≈"
            for k, c in enumerate(label):
                x = x0 + k
                if 0 <= x < w:
                    chars[x] = c
        flags = ("all" if self.show_all else "") + (" rpc" if self.rpc_only else "")
        head = set_cell_size(f"{fmt_ns(self.ns_per_cell)}/{t('cell', lang_of(self))} {flags}",
                             gutter - 1) + "│"
        return Strip([Segment(head, pal.fg("axis")), Segment("".join(chars), pal.fg("axis"))],
                     width)
