"""Scenario files: load + validate (one-line errors with file:line) and check a trace.

Why pure: the loader and the expected-trace checker are used by the runner, the tests
and later the TUI; none of them may drag in services/ or Textual. The checker reads the
one trace model (``tracer.model``: the reducer fed the run's events) and the final
instance rows; an expected hop (a mapping from the file) is matched against the model's
``HopView``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tracer.model import HopView, Snapshot, snapshot_of
from tracer.model.constants import RPC_STYLES

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"

_NAME = {"type": "string", "minLength": 1}
_HOP_FIELDS = {
    "method": _NAME,
    "style": {"enum": list(RPC_STYLES)},
    "from": _NAME,
    "to": _NAME,
    "version": {"type": "string", "pattern": r"^\d+\.\d+$"},
    "namespace": {"type": ["string", "null"]},
    "status": {"enum": ["OK", "ERROR"]},
}


def _obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required),
            "additionalProperties": False}


# [upgrade_levels] options Stein has (compute may be "auto")
_UPGRADE_LEVELS = _obj({k: {"type": "string"} for k in (
    "compute", "conductor", "scheduler", "baseapi")})


SCHEMA: dict[str, Any] = _obj({
    "name": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*$"},
    "title": _NAME,
    "explanation": _NAME,
    "requires": {"enum": ["embedded", "deployment"]},
    "config": _obj({**{k: {"type": "number", "minimum": 0} for k in (
        "rpc_response_timeout", "long_rpc_timeout", "early_timeout", "early_attempts",
        "max_attempts", "report_interval", "service_down_time", "trace_linger")},
        "upgrade_levels": _UPGRADE_LEVELS}),
    "topology": _obj({
        "virt_type": {"enum": ["fake", "test"]},
        "computes": {"type": "array", "minItems": 0, "items": _obj({
            "name": _NAME,
            "vcpus": {"type": "integer", "minimum": 1},
            "memory_mb": {"type": "integer", "minimum": 1},
            "disk_gb": {"type": "integer", "minimum": 1},
            "upgrade_levels": _UPGRADE_LEVELS,
            # the service version this compute registers with (35: Rocky, 37: Stein)
            "service_version": {"type": "integer", "minimum": 1, "maximum": 37},
        }, ("name",))},
        "flavors": {"type": "array", "items": _obj({
            "name": _NAME, "vcpus": {"type": "integer", "minimum": 1},
            "memory_mb": {"type": "integer", "minimum": 1},
            "disk_gb": {"type": "integer", "minimum": 0},
        }, ("name", "vcpus", "memory_mb", "disk_gb"))},
        "images": {"type": "array", "items": _NAME},
    }, ("computes",)),
    "faults": {"type": "array", "items": {"type": "object", "minProperties": 1,
                                          "maxProperties": 1, "additionalProperties": False,
                                          "properties": {
        "spawn_fails": _obj({"hosts": {"type": "array", "items": _NAME, "minItems": 1},
                             "times": {"type": "integer", "minimum": 1}}),
        "service_down": _obj({"service": _NAME, "host": _NAME}, ("service",)),
        "late_start": _obj({"service": _NAME, "host": _NAME,
                            "after_s": {"type": "number", "minimum": 0}},
                           ("service", "after_s")),
        "broker_pause": _obj({"seconds": {"type": "number", "minimum": 0},
                              "at": _NAME}, ("seconds",)),
        "partition": _obj({"host": _NAME, "after_s": {"type": "number", "minimum": 0},
                           "heal": {"type": "boolean"}}, ("host",)),
    }}},
    "requests": {"type": "array", "minItems": 1, "items": {
        "type": "object", "minProperties": 1, "maxProperties": 1,
        "additionalProperties": False, "properties": {
            "boot": _obj({"name": _NAME, "flavor": _NAME, "image": _NAME,
                          "count": {"type": "integer", "minimum": 1},
                          "wait": {"type": "boolean"}}, ("name",)),
            "delete": _obj({"name": _NAME, "wait": {"type": "boolean"}}, ("name",)),
            "reboot": _obj({"name": _NAME, "type": {"enum": ["SOFT", "HARD"]},
                            "wait": {"type": "boolean"}}, ("name",)),
            "wait": {"type": "number", "minimum": 0},
        }}},
    "expect": _obj({
        "hops": {"type": "array", "items": _obj(_HOP_FIELDS, ("method",))},
        "absent": {"type": "array", "items": _obj(_HOP_FIELDS, ("method",))},
        "counts": {"type": "array", "items": _obj({
            **_HOP_FIELDS, "exactly": {"type": "integer", "minimum": 0},
            "at_least": {"type": "integer", "minimum": 0},
            "at_most": {"type": "integer", "minimum": 0}}, ("method",))},
        "instances": {"type": "object", "additionalProperties": _obj({
            "vm_state": {"type": "string"}, "task_state": {"type": ["string", "null"]},
            "host": {"type": ["string", "null"]}, "cell": {"type": "string"},
            "fault": {"type": "string"}, "deleted": {"type": "boolean"},
            "count": {"type": "integer", "minimum": 0}})},
        "logs": {"type": "array", "items": _obj({"contains": _NAME, "service": _NAME,
                                                 "at_least": {"type": "integer",
                                                              "minimum": 0}},
                                                ("contains",))},
        "spans": {"type": "array", "items": _obj({"name": _NAME, "attr": _NAME,
                                                  "contains": _NAME}, ("name",))},
        "services": {"type": "array", "items": _obj({
            "when": _NAME, "binary": _NAME, "host": _NAME,
            "state": {"enum": ["up", "down"]}}, ("when", "host", "state"))},
    }),
}, ("name", "title", "explanation", "topology", "requests", "expect"))


class ScenarioError(Exception):
    """A malformed scenario file; ``str()`` is one line: ``file:line: what``."""


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    explanation: str
    path: Path
    data: Mapping[str, Any]

    @property
    def requires(self) -> str:
        return str(self.data.get("requires", "embedded"))


# ---- loading -------------------------------------------------------------------------
def _lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int],
           keys: dict[tuple[Any, ...], int]) -> None:
    """Map each JSON path to its value's line, and each (path + key) to the key's line."""
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for knode, vnode in node.value:
            key = knode.value
            keys[(*path, key)] = knode.start_mark.line + 1
            _lines(vnode, (*path, key), out, keys)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out, keys)


def _where(path: Iterable[Any]) -> str:
    text = ""
    for p in path:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or "the top level"


def _describe(err: jsonschema.ValidationError,
              lines: dict[tuple[Any, ...], int],
              keys: dict[tuple[Any, ...], int]) -> tuple[int, str]:
    path = tuple(err.absolute_path)
    line = lines.get(path, 1)
    where = _where(path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            key = extra[0]
            hint = ", ".join(sorted(allowed))
            return keys.get((*path, key), line), (f"unknown key {key!r} in {where} "
                                                  f"(allowed: {hint})")
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return line, f"missing required key {missing!r} in {where}"
    if err.validator in ("minProperties", "maxProperties"):
        return line, f"{where} must have exactly one key"
    if err.validator == "type":
        return line, (f"{where}: expected {err.validator_value}, "
                      f"got {type(err.instance).__name__} {err.instance!r}")
    if err.validator == "enum":
        return line, f"{where}: {err.instance!r} is not one of {err.validator_value}"
    return line, f"{where}: {err.message}"


def load_scenario(path: str | Path) -> Scenario:
    """Parse and validate one file; any problem is a ScenarioError naming file and line."""
    path = Path(path)
    shown = _shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{shown}: cannot read: {exc.strerror or exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(f"{shown}:{line}: YAML error: {problem}") from exc
    if node is None or not isinstance(data, dict):
        raise ScenarioError(f"{shown}:1: a scenario is a mapping (name, title, ...)")
    lines: dict[tuple[Any, ...], int] = {}
    keys: dict[tuple[Any, ...], int] = {}
    _lines(node, (), lines, keys)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(data),
                    key=lambda e: (lines.get(tuple(e.absolute_path), 1), -len(e.path)))
    if errors:
        # the deepest error of the first line is the most specific one
        first = min(errors, key=lambda e: (_describe(e, lines, keys)[0], -len(e.path)))
        line, what = _describe(first, lines, keys)
        raise ScenarioError(f"{shown}:{line}: {what}")
    return Scenario(data["name"], data["title"], " ".join(data["explanation"].split()),
                    path, data)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def scenario_files(directory: Path = SCENARIO_DIR) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


def find_scenario(name_or_path: str | Path, directory: Path = SCENARIO_DIR) -> Scenario:
    """A path to a file, or the name of a scenario in ``scenarios/``."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return load_scenario(p)
    candidate = directory / f"{name_or_path}.yaml"
    if candidate.exists():
        return load_scenario(candidate)
    known = ", ".join(f.stem for f in scenario_files(directory))
    raise ScenarioError(f"no scenario named {str(name_or_path)!r} (known: {known})")


# ---- checking ------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    detail: str = ""

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.what}" + (
            f" — {self.detail}" if self.detail else "")


def rpc_hops(events: Iterable[Mapping[str, Any]]) -> list[HopView]:
    """The model's rpc hops (call, cast, fanout) of *events*, in send order."""
    return snapshot_of(events).rpc_hops()


def hop_matches(hop: HopView, want: Mapping[str, Any]) -> bool:
    """Does the model's *hop* fit the scenario's expected hop *want*? ``from`` names the
    sender's service or host, ``to`` a receiver's, ``status`` the sending span's."""
    if hop.method != want["method"]:
        return False
    if "style" in want and hop.style != want["style"]:
        return False
    if "version" in want and (hop.version or None) != want["version"]:
        return False
    if "namespace" in want and (hop.namespace or None) != want["namespace"]:
        return False
    if "from" in want and want["from"] not in hop.src:
        return False
    if "to" in want and not any(want["to"] in ep for ep in hop.receivers):
        return False
    return "status" not in want or hop.status == want["status"]


def describe_expected(want: Mapping[str, Any]) -> str:
    """A scenario's expected hop in words: ``select_destinations call v4.5 from ...``."""
    parts = [str(want["method"])]
    if "style" in want:
        parts.append(str(want["style"]))
    if "version" in want:
        parts.append(f"v{want['version']}")
    if "from" in want:
        parts.append(f"from {want['from']}")
    if "to" in want:
        parts.append(f"to {want['to']}")
    if "status" in want:
        parts.append(f"status {want['status']}")
    return " ".join(parts)


def _seen(hop: HopView) -> str:
    """A hop of the trace in the words of ``describe_expected``."""
    src = "/".join(sorted(set(hop.src)))
    return f"{hop.method} {hop.style} v{hop.version or '?'} from {src}"


def check_trace(expect: Mapping[str, Any], events: Sequence[Mapping[str, Any]],
                instances: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                services: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
                ) -> list[Check]:
    """``check_snapshot`` of the model fed *events*."""
    return check_snapshot(expect, snapshot_of(events), instances, services)


def check_snapshot(expect: Mapping[str, Any], snap: Snapshot,
                   instances: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                   services: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
                   ) -> list[Check]:
    """Every expectation of a scenario against the trace model and final instance rows.

    ``hops`` are an ordered subsequence of the rpc client spans (by start time);
    ``absent`` must not occur; ``counts`` bound occurrences; ``instances`` maps a boot
    request's name to the final rows of its instances; ``logs`` are ``log`` annotations;
    ``spans`` need a span of that name whose ``attr`` (JSON) contains a text; ``services``
    are service rows (binary, host, state, source) seen at a named moment (*services*
    maps the moment, e.g. ``partitioned``, to the rows a deployment run took then).
    """
    hops = snap.rpc_hops()
    checks: list[Check] = []
    pos = 0
    for i, want in enumerate(expect.get("hops") or []):
        found = next((j for j in range(pos, len(hops)) if hop_matches(hops[j], want)), None)
        if found is None:
            seen = [_seen(h) for h in hops if h.method == want["method"]]
            why = ("not in the trace" if not seen else
                   "no match after the previous hop; seen: " + "; ".join(seen[:4]))
            checks.append(Check(False, f"hop {i + 1}: {describe_expected(want)}", why))
        else:
            checks.append(Check(True, f"hop {i + 1}: {describe_expected(want)}"))
            pos = found + 1
    for want in expect.get("absent") or []:
        hits = [h for h in hops if hop_matches(h, want)]
        checks.append(Check(not hits, f"absent: {describe_expected(want)}",
                            f"seen {len(hits)}×: {_seen(hits[0])}" if hits else ""))
    for want in expect.get("counts") or []:
        n = sum(1 for h in hops if hop_matches(h, want))
        bounds = [(k, v) for k, v in want.items() if k in ("exactly", "at_least", "at_most")]
        ok = all({"exactly": n == v, "at_least": n >= v, "at_most": n <= v}[k]
                 for k, v in bounds)
        rule = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in bounds) or "any"
        checks.append(Check(ok, f"count {describe_expected(want)}: {rule}", f"counted {n}"))
    for name, want in (expect.get("instances") or {}).items():
        rows = list((instances or {}).get(name, []))
        if "count" in want:
            checks.append(Check(len(rows) == want["count"], f"instances {name}: count",
                                f"{len(rows)} instance(s)"))
        if not rows:
            checks.append(Check(False, f"instances {name}", "no instance of that name"))
            continue
        for key in ("vm_state", "task_state", "host", "cell", "deleted"):
            if key in want:
                values = [r.get(key) for r in rows]
                checks.append(Check(all(g == want[key] for g in values),
                                    f"instances {name}: {key} = {want[key]}",
                                    f"got {_one(values)}"))
        if "fault" in want:
            faults = [((r.get("fault") or {}).get("message") or "") for r in rows]
            checks.append(Check(all(want["fault"] in f for f in faults),
                                f"instances {name}: fault contains {want['fault']!r}",
                                f"got {_one(faults)}"))
    for want in expect.get("logs") or []:
        n = sum(1 for a in snap.annotations if a.name == "log"
                and want["contains"] in str(a.attrs.get("message", ""))
                and ("service" not in want or a.service == want["service"]))
        need = want.get("at_least", 1)
        checks.append(Check(n >= need, f"log contains {want['contains']!r} ≥ {need}×",
                            f"seen {n}×"))
    checks += [_check_span(want, snap) for want in expect.get("spans") or []]
    for want in expect.get("services") or []:
        rows = [r for r in (services or {}).get(want["when"], [])
                if r.get("host") == want["host"]
                and ("binary" not in want or r.get("binary") == want["binary"])]
        what = (f"services at {want['when']}: {want.get('binary', '*')} on {want['host']} "
                f"{want['state']}")
        got = ", ".join(f"{r.get('source')}={r.get('state')}" for r in rows) or "no row"
        checks.append(Check(bool(rows) and all(r.get("state") == want["state"] for r in rows),
                            what, got))
    return checks


def _check_span(want: Mapping[str, Any], snap: Snapshot) -> Check:
    """A span named ``name`` whose attribute ``attr`` (start+end attrs) contains text."""
    attrs = {sid: span.attrs for sid, span in snap.spans.items() if span.name == want["name"]}
    what = f"span {want['name']!r}" + (f" {want['attr']}" if "attr" in want else "") + (
        f" contains {want['contains']!r}" if "contains" in want else "")
    if not attrs:
        return Check(False, what, "no such span")
    if "attr" not in want:
        return Check(True, what, f"{len(attrs)}×")
    values = [json.dumps(a.get(want["attr"]), sort_keys=True) for a in attrs.values()]
    hit = next((v for v in values if want.get("contains", "") in v), None)
    return Check(hit is not None, what, hit or f"seen: {values[-1][:200]}")


def _one(values: list[Any]) -> str:
    distinct = list(dict.fromkeys(repr(v) for v in values))
    return distinct[0] if len(distinct) == 1 else "[" + ", ".join(distinct) + "]"


@dataclass
class ScenarioResult:
    """What one run produced: the events, the final rows per boot name, the checks."""

    scenario: Scenario
    events: list[dict[str, Any]] = field(default_factory=list)
    instances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    services: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.ok for c in self.checks)


DEPLOYMENT_FAULTS = ("broker_pause", "partition")


class ScenarioRunError(Exception):
    """The scenario cannot run here (e.g. it needs a deployment): one clear line."""


def faults_of(scenario: Scenario, kind: str) -> list[dict[str, Any]]:
    return [f[kind] for f in scenario.data.get("faults") or [] if kind in f]


def named(uuids: dict[str, list[str]], name: str) -> list[str]:
    """The instances a scenario's boot request *name* created (by a later request)."""
    if name not in uuids:
        raise ScenarioRunError(f"request names {name!r}, which no boot request created")
    return uuids[name]


def deployment_reason(scenario: Scenario) -> str | None:
    """Why this scenario cannot run on the embedded cloud, or None when it can."""
    if scenario.requires == "deployment":
        return (f"scenario {scenario.name!r} needs a deployment (services as processes, "
                "network namespaces, a broker to pause); the embedded cloud runs every "
                "service as a thread of one process")
    kinds = [k for k in DEPLOYMENT_FAULTS if faults_of(scenario, k)]
    if kinds:
        return f"fault(s) {', '.join(kinds)} need a deployment, not the embedded cloud"
    return None
