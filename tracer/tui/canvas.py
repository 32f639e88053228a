"""A tiny character canvas: cells of (char, style) turned into Rich Text or Strips."""

from __future__ import annotations

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text


def cells(s: str) -> list[str]:
    """*s* one entry per terminal cell: a wide (CJK) character, then an empty string
    for the cell it also covers; for the drawings that keep one list entry per cell."""
    out: list[str] = []
    for ch in s:
        out.append(ch)
        if cell_len(ch) == 2:
            out.append("")
    return out


class Canvas:
    """Fixed-size grid; writes outside it are clipped, so callers need not check bounds."""

    def __init__(self, width: int, height: int) -> None:
        self.width = max(0, width)
        self.height = max(0, height)
        self.chars = [[" "] * self.width for _ in range(self.height)]
        self.styles: list[list[Style | None]] = [[None] * self.width for _ in range(self.height)]
        self.tags: dict[tuple[int, int], str] = {}

    def put(self, x: int, y: int, ch: str, style: Style | None = None,
            tag: str | None = None) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.chars[y][x] = ch
            if style is not None:
                self.styles[y][x] = style
            if tag is not None:
                self.tags[(x, y)] = tag

    def text(self, x: int, y: int, s: str, style: Style | None = None,
             tag: str | None = None) -> int:
        """Write *s* from (x, y); a wide (CJK) character takes two cells, the second
        left empty. Returns the cells written."""
        col = x
        for ch in s:
            if cell_len(ch) == 2:
                wide = col + 1 < self.width
                self.put(col, y, ch if wide else " ", style, tag)
                self.put(col + 1, y, "", style, tag)
                col += 2
            else:
                self.put(col, y, ch, style, tag)
                col += 1
        return col - x

    def hline(self, x0: int, x1: int, y: int, ch: str, style: Style | None,
              tag: str | None = None) -> None:
        for x in range(min(x0, x1), max(x0, x1) + 1):
            self.put(x, y, ch, style, tag)

    def vline(self, x: int, y0: int, y1: int, ch: str, style: Style | None,
              tag: str | None = None) -> None:
        for y in range(min(y0, y1), max(y0, y1) + 1):
            self.put(x, y, ch, style, tag)

    def to_text(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        for y in range(self.height):
            row, styles = self.chars[y], self.styles[y]
            start = 0
            for x in range(1, self.width + 1):
                if x == self.width or styles[x] != styles[start]:
                    out.append("".join(row[start:x]), styles[start])
                    start = x
            if y != self.height - 1:
                out.append("\n")
        return out
