"""``bootflow export``: a recording into the tools people already use."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from tracer.commands import UserError, check_writable


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from tracer.export import FORMATS

    p = sub.add_parser("export", help="convert a recording: chrome|otlp|mermaid|dot|html",
                       description="Chrome JSON opens in Perfetto, OTLP JSON loads into "
                       "Jaeger or an OpenTelemetry collector, Mermaid and DOT draw the "
                       "sequence and the service graph, HTML is one self-contained page.")
    p.add_argument("file", type=Path, help="a recording (JSON Lines)")
    p.add_argument("--format", required=True, choices=FORMATS, dest="fmt",
                   help="chrome (Perfetto), otlp (Jaeger, OTel), mermaid, dot (Graphviz), html")
    p.add_argument("-o", "--output", type=Path, help="output file (default: standard output)")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    from tracer.export import ExportError, export
    from tracer.recording import RecordingError, read_recording

    check_writable(args.output)
    try:
        _header, events = read_recording(args.file)
        text = export(events, args.fmt)
    except (OSError, RecordingError, ExportError) as exc:
        raise UserError(str(exc)) from exc
    if args.output is None:
        console.file.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        console.print(f"wrote {args.fmt} to {args.output}")
    return 0
