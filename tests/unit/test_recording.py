"""Recordings round-trip, and every corrupt file names its file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracer.instrument.events import EventError, dumps, header, validate
from tracer.recording import RecordingError, RecordingWriter, iter_recording, read_recording

TID, SID, SID2 = "a" * 32, "b" * 16, "c" * 16


def _events() -> list[dict]:
    return [
        {"type": "span_start", "trace_id": TID, "span_id": SID, "parent_id": None,
         "name": "POST /v2.1/servers", "service": "nova-api", "host": "api", "kind": "HTTP",
         "ts_ns": 1, "attrs": {"http.method": "POST", "ünïcode": "✓"}, "links": []},
        {"type": "annotate", "trace_id": TID, "span_id": SID, "name": "instance.state",
         "service": "nova-api", "host": "api", "ts_ns": 2,
         "attrs": {"instance_uuid": "u1", "vm_state": "building", "task_state": "scheduling"}},
        {"type": "annotate", "trace_id": None, "span_id": None, "name": "service.report",
         "service": "nova-compute", "host": "compute1", "ts_ns": 3, "attrs": {"report_count": 1}},
        {"type": "span_start", "trace_id": TID, "span_id": SID2, "parent_id": SID,
         "name": "select_destinations", "service": "nova-conductor", "host": "c", "kind": "CLIENT",
         "ts_ns": 4, "attrs": {}, "links": [{"trace_id": TID, "span_id": SID}]},
        {"type": "span_end", "trace_id": TID, "span_id": SID2, "ts_ns": 5, "status": "ERROR",
         "attrs": {"status.message": "NoValidHost"}},
        {"type": "span_end", "trace_id": TID, "span_id": SID, "ts_ns": 6, "status": "OK"},
    ]


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "boot.jsonl"
    with RecordingWriter(path, source="demo", scenario="boot-one") as rec:
        for event in _events():
            rec(event)
    head, events = read_recording(path)
    assert head["format"] == "bootflow-trace" and head["version"] == 1
    assert head["source"] == "demo" and head["scenario"] == "boot-one" and "T" in head["created"]
    assert events == _events()
    assert list(iter_recording(path)) == _events()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + len(_events())  # one line per event, no pretty printing


def test_writer_flushes_each_event(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    rec = RecordingWriter(path)
    rec(_events()[0])
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2  # before close
    rec.close()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


GOOD_HEAD = dumps(header(source="test"))


@pytest.mark.parametrize(("lines", "line", "words"), [
    ([], 1, "empty file"),
    (['{"format": "something-else", "version": 1}'], 1, "not a bootflow recording"),
    (["this is not json"], 1, "header is not JSON"),
    (['{"format": "bootflow-trace", "version": 99}'], 1, "unsupported recording version 99"),
    ([GOOD_HEAD, dumps(_events()[0]), "{not json"], 3, "not JSON"),
    ([GOOD_HEAD, dumps(_events()[0]), dumps(_events()[1]),
      '{"type": "span_end", "trace_id": "zz", "span_id": "b", "ts_ns": 1, "status": "OK"}'],
     4, "trace_id must be 32"),
    ([GOOD_HEAD, '{"type": "span_begin", "ts_ns": 1}'], 2, "type must be one of"),
    ([GOOD_HEAD, '[1, 2]'], 2, "must be a JSON object"),
])
def test_corrupt_files(tmp_path: Path, lines: list[str], line: int, words: str) -> None:
    path = _write(tmp_path / "bad.jsonl", lines)
    with pytest.raises(RecordingError) as info:
        read_recording(path)
    err = info.value
    assert err.line == line and err.path == str(path)
    assert f"{path}, line {line}:" in str(err) and words in str(err)
    with pytest.raises(RecordingError):
        list(iter_recording(path))


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="missing.jsonl"):
        read_recording(tmp_path / "missing.jsonl")
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage\n")
    with pytest.raises(RecordingError, match="bin.jsonl"):
        read_recording(path)


def test_blank_lines_between_events_are_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path / "ok.jsonl", [GOOD_HEAD, dumps(_events()[0]), "", "  "])
    assert read_recording(path)[1] == _events()[:1]


@pytest.mark.parametrize(("event", "words"), [
    ({"type": "span_start", "trace_id": TID, "span_id": SID, "parent_id": None, "name": "x",
      "service": "s", "host": "h", "kind": "WEIRD", "ts_ns": 1, "attrs": {}}, "kind"),
    ({"type": "span_end", "trace_id": TID, "span_id": SID, "ts_ns": 1.5, "status": "OK"},
     "ts_ns"),
    ({"type": "span_end", "trace_id": TID, "span_id": SID, "ts_ns": 1, "status": "OK",
      "attrs": []}, "attrs"),
    ({"type": "span_end", "trace_id": TID, "span_id": "B" * 16, "ts_ns": 1, "status": "OK"},
     "span_id"),
    ({"type": "annotate", "trace_id": None, "span_id": None, "ts_ns": 1, "attrs": {},
      "service": "s", "host": "h"}, "name"),
])
def test_event_validation_messages(event: dict, words: str) -> None:
    with pytest.raises(EventError, match=words):
        validate(event)


def test_dumps_is_one_compact_line() -> None:
    text = dumps({"a": [1, 2], "b": "x\ny"})
    assert "\n" not in text and " " not in text and json.loads(text)["b"] == "x\ny"
