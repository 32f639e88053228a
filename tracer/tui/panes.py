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

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tracer import narration
from tracer.model import HopView, ServiceView, Snapshot, SpanView, hop_key
from tracer.model.views import group_states, trail_text
from tracer.tui import words
from tracer.tui.decision import scheduler_decision
from tracer.tui.i18n import t
from tracer.tui.timeline import fmt_ns
from tracer.tui.wrap import MixedWrap

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
        return Text(t("(no narration for {key})", lang, key=key), style="dim")
    text = Text()
    text.append(f"{entry.heading(lang)}  ", style="bold")
    text.append(f"[{lang}]\n", style="dim")
    text.append(entry.lines(lang) + "\n")
    if entry.location:
        text.append(t("Stein: ", lang), style="dim")
        text.append(entry.location, style="italic")
    return MixedWrap(text)  # Chinese breaks between characters, not inside names


# the envelope's keys a learner looks for first (the call's reply address above all)
ENVELOPE_HEAD = ("oslo.version", "method", "namespace", "version", "_msg_id", "_reply_q",
                 "_timeout", "_unique_id")
ARGS_BUDGET = 1500  # characters of args before nested values are collapsed
VALUE_BUDGET = 200  # characters of any other single value


def _json_text(value: Any, max_depth: int, depth: int = 0) -> str:
    """JSON indented by one, dicts and lists deeper than *max_depth* written as
    ``{… 37 keys}`` / ``[… 5 items]`` (not JSON: plainly a summary)."""
    pad = " " * (depth + 1)
    if isinstance(value, dict) and value:
        if depth >= max_depth:
            return f"{{… {len(value)} keys}}"
        items = [f"{pad}{json.dumps(str(k), ensure_ascii=False)}: "
                 f"{_json_text(v, max_depth, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    if isinstance(value, list) and value:
        if depth >= max_depth:
            return f"[… {len(value)} items]"
        items = [pad + _json_text(v, max_depth, depth + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * depth + "]"
    return json.dumps(value, ensure_ascii=False)


def _fit_json(value: Any, budget: int, lang: str = "en") -> tuple[str, str | None]:
    """*value* as JSON in at most about *budget* characters, and what was shortened:
    nested values collapsed level by level from the deepest, then (a huge leaf) cut
    with the count of characters left out. Never cut silently."""
    full = _json_text(value, max_depth=64)
    if len(full) <= budget:
        return full, None
    for depth in range(8, 0, -1):
        short = _json_text(value, max_depth=depth)
        if len(short) <= budget:
            return short, t(words.COLLAPSED, lang, depth=depth)
    short = _json_text(value, max_depth=1)
    return short[:budget], t(words.TRUNCATED, lang, n=len(short) - budget)


def envelope_text(env: Mapping[str, Any], lang: str = "en") -> Text:
    """The message as sent: its routing keys first (``_reply_q`` and ``_msg_id`` of a
    call always in view), then the args, then the request context; anything
    shortened says so."""
    text = Text()

    def line(key: str, value: Any, budget: int) -> None:
        body, note = _fit_json(value, budget, lang)
        text.append(f"{key}: ", style="bold" if key in ENVELOPE_HEAD else "dim")
        text.append(body + "\n")
        if note:
            text.append(note + "\n", style="bold yellow")

    if "oslo.version" not in env:
        text.append(t(words.ENVELOPE_OUTER, lang) + "\n", style="dim")
    for key in ENVELOPE_HEAD:
        if key in env:
            line(key, env[key], VALUE_BUDGET)
    if "args" in env:
        line(t(words.ENVELOPE_ARGS, lang), env["args"], ARGS_BUDGET)
    rest = [k for k in env if k not in ENVELOPE_HEAD and k != "args"]
    if rest:
        text.append(t(words.ENVELOPE_CONTEXT, lang) + "\n", style="dim")
        for key in rest:
            line(key, env[key], VALUE_BUDGET)
    return text


def endpoint(service: str, host: str) -> str:
    """``nova-conductor@conductor``; a side with no host (the REST client, placement)
    by its name alone, never ``client@``."""
    return f"{service}@{host}" if host else service


def _short(value: Any, n: int = 14) -> str:
    text = str(value)
    return text if len(text) <= n else text[:n - 1] + "…"


def wire_facts(hop: HopView, attrs: Mapping[str, Any],
               env: Mapping[str, Any] | None, lang: str = "en") -> Text:
    """The message's address in two short lines, high in the pane (they show at
    100×30): exchange and routing key; for a call, where the reply goes and its id."""
    text = Text()
    text.append(t("exchange", lang) + " ", style="dim")
    text.append(hop.exchange or "?")
    text.append("  " + t("routing key", lang) + " ", style="dim")
    text.append(hop.routing_key or (t("none (fanout)", lang) if hop.style == "fanout"
                                    else "?"))
    if hop.style == "call":
        env = env or {}
        reply_q = env.get("_reply_q") or attrs.get("rpc.reply_q")
        msg_id = env.get("_msg_id") or attrs.get("messaging.message.id")
        text.append("\n_reply_q ", style="dim")
        text.append(_short(reply_q or "?", 18))
        text.append("  _msg_id ", style="dim")
        text.append(_short(msg_id or "?", 10))
    text.append("\n")
    return text


def describe_hop(snap: Snapshot, hop: HopView, lang: str) -> RenderableType:
    client = snap.spans.get(hop.client_span_id)
    attrs: Mapping[str, Any] = client.attrs if client else {}
    env = _envelope(attrs)
    head = Text()
    head.append(hop.method, style="bold")
    head.append(f"  {hop.style}", style="bold reverse" if hop.style == "call" else "bold")
    if hop.version:
        head.append(f" · v{hop.version}")
    if hop.namespace:
        head.append(f" · ns {hop.namespace}")
    head.append(f"\n{t(_STATE_WORDS.get(hop.state, hop.state), lang)}\n",
                style="bold red" if hop.state == "error" else "italic")
    head.append(f"{endpoint(hop.src_service, hop.src_host)} → "
                f"{endpoint(hop.dst_service, hop.dst_host)}\n")
    parts: list[RenderableType] = [head]
    if hop.style != "http":
        parts.append(wire_facts(hop, attrs, env, lang))
    parts.append(narration_block(hop.key, lang))
    decision = scheduler_decision(snap, hop, lang)
    if decision is not None:
        parts.append(decision)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    if hop.style != "http":
        grid.add_row(t("properties", lang), Text(_properties(hop, attrs)))
    grid.add_row(t("sent", lang), f"+{fmt_ns(hop.sent_ns - snap.t0_ns)}")
    if hop.recv_ns is not None:
        queue = t("(queue {t})", lang, t=fmt_ns(max(0, hop.recv_ns - hop.sent_ns)))
        grid.add_row(t("picked up", lang), f"+{fmt_ns(hop.recv_ns - snap.t0_ns)} {queue}")
    if hop.style in ("call", "http"):
        grid.add_row(t("caller waited", lang), fmt_ns(hop.waiting_ns)
                     + ("" if hop.done_ns is not None else t(" … still waiting", lang)))
    else:
        grid.add_row(t("caller waited", lang), t("0 — a cast returns once published", lang))
    if hop.handled_ns is not None and hop.recv_ns is not None:
        grid.add_row(t("handler took", lang), fmt_ns(hop.handled_ns - hop.recv_ns))
    loc = attrs.get("code.location")
    if loc:
        grid.add_row(t("client code", lang), Text(str(loc)))
    for sid in hop.server_span_ids[:2]:
        server = snap.spans.get(sid)
        if server is not None and server.attrs.get("code.location"):
            grid.add_row(t("server code", lang), Text(str(server.attrs["code.location"])))
    parts += [Text("\n" + t("── on the wire ──", lang), style="dim"), grid]
    if env is not None:
        parts.append(Text("\n" + t(words.ENVELOPE_TITLE, lang), style="bold"))
        parts.append(envelope_text(env, lang))
    return Group(*parts)


def describe_span(snap: Snapshot, span: SpanView, lang: str) -> RenderableType:
    head = Text()
    head.append(span.name, style="bold")
    head.append(t("  {kind} in {where}", lang, kind=span.kind.lower(),
                  where=endpoint(span.service, span.host)) + "\n")
    dur = span.duration_ns(snap.t_last_ns)
    head.append(t("duration {t}", lang, t=fmt_ns(dur))
                + ("" if span.finished else t(" (open)", lang)) + "\n")
    if span.attrs.get("code.location"):
        head.append(t("code ", lang) + f"{span.attrs['code.location']}\n", style="italic")
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
    text.append(t("NEXT HOP (held by the gate)", lang) + "\n", style="bold reverse")
    text.append(f"{method}  {style}", style="bold")
    if hop.get("version"):
        text.append(f" · v{hop.get('version')}")
    text.append(f"\n→ {hop.get('service') or hop.get('topic')}@{hop.get('host') or '?'}")
    text.append(t("  exchange {exchange}  routing key {key}", lang,
                  exchange=hop.get("exchange") or "?", key=hop.get("routing_key") or "?")
                + "\n")
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


class DetailPane(VerticalScroll, can_focus=True):
    """The selected hop in full: the message on the wire, timings, code, explanation.

    Taller than the pane, it says so on its bottom border (``MORE_BELOW``) until it is
    scrolled to the end: the wire section and the envelope are below the fold at
    100×30. ``h`` focuses it; PgDn/PgUp and the wheel scroll it."""

    def compose(self) -> ComposeResult:
        yield Static(Text("Select a hop (click, or [ and ])", style="dim"), id="detail-body")

    shown: RenderableType = ""

    def on_mount(self) -> None:
        self.watch(self, "scroll_y", self._hint, init=False)
        self.watch(self, "virtual_size", self._hint, init=False)

    def show(self, renderable: RenderableType) -> None:
        self.shown = renderable
        self.query_one("#detail-body", Static).update(renderable)
        self.call_after_refresh(self._hint)

    def on_resize(self) -> None:
        self._hint()

    @property
    def more_below(self) -> bool:
        """Text below the fold: the pane is not scrolled to its end."""
        return self.scroll_y < self.max_scroll_y

    def _hint(self) -> None:
        lang = str(getattr(self.app, "lang", "en"))
        self.border_subtitle = t(words.MORE_BELOW, lang) if self.more_below else ""


def fit_states(steps: list[str], width: int) -> str:
    """The grouped path in *width* cells: while too long, the oldest task states but the
    first of a group give way to ``…``, so where it began and the state it is in
    always show (``building(scheduling → … → spawning) → active``)."""
    groups = [(vm, list(tasks)) for vm, tasks in group_states(steps)]
    text = trail_text(groups)
    while len(text) > width:
        longest = max(groups, key=lambda g: len([t for t in g[1] if t != "…"]))
        tasks = longest[1]
        real = [t for t in tasks if t != "…"]
        if len(real) <= 2:
            break
        i = 1 if tasks[1] != "…" else 2  # the oldest but the first
        tasks[i:i + 1] = [] if tasks[1] == "…" else ["…"]
        text = trail_text(groups)
    if len(text) > width:   # narrower still: each group's last task state only
        text = trail_text([(vm, ["…", tasks[-1]] if len(tasks) > 1 else tasks)
                           for vm, tasks in groups])
    if len(text) > width:
        text = f"… → {trail_text(groups[-1:])}"
    return text


class StateTrail:
    """An instance's states on one line, task states grouped under their vm_state and a
    label that says so (``vm_state(task_state): building(scheduling → … → spawning) →
    active``); the middle gives way when the line is short."""

    def __init__(self, steps: list[str], lang: str = "en") -> None:
        self.steps = steps
        self.lang = lang

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        label = t(words.STATE_PATH, self.lang)
        if width < 60 and len(label) + len(trail_text(group_states(self.steps))) > width:
            label = ""   # narrow: the path itself says vm_state(task_state)
        trail = Text(label, style="dim italic", no_wrap=True, overflow="ellipsis")
        trail.append(fit_states(self.steps, width - len(label)), style="dim")
        yield trail


def instances_table(snap: Snapshot, lang: str = "en") -> RenderableType:
    table = Table(expand=True, box=None, padding=(0, 1), show_edge=False,
                  collapse_padding=True)
    table.add_column(t("name", lang), no_wrap=True, max_width=16, overflow="ellipsis")
    # vm_state and host whole even at 100 columns ("building", "compute1"), no ratio:
    # the name and task_state give way first
    table.add_column("vm_state", no_wrap=True)
    table.add_column("task_state", no_wrap=True, ratio=3, overflow="ellipsis")
    table.add_column(t("host", lang), no_wrap=True)
    shown = heapq.nlargest(MAX_INSTANCES, snap.instances.values(), key=lambda i: i.updated_ns)
    shown.sort(key=lambda i: i.history[0].ts_ns if i.history else 0)
    for inst in shown:
        vm = inst.vm_state or "-"
        color = {"active": "green", "error": "red", "building": "yellow"}.get(vm, "")
        table.add_row(Text(inst.display_name or inst.uuid[:8]),
                      Text(vm, style=f"bold {color}"),
                      Text(str(inst.task_state or "-"), style="bold"),
                      Text(inst.host or "-"))
    if not snap.instances:
        table.add_row(Text(t("no instance yet", lang), style="dim"), "", "", "")
    if len(snap.instances) > len(shown):
        table.add_row(Text(t("… {n} more", lang, n=len(snap.instances) - len(shown)),
                           style="dim"), "", "", "")
    trails = [Padding(StateTrail(inst.path(), lang), (0, 1))
              for inst in (shown[-2:] if len(shown) <= 2 else shown[-1:])]
    return Group(table, *trails)


def services_table(snap: Snapshot,
                   judge: Callable[[ServiceView, Snapshot], bool] | None = None,
                   lang: str = "en") -> RenderableType:
    """Heartbeats per service; ``judge`` may overrule ``up`` (the walkthrough does not
    count the time its gate held the flow against a service)."""
    table = Table(expand=True, box=None, padding=(0, 1), show_edge=False,
                  collapse_padding=True)
    # service and host whole even at 100 columns ("conductor", "compute1"), no ratio:
    # a ratio column gives way to its share of the width
    table.add_column(t("service", lang), no_wrap=True)
    table.add_column(t("host", lang), no_wrap=True)
    table.add_column("", no_wrap=True, min_width=4)
    table.add_column(t("heartbeat", lang), no_wrap=True, ratio=3, overflow="ellipsis")
    for key in sorted(snap.services):
        svc = snap.services[key]
        ago = (words.fmt_age(max(0, snap.t_last_ns - svc.last_report_ns), lang)
               if svc.last_report_ns is not None else t("never", lang))
        up = judge(svc, snap) if judge is not None else svc.up
        state = (Text(t("up", lang), style="bold green") if up
                 else Text(t("down", lang), style="bold red"))
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
        table.add_row(Text(binary.removeprefix("nova-")), Text(host),
                      Text(t(words.NO_HEARTBEAT, lang), style="bold"),
                      Text(f"{t(words.LAST_HOP, lang)} "
                           f"{words.fmt_age(max(0, snap.t_last_ns - last), lang)}",
                           style="dim"))
    if not snap.services and not seen:
        table.add_row(Text(t("no heartbeat yet", lang), style="dim"), "", "", "")
    return table
