"""What ``bootflow demo --headless`` prints: each trace as a rich Tree, then instance states.

Reads the one trace model (``tracer.model``): a recording, a ListEmitter or a test's
hand-made list go through the reducer, so the tree shows the hops, their handlers and the
instance states the TUI and the exports show. The point of the labels is the lesson:
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

from tracer.model import AnnotationView, HopView, Snapshot, SpanView, snapshot_of
from tracer.model.constants import HANDLING_KINDS, UNKNOWN
from tracer.model.views import group_states, state_name, trail_text

Event = Mapping[str, Any]

# Stein code whose spans the compact tree folds away: middleware, object and db calls,
# single filters and weighers (the full tree and the TUI show them)
PLUMBING = ("nova/objects/", "nova/scheduler/filters/", "nova/scheduler/weights/",
            "nova/api/openstack/__init__.py", "nova/api/openstack/auth.py")
STYLE_COLOURS = {"call": "bold magenta", "cast": "bold cyan", "fanout": "bold blue"}
NOTE_NAMES = ("instance.state", "log")


def _who(service: str, host: str) -> str:
    """``compute1`` where the host names the service, else ``conductor@node7``; a
    destination nobody answered for with no server is named by its service."""
    short = service.removeprefix("nova-")
    if host == UNKNOWN:
        return short
    return host if host.startswith(short) else f"{short}@{host}"


@dataclass
class _Node:
    """A model span placed in the tree: under its sender when it handled an rpc message,
    else under its parent."""

    span: SpanView
    hop: HopView | None = None
    children: list[_Node] = field(default_factory=list)
    notes: list[AnnotationView] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.span.kind

    @property
    def attrs(self) -> Mapping[str, Any]:
        return self.span.attrs

    @property
    def status(self) -> str:
        return self.span.status

    @property
    def start_ns(self) -> int:
        return self.span.start_ns

    @property
    def duration_ns(self) -> int | None:
        end = self.span.end_ns
        return None if end is None else max(0, end - self.span.start_ns)

    @property
    def who(self) -> str:
        return _who(self.span.service, self.span.host)

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


def _hop_label(node: _Node, hop: HopView, servers: list[_Node]) -> Text:
    """``[call] select_destinations v4.5 12.3 ms (waited 11.9 ms)`` / ``a/h → b/h``."""
    text = Text()
    text.append(f"[{hop.style}]", STYLE_COLOURS.get(hop.style, "bold"))
    text.append(f" {hop.method}", "bold")
    if hop.version:
        text.append(f" v{hop.version}")
    if hop.namespace:
        text.append(f" ({hop.namespace})", "dim")
    dst = ", ".join(dict.fromkeys(_who(*ep) for ep in hop.receivers))
    text.append(f"  {node.who} → {dst}", "dim")
    ended = node.span.end_ns is not None
    text.append(f"  {_ms(node.duration_ns)}", "green" if ended else "yellow")
    if hop.style == "call" and servers and ended:
        # the caller was blocked for the whole round trip; the callee worked part of it
        text.append(f" (caller blocked; callee {_ms(servers[0].duration_ns)})", "magenta")
    elif hop.style != "call":
        callee = f"; callee {_ms(servers[0].duration_ns)}" if len(servers) == 1 else ""
        text.append(f" (caller went on{callee})", "cyan")
    return text


def _error_message(span: SpanView) -> Any:
    return span.attrs.get("status.message") or span.attrs.get("exception.type")


def _label(node: _Node, parent_who: str | None, servers: list[_Node]) -> Text:
    a = node.attrs
    if node.hop is not None:
        text = _hop_label(node, node.hop, servers)
    elif node.kind in HANDLING_KINDS:
        text = Text()
        text.append("⇒ ", "bold")
        text.append(f"{node.span.name}", "bold")
        text.append(f" on {node.who} {_ms(node.duration_ns)}")
        if a.get("code.location"):
            text.append(f"\n{a['code.location']}", "dim")
    else:
        dim = node.kind in ("HTTP", "INTERNAL")
        text = Text(style="dim" if dim else "")
        text.append(f"{node.span.name}")
        # the same service/host as the parent is noise in a deep tree: say it once
        where = "" if node.who == parent_who and node.kind != "HTTP" else f" {node.who}"
        prefix = " HTTP" if node.kind == "HTTP" else ""
        text.append(f"{prefix}{where} {_ms(node.duration_ns)}")
    if node.status == "ERROR":
        text.stylize("red")
        message = _error_message(node.span)
        text.append(f"  ERROR{': ' + _first_line(message) if message else ''}", "bold red")
    return text


def _first_line(message: Any) -> str:
    """A remote exception's message carries the callee's traceback: show its first line."""
    return str(message).strip().split("\n", 1)[0].strip()


def _note_label(note: AnnotationView) -> Text:
    a = note.attrs
    if note.name == "instance.state":
        state = state_name(a.get("vm_state"), a.get("task_state"))
        host = f" on {a['host']}" if a.get("host") else ""
        return Text.assemble(("● ", "bold yellow"), (state, "yellow"), (host, "dim"))
    return Text(f"· {a.get('level', 'log')}: {a.get('message', '')}", style="dim")


def _visible_children(node: _Node, compact: bool) -> list[_Node]:
    """In the compact tree, plumbing spans give way to the landmarks inside them."""
    if not compact:
        return list(node.children)
    out: list[_Node] = []
    for child in node.children:
        out.extend([child] if child.is_landmark else _visible_children(child, compact))
    return out


def _add(tree: Tree, node: _Node, servers_of: Mapping[str, list[_Node]],
         parent_who: str | None = None, compact: bool = True) -> None:
    servers = servers_of.get(node.span.span_id, [])
    label = _label(node, parent_who, servers)
    children = [c for c in _visible_children(node, compact) if c not in servers]
    notes = list(node.notes)
    if len(servers) == 1:
        # one line per hop: the callee's work hangs directly under it (a shallower tree)
        server = servers[0]
        if server.attrs.get("code.location"):
            label.append(f"\n⇒ {server.attrs['code.location']}", "dim italic")
        if server.status == "ERROR":
            message = server.attrs.get("status.message")
            label.append(f"  ERROR{': ' + _first_line(message) if message else ''}", "bold red")
        children += _visible_children(server, compact)
        notes += server.notes
        who = server.who
    else:
        children += servers
        who = node.who
    if compact:
        notes += [n for c in _hidden(node, servers) for n in c.notes]
    branch = tree.add(label)
    items: list[tuple[int, int, _Node | AnnotationView]] = [(c.start_ns, 1, c) for c in children]
    items += [(n.ts_ns, 0, n) for n in notes]
    for _, _, item in sorted(items, key=lambda t: (t[0], t[1])):
        if isinstance(item, _Node):
            _add(branch, item, servers_of, who, compact)
        else:
            branch.add(_note_label(item))


def _hidden(node: _Node, servers: list[_Node]) -> list[_Node]:
    """Spans the compact tree skips below *node*: their state notes still show."""
    roots = [node, *servers] if len(servers) == 1 else [node]
    out: list[_Node] = []
    for root in roots:
        stack = [c for c in root.children if not c.is_landmark]
        while stack:
            hidden = stack.pop()
            out.append(hidden)
            stack.extend(c for c in hidden.children if not c.is_landmark)
    return out


def _trees(snap: Snapshot, compact: bool = True) -> list[Tree]:
    hops = {h.hop_id: h for h in snap.rpc_hops()}
    nodes = {sid: _Node(span, hops.get(sid)) for sid, span in snap.spans.items()}
    sender = {sid: h.hop_id for h in hops.values() for sid in h.server_span_ids}
    servers_of = {h.hop_id: [nodes[sid] for sid in h.server_span_ids] for h in hops.values()}
    for note in snap.annotations:
        if note.name in NOTE_NAMES and note.span_id in nodes:
            nodes[note.span_id].notes.append(note)
    roots: dict[str, list[_Node]] = {}
    for sid, node in nodes.items():
        above = sender.get(sid) or node.span.parent_id
        if above is not None and above in nodes:
            nodes[above].children.append(node)
        else:
            roots.setdefault(node.span.trace_id, []).append(node)
    # traces in order of appearance: a trace's first span id is the first that arrived
    traces = sorted(snap.traces.values(), key=lambda tv: snap.spans[tv.span_ids[0]].seq)
    trees = []
    for tv in traces:
        members = [snap.spans[sid] for sid in tv.span_ids]
        t0 = min(s.start_ns for s in members)
        ends = [s.end_ns for s in members if s.end_ns is not None]
        total = (max(ends) - t0) if ends else None
        tree = Tree(Text.assemble(("trace ", "bold"), (tv.trace_id, "bold"),
                                  f"  {len(members)} spans, {_ms(total)}"), guide_style="dim")
        for node in sorted(roots.get(tv.trace_id, []), key=lambda n: n.start_ns):
            node.children.sort(key=lambda n: n.start_ns)
            _add(tree, node, servers_of, compact=compact)
        trees.append(tree)
    return trees


def instance_states(snap: Snapshot) -> dict[str, dict[str, Any]]:
    """Per instance_uuid: the last state (vm_state, task_state, host) and the path of
    distinct states it went through."""
    return {uuid: {"vm_state": inst.vm_state, "task_state": inst.task_state,
                   "host": inst.host, "path": inst.path()}
            for uuid, inst in snap.instances.items()}


def final_instance_states(events: Iterable[Event]) -> dict[str, dict[str, Any]]:
    """``instance_states`` of the model fed *events*."""
    return instance_states(snapshot_of(events))


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
                      Text(str(st["host"] or "-")),
                      Text(trail_text(group_states(st["path"]))))
    return table


def render_snapshot(snap: Snapshot, compact: bool = True) -> RenderableType:
    """Every trace of *snap* as a tree of hops, then the instances' final states.

    *compact* keeps requests, rpc hops, Stein functions and failures, and drops the
    plumbing between them (middleware, db and filter spans); their state notes stay.
    """
    parts: list[RenderableType] = list(_trees(snap, compact))
    if not parts:
        parts.append(Text("no spans", style="dim"))
    states = instance_states(snap)
    if states:
        parts.append(_instances_table(states))
    return Group(*parts)


def render_trace(events: Iterable[Event], compact: bool = True) -> RenderableType:
    """``render_snapshot`` of the model fed *events* (a recording, a demo's events)."""
    return render_snapshot(snapshot_of(events), compact)


def render_text(events: Iterable[Event], width: int = 120, compact: bool = True) -> str:
    """Plain text of ``render_trace`` (tests, logs, a terminal without colour)."""
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    console.print(render_trace(events, compact))
    return console.export_text()
