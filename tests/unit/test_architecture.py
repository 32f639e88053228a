"""The package map's rules are machine-checked: import-linter's contracts in pyproject.toml
(run by ``make lint``) and, here, what those contracts cannot say on their own."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import networkx as nx

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = {c["id"]: c for c in tomllib.loads(
    (ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]}
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _tracer_children() -> set[str]:
    return {f"tracer.{p.stem if p.is_file() else p.name}" for p in (ROOT / "tracer").iterdir()
            if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}


def test_contracts_name_every_tracer_package_but_instrument() -> None:
    """A new tracer module must be forbidden to services/ too, not slip past the list."""
    others = _tracer_children() - {"tracer.instrument"}
    assert set(CONTRACTS["services-use-only-instrument"]["forbidden_modules"]) == others
    assert set(CONTRACTS["instrument-stands-alone"]["forbidden_modules"]) == others | {
        "services"}
    core = set(CONTRACTS["core-without-textual"]["source_modules"])
    assert core == (others - {"tracer.tui", "tracer.cli", "tracer.commands"}) | {
        "services", "tracer.instrument"}


def test_no_import_cycle_among_modules() -> None:
    """Module-level imports (lazy ones inside functions included) form no cycle."""
    graph = grimp.build_graph("services", "tracer")
    g = nx.DiGraph()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if not imported.startswith(module + ".") and not module.startswith(imported + "."):
                g.add_edge(module, imported)   # a package and its own submodules aside
    cycles = list(nx.simple_cycles(g, length_bound=6))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles[:10])


def test_lint_imports_fails_when_a_contract_is_broken(tmp_path: Path) -> None:
    """The contracts are live: one forbidden import in a copy of the tree breaks the lint."""
    for name in ("services", "tracer"):
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")

    def lint() -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(LINT_IMPORTS)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, env={"PYTHONPATH": str(tmp_path)})

    assert lint().returncode == 0
    (tmp_path / "services" / "sneaky.py").write_text("from tracer.tui import app\n")
    broken = lint()
    assert broken.returncode != 0
    assert "services/ imports nothing of tracer/ but the instrumentation package BROKEN" in (
        broken.stdout)
    assert "services.sneaky -> tracer.tui" in broken.stdout
