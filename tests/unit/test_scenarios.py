"""Every scenario that runs embedded holds its expected trace; malformed files fail clearly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracer.scenario.runner import run_scenario
from tracer.scenario.spec import (
    ScenarioError,
    check_trace,
    deployment_reason,
    find_scenario,
    load_scenario,
    scenario_files,
)

FILES = scenario_files()
EMBEDDED = [f for f in FILES if deployment_reason(load_scenario(f)) is None]
DEPLOYMENT = [f for f in FILES if f not in EMBEDDED]


def test_every_file_loads_and_names_match() -> None:
    assert len(FILES) >= 10
    for f in FILES:
        sc = load_scenario(f)
        assert sc.name == f.stem and sc.title and len(sc.explanation) > 80


@pytest.mark.parametrize("path", EMBEDDED, ids=[f.stem for f in EMBEDDED])
def test_scenario_holds(path: Path) -> None:
    result = run_scenario(path)
    failed = [c.line() for c in result.checks if not c.ok]
    assert result.error is None, result.error
    assert result.checks and not failed, "\n".join(failed)
    assert result.passed


@pytest.mark.parametrize("path", DEPLOYMENT, ids=[f.stem for f in DEPLOYMENT])
def test_deployment_scenarios_refuse_embedded(path: Path) -> None:
    """The embedded cloud cannot run them (run_scenario hands them to the deployment
    runner, tests/integration/test_scenarios_deployment.py)."""
    reason = deployment_reason(load_scenario(path))
    assert reason is not None and "deployment" in reason


def test_unknown_name_lists_known() -> None:
    with pytest.raises(ScenarioError, match="boot-one"):
        find_scenario("no-such-scenario")


# ---- malformed files: one line naming file, line and key -----------------------------
GOOD = """\
name: bad
title: A bad one
explanation: text
topology:
  computes:
    - {name: compute1}
requests:
  - boot: {name: vm1, flavor: m1.tiny}
expect:
  hops:
    - {method: select_destinations, style: call}
"""


def _error(tmp_path: Path, text: str) -> str:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_good_file_loads(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(GOOD)
    assert load_scenario(tmp_path / "bad.yaml").name == "bad"


def test_unknown_key_names_file_line_key(tmp_path: Path) -> None:
    text = GOOD.replace("  - boot: {name: vm1, flavor: m1.tiny}",
                        "  - boot:\n      name: vm1\n      flavour: m1.tiny")
    msg = _error(tmp_path, text)
    assert re.match(r"^.*bad\.yaml:10: unknown key 'flavour' in requests\[0\]\.boot", msg)


def test_unknown_top_level_key(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD + "expectations: {}\n")
    assert re.match(r"^.*bad\.yaml:12: unknown key 'expectations' in the top level", msg)


def test_wrong_type_names_line_and_path(tmp_path: Path) -> None:
    text = GOOD.replace("{name: vm1, flavor: m1.tiny}", "{name: vm1, count: three}")
    msg = _error(tmp_path, text)
    assert re.match(r"^.*bad\.yaml:8: requests\[0\]\.boot\.count: expected integer", msg)


def test_missing_required_names_key(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("title: A bad one\n", ""))
    assert re.match(r"^.*bad\.yaml:1: missing required key 'title'", msg)
    msg = _error(tmp_path, GOOD.replace("{method: select_destinations, style: call}",
                                        "{style: call}"))
    assert re.match(r"^.*bad\.yaml:11: missing required key 'method' in expect\.hops\[0\]",
                    msg)


def test_bad_enum_and_yaml_syntax(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("style: call", "style: rpc"))
    assert re.match(r"^.*bad\.yaml:11: expect\.hops\[0\]\.style: 'rpc' is not one of", msg)
    msg = _error(tmp_path, GOOD + "  - [unclosed\n")
    assert re.match(r"^.*bad\.yaml:\d+: YAML error", msg)


# ---- the checker on a hand-made trace: a wrong expectation really fails -----------------
def _span(sid: str, name: str, kind: str, service: str, host: str, ts: int,
          parent: str | None = None, **attrs: str) -> dict:
    return {"type": "span_start", "trace_id": "t" * 32, "span_id": sid, "parent_id": parent,
            "name": name, "kind": kind, "service": service, "host": host, "ts_ns": ts,
            "attrs": {f"rpc.{k}": v for k, v in attrs.items()}, "links": []}


EVENTS = [
    _span("a1", "schedule_and_build_instances", "PRODUCER", "nova-api", "api", 1,
          style="cast", version="1.17", topic="conductor"),
    _span("a2", "schedule_and_build_instances", "CONSUMER", "nova-conductor", "conductor", 2,
          parent="a1"),
    _span("b1", "select_destinations", "CLIENT", "nova-conductor", "conductor", 3,
          style="call", version="4.5", topic="scheduler"),
    {"type": "span_end", "trace_id": "t" * 32, "span_id": "b1", "ts_ns": 5, "status": "OK",
     "attrs": {}},
    _span("c1", "build_and_run_instance", "PRODUCER", "nova-conductor", "conductor", 6,
          style="cast", version="5.0", topic="compute", server="compute1"),
    {"type": "annotate", "trace_id": "t" * 32, "span_id": "c1", "name": "log",
     "service": "nova-compute", "host": "compute1", "ts_ns": 7,
     "attrs": {"level": "WARNING", "message": "Timed out waiting for nova-conductor"}},
]
ROWS = {"vm1": [{"vm_state": "active", "task_state": None, "host": "compute1",
                 "cell": "cell1", "fault": None}]}


def _oks(expect: dict) -> list[bool]:
    return [c.ok for c in check_trace(expect, EVENTS, ROWS)]


def test_checker_accepts_the_true_story() -> None:
    assert all(_oks({
        "hops": [{"method": "schedule_and_build_instances", "style": "cast",
                  "from": "nova-api", "to": "nova-conductor", "version": "1.17"},
                 {"method": "select_destinations", "style": "call", "status": "OK"},
                 {"method": "build_and_run_instance", "to": "compute1"}],
        "absent": [{"method": "build_instances"}],
        "counts": [{"method": "select_destinations", "exactly": 1}],
        "instances": {"vm1": {"vm_state": "active", "task_state": None, "count": 1}},
        "logs": [{"contains": "Timed out", "service": "nova-compute"}]}))


@pytest.mark.parametrize("expect", [
    {"hops": [{"method": "build_and_run_instance"}, {"method": "select_destinations"}]},
    {"hops": [{"method": "select_destinations", "style": "cast"}]},
    {"hops": [{"method": "schedule_and_build_instances", "version": "1.16"}]},
    {"hops": [{"method": "build_and_run_instance", "to": "compute2"}]},
    {"hops": [{"method": "select_destinations", "status": "ERROR"}]},
    {"absent": [{"method": "select_destinations"}]},
    {"counts": [{"method": "select_destinations", "exactly": 2}]},
    {"counts": [{"method": "build_and_run_instance", "at_least": 2}]},
    {"instances": {"vm1": {"vm_state": "error"}}},
    {"instances": {"vm1": {"count": 3}}},
    {"instances": {"vm2": {"vm_state": "active"}}},
    {"instances": {"vm1": {"fault": "No valid host"}}},
    {"logs": [{"contains": "Timed out", "at_least": 2}]},
], ids=lambda e: next(iter(e)))
def test_checker_rejects_a_wrong_expectation(expect: dict) -> None:
    assert False in _oks(expect)
