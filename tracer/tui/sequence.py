"""Sequence view: lifelines per service, one arrow per hop, as people draw Nova by hand.

Arrows read ``method (call|cast, version)`` (``Instance.save`` for an
``object_action``, with the instance state it caused); a call gets a dashed reply arrow
back where the reply came, after the work it answers; a cast has none. A caller blocked
in a call has a UML activation bar (``┃``) on its lifeline until the reply. The view
scrolls to the selected hop. Line API like the timeline.
"""

from __future__ import annotations

import json

from rich.segment import Segment
from rich.style import Style
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tracer.model import EMPTY_SNAPSHOT, HopView, Snapshot
from tracer.model.constants import LIVE_HOP_STATES
from tracer.model.views import state_name
from tracer.tui.canvas import cells
from tracer.tui.i18n import lang_of, t
from tracer.tui.layout import participants
from tracer.tui.palette import GLYPHS, HOP_COMPONENTS, Palette

MIN_GAP = 13
_OBJECT_METHODS = ("object_action", "object_class_action_versions")


def hop_title(snap: Snapshot, hop: HopView) -> str:
    """What a hop did, in a few words: ``Instance.save (object_action, call 3.0)``."""
    if hop.style == "http":
        return hop.method
    name = hop.method
    if hop.method in _OBJECT_METHODS:
        client = snap.spans.get(hop.client_span_id)
        raw = client.attrs.get("bootflow.envelope") if client else None
        try:
            env = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            env = None
        args = env.get("args") if isinstance(env, dict) else None
        if isinstance(args, dict) and args.get("objname") and args.get("objmethod"):
            name = f"{args['objname']}.{args['objmethod']}"
            return f"{name} ({hop.method}, {hop.style} {hop.version or '?'})"
    return f"{name} ({hop.style}, {hop.version or '?'})"


def _caused(snap: Snapshot, hops: list[HopView]) -> dict[str, str]:
    """hop id → the instance state an ``Instance.save`` wrote: the state change the
    saving service reported next after sending it (``building/spawning``)."""
    saves = [h for h in hops if h.method in _OBJECT_METHODS]
    out: dict[str, str] = {}
    if not saves:
        return out
    for ann in snap.annotations:
        if ann.name != "instance.state":
            continue
        before = [h for h in saves if h.sent_ns <= ann.ts_ns
                  and (h.src_service, h.src_host) == (ann.service, ann.host)]
        if before and before[-1].hop_id not in out:
            out[before[-1].hop_id] = state_name(ann.attrs.get("vm_state"),
                                                ann.attrs.get("task_state"))
    return out


def _who(service: str, host: str) -> tuple[str, str]:
    return (service, host if service == "nova-compute" else "")


def _name(part: tuple[str, str]) -> str:
    svc, host = part
    return host or svc.removeprefix("nova-")


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
        self._active: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._caused: dict[str, str] = {}

    def watch_snapshot(self) -> None:
        self._rebuild()

    def watch_trace_id(self) -> None:
        self._rebuild()

    def watch_selected(self) -> None:
        self.scroll_to_selected()
        self.refresh()

    def on_resize(self) -> None:
        self._rebuild()

    def scroll_to_selected(self) -> None:
        """Keep the selected hop's rows in view (the walkthrough's held hop is often
        below the fold)."""
        rows = [i for i, (h, _) in enumerate(self._rows) if h.hop_id == self.selected]
        if not rows:
            return
        top = int(self.scroll_offset.y)
        visible = max(1, self.size.height - 1)
        first, last = rows[0], rows[-1]
        if first < top or last >= top + visible:
            self.scroll_to(y=max(0, first - visible // 3), animate=False)

    def _rebuild(self) -> None:
        snap = self.snapshot
        hops = snap.trace_hops(self.trace_id) if self.trace_id else []
        self._parts = participants(hops)
        self._caused = _caused(snap, hops)
        # rows in time order: a hop's label and arrow when sent, its reply when it came
        timed: list[tuple[int, int, int, HopView, str]] = []
        for i, hop in enumerate(hops):
            timed.append((hop.sent_ns, i, 0, hop, "label"))
            timed.append((hop.sent_ns, i, 1, hop, "arrow"))
            if hop.style in ("call", "http") and hop.done_ns is not None:
                timed.append((hop.done_ns, i, 2, hop, "reply"))
        timed.sort(key=lambda t: (t[0], t[1], t[2]))
        rows = [(hop, part) for _, _, _, hop, part in timed]
        self._rows = rows
        # activation bars: a call's caller is blocked from its arrow to its reply
        active: dict[tuple[str, str], list[tuple[int, int]]] = {}
        where = {(h.hop_id, part): i for i, (h, part) in enumerate(rows)}
        for hop in hops:
            if hop.style not in ("call", "http") or hop.src_service == "client":
                continue
            start = where[(hop.hop_id, "arrow")]
            end = where.get((hop.hop_id, "reply"), len(rows) + 10**6)
            active.setdefault(_who(hop.src_service, hop.src_host), []).append((start, end))
        self._active = active
        # within the scrollbar: a view as wide as the widget would scroll sideways
        width = max(self.scrollable_content_region.width, len(self._parts) * MIN_GAP + 4)
        self.virtual_size = Size(width, len(rows) + 1)
        self.scroll_to_selected()
        self.refresh()

    def _columns(self) -> dict[tuple[str, str], int]:
        n = max(1, len(self._parts))
        width = max(self.scrollable_content_region.width, n * MIN_GAP + 4)
        # the first and last names whole: the lifelines keep half a name from the edges
        names = [_name(p) for p in self._parts] or [""]
        left = max(2, len(names[0]) // 2 + 1)
        right = max(2, len(names[-1]) - len(names[-1]) // 2 + 1)
        if n == 1:
            return {self._parts[0]: width // 2} if self._parts else {}
        gap = (width - left - right) / (n - 1)
        return {p: int(left + gap * i) for i, p in enumerate(self._parts)}

    _base = Style()  # the widget's colours: its own background (app.tcss)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._base = self.rich_style  # once a frame: it walks the ancestors' styles
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """Row *y* on the widget's own background, not the terminal's."""
        return self._line(y).apply_style(self._base)

    def _line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        pal = Palette(self)
        cols = self._columns()
        sx = int(self.scroll_offset.x)
        vw = max(width + sx, self.virtual_size.width)
        chars = [" "] * vw
        styles: list[Style | None] = [None] * vw
        life = pal.fg("idle")
        if y == 0:
            for (svc, host), x in cols.items():
                name = _name((svc, host))
                a = max(0, min(x - len(name) // 2, vw - len(name)))
                for k, c in enumerate(name):
                    if a + k < vw:
                        chars[a + k], styles[a + k] = c, pal.fg("node", bold=True)
        else:
            idx = y - 1 + int(self.scroll_offset.y)
            bar = pal.fg("call", bold=True)
            for who, x in cols.items():
                if x < vw:
                    blocked = any(a <= idx <= b for a, b in self._active.get(who, ()))
                    chars[x], styles[x] = ("┃", bar) if blocked else ("│", life)
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
        # a reply in the muted axis colour, not dim: dim text falls below 4.5:1
        st = pal.fg("error" if hop.state == "error" else "axis" if reply else kind,
                    bold=not reply)
        if hop.hop_id == self.selected:
            st += Style(reverse=True)
        lo, hi = min(a, b), max(a, b)
        if lo == hi:
            hi = lo + 4
        if part == "label":
            label = hop_title(self.snapshot, hop)
            caused = self._caused.get(hop.hop_id)
            if caused:
                label += f" → {caused}"
            if hop.state in LIVE_HOP_STATES:
                label += " … " + t(hop.state.replace("_", " "), lang_of(self))
            parts = cells(label)
            # long labels may run over other lifelines: readable beats tidy
            start = lo + 2 if len(parts) <= len(chars) - lo - 2 else max(0, hi - 2 - len(parts))
            edge = len(chars) - start - 1  # the last cell: half a wide character is a blank
            if 0 <= edge < len(parts) - 1 and parts[edge + 1] == "":
                parts[edge] = " "
            for k, c in enumerate(parts):
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
            text = cells(f" {t('reply', lang_of(self))} ")
            start = lo + (hi - lo - len(text)) // 2
            for k, c in enumerate(text):
                chars[start + k] = c

    def on_click(self, event: Click) -> None:
        idx = event.y - 1 + int(self.scroll_offset.y)
        if event.y >= 1 and 0 <= idx < len(self._rows):
            self.post_message(self.HopClicked(self._rows[idx][0].hop_id))
