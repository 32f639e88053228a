"""Line glyphs per hop style, and the colours (from ``app.tcss``) as Rich styles.

Calls are solid/heavy and warm (the caller is stuck), casts dashed and cool (fire and
forget), fanout dotted. The colours are component classes (``hop--call`` …) styled in
``app.tcss`` for the dark and the light theme, so graph, timeline and sequence agree
and a theme change redraws them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.color import Color
from rich.style import Style
from textual.widget import Widget


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

# hop styles, hop states and the drawing's own parts; each is a component class
# ``hop--<name>`` whose colour app.tcss sets; ``hop--on-bar`` is text on a filled bar
COLOUR_NAMES = ("call", "cast", "fanout", "http", "error", "waiting", "running", "select",
                "idle", "node", "axis", "label", "internal", "server",
                "svc-api", "svc-conductor", "svc-scheduler", "svc-compute", "svc-placement",
                "svc-glance", "svc-client")
# the waterfall's name column: each service its colour, legible in both themes
SERVICE_COLOUR = {"nova-api": "svc-api", "nova-conductor": "svc-conductor",
                  "nova-scheduler": "svc-scheduler", "nova-compute": "svc-compute",
                  "placement": "svc-placement", "glance": "svc-glance"}
HOP_COMPONENTS = frozenset({f"hop--{name}" for name in COLOUR_NAMES} | {"hop--on-bar"})


class Palette:
    """The colours a widget's component classes resolve to, as Rich styles."""

    def __init__(self, widget: Widget) -> None:
        self._widget = widget

    def _component(self, name: str) -> Color | None:
        return self._widget.get_component_rich_style(f"hop--{name}", partial=True).color

    def color(self, name: str) -> Color | None:
        return self._component(name if name in COLOUR_NAMES else "label")

    def fg(self, name: str, bold: bool = False, dim: bool = False) -> Style:
        return Style(color=self.color(name), bold=bold, dim=dim)

    def bar(self, name: str) -> Style:
        """A filled bar: the colour as background, readable text on it."""
        return Style(bgcolor=self.color(name), color=self._component("on-bar"))

    def service(self, service: str, bold: bool = False, reverse: bool = False) -> Style:
        """A service's colour (``svc-client`` for one not listed)."""
        return Style(color=self.color(SERVICE_COLOUR.get(service, "svc-client")), bold=bold,
                     reverse=reverse)

    def style_for(self, style: str) -> str:
        return style if style in GLYPHS else "http"
