"""Recordings: JSON Lines, a header line then one event per line (ARCHITECTURE "Events").

A recording is opened by people long after it was made, perhaps truncated or edited by
hand; every problem is reported as ``RecordingError`` naming the file and the line.
Only a JSON parser (``tracer.instrument.events.parse_json``) ever reads these bytes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from tracer.instrument.events import (
    FORMAT,
    VERSION,
    Event,
    EventError,
    dumps,
    header,
    parse_json,
    validate,
)

SUPPORTED_VERSIONS = (VERSION,)


class RecordingError(ValueError):
    """A recording that cannot be read; the message names file and line."""

    def __init__(self, path: str | os.PathLike[str], line: int | None, why: str) -> None:
        self.path = str(path)
        self.line = line
        self.why = why
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {why}")


class RecordingWriter:
    """Writes a recording; callable, so it can be the emitter (or one side of a tee).

    Each event is flushed as it is written: a viewer tailing the file, or a crash, loses
    nothing already emitted.
    """

    def __init__(self, path: str | os.PathLike[str], **header_fields: Any) -> None:
        self.path = Path(path)
        self.header = header(**header_fields)
        self.count = 0
        self._lock = threading.Lock()
        self._fh: TextIO | None = self.path.open("w", encoding="utf-8")
        self._fh.write(dumps(self.header) + "\n")
        self._fh.flush()

    def __call__(self, event: Event) -> None:
        line = dumps(event) + "\n"
        with self._lock:
            if self._fh is None:
                raise ValueError(f"recording {self.path} is closed")
            self._fh.write(line)
            self._fh.flush()
            self.count += 1

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_header(path: Path, first: str | None) -> dict[str, Any]:
    if first is None or not first.strip():
        raise RecordingError(path, 1, "empty file, expected a bootflow-trace header line")
    try:
        head = parse_json(first)
    except EventError as exc:
        raise RecordingError(path, 1, f"header is {exc}") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise RecordingError(path, 1, f"not a bootflow recording: the header must have "
                                      f'"format": "{FORMAT}"')
    if head.get("version") not in SUPPORTED_VERSIONS:
        raise RecordingError(path, 1, f"unsupported recording version {head.get('version')!r}"
                                      f" (this bootflow reads version {VERSION})")
    return head


def _open(path: Path) -> TextIO:
    try:
        return path.open("r", encoding="utf-8")
    except OSError as exc:
        raise RecordingError(path, None, exc.strerror or str(exc)) from None


def _events(path: Path, fh: TextIO) -> Iterator[Event]:
    for number, line in enumerate(fh, 2):
        if not line.strip():
            continue
        try:
            value = parse_json(line)
        except EventError as exc:
            raise RecordingError(path, number, str(exc)) from None
        try:
            yield validate(value)
        except EventError as exc:
            raise RecordingError(path, number, f"invalid event: {exc}") from None


def iter_recording(path: str | os.PathLike[str]) -> Iterator[Event]:
    """Events one by one (the header is checked, not returned): a long replay streams."""
    path = Path(path)
    with _open(path) as fh:
        try:
            _read_header(path, fh.readline() or None)
            yield from _events(path, fh)
        except UnicodeDecodeError as exc:
            raise RecordingError(path, None, f"not UTF-8 text ({exc})") from None


def read_recording(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[Event]]:
    """The header and every event; ``RecordingError`` at the first bad line."""
    path = Path(path)
    with _open(path) as fh:
        try:
            head = _read_header(path, fh.readline() or None)
            return head, list(_events(path, fh))
        except UnicodeDecodeError as exc:
            raise RecordingError(path, None, f"not UTF-8 text ({exc})") from None
