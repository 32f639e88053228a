"""Replace one ``## Section`` of BENCHMARKS.md (every bench keeps only its latest table)."""

from __future__ import annotations

import re
from pathlib import Path

PATH = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def write_section(title: str, text: str, path: Path = PATH) -> None:
    """*text* starts with ``## {title}``; it replaces that section or is appended."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(old):
        new = pattern.sub(lambda _m: text, old)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new)
