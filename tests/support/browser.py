"""Debian's headless Chromium, for pages bootflow writes (the HTML export).

``make setup`` installs the ``chromium`` package; no browser is downloaded at run time. A
missing Chromium fails the test with the fix, never skips it. The browser runs with a
throw-away profile, no network (every host name resolves to nothing) and no background
services, so a page that tried to fetch anything would show it as missing content.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
"""Screenshots a test keeps for a person to look at (``build/`` is not committed)."""

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND")


def require_chromium() -> str:
    """The Chromium binary, or fail naming the fix."""
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is missing (fix: make setup, or apt-get install -y chromium)",
                    pytrace=False)
    return found


def open_page(page: Path, *, fragment: str = "", screenshot: Path | None = None,
              size: tuple[int, int] = (1400, 900), timeout: float = 90) -> str:
    """The DOM of *page* after its scripts ran (``--dump-dom``); a PNG to *screenshot*."""
    binary = require_chromium()
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    with tempfile.TemporaryDirectory(prefix="bootflow-chromium-") as profile:
        cmd = [binary, *FLAGS, f"--user-data-dir={profile}",
               f"--window-size={size[0]},{size[1]}", "--dump-dom"]
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.unlink(missing_ok=True)
            cmd.append(f"--screenshot={screenshot}")
        out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=timeout,
                             check=False)
    assert out.returncode == 0, f"chromium failed ({out.returncode}): {out.stderr[-2000:]}"
    assert "<body" in out.stdout, f"chromium printed no DOM: {out.stderr[-2000:]}"
    if screenshot is not None:
        assert screenshot.is_file(), f"chromium wrote no screenshot: {out.stderr[-2000:]}"
    return out.stdout


@dataclass
class Element:
    """One element of a dumped DOM: tag, attributes, and its own text (children's too)."""

    tag: str
    attrs: dict[str, str]
    text: str = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class DomScan(HTMLParser):
    """Every element of a DOM dump in document order, with its text content."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                      "meta", "source", "track", "wbr"})

    def __init__(self, dom: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(dom)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        elem = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(elem)
        if tag not in self.VOID:
            self._open.append(elem)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for elem in self._open:
            elem.text += data

    def find(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        return [e for e in self.elements
                if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)]

    def by_id(self, elem_id: str) -> Element:
        found = [e for e in self.elements if e.attrs.get("id") == elem_id]
        assert found, f"no element #{elem_id} in the page"
        return found[0]
