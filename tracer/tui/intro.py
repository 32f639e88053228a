"""A scenario's intro: what it is about, read before anything runs.

The app starts the event source only when the learner dismisses it, so the flow never
runs behind the text (``?`` shows the text again later, in the help screen).
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tracer.tui.i18n import t

START_HINT = "press any key (enter/space) to start · q quits · ? shows it again"


class IntroScreen(ModalScreen[bool]):
    """The scenario's title and explanation; any key dismisses it with True (start),
    ``q`` with False (quit without running)."""

    DEFAULT_CSS = """
    IntroScreen {
        align: center middle;
        background: $background 60%;
    }
    #intro-box {
        width: 80;
        max-width: 95%;
        height: auto;
        max-height: 95%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    #intro-title { text-style: bold; margin-bottom: 1; }
    /* docked: the key to press stays in view however long the text */
    #intro-hint { dock: bottom; margin-top: 1; color: $text-muted; }
    """

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.intro_title = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="intro-box"):
            yield Static(Text(self.intro_title), id="intro-title")
            yield Static(Text(self.text.strip()), id="intro-text")
            lang = str(getattr(self.app, "lang", "en"))
            yield Static(Text(t(START_HINT, lang)), id="intro-hint")

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        self.dismiss(event.key != "q")

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.dismiss(True)
