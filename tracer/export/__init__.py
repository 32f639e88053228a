"""Exporters: a recording's events → the tools people already use.

``export(events, fmt)`` takes the JSON Lines events of a recording (header excluded) and
returns text: Chrome/Perfetto JSON, OTLP/JSON (Jaeger, OTel Collector), Mermaid, Graphviz
DOT, or one self-contained HTML page. Pure functions, no Textual, no ``services`` import,
so ``bootflow export`` works anywhere a recording can be read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tracer.export.spans import ExportError, read

FORMATS = ("chrome", "otlp", "mermaid", "dot", "html")

__all__ = ["FORMATS", "ExportError", "export"]


def export(events: Sequence[Mapping[str, Any]], fmt: str) -> str:
    """Render *events* in *fmt*; ExportError names the problem for bad input or format."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if isinstance(events, (str, bytes)) or not isinstance(events, Sequence):
        raise ExportError("events must be a list of event dicts (the recording minus its header)")
    folded = read(events)
    if fmt == "chrome":
        from tracer.export import chrome

        return chrome.render(folded)
    if fmt == "otlp":
        from tracer.export import otlp

        return otlp.render(folded)
    if fmt == "mermaid":
        from tracer.export import mermaid

        return mermaid.render(folded)
    if fmt == "dot":
        from tracer.export import dot

        return dot.render(folded)
    from tracer.export import html

    return html.render(folded, list(events))
