"""The waterfall of one trace: a lane per service/host, spans as bars on a time axis.

A caller blocked in a call is drawn as a hatched waiting bar (``░``) that spans the
server's work in another lane; a cast is a tick plus a dashed arrow to where its consumer
starts. Line API (``render_line`` -> ``Strip``) so thousands of spans cost only the
visible rows. Zoom with ``+``/``-`` or ctrl+wheel, scroll with arrows/wheel (shift:
sideways), ``0`` fits the trace to the width again.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click, MouseScrollDown, MouseScrollUp
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tracer.model import EMPTY_SNAPSHOT, HopView, Snapshot, SpanView
from tracer.tui.layout import pack_lanes
from tracer.tui.palette import HOP_COMPONENTS, Palette

GUTTER = 18


@dataclass(frozen=True)
class _Row:
    label: str
    spans: tuple[SpanView, ...]
    starts: tuple[int, ...]
    first: bool


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

    class SpanClicked(Message):
        def __init__(self, span_id: str) -> None:
            super().__init__()
            self.span_id = span_id

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._rows: list[_Row] = []
        self._t0 = 0
        self._t1 = 0
        self._hops: dict[str, HopView] = {}
        self._hop_of_server: dict[str, HopView] = {}

    # -- model -----------------------------------------------------------------------

    def watch_snapshot(self, snap: Snapshot) -> None:
        self._rebuild()

    def watch_trace_id(self, _old: str | None, _new: str | None) -> None:
        self.fit = True
        self._rebuild()

    def watch_selected(self) -> None:
        self.refresh()

    def watch_cuts(self) -> None:
        self._rebuild()

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
        if self.fit:
            self._fit()

    def _rebuild(self) -> None:
        snap = self.snapshot
        spans = snap.trace_spans(self.trace_id) if self.trace_id else []
        now = snap.t_last_ns
        self._hops = {h.hop_id: h for h in snap.trace_hops(self.trace_id)}
        self._hop_of_server = {s: h for h in self._hops.values() for s in h.server_span_ids}
        rows: list[_Row] = []
        for lane in pack_lanes(spans, now):
            for i, row in enumerate(lane.rows):
                rows.append(_Row(lane.label, row, tuple(s.start_ns for s in row), i == 0))
        self._rows = rows
        if spans:
            self._t0 = min(s.start_ns for s in spans)
            self._t1 = max([s.end_ns or now for s in spans] + [now if any(
                s.end_ns is None for s in spans) else 0])
        else:
            self._t0 = self._t1 = 0
        if self.fit:
            self._fit()
        self._resize_virtual()
        self.refresh()

    def _fit(self) -> None:
        cells = max(10, self.size.width - GUTTER - 2)
        span = max(1, self._t1 - self._t0 - self._cut_before(self._t1))
        self.set_reactive(Timeline.ns_per_cell, max(1.0, span / cells))
        self._resize_virtual()
        self.refresh()

    def _resize_virtual(self) -> None:
        cells = int((self._t1 - self._t0 - self._cut_before(self._t1))
                    / max(1.0, self.ns_per_cell)) + 4
        self.virtual_size = Size(GUTTER + cells, len(self._rows) + 1)

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
        y = event.y + int(self.scroll_offset.y) - 1
        if not 0 <= y < len(self._rows) or event.x < GUTTER:
            return
        t = self._t0 + (event.x - GUTTER + self.scroll_offset.x) * self.ns_per_cell
        row = self._rows[y]
        best = None
        for span in row.spans:
            end = span.end_ns if span.end_ns is not None else self._t1
            x0 = self._x(span.start_ns)
            x1 = max(x0 + 1, self._x(end))
            cx = event.x - GUTTER + int(self.scroll_offset.x)
            if x0 <= cx < max(x1, x0 + len(span.name) // 3 + 1):
                best = span
                break
            if best is None and span.start_ns <= t <= end:
                best = span
        if best is not None:
            self.post_message(self.SpanClicked(best.span_id))

    # -- drawing ---------------------------------------------------------------------

    def _x(self, ts: int) -> int:
        cut = self._cut_before(ts) if self.cuts else 0
        return int((ts - self._t0 - cut) / self.ns_per_cell)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        pal = Palette(self)
        sx = int(self.scroll_offset.x)
        if y == 0:
            return self._axis(width, sx, pal)
        row_index = y - 1 + int(self.scroll_offset.y)
        if row_index >= len(self._rows):
            return Strip.blank(width)
        row = self._rows[row_index]
        w = max(0, width - GUTTER)
        chars = [" "] * w
        styles: list[Style | None] = [None] * w
        label = (row.label if row.first else "").ljust(GUTTER - 1)[: GUTTER - 1]
        # spans are non-overlapping and sorted: start from the first that can be visible
        lo_t = self._t0 + sx * self.ns_per_cell
        i = max(0, bisect.bisect_left(row.starts, int(lo_t)) - 1)
        for span in row.spans[i:]:
            x0 = self._x(span.start_ns) - sx
            if x0 >= w:
                break
            self._span(span, x0, sx, chars, styles, pal)
        segs = [Segment(label + "│", pal.fg("label", bold=row.first))]
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
            for k, c in enumerate(text):
                x = a + k
                if a <= x < b and 0 <= x < w:
                    chars[x] = c

        style = hop.style if hop is not None else ""
        if span.kind == "CLIENT" and style == "call":
            st = pal.fg("error" if error else "call", bold=True)
            if selected:
                st += Style(reverse=True)
            wait = "⏳" if span.end_ns is None else ""
            fill(x0, x1, "░", st, f"{wait}{span.name} (call, waiting)"[: max(0, x1 - x0)])
            if x1 - 1 >= 0 and x1 - 1 < w and span.end_ns is not None:
                chars[x1 - 1] = "┫"
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
            fill(x0, x1, " ", st, span.name[: max(0, x1 - x0)])
            if span.end_ns is None and 0 <= x1 - 1 < w:
                chars[x1 - 1] = "…"

    def _axis(self, width: int, sx: int, pal: Palette) -> Strip:
        w = max(0, width - GUTTER)
        chars = ["─"] * w
        step = 16
        for x in range(0, w, step):
            label = "┬" + fmt_ns((sx + x) * self.ns_per_cell)
            if x + len(label) > w:  # a cut label ("3.68" of "3.68s") misreads: leave it out
                break
            for k, c in enumerate(label):
                if x + k < w:
                    chars[x + k] = c
        for cx, length in self.cut_marks():
            mark = f"≈cut {fmt_ns(length)}≈"
            for k, c in enumerate(mark):
                x = cx - sx + k
                if 0 <= x < w:
                    chars[x] = c
        head = f"{fmt_ns(self.ns_per_cell)}/cell".ljust(GUTTER - 1)[: GUTTER - 1] + "│"
        return Strip([Segment(head, pal.fg("axis")), Segment("".join(chars), pal.fg("axis"))],
                     width)
