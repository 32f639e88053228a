"""The drawings (graph, waterfall, sequence) keep their own background in both themes
and every word on them is legible: WCAG contrast ≥ 4.5 between the colours the
terminal is given for each drawn character (dim text counted at half strength)."""

from __future__ import annotations

from typing import Any

import pytest
from rich.color import Color
from rich.segment import Segment
from support.tui import load, sync

from tracer.tui import BootflowApp, ListSource

DRAWINGS = ("ServiceGraph", "Timeline", "SequenceView")


def luminance(rgb: tuple[int, int, int]) -> float:
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def rgb(color: Color | None) -> tuple[int, int, int] | None:
    return None if color is None else tuple(color.get_truecolor())  # type: ignore[return-value]


def cells(app: Any, widget: str) -> list[tuple[str, Segment]]:
    """(character, its segment) for every cell of *widget* as the screen shows it."""
    region = app.screen.query_one(widget).content_region
    strips = app.screen._compositor.render_strips()
    out = []
    for y in range(region.y, region.bottom):
        x = 0
        for seg in strips[y]:
            for ch in seg.text:
                if region.x <= x < region.right:
                    out.append((ch, seg))
                x += 1
    return out


def legibility(app: Any, widget: str) -> tuple[list[float], list[str]]:
    """The luminance of each cell's background, and the words drawn below 4.5:1."""
    backgrounds, poor = [], []
    for ch, seg in cells(app, widget):
        style = seg.style
        assert style is not None
        fg, bg = rgb(style.color), rgb(style.bgcolor)
        assert bg is not None, f"{widget}: {ch!r} on the terminal's own background"
        backgrounds.append(luminance(bg))
        if not ch.isalnum():
            continue
        assert fg is not None, f"{widget}: {ch!r} in the terminal's own colour"
        if style.reverse:
            fg, bg = bg, fg
        if style.dim:  # a terminal draws it at about half strength
            fg = tuple((f + b) // 2 for f, b in zip(fg, bg, strict=True))  # type: ignore[assignment]
        ratio = contrast(fg, bg)
        if ratio < 4.5:
            poor.append(f"{ch!r} {fg} on {bg}: {ratio:.2f}")
    return backgrounds, poor


@pytest.mark.parametrize("theme", ["dark", "light"])
@sync
async def test_drawings_have_their_own_background_and_legible_words(theme: str) -> None:
    app = BootflowApp(ListSource(load()), mode="live", clock=None)
    async with app.run_test(size=(160, 45)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        await pilot.press("left_square_bracket")  # a selected (reversed) hop too
        if theme == "light":
            await pilot.press("d")
        for widget in DRAWINGS:
            if widget == "SequenceView":
                await pilot.press("v")
            await pilot.pause()
            backgrounds, poor = legibility(app, widget)
            assert backgrounds
            if theme == "light":
                assert min(backgrounds) > 0.05 and sorted(backgrounds)[len(backgrounds) // 2] > 0.8
            else:
                assert sorted(backgrounds)[len(backgrounds) // 2] < 0.02
            assert poor == [], (widget, poor[:10])
