"""The import edges of ARCHITECTURE.md: the core never pulls Textual in, and services/
see only the instrumentation API of tracer/."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_FROM_SERVICES = {"tracer.api", "tracer.redact"}
# A process's entry point (services/cmd, like nova/cmd) also picks where its events go.
ALLOWED_FROM_ENTRY_POINTS = ALLOWED_FROM_SERVICES | {"tracer.emitter"}


def _core_modules() -> list[str]:
    """Every tracer module except the TUI and the application shell, found on disk (an
    import-based walk would import tracer.tui's package to look inside it)."""
    names = []
    for path in sorted((ROOT / "tracer").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[:2] == ("tracer", "tui") or parts == ("tracer", "cli"):
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_tracer_core_does_not_import_textual() -> None:
    modules = _core_modules()
    assert {"tracer.api", "tracer.emitter", "tracer.collector", "tracer.recording",
            "tracer.render", "tracer.events"} <= set(modules)
    code = (
        "import importlib, json, sys\n"
        "errors = {}\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        errors[name] = f'{type(exc).__name__}: {exc}'\n"
        "print(json.dumps({'errors': errors,\n"
        "                  'textual': sorted(m for m in sys.modules\n"
        "                                    if m == 'textual' or m.startswith('textual.'))}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}, f"tracer modules that do not import: {result['errors']}"
    assert result["textual"] == [], "a tracer core module imports textual"


def _tracer_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names
                      if a.name == "tracer" or a.name.startswith("tracer.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "tracer":
                found += [(node.lineno, f"tracer.{a.name}") for a in node.names]
            elif node.module.startswith("tracer."):
                found.append((node.lineno, node.module))
    return found


def test_services_import_only_the_instrumentation_api() -> None:
    bad = []
    files = sorted((ROOT / "services").rglob("*.py"))
    assert files
    for path in files:
        allowed = (ALLOWED_FROM_ENTRY_POINTS if path.parent.name == "cmd"
                   else ALLOWED_FROM_SERVICES)
        for lineno, name in _tracer_imports(path):
            if name not in allowed:
                bad.append(f"{path.relative_to(ROOT)}:{lineno}: imports {name}")
    assert not bad, ("services/ may import only tracer.api / tracer.redact (services/cmd "
                     "also tracer.emitter):\n" + "\n".join(bad))


def test_the_scanner_sees_every_import_form(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("import tracer.emitter\nfrom tracer import api, render\n"
                      "from tracer.redact import redact\nimport os\n"
                      "def f():\n    from tracer.collector import Collector\n")
    assert _tracer_imports(sample) == [(1, "tracer.emitter"), (2, "tracer.api"),
                                       (2, "tracer.render"), (3, "tracer.redact"),
                                       (6, "tracer.collector")]
