"""bootflow's commands in the command palette (ctrl+p): trace, view, language, theme,
presentation mode, scenario, export.

Each command does what its key does (so the palette is a way to find the keys), plus
what has no key: a trace by its name, a scenario's command line, an export to a file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tracer.export import ExportError, export
from tracer.scenario.spec import ScenarioError, load_scenario, scenario_files
from tracer.tui.screens.base import TraceScreen

# format, file extension, what the command says
EXPORTS = (("html", "html", "Export HTML (one self-contained page)"),
           ("chrome", "json", "Export JSON (Chrome/Perfetto trace)"),
           ("otlp", "otlp.json", "Export OTLP JSON (Jaeger, OTel Collector)"),
           ("dot", "dot", "Export DOT (Graphviz)"),
           ("mermaid", "mmd", "Export Mermaid sequence diagram"))


class _BootflowApp(Protocol):
    lang: str
    mode: str
    theme: str

    def recorded_events(self) -> Sequence[Mapping[str, Any]]: ...
    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = True) -> None: ...
    def copy_to_clipboard(self, text: str) -> None: ...


def export_to_file(events: Sequence[Mapping[str, Any]], fmt: str, ext: str, mode: str,
                   directory: Path | None = None) -> Path:
    """Write *events* in *fmt* to a new file in *directory* (the cwd): its path."""
    text = export(list(events), fmt)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = (directory or Path.cwd()) / f"bootflow-{mode}-{stamp}.{ext}"
    n = 1
    while path.exists():
        n += 1
        path = path.with_name(f"bootflow-{mode}-{stamp}-{n}.{ext}")
    path.write_text(text, encoding="utf-8")
    return path


def scenario_lines() -> list[tuple[str, str]]:
    """(name, title) of each scenario in scenarios/."""
    out = []
    for path in scenario_files():
        try:
            out.append((path.stem, load_scenario(path).title))
        except ScenarioError:
            out.append((path.stem, "(invalid file)"))
    return out


class BootflowCommands(Provider):
    """The palette's bootflow commands; see the module docstring."""

    def _commands(self) -> Iterator[tuple[str, Callable[[], Any], str]]:
        """(title, what it does, help) of every command, for the screen at hand."""
        screen = self.screen
        app: _BootflowApp = self.app  # type: ignore[assignment]
        if isinstance(screen, TraceScreen):
            yield ("Next trace", partial(screen.action_select_trace, 1), "key >")
            yield ("Previous trace", partial(screen.action_select_trace, -1), "key <")
            traces = sorted(screen.snapshot.traces.values(), key=lambda tv: tv.start_ns)
            for i, trace in enumerate(traces, 1):
                yield (f"Show trace: {trace.root_name}", partial(screen.show_trace,
                                                                 trace.trace_id),
                       f"trace {i}/{len(traces)}, {trace.n_spans} spans")
            yield ("View: timeline (waterfall)", partial(screen.show_view, "tab-timeline"),
                   "key v")
            yield ("View: sequence diagram", partial(screen.show_view, "tab-sequence"),
                   "key v")
            yield ("Presentation mode on/off", screen.action_present,
                   "key p: graph, sequence, one large narration line, the instance's state")
        yield ("Language: English", partial(setattr, app, "lang", "en"), "key l")
        yield ("Language: 中文 (Chinese)", partial(setattr, app, "lang", "zh"), "key l")
        yield ("Theme: dark", partial(setattr, app, "theme", "textual-dark"), "key d")
        yield ("Theme: light", partial(setattr, app, "theme", "textual-light"), "key d")
        for name, title in scenario_lines():
            yield (f"Scenario: {name}", partial(self._scenario, name),
                   f"{title} — copies the command that runs it")
        for fmt, ext, title in EXPORTS:
            yield (title, partial(self._export, fmt, ext),
                   "the events shown, to a file in the current directory")

    def _scenario(self, name: str) -> None:
        app: _BootflowApp = self.app  # type: ignore[assignment]
        command = f"bootflow demo --scenario {name}"
        app.copy_to_clipboard(command)
        app.notify(f"run it in a terminal:\n{command}\n(copied to the clipboard)",
                   title=f"scenario {name}", timeout=12, markup=False)

    def _export(self, fmt: str, ext: str) -> None:
        app: _BootflowApp = self.app  # type: ignore[assignment]
        try:
            path = export_to_file(app.recorded_events(), fmt, ext, app.mode)
        except (ExportError, OSError) as exc:
            app.notify(str(exc), title="export failed", severity="error", markup=False)
            return
        app.notify(str(path), title=f"exported {fmt}", timeout=10, markup=False)

    async def discover(self) -> Hits:
        for title, command, help_text in self._commands():
            yield DiscoveryHit(title, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, command, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, text=title, help=help_text)
