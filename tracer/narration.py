"""The per-hop explanations (en/zh) live in narration.yaml, not in code: load them here.

Keys are ``<style>:<name>`` (see ``tracer.model.reducer.hop_key``); a key ending in ``*``
matches by prefix, so ``call:*`` explains any call nobody wrote a line for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_PATH = Path(__file__).with_name("narration.yaml")
LANGS = ("en", "zh")


class NarrationError(ValueError):
    """The narration file is not the documented shape (the message names the key)."""


@dataclass(frozen=True)
class Entry:
    key: str
    title: str
    location: str
    text: Mapping[str, str]
    titles: Mapping[str, str] = field(default_factory=dict)   # lang -> title (title_zh)

    def heading(self, lang: str = "en") -> str:
        """The title in *lang* where the file has one (``title_zh``), else English."""
        return self.titles.get(lang) or self.title

    def lines(self, lang: str = "en") -> str:
        """The text as one paragraph: the file's line breaks are for editing only."""
        if lang not in self.text:
            lang = "en"
        parts = [p.strip() for p in (self.text.get(lang) or "").splitlines() if p.strip()]
        return ("" if lang == "zh" else " ").join(parts)


class Narration:
    """Lookup by hop key: exact first, then the longest matching ``prefix*`` key."""

    def __init__(self, entries: Mapping[str, Entry]) -> None:
        self.entries = dict(entries)
        self._prefixes = sorted((k[:-1] for k in self.entries if k.endswith("*")),
                                key=len, reverse=True)

    def lookup(self, key: str) -> Entry | None:
        if key in self.entries:
            return self.entries[key]
        for prefix in self._prefixes:
            if key.startswith(prefix):
                return self.entries[prefix + "*"]
        return None

    def __len__(self) -> int:
        return len(self.entries)


def parse(text: str) -> Narration:
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("hops"), dict):
        raise NarrationError("narration: top level needs a 'hops' mapping")
    entries: dict[str, Entry] = {}
    for key, raw in data["hops"].items():
        if not isinstance(raw, dict) or not isinstance(raw.get("en"), str):
            raise NarrationError(f"narration: {key!r} needs at least an 'en' text")
        entries[str(key)] = Entry(str(key), str(raw.get("title", key)),
                                  str(raw.get("location", "")),
                                  {lang: str(raw[lang]) for lang in LANGS if lang in raw},
                                  {lang: str(raw[f"title_{lang}"]) for lang in LANGS
                                   if f"title_{lang}" in raw})
    return Narration(entries)


@lru_cache(maxsize=4)
def load(path: str | None = None) -> Narration:
    """Load (once) the narration file, the packaged one by default."""
    return parse(Path(path or DEFAULT_PATH).read_text(encoding="utf-8"))
