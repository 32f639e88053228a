"""Colours and line glyphs per hop style, one place so graph, timeline and sequence agree.

Calls are solid/heavy and warm (the caller is stuck), casts dashed and cool (fire and
forget), fanout dotted. Two palettes: dark and light themes.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style


@dataclass(frozen=True)
class Glyphs:
    h: str
    v: str
    right: str
    left: str
    down: str
    up: str


GLYPHS = {
    "call": Glyphs("━", "┃", "▶", "◀", "▼", "▲"),
    "cast": Glyphs("╌", "╎", "▷", "◁", "▽", "△"),
    "fanout": Glyphs("┅", "┇", "▷", "◁", "▽", "△"),
    "http": Glyphs("─", "│", "▶", "◀", "▼", "▲"),
}

_DARK = {
    "call": "#ffaf00", "cast": "#5fd7ff", "fanout": "#d787ff", "http": "#87d787",
    "error": "#ff5f5f", "idle": "#6c6c6c", "node": "#d0d0d0", "waiting": "#ffaf00",
    "running": "#87d787", "axis": "#8a8a8a", "label": "#bcbcbc", "internal": "#5f87af",
    "server": "#5faf5f", "select": "#ffffff",
}
_LIGHT = {
    "call": "#af5f00", "cast": "#005f87", "fanout": "#875faf", "http": "#005f00",
    "error": "#d70000", "idle": "#a8a8a8", "node": "#303030", "waiting": "#af5f00",
    "running": "#005f00", "axis": "#6c6c6c", "label": "#444444", "internal": "#5f87af",
    "server": "#5f8700", "select": "#000000",
}


class Palette:
    def __init__(self, dark: bool = True) -> None:
        self.dark = dark
        self.colors = _DARK if dark else _LIGHT

    def color(self, name: str) -> str:
        return self.colors.get(name, self.colors["label"])

    def fg(self, name: str, bold: bool = False, dim: bool = False) -> Style:
        return Style(color=self.color(name), bold=bold, dim=dim)

    def bar(self, name: str, reverse_text: bool = True) -> Style:
        """A filled bar: the colour as background, readable text on it."""
        return Style(bgcolor=self.color(name), color="#000000" if self.dark else "#ffffff")

    def style_for(self, style: str) -> str:
        return style if style in GLYPHS else "http"
