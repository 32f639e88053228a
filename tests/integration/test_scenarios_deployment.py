"""compute-partition and broker-pause, for real: processes, a netns, a forwarder.

Prerequisites fail (never skip), naming the fix: RabbitMQ (`rabbitmq-server -detached`),
rabbitmqctl (the run's own vhost), root + iproute2 (`ip netns`). Each run creates its own
vhost, namespace, veth pair and forwarders and removes them in finally; the tests check
that nothing is left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tracer.scenario.deployed import check_prerequisites, deployment_transport
from tracer.scenario.runner import ScenarioRunError, run_scenario
from tracer.scenario.spec import ScenarioResult, find_scenario, rpc_hops
from tracer.session import open_spans, request_trace_ids

REPO = Path(__file__).resolve().parents[2]
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"


def _require(name: str) -> None:
    try:
        check_prerequisites(find_scenario(name), RABBIT)
    except ScenarioRunError as exc:
        pytest.fail(str(exc), pytrace=False)


def _leftovers(result: ScenarioResult) -> list[str]:
    """Namespaces, veths, vhosts or service processes of ours still around."""
    left = [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                      text=True).stdout.split() if n.startswith("bootflow-")]
    left += [line.split(":")[1].strip() for line in subprocess.run(
        ["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()
        if ": bfh" in line]
    vhosts = subprocess.run(["rabbitmqctl", "-q", "list_vhosts"], capture_output=True,
                            text=True, timeout=60).stdout.split()
    mine = [n.split()[1] for n in result.notes if n.startswith("vhost ")]
    assert mine, result.notes
    left += [v for v in vhosts if v in mine]
    pids = [int(p) for n in result.notes if n.startswith("pids ") for p in n.split()[1:]]
    left += [f"pid {p}" for p in pids if Path(f"/proc/{p}").exists()]
    return left


def _assert_passed(result: ScenarioResult) -> None:
    failed = [c.line() for c in result.checks if not c.ok]
    assert result.error is None, result.error
    assert result.checks and not failed, "\n".join(failed + result.notes)
    events = result.events
    assert open_spans(events, request_trace_ids(events)) == 0, "a request span never ended"


def test_compute_partition() -> None:
    """compute2 (own netns, broker via a forwarder) is cut: down in os-services and
    status, ComputeFilter rejects it with the reason, the boot lands on compute1; healed:
    up again. Nothing (netns, veth, vhost, process) is left behind."""
    _require("compute-partition")
    result = run_scenario("compute-partition", RABBIT, timeout=30)
    _assert_passed(result)
    down = [r for r in result.services["partitioned"] if r["host"] == "compute2"]
    assert {r["source"] for r in down} == {"os-services", "status"}
    assert any("back up" in n for n in result.notes), result.notes
    assert not _leftovers(result)


def test_broker_pause() -> None:
    """The services' path to the broker freezes 5 s as select_destinations starts: the
    call waits (no MessagingTimeout below long_rpc_timeout), nothing is lost, ACTIVE."""
    _require("broker-pause")
    result = run_scenario("broker-pause", RABBIT, timeout=30)
    _assert_passed(result)
    assert any("paused 5s" in n for n in result.notes), result.notes
    hops = {h.method: h for h in rpc_hops(result.events)}
    call = next(e for e in result.events if e.get("type") == "span_start"
                and e.get("kind") == "CLIENT" and e.get("name") == "select_destinations")
    end = next(e for e in result.events if e.get("type") == "span_end"
               and e.get("span_id") == call["span_id"])
    held_s = (end["ts_ns"] - call["ts_ns"]) / 1e9
    assert 4.5 <= held_s < 15, f"select_destinations took {held_s:.1f}s"
    assert hops["build_and_run_instance"].status == "OK"
    assert not _leftovers(result)


def test_reboot_on_a_deployment(tmp_path: Path) -> None:
    """scenarios/reboot.yaml run on processes (requires: deployment): the runner posts
    each reboot action and the embedded run's hops and final states hold there too."""
    data = yaml.safe_load((REPO / "scenarios" / "reboot.yaml").read_text())
    path = tmp_path / "reboot.yaml"
    path.write_text(yaml.safe_dump({**data, "requires": "deployment"}))
    _require(str(path))
    result = run_scenario(path, RABBIT, timeout=30)
    _assert_passed(result)
    actions = [e for e in result.events if e.get("type") == "span_start"
               and e.get("name", "").endswith("/action")]
    assert len(actions) == 2, [e["name"] for e in actions]
    assert not _leftovers(result)


def test_missing_prerequisites_name_the_fix() -> None:
    sc = find_scenario("broker-pause")
    with pytest.raises(ScenarioRunError, match="rabbitmq-server -detached"):
        check_prerequisites(sc, "rabbit://guest:guest@127.0.0.1:1/")
    with pytest.raises(ScenarioRunError, match="fix: --transport rabbit://"):
        check_prerequisites(sc, "kafka://x")
    assert deployment_transport("memory://") == RABBIT
    r = subprocess.run([sys.executable, "-m", "tracer.cli", "scenario", "run", "broker-pause",
                        "--transport", "rabbit://guest:guest@127.0.0.1:1/"], cwd=REPO,
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "COLUMNS": "300"})
    assert r.returncode != 0 and "rabbitmq-server -detached" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
