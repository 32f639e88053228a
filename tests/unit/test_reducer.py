"""The reducer, fed from recordings: hops paired, states right, order and junk tolerated."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import FrozenInstanceError, replace
from pathlib import Path
from typing import Any

import pytest

from tracer.model import Replay, Snapshot, TraceState

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def load(name: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    head = json.loads(lines[0])
    assert head["format"] == "bootflow-trace" and head["version"] == 1
    return [json.loads(line) for line in lines[1:] if line.strip()]


def fold(events: list[Any], **kw: Any) -> Snapshot:
    state = TraceState(**kw)
    state.feed_all(events)
    return state.snapshot()


@pytest.fixture(scope="module")
def boot() -> list[dict[str, Any]]:
    return load("boot_one.jsonl")


def _by_key(snap: Snapshot) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for hop in snap.hops:
        out.setdefault(hop.key, []).append(hop)
    return out


def test_boot_hops_are_paired_with_the_right_style(boot: list[dict[str, Any]]) -> None:
    snap = fold(boot)
    hops = _by_key(snap)
    sd = hops["call:select_destinations"][0]
    assert (sd.style, sd.version, sd.src_service, sd.dst_service) == (
        "call", "4.5", "nova-conductor", "nova-scheduler")
    assert sd.state == "done" and sd.recv_ns is not None and sd.done_ns is not None
    assert sd.waiting_ns == sd.done_ns - sd.sent_ns > 0
    assert sd.handled_ns is not None and sd.handled_ns <= sd.done_ns
    cast = hops["cast:schedule_and_build_instances"][0]
    assert (cast.style, cast.namespace, cast.version) == ("cast", "compute_task", "1.17")
    assert cast.waiting_ns == 0 and cast.dst_service == "nova-conductor"
    build = hops["cast:build_and_run_instance"][0]
    assert (build.dst_service, build.dst_host, build.routing_key) == (
        "nova-compute", "compute1", "compute.compute1")
    assert len(hops["call:object_action"]) == 5
    fan = hops["fanout:update_instance_info"][0]
    assert fan.exchange == "scheduler_fanout" and fan.state == "done"
    assert "http:POST /v2.1/servers" in hops and "http:GET /allocation_candidates" in hops
    assert all(h.state == "done" for h in snap.hops)
    assert snap.malformed == snap.unknown == snap.duplicates == 0


def test_instance_history_and_services(boot: list[dict[str, Any]]) -> None:
    snap = fold(boot)
    (inst,) = snap.instances.values()
    assert (inst.vm_state, inst.task_state, inst.host) == ("active", None, "compute1")
    assert [h.task_state for h in inst.history] == [
        "scheduling", None, "networking", "block_device_mapping", "spawning", None]
    assert inst.history[0].vm_state == "building"
    assert all(s.up for s in snap.services.values())
    assert set(snap.services) == {("nova-conductor", "conductor"),
                                  ("nova-scheduler", "scheduler"), ("nova-compute", "compute1")}


def test_service_down_after_service_down_time(boot: list[dict[str, Any]]) -> None:
    state = TraceState(service_down_time_s=60)
    state.feed_all(boot)
    later = state.t_last_ns + 61 * 10**9
    assert not any(s.up for s in state.snapshot(now_ns=later).services.values())
    assert all(s.up for s in state.snapshot(now_ns=state.t_last_ns + 59 * 10**9)
               .services.values())
    state.feed({"type": "annotate", "trace_id": None, "span_id": None, "name": "service.down",
                "service": "nova-compute", "host": "compute1", "ts_ns": state.t_last_ns,
                "attrs": {"binary": "nova-compute", "host": "compute1"}})
    assert not state.snapshot().services[("nova-compute", "compute1")].up


def test_states_while_the_boot_is_under_way(boot: list[dict[str, Any]]) -> None:
    def state_at(pred: Any) -> Snapshot:
        idx = next(i for i, e in enumerate(boot) if pred(e))
        return fold(boot[: idx + 1])

    def sd(snap: Snapshot) -> Any:
        return _by_key(snap)["call:select_destinations"][0]

    sent = state_at(lambda e: e["type"] == "span_start" and e["kind"] == "CLIENT"
                    and e["name"] == "select_destinations")
    assert sd(sent).state == "in_flight" and sd(sent).done_ns is None
    serving = state_at(lambda e: e["type"] == "span_start" and e["kind"] == "SERVER"
                       and e["name"] == "select_destinations")
    assert sd(serving).state == "waiting"
    cast_idx = next(i for i, e in enumerate(boot) if e["type"] == "span_start"
                    and e["kind"] == "CONSUMER" and e["name"] == "build_and_run_instance")
    before = fold(boot[:cast_idx])
    assert _by_key(before)["cast:build_and_run_instance"][0].state == "in_flight"
    running = fold(boot[: cast_idx + 1])
    assert _by_key(running)["cast:build_and_run_instance"][0].state == "running"
    # an open call's waiting time follows the clock
    later = TraceState()
    later.feed_all(boot[: next(i for i, e in enumerate(boot) if e["type"] == "span_start"
                               and e["kind"] == "SERVER")])
    now = later.t_last_ns + 5 * 10**9
    open_call = [h for h in later.snapshot(now_ns=now).hops if h.style == "call"][0]
    assert open_call.waiting_ns >= 5 * 10**9


def _essence(snap: Snapshot) -> Any:
    hops = sorted((h.key, h.state, h.src_service, h.dst_service, h.dst_host, h.sent_ns,
                   h.recv_ns, h.done_ns, h.waiting_ns) for h in snap.hops)
    inst = {u: (i.vm_state, i.task_state, i.host, i.history) for u, i in
            snap.instances.items()}
    spans = {k: (v.start_ns, v.end_ns, v.status) for k, v in snap.spans.items()}
    traces = {k: replace(v, span_ids=tuple(sorted(v.span_ids))) for k, v in snap.traces.items()}
    return hops, inst, spans, dict(snap.services), traces


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_out_of_order_gives_the_same_picture(boot: list[dict[str, Any]], seed: int) -> None:
    shuffled = list(boot)
    random.Random(seed).shuffle(shuffled)
    assert _essence(fold(shuffled)) == _essence(fold(boot))


def test_end_before_start_and_server_before_client(boot: list[dict[str, Any]]) -> None:
    reordered = [e for e in boot if e["type"] == "span_end"] + \
        [e for e in boot if e["type"] == "span_start" and e["kind"] in ("SERVER", "CONSUMER")] + \
        [e for e in boot if e["type"] == "span_start" and e["kind"] not in ("SERVER",
                                                                            "CONSUMER")] + \
        [e for e in boot if e["type"] == "annotate"]
    assert _essence(fold(reordered)) == _essence(fold(boot))


def test_junk_is_counted_not_raised(boot: list[dict[str, Any]]) -> None:
    junk: list[Any] = [None, 42, "text", {}, {"type": "span_start"},
                       {"type": "span_start", "ts_ns": -1},
                       {"type": "span_start", "ts_ns": 5, "span_id": None},
                       {"type": "span_end", "ts_ns": 5},
                       {"type": "annotate", "ts_ns": 5, "name": "instance.state",
                        "attrs": {"vm_state": "x"}},
                       {"type": "annotate", "ts_ns": 5, "name": 7, "attrs": {}},
                       {"type": "span_start", "ts_ns": 5, "span_id": "a" * 16,
                        "trace_id": "b" * 32, "attrs": ["not", "a", "dict"]},
                       {"type": "something_new", "ts_ns": 1},
                       {"type": "annotate", "ts_ns": 5, "name": "unheard.of", "attrs": {}},
                       {"format": "bootflow-trace", "version": 1}]
    state = TraceState()
    for i, event in enumerate(boot):
        state.feed(event)
        if i < len(junk):
            state.feed(junk[i])
    snap = state.snapshot()
    assert snap.malformed + snap.unknown == len(junk) - 1  # the header is skipped silently
    assert _essence(snap) == _essence(fold(boot))


def test_duplicates_are_ignored(boot: list[dict[str, Any]]) -> None:
    snap = fold(boot + boot[10:40])
    assert snap.duplicates > 0
    assert _essence(snap)[:3] == _essence(fold(boot))[:3]


def test_snapshots_are_immutable_and_stay_put(boot: list[dict[str, Any]]) -> None:
    state = TraceState()
    state.feed_all(boot[:30])
    early = state.snapshot()
    n_spans, n_hops = len(early.spans), len(early.hops)
    state.feed_all(boot[30:])
    late = state.snapshot()
    assert len(early.spans) == n_spans and len(early.hops) == n_hops
    assert len(late.spans) > n_spans
    with pytest.raises(TypeError):
        early.spans["x"] = None  # type: ignore[index]
    with pytest.raises(FrozenInstanceError):
        early.seq = 0  # type: ignore[misc]
    assert isinstance(late.hops, tuple)
    assert state.snapshot() is late  # nothing new: the same object, no copy


def test_replay_steps_seeks_and_matches_live(boot: list[dict[str, Any]]) -> None:
    full = fold(boot)
    replay = Replay([{"format": "bootflow-trace", "version": 1}, *boot], checkpoint_every=10)
    assert len(replay) == len(boot)
    replay.seek(len(boot))
    assert _essence(replay.snapshot()) == _essence(full)
    replay.step(-25)
    assert replay.position == len(boot) - 25
    assert _essence(replay.snapshot()) == _essence(fold(boot[:-25]))
    replay.step(25)
    assert _essence(replay.snapshot()) == _essence(full)
    replay.seek_time(boot[20]["ts_ns"])
    assert replay.position >= 21
    replay.seek(0)
    assert replay.snapshot().seq == 0
    assert replay.faster() == 2.0 and replay.slower() == 1.0
    for _ in range(10):
        replay.slower()
    assert replay.speed == 0.1
    for _ in range(10):
        replay.faster()
    assert replay.speed == 16.0


def test_three_boots_make_three_traces() -> None:
    snap = fold(load("boot_three.jsonl"))
    assert len(snap.traces) == 3
    assert len(snap.instances) == 3
    assert {i.vm_state for i in snap.instances.values()} == {"active"}


def test_reducer_imports_no_textual() -> None:
    code = ("import sys, tracer.model.reducer, tracer.narration; "
            "sys.exit(1 if any(m.startswith('textual') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_narration_covers_the_boot_hops(boot: list[dict[str, Any]]) -> None:
    from tracer import narration

    nar = narration.load()
    for hop in fold(boot).hops:
        entry = nar.lookup(hop.key)
        assert entry is not None, hop.key
        assert entry.lines("en") and entry.lines("zh")
    # every entry speaks both languages, its title too (the TUI's `l`)
    for entry in nar.entries.values():
        assert entry.lines("zh") != entry.lines("en"), entry.key
        assert entry.heading("zh") != entry.heading("en") or "->" in entry.title, entry.key
        assert entry.heading("fr") == entry.title
    for key in ("cast:terminate_instance", "call:ping", "cast:build_instances",
                "call:object_class_action_versions", "internal:driver.spawn",
                "internal:filter.RetryFilter"):
        assert nar.lookup(key) is not None, key


def test_real_recording_from_the_embedded_cloud() -> None:
    """boot_real.jsonl: `bootflow demo --headless --record` of the real services."""
    events = load("boot_real.jsonl")
    snap = fold(events)
    assert snap.malformed == snap.unknown == 0
    keys = [h.key for h in snap.hops]
    for key in ("http:POST /v2.1/servers", "cast:schedule_and_build_instances",
                "call:select_destinations", "http:GET /allocation_candidates",
                "cast:build_and_run_instance", "call:object_action",
                "fanout:update_instance_info"):
        assert key in keys, key
    assert keys.index("cast:schedule_and_build_instances") < keys.index(
        "call:select_destinations") < keys.index("cast:build_and_run_instance")
    sd = next(h for h in snap.hops if h.key == "call:select_destinations")
    assert (sd.src_service, sd.dst_service, sd.state) == ("nova-conductor", "nova-scheduler",
                                                          "done")
    assert sd.waiting_ns > 0
    (inst,) = snap.instances.values()
    assert inst.vm_state == "active" and inst.host == "compute1"
    assert "spawning" in [h.task_state for h in inst.history]
    root = snap.traces[snap.latest_trace() or ""]
    assert root.root_name == "POST /v2.1/servers"
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    assert _essence(fold(shuffled)) == _essence(snap)
    from tracer import narration

    nar = narration.load()
    missing = {h.key for h in snap.hops if nar.lookup(h.key) is None}
    assert not missing


def test_fork_copies_every_field(boot: list[dict[str, Any]]) -> None:
    """A replay checkpoint shares nothing mutable with the live state, whatever its fields:
    feeding the copy leaves the original's snapshot alone, and an unknown mutable field is
    refused instead of being shared."""
    from tracer.model.store import fork

    state = TraceState()
    state.feed_all(boot[:40])
    before = state.snapshot()
    copy = state.fork()
    assert set(vars(copy)) == set(vars(state))
    for name, value in vars(state).items():
        if isinstance(value, (dict, list, set)) or hasattr(value, "fork"):
            assert vars(copy)[name] is not value, name
    copy.feed_all(boot[40:])
    assert _essence(copy.snapshot()) == _essence(fold(boot))
    assert _essence(state.snapshot()) == _essence(before)
    state.unexpected = bytearray(b"x")  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="cannot fork a bytearray"):
        state.fork()
    assert fork({"a": [1, {"b": [2]}]}) == {"a": [1, {"b": [2]}]}
