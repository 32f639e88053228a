"""The ``?`` screen: every key of the current mode and how to read the drawings."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

READING = """\
━━▶  call   the caller is BLOCKED until the reply
            (select_destinations, object_action)
╌╌▷  cast   published; the caller returns at once
            (schedule_and_build_instances, build_and_run_instance)
┅┅▷  fanout one cast copied to every server of a topic
            (update_instance_info)
░░░  timeline: a caller waiting in a call; its bar spans the server's work
┃╌╌▷ timeline: a cast — a tick where it was sent, an arrow to where
            the consumer starts
◆    timeline: on the critical path (what the trace's end waited for);
            +3 after a name: spans folded into it (m shows all, r only
            messages, / finds a name, a click on a name folds it)
≈    timeline: time the walkthrough's gate held the flow, cut out
WAIT graph: this service is waiting for a reply; BUSY: it is working
┃    sequence: the caller is blocked in a call (activation bar)
no hb services: the service sends no heartbeat (nova-api sends none), so
            it is neither up nor down; "last hop" is when it last sent or
            took a message
↓ more below  hop pane: its text goes on (h, then PgDn; or the wheel)
request 1/2 (+45 background)  status line: the shown trace among the REST
            requests; background: the services' start-up, heartbeats and
            periodic tasks, traces no request started (< > step through all)"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def __init__(self, mode: str, rows: list[tuple[str, str]],
                 intro: str | None = None) -> None:
        super().__init__()
        self.mode = mode
        self.rows = rows
        self.intro = intro

    def compose(self) -> ComposeResult:
        keys = Table(title=f"keys ({self.mode})", expand=True, box=None)
        keys.add_column("key", style="bold", no_wrap=True)
        keys.add_column("does")
        for key, desc in self.rows:
            keys.add_row(key, desc)
        keys.add_row("mouse", "click an edge, a bar or an arrow to select that hop; "
                              "wheel scrolls, shift+wheel sideways, ctrl+wheel zooms")
        keys.add_row("+ - 0", "timeline zoom in / out / fit (when the timeline has focus)")
        with VerticalScroll(id="help-box"):
            if self.intro:
                yield Static(Text("about this scenario", style="bold"))
                yield Static(Text(self.intro + "\n"))
            yield Static(keys)
            yield Static(Text("\nreading the picture", style="bold"))
            yield Static(Text(READING))
            yield Static(Text("\nesc closes", style="dim"))

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
