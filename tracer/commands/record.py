"""``bootflow record``: write a running deployment's events to a recording file."""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from tracer.commands import UserError, add_attach_args, attach_target, check_writable

RECORD_NICE = 10


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("record", help="record a running deployment's events (JSON Lines)",
                       description="Consumes the deployment's trace exchange into FILE until "
                       "Ctrl-C, --duration, or --until-quiet after the first request.")
    p.add_argument("file", type=Path, help="the recording to write")
    add_attach_args(p)
    p.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                   help="stop after this long")
    p.add_argument("--until-quiet", type=float, default=None, metavar="SECONDS",
                   help="stop once a request has been seen, all its spans ended and none "
                   "of its events arrived for this long (heartbeats don't count)")
    p.add_argument("--nice", type=int, default=RECORD_NICE, metavar="N",
                   help="lower the recorder's CPU priority by N (default %(default)s): on a "
                   "busy machine the cloud it watches comes first and its queue holds the "
                   "events meanwhile; 0 keeps the priority")
    p.set_defaults(func=cmd_record)


def cmd_record(args: argparse.Namespace, console: Console) -> int:
    from tracer.collector import Collector, CollectorError
    from tracer.instrument.redact import redact_url
    from tracer.recording import RecordingWriter
    from tracer.session import is_request_root

    check_writable(args.file)
    if args.nice < 0:
        raise UserError("--nice must be 0 or more (only root may raise a priority)")
    _deployment, _config, url, exchange = attach_target(args)
    if args.nice:
        os.nice(args.nice)
    stop = threading.Event()
    requests: set[str] = set()   # trace ids rooted at a REST request
    open_spans: set[str] = set()  # their spans not ended yet
    last = [time.monotonic()]    # the last event of a request trace
    writer = RecordingWriter(args.file, source="live", transport=redact_url(url),
                             exchange=exchange)

    def on_event(event: dict[str, Any]) -> None:
        writer(event)
        trace_id = event.get("trace_id")
        if is_request_root(event):
            requests.add(str(trace_id))
        if trace_id not in requests:
            return  # heartbeats and periodic tasks never make a recording "busy"
        last[0] = time.monotonic()
        if event.get("type") == "span_start":
            open_spans.add(str(event.get("span_id")))
        elif event.get("type") == "span_end":
            open_spans.discard(str(event.get("span_id")))

    collector = Collector(url, on_event, exchange=exchange)
    try:
        collector.start()
    except CollectorError as exc:
        writer.close()
        raise UserError(str(exc)) from exc
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    started = time.monotonic()
    console.print(f"recording {exchange} to {args.file} (Ctrl-C to stop)")
    try:
        while not stop.wait(0.1):
            now = time.monotonic()
            if args.duration is not None and now - started >= args.duration:
                break
            if (args.until_quiet is not None and requests and not open_spans
                    and now - last[0] >= args.until_quiet):
                break
    finally:
        signal.signal(signal.SIGINT, previous)
        collector.stop()
        writer.close()
    console.print(f"recorded {collector.received} events to {args.file}")
    return 0
