"""Detail, instances and services panes: plain Rich renderables drawn from a snapshot.

Every string that came from the cloud (names, hosts, states, code locations, message
fields) goes in as ``Text``, never as a ``str`` cell, which Rich would parse as markup:
a tenant's server named ``[/]`` must not crash the operator's screen (issue 11).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Mapping
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tracer import narration
from tracer.model import HopView, ServiceView, Snapshot, SpanView, hop_key
from tracer.tui.timeline import fmt_ns

MAX_INSTANCES = 4  # the most recently changed ones; the pane is small
_STATE_WORDS = {
    "in_flight": "in flight (on the broker)",
    "waiting": "caller BLOCKED, waiting for the reply",
    "running": "consumer running (sender already returned)",
    "done": "done",
    "error": "ERROR",
}


def _envelope(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = attrs.get("bootflow.envelope")
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            return {"(unparsed)": raw[:200]}
        return value if isinstance(value, dict) else {"(envelope)": value}
    return None


def _properties(hop: HopView, attrs: Mapping[str, Any]) -> str:
    props = attrs.get("messaging.rabbitmq.properties")
    if isinstance(props, Mapping):
        return ", ".join(f"{k}={v}" for k, v in props.items())
    base = "content_type=application/json, content_encoding=utf-8, delivery_mode=2"
    if hop.style == "call" and attrs.get("rpc.timeout") is not None:
        try:
            base += f", expiration={int(float(attrs['rpc.timeout']) * 1000)}"
        except (TypeError, ValueError):
            pass
    return base + "  (oslo rabbit driver defaults)"


def narration_block(key: str, lang: str) -> RenderableType:
    entry = narration.load().lookup(key)
    if entry is None:
        return Text(f"(no narration for {key})", style="dim")
    text = Text()
    text.append(f"{entry.heading(lang)}  ", style="bold")
    text.append(f"[{lang}]\n", style="dim")
    text.append(entry.lines(lang) + "\n")
    if entry.location:
        text.append("Stein: ", style="dim")
        text.append(entry.location, style="italic")
    return text


def describe_hop(snap: Snapshot, hop: HopView, lang: str) -> RenderableType:
    client = snap.spans.get(hop.client_span_id)
    attrs: Mapping[str, Any] = client.attrs if client else {}
    head = Text()
    head.append(hop.method, style="bold")
    head.append(f"  {hop.style}", style="bold reverse" if hop.style == "call" else "bold")
    if hop.version:
        head.append(f" · v{hop.version}")
    if hop.namespace:
        head.append(f" · ns {hop.namespace}")
    head.append(f"\n{_STATE_WORDS.get(hop.state, hop.state)}\n",
                style="bold red" if hop.state == "error" else "italic")
    head.append(f"{hop.src_service}@{hop.src_host} → {hop.dst_service}@{hop.dst_host}\n")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    if hop.style != "http":
        grid.add_row("exchange", Text(hop.exchange or "?"))
        grid.add_row("routing key", Text(hop.routing_key or "?"))
        grid.add_row("properties", Text(_properties(hop, attrs)))
    grid.add_row("sent", f"+{fmt_ns(hop.sent_ns - snap.t0_ns)}")
    if hop.recv_ns is not None:
        grid.add_row("picked up", f"+{fmt_ns(hop.recv_ns - snap.t0_ns)} "
                                  f"(queue {fmt_ns(max(0, hop.recv_ns - hop.sent_ns))})")
    if hop.style in ("call", "http"):
        grid.add_row("caller waited", fmt_ns(hop.waiting_ns)
                     + ("" if hop.done_ns is not None else " … still waiting"))
    else:
        grid.add_row("caller waited", "0 — a cast returns once published")
    if hop.handled_ns is not None and hop.recv_ns is not None:
        grid.add_row("handler took", fmt_ns(hop.handled_ns - hop.recv_ns))
    loc = attrs.get("code.location")
    if loc:
        grid.add_row("client code", Text(str(loc)))
    for sid in hop.server_span_ids[:2]:
        server = snap.spans.get(sid)
        if server is not None and server.attrs.get("code.location"):
            grid.add_row("server code", Text(str(server.attrs["code.location"])))
    parts: list[RenderableType] = [head, narration_block(hop.key, lang),
                                   Text("\n── on the wire ──", style="dim"), grid]
    env = _envelope(attrs)
    if env is not None:
        parts.append(Text("\nenvelope (oslo.message, secrets redacted)", style="bold"))
        parts.append(Text(json.dumps(env, indent=1, ensure_ascii=False)[:1500]))
    return Group(*parts)


def describe_span(snap: Snapshot, span: SpanView, lang: str) -> RenderableType:
    head = Text()
    head.append(span.name, style="bold")
    head.append(f"  {span.kind.lower()} in {span.service}@{span.host}\n")
    dur = span.duration_ns(snap.t_last_ns)
    head.append(f"duration {fmt_ns(dur)}{'' if span.finished else ' (open)'}\n")
    if span.attrs.get("code.location"):
        head.append(f"code {span.attrs['code.location']}\n", style="italic")
    key = hop_key("internal", span.name)
    return Group(head, narration_block(key, lang))


STEP_HINT = "press n / space to let it go"


def describe_pending(item: Mapping[str, Any], lang: str,
                     hint: str = STEP_HINT) -> RenderableType:
    """A hop held by the walkthrough gate: what will happen when the learner steps
    (*hint*: how it moves on, from where this screen stands)."""
    hop = item.get("hop") if isinstance(item.get("hop"), Mapping) else item
    assert isinstance(hop, Mapping)
    method = str(hop.get("method") or "?")
    style = str(hop.get("style") or "call")
    text = Text()
    text.append("NEXT HOP (held by the gate)\n", style="bold reverse")
    text.append(f"{method}  {style}", style="bold")
    if hop.get("version"):
        text.append(f" · v{hop.get('version')}")
    text.append(f"\n→ {hop.get('service') or hop.get('topic')}@{hop.get('host') or '?'}"
                f"  exchange {hop.get('exchange') or '?'}  routing key "
                f"{hop.get('routing_key') or '?'}\n")
    text.append(f"{hint}\n\n", style="italic")
    return Group(text, narration_block(hop_key(style, method), lang))


def reply_summary(envelope: str, failure: str | None = None) -> str:
    """A reply in one line: ``→ [compute1] (1 host chosen of 3)`` for the scheduler's
    Selections, ``→ Instance`` for an object, ``✗ NoValidHost`` for a failure."""
    if failure:
        return f"✗ {failure}"
    try:
        reply = json.loads(envelope) if envelope else {}
    except ValueError:
        return f"→ {envelope[:60]}"
    result = reply.get("result") if isinstance(reply, dict) else reply
    if isinstance(reply, dict) and reply.get("failure"):
        fail = reply["failure"]
        name = fail.get("class") if isinstance(fail, dict) else None
        return f"✗ {name or str(fail)[:60]}"
    if isinstance(result, list) and result and all(isinstance(r, list) for r in result):
        chosen, total = [], 0
        for alternatives in result:
            hosts = [h for h in (_obj_field(sel, "service_host") for sel in alternatives)
                     if h]
            if hosts:
                chosen.append(hosts[0])
                total += len(hosts)
        if chosen:
            n = len(chosen)
            return (f"→ [{', '.join(chosen)}] ({n} host{'s' if n != 1 else ''} chosen "
                    f"of {total})")
    if isinstance(result, dict) and "nova_object.name" in result:
        return f"→ {result['nova_object.name']} object"
    if result is None:
        return "→ None (nothing to return: done)"
    text = json.dumps(result, ensure_ascii=False)
    return f"→ {text[:60]}{'…' if len(text) > 60 else ''}"


def _obj_field(value: Any, name: str) -> str | None:
    if isinstance(value, dict):
        data = value.get("nova_object.data", value)
        if isinstance(data, dict) and isinstance(data.get(name), str):
            return str(data[name])
    return None


class DetailPane(VerticalScroll):
    """The selected hop in full: the message on the wire, timings, code, explanation."""

    def compose(self) -> ComposeResult:
        yield Static(Text("Select a hop (click, or [ and ])", style="dim"), id="detail-body")

    shown: RenderableType = ""

    def show(self, renderable: RenderableType) -> None:
        self.shown = renderable
        self.query_one("#detail-body", Static).update(renderable)


def fit_trail(steps: list[str], width: int) -> str:
    """An instance's state path in *width* cells: whole when it fits, else the first
    step, ``…`` and as many of the newest as fit, so the state it ended in always shows
    (``scheduling → … → spawning → active`` at 100 columns)."""
    whole = " → ".join(steps)
    if cell_len(whole) <= width:
        return whole
    for keep in range(len(steps) - 2, 0, -1):
        text = f"{steps[0]} → … → " + " → ".join(steps[-keep:])
        if cell_len(text) <= width:
            return text
    return "… → " + steps[-1]


class Trail:
    """A state path on one line as wide as its pane (the pane is 3 lines high at 100x30:
    a wrapped path would lose its end, the state the instance is in)."""

    def __init__(self, steps: list[str], style: str = "dim") -> None:
        self.steps = steps
        self.style = style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(fit_trail(self.steps, options.max_width), style=self.style,
                   no_wrap=True, overflow="ellipsis")


def instances_table(snap: Snapshot) -> RenderableType:
    table = Table(expand=True, box=None, padding=(0, 1), show_edge=False,
                  collapse_padding=True)
    table.add_column("name", no_wrap=True, max_width=16, overflow="ellipsis")
    # vm_state and host whole even at 100 columns ("building", "compute1"), no ratio:
    # the name and task_state give way first
    table.add_column("vm_state", no_wrap=True)
    table.add_column("task_state", no_wrap=True, ratio=3, overflow="ellipsis")
    table.add_column("host", no_wrap=True)
    shown = heapq.nlargest(MAX_INSTANCES, snap.instances.values(), key=lambda i: i.updated_ns)
    shown.sort(key=lambda i: i.history[0].ts_ns if i.history else 0)
    for inst in shown:
        vm = inst.vm_state or "-"
        color = {"active": "green", "error": "red", "building": "yellow"}.get(vm, "")
        table.add_row(Text(inst.display_name or inst.uuid[:8]),
                      Text(vm, style=f"bold {color}"),
                      Text(str(inst.task_state or "None"), style="bold"),
                      Text(inst.host or "-"))
    if not snap.instances:
        table.add_row(Text("no instance yet", style="dim"), "", "", "")
    if len(snap.instances) > len(shown):
        table.add_row(Text(f"… {len(snap.instances) - len(shown)} more", style="dim"),
                      "", "", "")
    trails = []
    for inst in shown[-2:] if len(shown) <= 2 else shown[-1:]:
        steps: list[str] = []
        for h in inst.history:
            step = str(h.task_state or h.vm_state)
            if not steps or steps[-1] != step:
                steps.append(step)
        trails.append(Padding(Trail(steps), (0, 1)))
    return Group(table, *trails)


def services_table(snap: Snapshot,
                   judge: Callable[[ServiceView, Snapshot], bool] | None = None
                   ) -> RenderableType:
    """Heartbeats per service; ``judge`` may overrule ``up`` (the walkthrough does not
    count the time its gate held the flow against a service)."""
    table = Table(expand=True, box=None, padding=(0, 1), show_edge=False,
                  collapse_padding=True)
    # service and host whole even at 100 columns ("conductor", "compute1"), no ratio:
    # a ratio column gives way to its share of the width
    table.add_column("service", no_wrap=True)
    table.add_column("host", no_wrap=True)
    table.add_column("", no_wrap=True, min_width=4)
    table.add_column("heartbeat", no_wrap=True, ratio=3, overflow="ellipsis")
    for key in sorted(snap.services):
        svc = snap.services[key]
        ago = (f"{fmt_ns(max(0, snap.t_last_ns - svc.last_report_ns))} ago"
               if svc.last_report_ns is not None else "never")
        up = judge(svc, snap) if judge is not None else svc.up
        state = Text("up", style="bold green") if up else Text("down", style="bold red")
        table.add_row(Text(svc.binary.removeprefix("nova-")), Text(svc.host), state,
                      Text(ago))
    # services that talk but have sent no heartbeat (yet): listed from the hops they made
    seen: dict[tuple[str, str], int] = {}
    for hop in snap.hops[-500:]:
        for key in ((hop.src_service, hop.src_host), (hop.dst_service, hop.dst_host)):
            # "?" is a call's server before one took it: not a host to list
            if key[0].startswith("nova-") and key[1] != "?" and key not in snap.services:
                seen[key] = max(seen.get(key, 0), hop.done_ns or hop.sent_ns)
    for (binary, host), last in sorted(seen.items()):
        # no heartbeat (yet, or ever: nova-api sends none): when it last made a hop
        table.add_row(Text(binary.removeprefix("nova-")), Text(host), Text("seen", style="bold"),
                      Text(f"{fmt_ns(max(0, snap.t_last_ns - last))} ago", style="dim"))
    if not snap.services and not seen:
        table.add_row(Text("no heartbeat yet", style="dim"), "", "", "")
    return table
