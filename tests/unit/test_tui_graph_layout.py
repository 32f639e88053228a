"""The service graph's layout, checked as facts a reader relies on, at five sizes.

From the layout model the widget drew: boxes never overlap, no edge runs through a box,
two edges only ever cross (never share a run of line), a label lies on cells of its own
edge only, only the selected trace's hops are drawn, and below ~100 columns the graph
is a list of edges (at 100 too when a message sent once could not be named whole on the
drawing). Then, on screen, the method names are there to read.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.tui import load, sync

from tracer.tui import BootflowApp, ListSource
from tracer.tui.graph import ServiceGraph
from tracer.tui.graphlayout import GraphLayout, layout_graph, node_layer, trace_edges

SIZES = [(80, 24), (100, 30), (120, 40), (160, 45), (200, 55)]


def check_layout(layout: GraphLayout) -> None:
    boxes = list(layout.boxes)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a.cells & b.cells), f"boxes {a.node} and {b.node} overlap"
    walls = set().union(*(b.cells for b in boxes)) if boxes else set()
    owners: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for edge in layout.edges:
        assert not (set(edge.cells) & walls), f"{edge.key} runs through a box"
        for cell, kind in zip(edge.cells, edge.kinds, strict=True):
            owners.setdefault(cell, []).append((str(edge.key), kind))
    for cell, who in owners.items():
        if len(who) > 1:  # a crossing: exactly two straight pieces at right angles
            assert sorted(k for _, k in who) == ["h", "v"], f"edges share {cell}: {who}"
    for edge in layout.edges:
        others = set().union(*(set(e.cells) for e in layout.edges if e is not edge)) \
            if len(layout.edges) > 1 else set()
        own = {c for c, k in zip(edge.cells, edge.kinds, strict=True) if k == "h"}
        assert edge.label_cells <= own, f"{edge.key}: label off its own line"
        assert not (edge.label_cells & others), f"{edge.key}: label on another edge"


def screen_text(app: Any) -> str:
    return "\n".join("".join(seg.text for seg in line)
                     for line in app.screen._compositor.render_strips())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("fixture", ["boot_one.jsonl", "boot_three.jsonl"])
@sync
async def test_graph_facts(size: tuple[int, int], fixture: str) -> None:
    events = load(fixture)
    app = BootflowApp(ListSource(events), mode="live", clock=None)
    async with app.run_test(size=size) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        graph = app.query_one(ServiceGraph)
        layout = graph.layout_model
        assert layout is not None
        snap, trace = app.snapshot, graph.trace_id
        assert trace == snap.latest_trace()
        edges = trace_edges(snap, trace)
        # only the selected trace: every hop behind an edge is of that trace
        assert all(h.trace_id == trace for hops in edges.values() for h in hops)
        text = screen_text(app)
        if size[0] < 120 and layout.compact:
            # below ~100 columns always a list; at 100 when the boot's casts and call
            # cannot be named whole on the drawing
            assert size[0] < 100 or layout.reason.startswith("names cut"), layout.reason
            # a list of edges: every row names a real edge of the trace and its method
            # whole (the live and selected ones, then RPC before HTTP, when not all fit)
            rows = graph.render().plain.splitlines()[:-1]
            listed = [r for r in rows if r.strip()]
            assert listed
            methods = {h.method for hops in edges.values() for h in hops}
            for row in listed:
                assert any(m in row for m in methods), row
            assert "update_instance_info" in text or "build_and_run_instance" in text
            # the messages a class is there to see come before HTTP requests: each is
            # listed with its own style (call blocks, cast returns)
            rpc_rows = [r for r in listed if " http " not in r]
            if len(rpc_rows) < len(listed):   # an HTTP row only once every RPC edge is
                assert len(rpc_rows) == sum(1 for k in edges if k[2] != "http"), listed
            assert any(" call " in r for r in rpc_rows), listed
            assert any(" cast " in r for r in rpc_rows), listed
            return
        assert not layout.compact, layout.reason
        check_layout(layout)
        assert {e.key for e in layout.edges} == set(edges)
        # the names can be read on their edges at 120 columns and wider
        if size[0] >= 120:
            for name in ("select_destinations", "build_and_run_instance"):
                assert name in text, f"{name} not readable at {size}"


def test_startup_trace_not_drawn() -> None:
    """The boot's graph has no edge of the start-up trace (its 404 and
    ComputeHostNotFound would paint compute1's edges red from the start)."""
    from tracer.model import snapshot_of

    snap = snapshot_of(load("boot_three.jsonl"))
    boot = snap.latest_trace()
    others = [t for t in snap.traces if t != boot]
    assert others
    boot_edges = trace_edges(snap, boot)
    other_hops = {h.hop_id for t in others for h in snap.trace_hops(t)}
    assert other_hops
    assert not other_hops & {h.hop_id for hops in boot_edges.values() for h in hops}


@pytest.mark.parametrize("width,height", [(118, 11), (158, 11), (198, 15)])
def test_crowded_graph_layout(width: int, height: int) -> None:
    """More edges than a boot has, both ways between the same boxes: still no label on
    another edge, no overlap (or a list, never a broken drawing)."""
    nodes = ["nova-api", "nova-conductor", "nova-scheduler", "compute:c1", "compute:c2",
             "placement"]
    edges = [("nova-api", "nova-conductor", "cast"), ("nova-conductor", "nova-scheduler", "call"),
             ("nova-conductor", "compute:c1", "cast"), ("compute:c1", "nova-conductor", "call"),
             ("compute:c2", "nova-conductor", "call"), ("nova-scheduler", "placement", "http"),
             ("compute:c1", "placement", "http"), ("compute:c2", "placement", "http"),
             ("compute:c1", "nova-scheduler", "fanout"), ("nova-api", "placement", "http"),
             ("compute:c1", "compute:c2", "call")]
    layout = layout_graph(nodes, edges, width, height)
    if not layout.compact:
        check_layout(layout)
        assert len(layout.edges) == len(edges)


@sync
async def test_other_traffic_behind_a_toggle() -> None:
    """o adds the start-up and periodic traces' edges, dimmed and unlabelled; the
    layout keeps its facts."""
    app = BootflowApp(ListSource(load("boot_real.jsonl")), mode="live", clock=None)
    async with app.run_test(size=(160, 45)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        graph = app.query_one(ServiceGraph)
        before = graph.layout_model
        assert before is not None and not before.compact
        assert not any(e.key[2].startswith("other:") for e in before.edges)
        await pilot.press("o")
        await pilot.pause()
        after = graph.layout_model
        assert after is not None
        if not after.compact:
            check_layout(after)
            assert any(e.key[2].startswith("other:") for e in after.edges)
        await pilot.press("o")
        await pilot.pause()
        assert graph.layout_model == before


@sync
async def test_edge_list_keeps_the_boots_calls_and_casts() -> None:
    """When the list cannot hold every edge of the finished boot, the RPC messages a class
    is there to see stay (select_destinations blocks, the builds are casts); HTTP rows go
    first."""
    app = BootflowApp(ListSource(load("boot_real.jsonl")), mode="live", clock=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        graph = app.query_one(ServiceGraph)
        rows = [r for r in graph.render().plain.splitlines()[:-1] if r.strip()]
        edges = trace_edges(app.snapshot, graph.trace_id)
        assert len(rows) < len(edges)   # not all fit: the choice matters
        for method, style in (("schedule_and_build_instances", "cast"),
                              ("select_destinations", "call"),
                              ("build_and_run_instance", "cast")):
            assert any(method in r and f" {style} " in r for r in rows), (method, rows)


@pytest.mark.parametrize("size", [(120, 40), (160, 45)], ids=lambda s: f"{s[0]}x{s[1]}")
@sync
async def test_boot_names_whole_on_the_drawing(size: tuple[int, int]) -> None:
    """`make demo`'s final picture: the drawn graph itself (not the timeline beside it)
    names the boot's call and both casts whole, each on its own edge of its own style:
    the gaps between the columns go to the RPC names first."""
    app = BootflowApp(ListSource(load("boot_real.jsonl")), mode="live", clock=None)
    async with app.run_test(size=size) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        graph = app.query_one(ServiceGraph)
        layout = graph.layout_model
        assert layout is not None and not layout.compact, layout and layout.reason
        check_layout(layout)
        rows = graph.render().plain.splitlines()
        for method, style in (("schedule_and_build_instances", "cast"),
                              ("select_destinations", "call"),
                              ("build_and_run_instance", "cast")):
            route = next(e for e in layout.edges
                         if e.key[2] == style and any(
                             h.method == method for h in trace_edges(
                                 app.snapshot, graph.trace_id)[e.key]))
            on_line = rows[route.label_y][route.label_x:route.label_x + route.label_room]
            assert method in on_line, (method, on_line)


def test_a_list_rather_than_a_cut_cast() -> None:
    """At 100 columns the api→conductor gap cannot hold schedule_and_build_instances:
    the layout says so and the widget lists the edges (every name whole) instead of
    drawing `schedule…`; at 120 the same edges are drawn."""
    from tracer.model import snapshot_of
    from tracer.tui.graph import ORCHESTRATORS, _label_len, _nodes
    from tracer.tui.layout import node_service

    snap = snapshot_of(load("boot_one.jsonl"))
    edges = trace_edges(snap, snap.latest_trace())
    labels = {k: _label_len(v) for k, v in edges.items()}
    once = [k for k, v in edges.items()
            if len(v) == 1 and node_service(k[0]) in ORCHESTRATORS]
    narrow = layout_graph(_nodes(edges), list(edges), 98, 12, labels, whole=once)
    assert narrow.compact and narrow.reason.startswith("names cut"), narrow.reason
    assert "'nova-api', 'nova-conductor', 'cast'" in narrow.reason
    wide = layout_graph(_nodes(edges), list(edges), 118, 12, labels, whole=once)
    assert not wide.compact, wide.reason
    check_layout(wide)
    between_columns = [r for r in wide.edges if r.key in once and r.key[2] != "http"
                       and abs(node_layer(r.key[0]) - node_layer(r.key[1])) == 1]
    assert len(between_columns) == 3   # the two casts and select_destinations
    for route in between_columns:
        assert route.label_room >= labels[route.key], route


def test_the_drawing_does_not_flip_to_a_list_mid_flow() -> None:
    """At 120 columns, frame after frame of the real boot, the graph stays a drawing: a
    compute's first object call (named once, then ×N) must not turn it into a list and
    back while the class watches."""
    from tracer.model import snapshot_of

    events = load("boot_real.jsonl")
    graph = ServiceGraph()
    boot = snapshot_of(events).latest_trace()
    kinds = []
    for n in range(20, len(events) + 1, 3):
        snap = snapshot_of(events[:n])
        if boot not in snap.traces or len(trace_edges(snap, boot)) < 2:
            continue
        graph.set_reactive(ServiceGraph.snapshot, snap)
        graph.set_reactive(ServiceGraph.trace_id, boot)
        layout = graph.graph_layout(118, 12)
        kinds.append(layout.reason if layout.compact else "drawn")
    assert kinds and set(kinds) == {"drawn"}, kinds
