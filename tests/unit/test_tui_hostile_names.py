"""A tenant's strings are text, never Rich markup, on the operator's screen (issue 11,
finding 5: a server named ``[/]`` raised MarkupError in the instances table, and
``[bold red]…`` / ``[link=…]`` names rendered as styles and links)."""

from __future__ import annotations

import copy
import io
from typing import Any

from rich.console import Console
from support.tui import load, sync
from textual.geometry import Region
from textual.widgets import Static

from tracer.render import render_trace
from tracer.tui import BootflowApp, ListSource
from tracer.tui.panes import DetailPane

HOSTILE = ["[/]", "[bold red]x[/]", "[link=http://e]y[/link]"]


def _hostile_events() -> list[dict[str, Any]]:
    """boot_one with three servers named HOSTILE (one per copy of the instance's state
    changes), a compute host and a heartbeat host named like markup too, and markup in
    the wire fields of every hop (exchange, routing key, code location)."""
    events = load()
    out: list[dict[str, Any]] = []
    extra: list[dict[str, Any]] = []
    for ev in events:
        ev = copy.deepcopy(ev)
        attrs = ev.get("attrs") or {}
        if ev.get("type") == "annotate" and ev.get("name") == "instance.state":
            for i, name in enumerate(HOSTILE):
                twin = copy.deepcopy(ev)
                twin["attrs"].update(display_name=name,
                                     instance_uuid=f"{i}{attrs['instance_uuid'][1:]}")
                if twin["attrs"].get("host"):
                    twin["attrs"]["host"] = "[/]host"
                extra.append(twin)
            continue
        for key in ("messaging.destination.name", "messaging.rabbitmq.destination.routing_key",
                    "code.location"):
            if key in attrs:
                attrs[key] = f"[bold red]{attrs[key]}[/]"
        out.append(ev)
    beat = {"type": "annotate", "trace_id": "f" * 32, "span_id": "e" * 16,
            "name": "service.report", "service": "nova-compute", "host": "[/]",
            "ts_ns": out[-1]["ts_ns"], "attrs": {"binary": "nova-compute", "host": "[/]",
                                                 "topic": "compute", "report_count": 1}}
    return out + sorted(extra, key=lambda e: e["ts_ns"]) + [beat]


def _screen_text(widget: Any) -> str:
    region = Region(0, 0, widget.size.width, widget.size.height)
    return "\n".join(strip.text for strip in widget.render_lines(region))


@sync
async def test_markup_names_show_literally_in_every_pane() -> None:
    events = _hostile_events()
    app = BootflowApp(ListSource(events), mode="live", clock=None)
    async with app.run_test(size=(160, 50)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        assert app.ingested == len(events)
        instances = _screen_text(app.query_one("#instances", Static))
        for name in HOSTILE:  # the name column is 16 wide: a long one ends in "…"
            assert (name if len(name) <= 16 else name[:14] + "…") in instances, instances
        assert "[/]host" in instances
        assert "[/]" in _screen_text(app.query_one("#services", Static))
        # every hop's detail: the wire fields as sent, brackets and all
        for hop in app.snapshot.hops:
            app.selected_hop = hop.hop_id
            await pilot.pause()
            console = Console(width=150, record=True, file=io.StringIO())
            console.print(app.query_one(DetailPane).shown)
            shown = console.export_text()
            if hop.style != "http":
                assert "[bold red]" in shown, shown
        await pilot.press("q")
    assert app.return_code == 0


def test_markup_names_show_literally_in_the_headless_report() -> None:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(render_trace(_hostile_events()))
    text = console.export_text()
    assert "[/]host" in text and "[bold red]" in text
