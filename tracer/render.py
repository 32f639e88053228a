"""What ``bootflow demo --headless`` prints: each trace as a rich Tree, then instance states.

Works from the events alone (no reducer, no Textual), so a recording, a ListEmitter or a
test's hand-made list all print the same way. The point of the labels is the lesson:
``[call]`` blocks its caller (so it shows how long it waited), ``[cast]`` does not.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

Event = Mapping[str, Any]

CLIENT_KINDS = ("CLIENT", "PRODUCER")
SERVER_KINDS = ("SERVER", "CONSUMER")
# Stein code whose spans the compact tree folds away: middleware, object and db calls,
# single filters and weighers (the full tree and the TUI show them)
PLUMBING = ("nova/objects/", "nova/scheduler/filters/", "nova/scheduler/weights/",
            "nova/api/openstack/__init__.py", "nova/api/openstack/auth.py")
STYLE_COLOURS = {"call": "bold magenta", "cast": "bold cyan", "fanout": "bold blue"}


@dataclass
class _Span:
    start: Mapping[str, Any]
    end_ns: int | None = None
    status: str = "UNSET"
    end_attrs: dict[str, Any] = field(default_factory=dict)
    children: list[_Span] = field(default_factory=list)
    notes: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def span_id(self) -> str:
        return str(self.start["span_id"])

    @property
    def kind(self) -> str:
        return str(self.start.get("kind", "INTERNAL"))

    @property
    def attrs(self) -> Mapping[str, Any]:
        return self.start.get("attrs") or {}

    @property
    def start_ns(self) -> int:
        return int(self.start.get("ts_ns", 0))

    @property
    def duration_ns(self) -> int | None:
        return None if self.end_ns is None else max(0, self.end_ns - self.start_ns)

    @property
    def who(self) -> str:
        """``compute1`` where the host names the service, else ``conductor@node7``."""
        service = str(self.start.get("service", "?")).removeprefix("nova-")
        host = str(self.start.get("host", "?"))
        return host if host.startswith(service) else f"{service}@{host}"

    @property
    def is_hop(self) -> bool:
        return self.kind in CLIENT_KINDS and bool(
            self.attrs.get("rpc.style") or self.attrs.get("rpc.method"))

    @property
    def is_landmark(self) -> bool:
        """What the compact tree keeps: requests, hops, Stein functions, failures."""
        if self.kind != "INTERNAL" or self.status == "ERROR":
            return True
        location = str(self.attrs.get("code.location") or "")
        return bool(location) and not location.startswith(PLUMBING)


def _ms(ns: int | None) -> str:
    if ns is None:
        return "open"
    return f"{ns / 1e6:.3f} ms" if ns < 100_000 else f"{ns / 1e6:.1f} ms"


def _collect(events: Iterable[Event]) -> tuple[dict[str, _Span], list[str]]:
    """Spans by id (annotations attached) and trace ids in order of first appearance."""
    spans: dict[str, _Span] = {}
    ends: dict[str, Event] = {}
    notes: list[Event] = []
    traces: list[str] = []
    for ev in events:
        etype = ev.get("type")
        if etype == "span_start":
            spans[str(ev["span_id"])] = _Span(ev)
            if ev["trace_id"] not in traces:
                traces.append(ev["trace_id"])
        elif etype == "span_end":
            ends[str(ev["span_id"])] = ev
        elif etype == "annotate":
            notes.append(ev)
    for span_id, ev in ends.items():
        span = spans.get(span_id)
        if span is not None:
            span.end_ns = int(ev.get("ts_ns", 0))
            span.status = str(ev.get("status", "OK"))
            span.end_attrs = dict(ev.get("attrs") or {})
    for ev in notes:
        span = spans.get(str(ev.get("span_id")))
        if span is not None and ev.get("name") in ("instance.state", "log"):
            span.notes.append(ev)
    return spans, traces


def _hop_label(span: _Span) -> Text:
    """``[call] select_destinations v4.5 12.3 ms (waited 11.9 ms)`` / ``a/h → b/h``."""
    a = span.attrs
    style = str(a.get("rpc.style") or ("call" if span.kind == "CLIENT" else "cast"))
    method = str(a.get("rpc.method") or span.start.get("name"))
    text = Text()
    text.append(f"[{style}]", STYLE_COLOURS.get(style, "bold"))
    text.append(f" {method}", "bold")
    if a.get("rpc.version"):
        text.append(f" v{a['rpc.version']}")
    if a.get("rpc.namespace"):
        text.append(f" ({a['rpc.namespace']})", "dim")
    servers = sorted((c for c in span.children if c.kind in SERVER_KINDS),
                     key=lambda c: c.start_ns)
    if servers:
        dst = ", ".join(dict.fromkeys(c.who for c in servers))
    else:
        dst = str(a.get("messaging.rabbitmq.destination.routing_key") or a.get("rpc.topic")
                  or "?")
    text.append(f"  {span.who} → {dst}", "dim")
    text.append(f"  {_ms(span.duration_ns)}", "green" if span.end_ns is not None else "yellow")
    if style == "call" and servers and span.end_ns is not None:
        # the caller was blocked for the whole round trip; the callee worked part of it
        text.append(f" (caller blocked; callee {_ms(servers[0].duration_ns)})", "magenta")
    elif style != "call":
        callee = f"; callee {_ms(servers[0].duration_ns)}" if len(servers) == 1 else ""
        text.append(f" (caller went on{callee})", "cyan")
    return text


def _label(span: _Span, parent_who: str | None) -> Text:
    a = span.attrs
    if span.kind in CLIENT_KINDS and (a.get("rpc.style") or a.get("rpc.method")):
        text = _hop_label(span)
    elif span.kind in SERVER_KINDS:
        text = Text()
        text.append("⇒ ", "bold")
        text.append(f"{span.start.get('name')}", "bold")
        text.append(f" on {span.who} {_ms(span.duration_ns)}")
        if a.get("code.location"):
            text.append(f"\n{a['code.location']}", "dim")
    else:
        dim = span.kind in ("HTTP", "INTERNAL")
        text = Text(style="dim" if dim else "")
        text.append(f"{span.start.get('name')}")
        # the same service/host as the parent is noise in a deep tree: say it once
        where = "" if span.who == parent_who and span.kind != "HTTP" else f" {span.who}"
        prefix = " HTTP" if span.kind == "HTTP" else ""
        text.append(f"{prefix}{where} {_ms(span.duration_ns)}")
    if span.status == "ERROR":
        text.stylize("red")
        message = span.end_attrs.get("status.message") or span.end_attrs.get("exception.type")
        text.append(f"  ERROR{': ' + _first_line(message) if message else ''}", "bold red")
    return text


def _first_line(message: Any) -> str:
    """A remote exception's message carries the callee's traceback: show its first line."""
    return str(message).strip().split("\n", 1)[0].strip()


def _note_label(note: Mapping[str, Any]) -> Text:
    a = note.get("attrs") or {}
    if note.get("name") == "instance.state":
        state = _state_name(a)
        host = f" on {a['host']}" if a.get("host") else ""
        return Text.assemble(("● ", "bold yellow"), (state, "yellow"), (host, "dim"))
    return Text(f"· {a.get('level', 'log')}: {a.get('message', '')}", style="dim")


def _lone_server(span: _Span) -> _Span | None:
    """The one SERVER/CONSUMER span of a call or cast, folded into the hop's own line."""
    if span.kind not in CLIENT_KINDS:
        return None
    servers = [c for c in span.children if c.kind in SERVER_KINDS]
    return servers[0] if len(servers) == 1 else None


def _visible_children(span: _Span, compact: bool) -> list[_Span]:
    """In the compact tree, plumbing spans give way to the landmarks inside them."""
    if not compact:
        return list(span.children)
    out: list[_Span] = []
    for child in span.children:
        out.extend([child] if child.is_landmark else _visible_children(child, compact))
    return out


def _add(tree: Tree, span: _Span, parent_who: str | None = None,
         compact: bool = True) -> None:
    servers = [c for c in span.children if c.kind in SERVER_KINDS] if span.is_hop else []
    label = _label(span, parent_who)
    children = [c for c in _visible_children(span, compact) if c not in servers]
    notes = list(span.notes)
    if len(servers) == 1:
        # one line per hop: the callee's work hangs directly under it (a shallower tree)
        server = servers[0]
        if server.attrs.get("code.location"):
            label.append(f"\n⇒ {server.attrs['code.location']}", "dim italic")
        if server.status == "ERROR":
            message = server.end_attrs.get("status.message")
            label.append(f"  ERROR{': ' + _first_line(message) if message else ''}", "bold red")
        children += _visible_children(server, compact)
        notes += server.notes
        who = server.who
    else:
        children += servers
        who = span.who
    if compact:
        notes += [n for c in _hidden(span, compact, servers) for n in c.notes]
    node = tree.add(label)
    items: list[tuple[int, int, Any]] = [(c.start_ns, 1, c) for c in children]
    items += [(int(n.get("ts_ns", 0)), 0, n) for n in notes]
    for _, _, item in sorted(items, key=lambda t: (t[0], t[1])):
        if isinstance(item, _Span):
            _add(node, item, who, compact)
        else:
            node.add(_note_label(item))


def _hidden(span: _Span, compact: bool, servers: list[_Span]) -> list[_Span]:
    """Spans the compact tree skips below *span*: their state notes still show."""
    roots = [span, *servers] if len(servers) == 1 else [span]
    out: list[_Span] = []
    for root in roots:
        stack = [c for c in root.children if not c.is_landmark]
        while stack:
            hidden = stack.pop()
            out.append(hidden)
            stack.extend(c for c in hidden.children if not c.is_landmark)
    return out


def _trees(events: list[Event], compact: bool = True) -> list[Tree]:
    spans, traces = _collect(events)
    roots: dict[str, list[_Span]] = {t: [] for t in traces}
    for span in spans.values():
        parent = spans.get(str(span.start.get("parent_id")))
        if parent is not None:
            parent.children.append(span)
        else:
            roots[span.start["trace_id"]].append(span)
    trees = []
    for trace_id in traces:
        top = sorted(roots[trace_id], key=lambda s: s.start_ns)
        members = [s for s in spans.values() if s.start["trace_id"] == trace_id]
        t0 = min(s.start_ns for s in members)
        ends = [s.end_ns for s in members if s.end_ns is not None]
        total = (max(ends) - t0) if ends else None
        tree = Tree(Text.assemble(("trace ", "bold"), (trace_id, "bold"),
                                  f"  {len(members)} spans, {_ms(total)}"), guide_style="dim")
        for span in top:
            span.children.sort(key=lambda s: s.start_ns)
            _add(tree, span, compact=compact)
        trees.append(tree)
    return trees


def _state_name(attrs: Mapping[str, Any]) -> str:
    vm, task = attrs.get("vm_state"), attrs.get("task_state")
    return f"{vm}/{task}" if task else str(vm)


def final_instance_states(events: Iterable[Event]) -> dict[str, dict[str, Any]]:
    """Per instance_uuid: the last ``instance.state`` (vm_state, task_state, host) and the
    path of distinct states it went through, in event order."""
    out: dict[str, dict[str, Any]] = {}
    for ev in events:
        if ev.get("type") != "annotate" or ev.get("name") != "instance.state":
            continue
        a = ev.get("attrs") or {}
        uuid = a.get("instance_uuid")
        if not uuid:
            continue
        entry = out.setdefault(str(uuid), {"vm_state": None, "task_state": None,
                                           "host": None, "path": []})
        entry["vm_state"] = a.get("vm_state")
        entry["task_state"] = a.get("task_state")
        if a.get("host"):
            entry["host"] = a["host"]
        state = _state_name(a)
        if not entry["path"] or entry["path"][-1] != state:
            entry["path"].append(state)
    return out


def _instances_table(states: Mapping[str, Mapping[str, Any]]) -> Table:
    table = Table(title="instances", title_justify="left", show_edge=False)
    # the uuid is cut to 8 characters so that the state path fits on one line
    for col in ("instance", "vm_state", "task_state", "host", "path"):
        table.add_column(col, overflow="fold")
    for uuid, st in states.items():
        vm = str(st["vm_state"])
        colour = {"active": "green", "error": "red"}.get(vm, "yellow")
        # cloud strings as Text: a str cell is Rich markup ("[/]" would raise)
        table.add_row(Text(uuid[:8]), Text(vm, colour), Text(str(st["task_state"] or "-")),
                      Text(str(st["host"] or "-")), Text(" → ".join(st["path"])))
    return table


def render_trace(events: Iterable[Event], compact: bool = True) -> RenderableType:
    """Every trace in *events* as a tree of hops, then the instances' final states.

    *compact* keeps requests, rpc hops, Stein functions and failures, and drops the
    plumbing between them (middleware, db and filter spans); their state notes stay.
    """
    events = list(events)
    parts: list[RenderableType] = list(_trees(events, compact))
    if not parts:
        parts.append(Text("no spans", style="dim"))
    states = final_instance_states(events)
    if states:
        parts.append(_instances_table(states))
    return Group(*parts)


def render_text(events: Iterable[Event], width: int = 120, compact: bool = True) -> str:
    """Plain text of ``render_trace`` (tests, logs, a terminal without colour)."""
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    console.print(render_trace(events, compact))
    return console.export_text()

