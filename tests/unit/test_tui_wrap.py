"""Mixed Chinese/English text wraps between CJK characters and at spaces, never inside
an English word (Rich alone folds a Chinese paragraph anywhere: ``conduct`` / ``or``)."""

from __future__ import annotations

import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.text import Text

from tracer import narration
from tracer.tui.wrap import MixedWrap, is_cjk

WIDTHS = (18, 24, 31, 40, 47, 60)


def rendered_lines(renderable: RenderableType, width: int) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text().rstrip("\n").split("\n")


def words(text: str) -> list[str]:
    """Runs of characters that are neither spaces nor CJK: English words, names."""
    return [w for w in re.split(r"\s+", "".join(" " if is_cjk(c) else c for c in text)) if w]


def split_words(text: str, lines: list[str], width: int) -> list[str]:
    """Words (no wider than the line) whose characters landed on two lines."""
    found = []
    pos = 0
    flat = text
    for a, b in zip(lines, lines[1:], strict=False):
        piece = a.strip()
        pos = flat.index(piece, pos) + len(piece)
        nxt = flat.index(b.strip(), pos) if b.strip() else pos
        if nxt == pos and pos < len(flat) and not flat[pos - 1].isspace() and \
                not is_cjk(flat[pos - 1]) and not is_cjk(flat[pos]):
            left = re.search(r"[^\s]*$", "".join(" " if is_cjk(c) else c for c in flat[:pos]))
            right = re.match(r"[^\s]*", "".join(" " if is_cjk(c) else c for c in flat[pos:]))
            word = (left.group(0) if left else "") + (right.group(0) if right else "")
            if cell_len(word) <= width:
                found.append(word)
    return found


def zh_texts() -> list[str]:
    entries = narration.load().entries.values()
    return [e.lines("zh") for e in entries if "zh" in e.text]


@pytest.mark.parametrize("width", WIDTHS)
def test_no_english_word_split_and_no_line_too_wide(width: int) -> None:
    texts = zh_texts()
    assert len(texts) > 10
    for text in texts:
        lines = rendered_lines(MixedWrap(Text(text)), width)
        assert all(cell_len(line) <= width for line in lines), lines
        assert split_words(text, lines, width) == [], (width, lines)
        # nothing lost: the same characters, spaces aside
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_rich_alone_splits_words() -> None:
    """What the hop pane showed before: the check above fails on Rich's own wrap."""
    hits = [w for width in WIDTHS for text in zh_texts()
            for w in split_words(text, rendered_lines(Text(text), width), width)]
    assert hits


def test_styles_kept_and_punctuation_not_at_line_start() -> None:
    """At 13 cells "果，" and "续。" move on together: a comma never starts a line."""
    text = Text("conductor 必须拿到调度结果，才能继续。", style="bold")
    text.stylize("italic", 0, 9)
    console = Console(width=14, record=True, file=io.StringIO())
    console.print(MixedWrap(text))
    lines = console.export_text().rstrip("\n").split("\n")
    assert [line.rstrip() for line in lines] == ["conductor 必须", "拿到调度结果，",
                                                 "才能继续。"]
    narrow = rendered_lines(MixedWrap(text), 13)
    assert narrow[1:] == ["须拿到调度结", "果，才能继", "续。"]
    segments = list(console.render(MixedWrap(text)))
    assert any(s.text == "conductor" and s.style and s.style.italic for s in segments)
