"""No glyph that breaks alignment: nothing in our own strings (the TUI's code, its
stylesheet, the narration) or on the drawn screen that a terminal draws two cells wide
or as an emoji while Rich counts one cell (⏳, ⏸ …); wide characters only in Chinese
text, where every terminal and Rich agree on two cells."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from support.tui import GATE_HOPS, FakeGate, load, sync

from tracer.tui import BootflowApp, ListSource, ReplaySource

ROOT = Path(__file__).resolve().parents[2]


def is_cjk_text(ch: str) -> bool:
    """A character of Chinese text: an ideograph or CJK / full-width punctuation."""
    name = unicodedata.name(ch, "")
    return (name.startswith(("CJK", "FULLWIDTH", "IDEOGRAPHIC"))
            or 0x3000 <= ord(ch) <= 0x303F or 0xFF00 <= ord(ch) <= 0xFFEF)


def breaks_alignment(ch: str) -> bool:
    """Wide outside Chinese text, or emoji-capable (terminals differ on its width): the
    Miscellaneous Technical block (⏳ ⏸ ⌚), Miscellaneous Symbols (⚠ ☑), the emoji
    dingbats (✅ ✔), emoji planes, the emoji variation selector."""
    cp = ord(ch)
    if unicodedata.east_asian_width(ch) in ("W", "F") and not is_cjk_text(ch):
        return True
    dingbat_ok = ch in "✓✗"
    return (0x2300 <= cp <= 0x23FF or 0x2600 <= cp <= 0x26FF
            or (0x2700 <= cp <= 0x27BF and not dingbat_ok)
            or cp >= 0x1F000 or cp == 0xFE0F)


def test_the_rule_catches_the_known_offenders() -> None:
    assert all(breaks_alignment(ch) for ch in "⏳⏸⌛⚠✅✔🚀\ufe0f")
    assert not any(breaks_alignment(ch) for ch in "━▶╌▷┅░┃◆≈‖…→✗中，（")


def test_no_such_glyph_in_our_own_strings() -> None:
    files = [*sorted((ROOT / "tracer" / "tui").rglob("*.py")),
             ROOT / "tracer" / "tui" / "app.tcss", ROOT / "tracer" / "narration.yaml"]
    found = []
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            bad = {ch for ch in line if breaks_alignment(ch)}
            if bad:
                found.append(f"{path.relative_to(ROOT)}:{n}: {''.join(sorted(bad))}")
    assert found == []


def screen_chars(app: Any) -> set[str]:
    return {ch for line in app.screen._compositor.render_strips()
            for seg in line for ch in seg.text}


@sync
async def test_no_such_glyph_on_screen_in_either_language() -> None:
    apps = [BootflowApp(ListSource(load()), mode="live", clock=None),
            BootflowApp(ListSource(load()[:20]), mode="walkthrough",
                        gate=FakeGate(GATE_HOPS), clock=None),
            BootflowApp(ReplaySource(load()), mode="replay")]
    for app in apps:
        async with app.run_test(size=(120, 40)) as pilot:
            await app.wait_for_idle_snapshot()
            await pilot.pause(0.3)
            for _lang in ("en", "zh"):
                shown = screen_chars(app)
                assert not {ch for ch in shown if breaks_alignment(ch)}, app.mode
                await pilot.press("l")
                await pilot.pause()
