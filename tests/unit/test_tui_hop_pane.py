"""What a learner who knew no Nova tripped over (issue 14, item 10): the hop pane says
when there is more below and can be scrolled by keys; the envelope keeps its reply
address in view and never cuts silently; the scheduler's decision (filters in → out,
weighers, the host chosen) is on screen; labels agree (no ``client@``, one word for a
service without heartbeat, ``-`` for a None task_state, the state pairs labelled, the
replay's speed said); ages in words; the walkthrough shows only the request's hops and
says what the other traces are."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
from typing import Any

from rich.console import Console, RenderableType
from support.tui import load, sync

from tracer.model import ServiceView, snapshot_of
from tracer.render import render_text
from tracer.tui import BootflowApp, ReplaySource
from tracer.tui.help import READING
from tracer.tui.panes import (
    DetailPane,
    _fit_json,
    describe_hop,
    instances_table,
    services_table,
)
from tracer.tui.timeline import Timeline
from tracer.tui.words import MORE_BELOW, fmt_age

MULTI = "scenario_reschedule.jsonl"  # recorded: two computes, every filter and weigher


def plain(renderable: RenderableType, width: int = 200) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def select_destinations(events: list[dict[str, Any]]) -> tuple[Any, Any]:
    snap = snapshot_of(events)
    return snap, next(h for h in snap.rpc_hops() if h.method == "select_destinations")


# -- 1. the hop pane says what is below the fold, and keys reach it ------------------------

@sync
async def test_hop_pane_hints_below_the_fold_until_scrolled_to_the_end() -> None:
    app = BootflowApp(ReplaySource(load(MULTI), start_at_end=True), mode="replay")
    async with app.run_test(size=(100, 30)) as pilot:
        await app.wait_for_idle_snapshot()
        screen = app.screen
        _, hop = select_destinations(list(load(MULTI)))
        screen._select(hop.hop_id)  # type: ignore[attr-defined]
        await pilot.pause()
        pane = screen.query_one(DetailPane)
        top = [line.text for line in (pane.render_line(y) for y in range(3))]
        # the compact wire facts are at the top, in view at 100x30
        assert "routing key scheduler" in plain(pane.shown)
        assert pane.more_below and pane.border_subtitle == MORE_BELOW, top
        await pilot.press("h")  # the pane takes the keys
        await pilot.pause()
        assert app.focused is pane
        for _ in range(40):
            await pilot.press("pagedown")
        await pilot.pause()
        assert pane.scroll_y > 0 and not pane.more_below
        assert pane.border_subtitle == ""
        await pilot.press("pageup")
        await pilot.pause()
        assert pane.border_subtitle == MORE_BELOW


# -- 2. the envelope: reply address first, nothing cut silently ------------------------------

def test_select_destinations_envelope_shows_reply_queue_and_says_what_it_shortened() -> None:
    events = load(MULTI)
    snap, hop = select_destinations(events)
    attrs = snap.spans[hop.client_span_id].attrs
    env = json.loads(attrs["bootflow.envelope"])
    assert len(json.dumps(env, indent=1)) > 1500  # too long to show whole
    text = plain(describe_hop(snap, hop, "en"))
    envelope = text[text.index("envelope (oslo.message"):]
    lines = envelope.splitlines()
    # the keys a learner looks for come first, whole, before the args
    first = {line.split(":")[0]: i for i, line in enumerate(lines) if ": " in line}
    for key in ("method", "version", "_msg_id", "_reply_q", "_timeout", "_unique_id"):
        assert first[key] < first["args"], key
    assert lines[1].startswith('body on the wire: {"oslo.version": "2.0", "oslo.message"')
    assert f'_reply_q: "{env["_reply_q"]}"' in envelope
    assert f'_msg_id: "{env["_msg_id"]}"' in envelope
    # shortened where it had to be, and said so; the context is still there after it
    assert "{… 9 keys}" in envelope and "(shortened: values nested deeper than" in envelope
    assert '"return_alternates": true' in envelope
    assert '_context_auth_token: "***"' in envelope


def test_a_huge_value_is_cut_with_the_count_of_what_is_left_out() -> None:
    text, note = _fit_json({"blob": "x" * 5000}, 1500)
    assert len(text) == 1500
    assert note == f"… truncated: {len(json.dumps({'blob': 'x' * 5000}, indent=1)) - 1500}" \
        " more characters"
    assert _fit_json({"a": 1}, 1500) == ('{\n "a": 1\n}', None)


# -- 4. the scheduler's decision ------------------------------------------------------------

def _filters_and_weighers(snap: Any, trace_id: str) -> tuple[list[Any], list[Any]]:
    spans = sorted(snap.trace_spans(trace_id), key=lambda s: s.start_ns)
    return ([s for s in spans if s.name.startswith("filter ")],
            [s for s in spans if s.name.startswith("weigher ")])


def test_hop_pane_lists_every_filter_with_hosts_in_and_out_and_the_weighers() -> None:
    snap, hop = select_destinations(load(MULTI))
    filters, weighers = _filters_and_weighers(snap, hop.trace_id)
    assert len(filters) == 7 and len(weighers) == 9
    text = plain(describe_hop(snap, hop, "en"))
    assert "scheduler's decision" in text
    assert "hosts from placement: compute1, compute2" in text
    for span in filters:
        name = span.name.removeprefix("filter ")
        line = next(li for li in text.splitlines() if li.strip().startswith(name + " "))
        n_in, n_out = len(span.attrs["hosts_in"]), len(span.attrs["hosts_out"])
        assert f"{n_in} → {n_out} hosts" in line, line
    for span in weighers:
        name = span.name.removeprefix("weigher ")
        line = next(li for li in text.splitlines() if li.strip().startswith(name + " "))
        for host, weight in span.attrs["normalized"].items():
            assert f"{host} {weight:.2f}" in line, line
    assert "BuildFailureWeigher" in text and "×-1000000" in text
    assert "⇒ chosen compute1" in text


def test_a_host_that_a_filter_dropped_is_named_with_why() -> None:
    events = copy.deepcopy(load(MULTI))
    snap, hop = select_destinations(events)
    compute = next(s for s in snap.trace_spans(hop.trace_id)
                   if s.name == "filter ComputeFilter")
    for e in events:
        if e["type"] == "span_end" and e["span_id"] == compute.span_id:
            e["attrs"] = {"hosts_out": ["compute1"], "rejected": ["compute2"],
                          "reasons": {"compute2": "service is disabled"}}
    snap, hop = select_destinations(events)
    text = plain(describe_hop(snap, hop, "en"))
    line = next(li for li in text.splitlines() if li.strip().startswith("ComputeFilter"))
    assert "2 → 1 hosts  compute2 went: service is disabled" in line


@sync
async def test_waterfall_rows_of_filters_and_weighers_carry_their_host_counts() -> None:
    app = BootflowApp(ReplaySource(load(MULTI), start_at_end=True), mode="replay")
    async with app.run_test(size=(100, 30)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        view = app.screen.query_one(Timeline)
        view.scroll_to(y=0, animate=False)
        await pilot.pause()
        rows = [(i, r.span) for i, r in enumerate(view._rows)
                if r.span.name.startswith(("filter ", "weigher "))]
        assert len(rows) == 16
        for i, span in rows:
            text = "".join(seg.text for seg in view.render_line(i + 1))
            name = text.split("│")[0]
            n_in = len(span.attrs.get("hosts_in") or span.attrs["hosts"])
            n_out = len(span.attrs.get("hosts_out") or span.attrs["hosts"])
            assert name.rstrip().endswith(f" {n_in}→{n_out}"), name
            assert span.name[:12] in name, name


# -- 5. labels that agree -------------------------------------------------------------------

def test_labels_client_without_host_no_heartbeat_and_task_state_dash() -> None:
    events = load(MULTI)
    snap = snapshot_of(events)
    post = next(h for h in snap.hops if h.method == "POST /v2.1/servers")
    head = plain(describe_hop(snap, post, "en")).splitlines()[2]
    assert head == "client → nova-api@api" and "@ " not in head
    services = plain(services_table(snap))
    api = next(li for li in services.splitlines() if li.strip().startswith("api"))
    assert "no hb" in api and "last hop" in api and "seen" not in services
    assert "no hb" in READING
    tui = plain(instances_table(snap), width=120)
    table_row = next(li for li in tui.splitlines() if li.strip().startswith("resched"))
    assert table_row.split()[2] == "-" and "None" not in tui
    # one trail on one line, labelled: the task states inside the vm_state they
    # happened in; the middle gives way when it is too long; the same as headless
    line = next(li for li in tui.splitlines() if "vm_state(task_state): " in li)
    trail = line.split("vm_state(task_state): ", 1)[1].strip()
    assert trail.startswith("building(scheduling → ") and trail.endswith("spawning) → active")
    headless = " ".join(render_text(events, width=400).split())
    assert "building(scheduling → networking → " in headless
    narrow = plain(instances_table(snap), width=36).splitlines()
    assert any(li.strip() == "building(… → spawning) → active" for li in narrow), narrow


@sync
async def test_replay_status_says_the_speed() -> None:
    app = BootflowApp(ReplaySource(load(MULTI)), mode="replay")
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        status = str(app.screen.query_one("#status").render())
        assert "paused · speed ×1" in status


# -- 6. ages in words -----------------------------------------------------------------------

def test_heartbeat_age_is_just_now_or_whole_seconds() -> None:
    assert fmt_age(0) == "just now" and fmt_age(999_999_999) == "just now"
    assert fmt_age(3.4e9) == "3s ago" and fmt_age(67.3e9) == "1m 07s ago"
    snap = snapshot_of(load("boot_one.jsonl"))
    now = snap.t_last_ns
    fresh = ServiceView("nova-compute", "compute1", now, 3, up=True)
    older = ServiceView("nova-conductor", "conductor", now - 3_400_000_000, 3, up=True)
    snap = dataclasses.replace(snap, services={("nova-compute", "compute1"): fresh,
                                               ("nova-conductor", "conductor"): older})
    text = plain(services_table(snap))
    assert "just now" in text and "3s ago" in text and "µs" not in text
