"""What a user sees from the ``bootflow`` command: the headless demo, its recording, replay."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tracer.recording import read_recording

BOOTFLOW = [sys.executable, "-m", "tracer.cli"]


def bootflow(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BOOTFLOW, *args], capture_output=True, text=True, timeout=timeout,
                          env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"})


def spans(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """span_id → the span_start event, with ``end`` set from its span_end."""
    out = {e["span_id"]: dict(e) for e in events if e["type"] == "span_start"}
    for e in events:
        if e["type"] == "span_end" and e["span_id"] in out:
            out[e["span_id"]]["end"] = e["ts_ns"]
    return out


def hop(all_spans: dict[str, dict[str, Any]], method: str, kind: str) -> dict[str, Any]:
    found = [s for s in all_spans.values()
             if s["kind"] == kind and s["attrs"].get("rpc.method", s["name"]) == method]
    assert found, f"no {kind} span for {method}"
    return found[0]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str],
                                                            Path, float]:
    record = tmp_path_factory.mktemp("demo") / "t.jsonl"
    t0 = time.monotonic()
    proc = bootflow("demo", "--headless", "--record", str(record))
    return proc, record, time.monotonic() - t0


def test_demo_headless_exits_0_quickly_and_prints_the_hops(demo: Any) -> None:
    proc, _record, elapsed = demo
    assert proc.returncode == 0, proc.stderr
    assert elapsed < 10, f"demo took {elapsed:.1f} s"
    out = proc.stdout
    assert "[cast] schedule_and_build_instances v1.17" in out
    assert "[call] select_destinations v4.5" in out and "caller blocked" in out
    assert "[cast] build_and_run_instance v5.0" in out and "→ compute1" in out
    assert "active" in out.splitlines()[-2] + out.splitlines()[-1] or " active " in out


def test_recording_shows_the_stein_flow_in_one_trace(demo: Any) -> None:
    _proc, record, _elapsed = demo
    header, events = read_recording(record)
    assert header["format"] == "bootflow-trace" and header["version"] == 1
    all_spans = spans(events)
    post = next(s for s in all_spans.values()
                if s["kind"] == "HTTP" and s["name"] == "POST /v2.1/servers")
    in_trace = {k: s for k, s in all_spans.items() if s["trace_id"] == post["trace_id"]}

    sabi = hop(in_trace, "schedule_and_build_instances", "PRODUCER")
    assert sabi["attrs"]["rpc.style"] == "cast"
    assert sabi["attrs"]["rpc.namespace"] == "compute_task"
    assert sabi["attrs"]["code.location"].startswith("nova/conductor/rpcapi.py:")

    client = hop(in_trace, "select_destinations", "CLIENT")
    server = hop(in_trace, "select_destinations", "SERVER")
    assert client["attrs"]["rpc.style"] == "call" and client["attrs"]["rpc.version"] == "4.5"
    assert server["parent_id"] == client["span_id"]
    assert client["ts_ns"] <= server["ts_ns"] and server["end"] <= client["end"]
    assert client["attrs"]["messaging.message.id"]

    build = hop(in_trace, "build_and_run_instance", "PRODUCER")
    assert build["attrs"]["rpc.style"] == "cast"
    assert build["attrs"]["messaging.rabbitmq.destination.routing_key"] == "compute.compute1"
    consumer = hop(in_trace, "build_and_run_instance", "CONSUMER")
    assert consumer["service"] == "nova-compute" and consumer["parent_id"] == build["span_id"]

    states = [(e["attrs"]["vm_state"], e["attrs"]["task_state"]) for e in events
              if e["type"] == "annotate" and e["name"] == "instance.state"
              and e["trace_id"] == post["trace_id"]]
    assert states[0] == ("building", "scheduling")
    assert ("building", "spawning") in states
    assert states[-1] == ("active", None)


def test_recording_has_no_secrets(demo: Any) -> None:
    _proc, record, _elapsed = demo
    text = record.read_text()
    assert "demo:demo" not in text  # the noauth token the demo sends
    _header, events = read_recording(record)
    envelopes = [json.loads(e["attrs"]["bootflow.envelope"]) for e in events
                 if e["type"] == "span_start" and "bootflow.envelope" in e["attrs"]]
    tokens = {env.get("_context_auth_token") for env in envelopes}
    assert envelopes and tokens <= {None, "***"} and "***" in tokens


def test_flavor_too_big_ends_in_error_without_a_compute_hop(tmp_path: Path) -> None:
    record = tmp_path / "big.jsonl"
    proc = bootflow("demo", "--headless", "--flavor", "m1.xlarge", "--record", str(record))
    assert proc.returncode == 0, proc.stderr
    _header, events = read_recording(record)
    names = {e["name"] for e in events if e["type"] == "span_start"}
    assert "select_destinations" in names
    assert "build_and_run_instance" not in names
    final = [e["attrs"] for e in events
             if e["type"] == "annotate" and e["name"] == "instance.state"][-1]
    assert final["vm_state"] == "error"
    assert "error" in proc.stdout


def test_replay_prints_the_same_tree(demo: Any) -> None:
    proc, record, _elapsed = demo
    replay = bootflow("replay", "--headless", str(record))
    assert replay.returncode == 0, replay.stderr
    strip = [line for line in replay.stdout.splitlines() if "[c" in line]
    assert strip == [line for line in proc.stdout.splitlines() if "[c" in line]


@pytest.mark.parametrize("content, why", [
    ("", "empty"),
    ('{"format": "something-else", "version": 1}\n', "bootflow-trace"),
    ('{"format": "bootflow-trace", "version": 1}\n{not json\n', "line 2"),
])
def test_corrupt_recording_gives_one_clear_line(tmp_path: Path, content: str, why: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    for args in (("replay", "--headless", str(bad)), ("export", str(bad), "--format", "otlp")):
        proc = bootflow(*args)
        assert proc.returncode == 2
        assert why in proc.stderr.replace("\n", " ") and "Traceback" not in proc.stderr


def test_export_writes_every_format(demo: Any, tmp_path: Path) -> None:
    _proc, record, _elapsed = demo
    for fmt in ("chrome", "otlp", "mermaid", "dot", "html"):
        out = tmp_path / f"t.{fmt}"
        proc = bootflow("export", str(record), "--format", fmt, "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        assert out.stat().st_size > 100
    assert "traceEvents" in json.loads((tmp_path / "t.chrome").read_text())


def test_tui_without_a_deployment_names_the_fix(tmp_path: Path) -> None:
    proc = bootflow("tui", "--state-dir", str(tmp_path / "none"))
    assert proc.returncode == 2
    assert "run: bootflow up" in proc.stderr.replace("\n", " ")
