"""Wrapping for text that mixes Chinese and English.

Rich breaks lines only at spaces, so a Chinese paragraph (no spaces) is one long "word"
that it folds at any cell, cutting English names in two (``conduct`` / ``or``).
``MixedWrap`` breaks between CJK characters and at spaces, never inside a run of
other characters (an English word, ``select_destinations``, ``4.5``), unless that
run alone is wider than the line. It keeps CJK closing punctuation (，。）…) off the
start of a line and opening punctuation (（「…) off its end.
"""

from __future__ import annotations

from rich.cells import cell_len, chop_cells
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

CLOSING = set("，。、：；！？）」』》〉】〕…—·％”’")
OPENING = set("（「『《〈【〔“‘")


def is_cjk(ch: str) -> bool:
    """A character a line may break before or after: wide (CJK) or CJK punctuation."""
    return cell_len(ch) == 2 or ch in CLOSING or ch in OPENING


def units(line: str, glue: bool = True) -> list[tuple[int, int, bool]]:
    """(start, end, is_space) pieces of *line* that a break may fall between; *glue*:
    closing punctuation stays with what precedes it, opening with what follows."""
    out: list[tuple[int, int, bool]] = []
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        j = i + 1
        if ch.isspace():
            while j < n and line[j].isspace():
                j += 1
        elif not is_cjk(ch):
            while j < n and not line[j].isspace() and not is_cjk(line[j]):
                j += 1
        out.append((i, j, ch.isspace()))
        i = j
    if not glue:
        return out
    glued: list[tuple[int, int, bool]] = []
    for start, end, space in out:
        prev = glued[-1] if glued else None
        if prev is not None and not space and not prev[2] and (
                line[start] in CLOSING or line[prev[1] - 1] in OPENING):
            glued[-1] = (prev[0], end, False)
        else:
            glued.append((start, end, space))
    return glued


def break_ranges(line: str, width: int) -> list[tuple[int, int]]:
    """(start, end) of each wrapped line of one paragraph, spaces at a break dropped."""
    width = max(1, width)
    ranges: list[tuple[int, int]] = []
    start: int | None = None  # of the current line
    end = 0  # of its last word (trailing spaces not counted)
    used = 0  # cells up to end
    pending = 0  # cells of spaces after end
    todo = units(line)
    todo.reverse()
    while todo:
        a, b, space = todo.pop()
        if space:
            if start is not None:
                pending += cell_len(line[a:b])
            continue
        w = cell_len(line[a:b])
        if start is not None and used + pending + w <= width:
            used += pending + w
            end, pending = b, 0
            continue
        parts = units(line[a:b], glue=False)
        if w > width and len(parts) > 1:  # too wide with its punctuation: without it
            todo.extend(reversed([(a + pa, a + pb, sp) for pa, pb, sp in parts]))
            continue
        if start is not None:
            ranges.append((start, end))
        if w <= width:
            start, end, used, pending = a, b, w, 0
            continue
        # one run wider than the line: fold it, as Rich would
        pos = a
        pieces = chop_cells(line[a:b], width)
        for piece in pieces[:-1]:
            ranges.append((pos, pos + len(piece)))
            pos += len(piece)
        start, end, used, pending = pos, b, cell_len(pieces[-1]), 0
    if start is not None:
        ranges.append((start, end))
    return ranges or [(0, 0)]


def wrap_lines(text: Text, width: int) -> list[Text]:
    """*text* as lines of at most *width* cells (styles kept)."""
    out: list[Text] = []
    offset = 0
    for para in text.plain.split("\n"):
        for start, end in break_ranges(para, width):
            out.append(text[offset + start:offset + end])
        offset += len(para) + 1
    return out


class MixedWrap:
    """A ``Text`` wrapped at the render width with ``break_ranges`` (module docstring)."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = wrap_lines(self.text, options.max_width)
        joined = Text("\n").join(lines)
        joined.no_wrap = True
        joined.overflow = "crop"
        yield joined

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        plain = self.text.plain
        widest = max((cell_len(plain[a:b]) for line in plain.split("\n")
                      for a, b, space in units(line) if not space), default=0)
        longest = max((cell_len(line) for line in plain.split("\n")), default=0)
        return Measurement(min(widest, options.max_width), min(longest, options.max_width))
