"""Mermaid ``sequenceDiagram``: the boot flow as a reader of Nova's docs draws it.

Calls are ``->>`` with a dashed ``-->>`` reply (the caller waits), casts and fanouts are
``-)`` async arrows (the caller goes on), instance state changes are notes.
"""

from __future__ import annotations

import re

from tracer.export.spans import Endpoint, ExportView

NOTE_ANNOTATIONS = ("instance.state", "service.down")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_BREAKERS = re.compile(r"[#;]")


def text(value: str) -> str:
    """Escape for a Mermaid label: ``#`` starts an entity, ``;`` ends a statement."""
    value = " ".join(str(value).split())
    return _BREAKERS.sub(lambda m: f"#{ord(m[0])};", value)


def render(folded: ExportView) -> str:
    """Return the diagram source; participants appear in boot-flow order."""
    endpoints = folded.endpoints()
    hosts_per_service: dict[str, int] = {}
    for svc, _host in endpoints:
        hosts_per_service[svc] = hosts_per_service.get(svc, 0) + 1

    ids: dict[Endpoint, str] = {}
    labels: dict[str, str] = {}
    for svc, host in endpoints:
        several = hosts_per_service[svc] > 1
        pid = _ID_UNSAFE.sub("_", f"{svc}_{host}" if several else svc)
        ids[(svc, host)] = pid
        labels.setdefault(pid, f"{svc} ({host})" if several else svc)

    items: list[tuple[int, int, int, str]] = []
    seq = 0

    def add(ts: int, line: str, first: bool = False) -> None:
        """At one instant a state change reads before the message it causes."""
        nonlocal seq
        seq += 1
        items.append((ts, 0 if first else 1, seq, line))

    has_user = False
    for span in folded.spans:
        if span.kind == "HTTP" and span.parent_id not in folded.by_id:
            has_user = True
            api = ids[span.endpoint]
            add(span.start_ns, f"user->>{api}: {text(span.name)}")
            if span.finished:
                code = span.attrs.get("http.response.status_code",
                                      span.attrs.get("http.status_code", span.status))
                add(span.end_ns, f"{api}-->>user: {text(str(code))}")
    for hop in folded.hops:
        src = ids[hop.src]
        label = text(hop.label())
        client, servers = folded.client(hop), folded.servers(hop)
        if hop.style == "call":
            for dst in hop.receivers:
                add(client.start_ns, f"{src}->>{ids[dst]}: {label}")
            for server in servers:
                if server.finished:
                    add(server.end_ns, f"{ids[server.endpoint]}-->>{src}: "
                                       f"{text(hop.method)} reply")
            if not servers and client.finished:
                why = client.status_message or client.status
                add(client.end_ns, f"Note over {src}: {text(hop.method)}: {text(why)}")
        else:
            for dst in hop.receivers:
                add(client.start_ns, f"{src}-){ids[dst]}: {label}")
    for ann in folded.annotations:
        if ann.name in NOTE_ANNOTATIONS and ann.endpoint in ids:
            add(ann.ts_ns, f"Note over {ids[ann.endpoint]}: {text(ann.name)} {text(ann.label())}",
                first=True)

    lines = ["sequenceDiagram"]
    if has_user:
        lines.append("    actor user")
    for pid, label in labels.items():
        lines.append(f"    participant {pid} as {text(label)}")
    lines.extend(f"    {line}" for _ts, _prio, _seq, line in sorted(items))
    return "\n".join(lines) + "\n"
