"""What every mode's screen shares: the layout, the selection, the drawing, the keys.

A mode screen (``LiveScreen``, ``WalkthroughScreen``, ``ReplayScreen``) adds its own keys
between the common ones (``mode_keys``), its part of the status line and, if it has
one, its own widget under the panes. The app hands each new picture to ``draw``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Protocol, cast

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Input, Static, TabbedContent, TabPane

from tracer.model import EMPTY_SNAPSHOT, HopView, ServiceView, Snapshot
from tracer.model.constants import LIVE_HOP_STATES
from tracer.model.feed import Feed
from tracer.tui.graph import ServiceGraph, needed_height
from tracer.tui.help import HelpScreen
from tracer.tui.i18n import t, translate_bindings
from tracer.tui.layout import hop_for_span, node_label, node_of
from tracer.tui.panes import (
    DetailPane,
    describe_hop,
    describe_span,
    instances_table,
    services_table,
)
from tracer.tui.sequence import SequenceView
from tracer.tui.timeline import Timeline, fmt_ns
from tracer.tui.words import trace_counter

# The footer and the help list keys in this order: these, the mode's own, then TAIL.
# The footer shows the most important first and must fit at 80 columns (68 cells beside
# the palette's ^p) in every mode: short descriptions, [ and ] as one "[] Hop", the rest
# show=False (in ? help all the same); a mode hides what matters less to it (mode_keys).
HOP_KEYS = Binding.Group("Hop", compact=True)
HEAD_KEYS: list[BindingType] = [
    Binding("q", "app.quit", "Quit", id="app.quit"),
    Binding("question_mark", "help", "Help", id="app.help"),
]
TAIL_KEYS: list[BindingType] = [
    Binding("left_square_bracket", "select_hop(-1)", "Prev hop", id="app.prev_hop",
            group=HOP_KEYS),
    Binding("right_square_bracket", "select_hop(1)", "Next hop", id="app.next_hop",
            group=HOP_KEYS),
    Binding("less_than_sign", "select_trace(-1)", "Prev trace", id="app.prev_trace",
            show=False),
    Binding("greater_than_sign", "select_trace(1)", "Next trace", id="app.next_trace",
            show=False),
    Binding("a", "follow", "Follow", id="app.follow"),
    Binding("h", "focus_hop", "Hop pane: focus it (PgDn/PgUp scroll)", id="app.hop_pane",
            show=False),
    Binding("v", "switch_view", "View", tooltip="Timeline/Sequence", id="app.view"),
    Binding("p", "present", "Present", id="app.present"),
    Binding("o", "other_traffic", "Graph: other traces' traffic, dimmed", id="app.others",
            show=False),
    Binding("r", "rpc_only", "Timeline: messages only", id="app.rpc_only", show=False),
    Binding("m", "all_spans", "Timeline: middleware and db too", id="app.all_spans",
            show=False),
    Binding("slash", "search", "Timeline: find a span by name", id="app.search",
            show=False),
    Binding("l", "app.toggle_lang", "EN/中文", id="app.lang"),
    Binding("d", "app.toggle_dark", "Dark/light", id="app.dark", show=False),
]


def narrate(hop: HopView, lang: str = "en") -> str:
    """``conductor WAITS for scheduler — select_destinations (call)`` and the like."""
    src = node_label(node_of(hop.src_service, hop.src_host))
    dst = node_label(node_of(hop.dst_service, hop.dst_host))
    what = f"{hop.method} ({hop.style})"
    if hop.state == "error":
        line = "{src} → {dst} FAILED — {what}"
    elif hop.style in ("call", "http"):
        if hop.state == "in_flight":
            line = "{src} WAITS for {dst} — {what} is on its way"
        elif hop.state in ("waiting", "running"):
            line = "{src} WAITS for {dst} — {what}"
        else:
            line = "{dst} ANSWERED {src} — {what}"
    elif hop.state == "in_flight":
        line = "{src} SENT {what} to {dst} and goes on — on its way"
    elif hop.state in ("waiting", "running"):
        line = "{dst} WORKS on {what} — {src} did not wait"
    else:
        line = "{dst} handled {what} from {src} — nobody waited"
    return t(line, lang, src=src, dst=dst, what=what)


def instance_badge(snap: Snapshot, lang: str = "en") -> Text:
    """The newest instance's state, large: ``vm1  BUILDING · spawning``."""
    if not snap.instances:
        return Text(t("no instance yet", lang), style="bold")
    inst = max(snap.instances.values(), key=lambda i: i.updated_ns)
    vm = (inst.vm_state or "-").upper()
    text = Text(f"{inst.display_name or inst.uuid[:8]}  ", style="bold")
    text.append(vm, style="bold reverse")
    if inst.task_state:
        text.append(f" · {inst.task_state}", style="bold")
    return text


def fit_by_importance(parts: list[tuple[int, Text]], width: int) -> Text:
    """The parts (importance, text; 0 the most important) that fit in *width* cells,
    the most important first, shown in their own order: a narrow screen loses the
    detail, never the mode or an alert."""
    used = 0
    keep: set[int] = set()
    for i in sorted(range(len(parts)), key=lambda i: parts[i][0]):
        size = parts[i][1].cell_len
        if used + size <= width or parts[i][0] == 0:
            keep.add(i)
            used += size
    out = Text(no_wrap=True, overflow="ellipsis")
    for i, (_importance, text) in enumerate(parts):
        if i in keep:
            out.append_text(text)
    return out


def quiet(binding: BindingType) -> BindingType:
    """The binding kept (and in help) but not in the footer: a narrow footer shows the
    mode's own keys first."""
    if isinstance(binding, Binding):
        return Binding(binding.key, binding.action, binding.description, show=False,
                       priority=binding.priority, tooltip=binding.tooltip, id=binding.id)
    return binding


def mode_keys(*keys: BindingType, hide: tuple[str, ...] = ()) -> list[BindingType]:
    """A mode screen's BINDINGS: the common keys with the mode's own in between; the
    common keys whose ids are in *hide* leave the footer (room for the mode's own)."""
    tail = [quiet(b) if isinstance(b, Binding) and b.id in hide else b for b in TAIL_KEYS]
    return [*HEAD_KEYS, *keys, *tail]


class SearchScreen(ModalScreen[str | None]):
    """``/``: a name to find in the timeline (empty: clear); escape cancels."""

    DEFAULT_CSS = """
    SearchScreen { align: center bottom; background: $background 30%; }
    SearchScreen > Input { width: 60; max-width: 90%; margin-bottom: 2; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        lang = str(getattr(self.app, "lang", "en"))
        yield Input(value=self.text,
                    placeholder=t("find a span by name (enter; empty clears)", lang))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())


class _Lang(Protocol):
    lang: str


class TraceScreen(Screen[None]):
    """The picture of the traces; see the module docstring. Subclasses set ``MODE``."""

    MODE: ClassVar[str] = ""
    # no BINDINGS here: each mode lists all of its keys (mode_keys), so that its own come
    # between the common ones (bindings inherited from a base would come first)

    follow: reactive[bool] = reactive(True)
    selected_hop: reactive[str | None] = reactive(None)
    selected_span: reactive[str | None] = reactive(None)
    trace_id: reactive[str | None] = reactive(None)

    def __init__(self, feed: Feed, *, intro: str | None = None) -> None:
        super().__init__()
        self.feed = feed
        self.intro = intro  # e.g. a scenario's explanation: the app shows it first; help
        self.snapshot: Snapshot = EMPTY_SNAPSHOT
        self._laid_out = False  # on_mount ran: the widgets exist (is_mounted comes later)
        self._english_keys = self._bindings.copy()  # translated from on each `l`

    @property
    def lang(self) -> str:
        """The narration language: the app's, shared by every screen."""
        return cast(_Lang, self.app).lang

    # -- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="status")
        yield ServiceGraph(id="graph")  # across the screen: room for boxes and labels
        with Horizontal(id="main"):
            with Vertical(id="left"):
                with TabbedContent(id="views"):
                    with TabPane("Timeline", id="tab-timeline"):
                        yield Timeline(id="timeline")
                    with TabPane("Sequence", id="tab-sequence"):
                        yield SequenceView(id="sequence")
            with Vertical(id="right"):
                yield DetailPane(id="detail")
                yield Static(id="instances")
                yield Static(id="services")
        with Horizontal(id="present-bar"):  # presentation mode only (p, --present)
            yield Static(id="narration")
            yield Static(id="badge")
        yield from self.compose_bottom()
        yield Footer()

    def compose_bottom(self) -> Iterable[Widget]:
        """The mode's own widgets between the panes and the footer."""
        return ()

    def on_mount(self) -> None:
        if getattr(self.app, "present", False):
            self.set_present(True)
        self._laid_out = True
        self.watch(self.app, "lang", self.show_lang)  # draws the picture too

    def show_lang(self) -> None:
        """The whole screen in the app's language: titles, tabs, footer, status, panes
        and the drawings (``l`` switches)."""
        lang = self.lang
        for wid, title in (("#instances", "instances"), ("#services", "services"),
                           ("#graph", "service graph")):
            self.query_one(wid).border_title = t(title, lang)
        tabs = self.query_one(TabbedContent)
        for pane_id, label in (("tab-timeline", "Timeline"), ("tab-sequence", "Sequence")):
            tabs.get_tab(pane_id).label = t(label, lang)
        if self.SUB_TITLE:
            self.sub_title = t(self.SUB_TITLE, lang)
        translate_bindings(self, self._english_keys, lang)
        for widget in self.query("ServiceGraph, Timeline, SequenceView"):
            widget.refresh()
        self.draw(self.snapshot)

    # -- drawing ---------------------------------------------------------------------

    def draw(self, snap: Snapshot) -> None:
        """Show a new picture: every widget, the panes and the status line."""
        self.snapshot = snap
        if not self._laid_out:
            return  # on_mount draws it
        if self.follow or self.trace_id not in snap.traces:
            latest = self.pick_trace(snap)
            if latest != self.trace_id:
                self.trace_id = latest
        if self.follow:
            self._follow_hop(snap)
        for widget in (self.query_one(ServiceGraph), self.query_one(Timeline),
                       self.query_one(SequenceView)):
            widget.trace_id = self.trace_id
            widget.snapshot = snap
        self._size_graph()
        self.query_one("#instances", Static).update(instances_table(snap, self.lang))
        self.query_one("#services", Static).update(
            services_table(snap, self.service_up, self.lang))
        if self.presenting:
            self.show_present()
        self.show_detail()
        self.show_status()

    def pick_trace(self, snap: Snapshot) -> str | None:
        """The trace to show while following: the newest request (a boot)."""
        return snap.latest_trace()

    def service_up(self, svc: ServiceView, snap: Snapshot) -> bool:
        """Whether the services pane shows a service up (the walkthrough overrides)."""
        return svc.up

    def cut_ns(self, start_ns: int, end_ns: int) -> int:
        """Time cut out of the picture between two times (the walkthrough's holds)."""
        return 0

    def _size_graph(self) -> None:
        """The graph as tall as the selected trace needs (2 rows are its border), at
        most a third of the screen."""
        graph = self.query_one(ServiceGraph)
        width = max(0, self.app.size.width - 2)
        rows = needed_height(self.snapshot, self.trace_id, width) + 2
        height = self.app.size.height
        small = height <= 34
        # on a small screen the hop pane matters more than the whole list of edges
        rows = min(rows, 6 if height < 28 else 9 if small else max(6, height // 3 + 1))
        if graph.styles.height is None or graph.styles.height.value != rows:
            graph.styles.height = rows
        for wid, tall in (("#instances", 9), ("#services", 9)):
            pane = self.query_one(wid)
            limit = 5 if small else tall
            if pane.styles.max_height is None or pane.styles.max_height.value != limit:
                pane.styles.max_height = limit

    def on_resize(self) -> None:
        if self._laid_out:
            self._size_graph()

    def _follow_hop(self, snap: Snapshot) -> None:
        hops = snap.trace_hops(self.trace_id)
        live = [h for h in hops if h.state in LIVE_HOP_STATES]
        pick = (live or hops)[-1] if hops else None
        if pick is not None and pick.hop_id != self.selected_hop:
            self.selected_hop = pick.hop_id
            self.selected_span = None

    def watch_selected_hop(self, hop_id: str | None) -> None:
        if not self._laid_out:
            return
        for widget in self.query("ServiceGraph, Timeline, SequenceView"):
            widget.selected = hop_id  # type: ignore[attr-defined]
        self.show_detail()
        if self.presenting:
            self.show_present()

    def detail(self) -> tuple[RenderableType, str]:
        """What the detail pane shows, and its title: the selected hop or span."""
        snap = self.snapshot
        span = snap.spans.get(self.selected_span) if self.selected_span else None
        hop = snap.hop(self.selected_hop)
        lang = self.lang
        if span is not None and hop is None:
            return describe_span(snap, span, lang), t("span", lang)
        if hop is not None:
            return describe_hop(snap, hop, lang), t("hop · {style}", lang, style=hop.style)
        return (Text(t("Waiting for the first hop… ([ ] select, click a bar)", lang),
                     style="dim"), t("hop", lang))

    def show_detail(self) -> None:
        if not self._laid_out:
            return
        pane = self.query_one(DetailPane)
        body, title = self.detail()
        pane.show(body)
        pane.border_title = title

    def status_mode(self, text: Text) -> None:
        """The mode's part of the status line, after the mode's name."""

    def status_position(self, text: Text) -> None:
        """How far the picture has got."""
        text.append("  " + t("{n} events", self.lang, n=f"{self.snapshot.seq:,}"))

    def show_status(self) -> None:
        """The status line, fitted to the screen by importance: the mode and its state
        and any alert first, then where the picture stands, the trace, the trace
        counter, the trace's size and time, the follow hint."""
        if not self._laid_out:
            return
        snap = self.snapshot
        lang = self.lang
        trace = snap.traces.get(self.trace_id) if self.trace_id else None
        head = Text()
        head.append(f" {self.MODE.upper()} ", style="bold reverse")
        self.status_mode(head)
        position = Text()
        self.status_position(position)
        parts: list[tuple[int, Text]] = [(0, head), (1, position)]  # (importance, text)
        if trace is not None:
            cut = self.cut_ns(trace.start_ns, trace.end_ns)
            parts.append((2, Text(f"  {trace.root_name}")))
            detail = Text(t(" ({n} spans, {took}", lang, n=trace.n_spans,
                            took=fmt_ns(trace.end_ns - trace.start_ns - cut)))
            if cut:
                detail.append(t(" + {cut} held, cut", lang, cut=fmt_ns(cut)))
            detail.append(t(")", lang))
            parts.append((4, detail))
        if len(snap.traces) > 1:
            parts.append((3, Text(f"  {trace_counter(snap.traces, self.trace_id, lang)}")))
        if snap.malformed or snap.unknown:
            parts.append((0, Text("  " + t("skipped {n}", lang,
                                           n=snap.malformed + snap.unknown),
                                  style="bold red")))
        if not self.follow:
            parts.append((5, Text("  " + t("(follow off: a)", lang), style="dim")))
        status = self.query_one("#status", Static)
        status.update(fit_by_importance(parts, status.size.width or self.app.size.width))

    # -- selection -------------------------------------------------------------------

    def on_service_graph_hop_clicked(self, message: ServiceGraph.HopClicked) -> None:
        self._select(message.hop_id)

    def on_sequence_view_hop_clicked(self, message: SequenceView.HopClicked) -> None:
        self._select(message.hop_id)

    def on_timeline_span_clicked(self, message: Timeline.SpanClicked) -> None:
        span = self.snapshot.spans.get(message.span_id)
        if span is None:
            return
        hop = hop_for_span(self.snapshot, span)
        self.follow = False
        self.selected_span = span.span_id
        if hop is not None:
            self.selected_hop = hop.hop_id
        else:
            self.selected_hop = None
            self.show_detail()

    def _select(self, hop_id: str) -> None:
        self.follow = False
        self.selected_span = None
        hop = self.snapshot.hop(hop_id)
        if hop is not None and hop.trace_id != self.trace_id:
            self.trace_id = hop.trace_id
            self.draw(self.snapshot)
        self.selected_hop = hop_id

    # -- actions ---------------------------------------------------------------------

    def action_select_hop(self, delta: int) -> None:
        hops = self.snapshot.trace_hops(self.trace_id)
        if not hops:
            return
        ids = [h.hop_id for h in hops]
        i = ids.index(self.selected_hop) if self.selected_hop in ids else (
            -1 if delta > 0 else len(ids))
        self._select(ids[max(0, min(len(ids) - 1, i + delta))])

    def action_select_trace(self, delta: int) -> None:
        traces = sorted(self.snapshot.traces.values(), key=lambda t: t.start_ns)
        if not traces:
            return
        ids = [t.trace_id for t in traces]
        i = ids.index(self.trace_id) if self.trace_id in ids else 0
        self.show_trace(ids[(i + delta) % len(ids)])

    def show_trace(self, trace_id: str) -> None:
        """Show one trace and stop following (``<``/``>``, the palette's trace names)."""
        self.follow = False
        self.trace_id = trace_id
        self.selected_hop = None
        self.draw(self.snapshot)

    def show_view(self, tab: str) -> None:
        """``tab-timeline`` or ``tab-sequence`` (the palette; ``v`` switches)."""
        self.query_one(TabbedContent).active = tab

    def action_focus_hop(self) -> None:
        self.query_one(DetailPane).focus()

    def action_follow(self) -> None:
        self.follow = not self.follow
        self.draw(self.snapshot)

    # -- presentation mode -----------------------------------------------------------

    @property
    def presenting(self) -> bool:
        return self.has_class("-present")

    def set_present(self, on: bool) -> None:
        """The classroom layout: graph, sequence, one large narration line and the
        instance's state as a badge; the panes and the timeline step aside."""
        self.set_class(on, "-present")
        if on:
            self.query_one(TabbedContent).active = "tab-sequence"
            self.show_present()

    def action_present(self) -> None:
        self.set_present(not self.presenting)

    def narration_line(self) -> str:
        """What is happening now, in one sentence a class can read from the back."""
        hop = self.snapshot.hop(self.selected_hop)
        if hop is None:
            return t("waiting for the first message…", self.lang)
        return narrate(hop, self.lang)

    def show_present(self) -> None:
        if not self._laid_out:
            return
        self.query_one("#narration", Static).update(Text(self.narration_line()))
        self.query_one("#badge", Static).update(instance_badge(self.snapshot, self.lang))

    def action_other_traffic(self) -> None:
        graph = self.query_one(ServiceGraph)
        graph.others = not graph.others
        self._size_graph()

    def action_rpc_only(self) -> None:
        timeline = self.query_one(Timeline)
        timeline.rpc_only = not timeline.rpc_only

    def action_all_spans(self) -> None:
        timeline = self.query_one(Timeline)
        timeline.show_all = not timeline.show_all

    def action_search(self) -> None:
        def found(text: str | None) -> None:
            self.query_one(TabbedContent).active = "tab-timeline"
            self.query_one(Timeline).search = text or ""

        self.app.push_screen(SearchScreen(self.query_one(Timeline).search), found)

    def action_switch_view(self) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = "tab-sequence" if tabs.active == "tab-timeline" else "tab-timeline"

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.MODE, self.help_rows(), intro=self.intro,
                                        lang=self.lang))

    def help_rows(self) -> list[tuple[str, str]]:
        """This screen's keys, in the footer's order, with what they do."""
        rows = []
        for binding in self.BINDINGS:
            if isinstance(binding, Binding):
                # what the key does in full (its tooltip), else the footer's word
                rows.append((self.app.get_key_display(binding),
                             t(binding.tooltip or binding.description, self.lang)))
        return rows

    # -- for the app -----------------------------------------------------------------

    @classmethod
    def create(cls, source: Any, *, gate: Any = None, service_down_time_s: float = 60.0,
               clock: Callable[[], int] | None = None,
               intro: str | None = None) -> TraceScreen:
        """This mode's screen and feed for ``source``; ValueError if the mode cannot."""
        raise NotImplementedError
