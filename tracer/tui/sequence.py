"""Sequence view: lifelines per service, one arrow per hop, as people draw Nova by hand.

Arrows read ``method (call|cast, version)``; a call gets a dashed reply arrow back once
the reply arrived, a cast has none. Line API like the timeline.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tracer.model import EMPTY_SNAPSHOT, HopView, Snapshot
from tracer.tui.layout import participants
from tracer.tui.palette import GLYPHS, HOP_COMPONENTS, Palette

MIN_GAP = 13


def _who(service: str, host: str) -> tuple[str, str]:
    return (service, host if service == "nova-compute" else "")


class SequenceView(ScrollView, can_focus=True):
    """Lifelines and one arrow per hop of ``trace_id`` in ``snapshot``."""

    COMPONENT_CLASSES = set(HOP_COMPONENTS)  # hop colours: app.tcss

    snapshot: reactive[Snapshot] = reactive(EMPTY_SNAPSHOT, always_update=True, layout=False)
    trace_id: reactive[str | None] = reactive(None)
    selected: reactive[str | None] = reactive(None)

    class HopClicked(Message):
        def __init__(self, hop_id: str) -> None:
            super().__init__()
            self.hop_id = hop_id

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._rows: list[tuple[HopView, str]] = []  # (hop, label|arrow|reply)
        self._parts: list[tuple[str, str]] = []

    def watch_snapshot(self) -> None:
        self._rebuild()

    def watch_trace_id(self) -> None:
        self._rebuild()

    def watch_selected(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        hops = self.snapshot.trace_hops(self.trace_id) if self.trace_id else []
        self._parts = participants(hops)
        rows: list[tuple[HopView, str]] = []
        for hop in hops:
            rows.append((hop, "label"))
            rows.append((hop, "arrow"))
            if hop.style in ("call", "http") and hop.done_ns is not None:
                rows.append((hop, "reply"))
        self._rows = rows
        width = max(self.size.width, len(self._parts) * MIN_GAP + 4)
        self.virtual_size = Size(width, len(rows) + 1)
        self.refresh()

    def _columns(self) -> dict[tuple[str, str], int]:
        n = max(1, len(self._parts))
        width = max(self.size.width, n * MIN_GAP + 4)
        gap = (width - 4) / n
        return {p: int(2 + gap * i + gap / 2) for i, p in enumerate(self._parts)}

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        pal = Palette(self)
        cols = self._columns()
        sx = int(self.scroll_offset.x)
        vw = max(width + sx, self.virtual_size.width)
        chars = [" "] * vw
        styles: list[Style | None] = [None] * vw
        life = pal.fg("idle")
        if y == 0:
            for (svc, host), x in cols.items():
                name = host or svc.removeprefix("nova-")
                a = max(0, x - len(name) // 2)
                for k, c in enumerate(name):
                    if a + k < vw:
                        chars[a + k], styles[a + k] = c, pal.fg("node", bold=True)
        else:
            idx = y - 1 + int(self.scroll_offset.y)
            for x in cols.values():
                if x < vw:
                    chars[x], styles[x] = "│", life
            if idx < len(self._rows):
                hop, part = self._rows[idx]
                self._arrow(hop, part, cols, chars, styles, pal)
        chars, styles = chars[sx: sx + width], styles[sx: sx + width]
        segs = []
        start = 0
        for x in range(1, len(chars) + 1):
            if x == len(chars) or styles[x] != styles[start]:
                segs.append(Segment("".join(chars[start:x]), styles[start]))
                start = x
        return Strip(segs, width)

    def _arrow(self, hop: HopView, part: str, cols: dict[tuple[str, str], int],
               chars: list[str], styles: list[Style | None], pal: Palette) -> None:
        """A hop is a label row then an arrow row; a finished call adds a reply row."""
        a = cols.get(_who(hop.src_service, hop.src_host))
        b = cols.get(_who(hop.dst_service, hop.dst_host))
        if a is None or b is None:
            return
        reply = part == "reply"
        if reply:
            a, b = b, a
        kind = pal.style_for(hop.style)
        gl = GLYPHS["cast" if reply else kind]
        st = pal.fg("error" if hop.state == "error" else kind, bold=not reply, dim=reply)
        if hop.hop_id == self.selected:
            st += Style(reverse=True)
        lo, hi = min(a, b), max(a, b)
        if lo == hi:
            hi = lo + 4
        if part == "label":
            if hop.style == "http":
                label = hop.method
            else:
                label = f"{hop.method} ({hop.style}, {hop.version or '?'})"
            if hop.state in ("in_flight", "waiting", "running"):
                label += " … " + hop.state.replace("_", " ")
            # long labels may run over other lifelines: readable beats tidy
            start = lo + 2 if len(label) <= len(chars) - lo - 2 else max(0, hi - 2 - len(label))
            for k, c in enumerate(label):
                if 0 <= start + k < len(chars):
                    chars[start + k], styles[start + k] = c, st
            return
        for x in range(lo + 1, hi):
            if x < len(chars):
                chars[x], styles[x] = gl.h, st
        head_x = hi - 1 if b >= a else lo + 1
        if 0 <= head_x < len(chars):
            chars[head_x] = gl.right if b >= a else gl.left
        if reply and hi - lo > 10:
            text = " reply "
            start = lo + (hi - lo - len(text)) // 2
            for k, c in enumerate(text):
                chars[start + k] = c

    def on_click(self, event: Click) -> None:
        idx = event.y - 1 + int(self.scroll_offset.y)
        if event.y >= 1 and 0 <= idx < len(self._rows):
            self.post_message(self.HopClicked(self._rows[idx][0].hop_id))
