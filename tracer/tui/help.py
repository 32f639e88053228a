"""The ``?`` screen: every key of the current mode and how to read the drawings."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tracer.tui.i18n import READING, t


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def __init__(self, mode: str, rows: list[tuple[str, str]],
                 intro: str | None = None, lang: str = "en") -> None:
        """*rows*: (key, what it does), already in *lang*."""
        super().__init__()
        self.mode = mode
        self.rows = rows
        self.intro = intro
        self.lang = lang

    def compose(self) -> ComposeResult:
        lang = self.lang
        keys = Table(title=t("keys ({mode})", lang, mode=self.mode), expand=True, box=None)
        keys.add_column(t("key", lang), style="bold", no_wrap=True)
        keys.add_column(t("does", lang))
        for key, desc in self.rows:
            keys.add_row(Text(key), Text(desc))
        keys.add_row(t("mouse", lang), t("click an edge, a bar or an arrow to select that "
                                         "hop; wheel scrolls, shift+wheel sideways, "
                                         "ctrl+wheel zooms", lang))
        keys.add_row("+ - 0", t("timeline zoom in / out / fit (when the timeline has focus)",
                                lang))
        with VerticalScroll(id="help-box"):
            if self.intro:
                yield Static(Text(t("about this scenario", lang), style="bold"))
                yield Static(Text(self.intro + "\n"))
            yield Static(keys)
            yield Static(Text(t("\nreading the picture", lang), style="bold"))
            yield Static(Text(t(READING, lang)))
            yield Static(Text(t("\nesc closes", lang), style="dim"))

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
