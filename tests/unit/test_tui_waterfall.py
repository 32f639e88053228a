"""The timeline is a waterfall: one row per span under its parent, names readable,
middleware and db folded away until asked for, a messages-only filter, search by name,
the critical path marked, the selected hop's row in view."""

from __future__ import annotations

from typing import Any

import pytest
from support.tui import load, sync

from tracer.model import TraceState
from tracer.tui import BootflowApp, ListSource, ReplaySource
from tracer.tui.timeline import Timeline, elide_middle, indent_cap, is_db, is_middleware


def row_text(view: Timeline, row: int) -> str:
    return "".join(seg.text for seg in view.render_line(row + 1 - int(view.scroll_offset.y)))


def names(view: Timeline) -> list[str]:
    return [r.span.name for r in view._rows]


async def final(pilot: Any, app: BootflowApp) -> Timeline:
    await app.wait_for_idle_snapshot()
    await pilot.pause()
    return app.screen.query_one(Timeline)


@sync
async def test_waterfall_rows_names_and_filters() -> None:
    app = BootflowApp(ReplaySource(load("boot_real.jsonl"), start_at_end=True), mode="replay")
    async with app.run_test(size=(100, 30)) as pilot:
        view = await final(pilot, app)
        spans = app.snapshot.trace_spans(app.screen.trace_id)
        assert any(is_middleware(s) for s in spans) and any(is_db(s) for s in spans)
        shown = names(view)
        # middleware and db spans folded away; the db ones counted on their parent
        assert not any(n in ("FaultWrapper", "NoAuthMiddleware") for n in shown)
        assert not any(n.startswith("db ") for n in shown)
        assert any(r.folded for r in view._rows)
        # select_destinations readable whole in its row at 100x30
        row = next(i for i, r in enumerate(view._rows)
                   if r.span.name == "select_destinations" and r.span.kind == "SERVER")
        assert "select_destinations" in row_text(view, row)
        # one row per span, children right under their parent, indented deeper
        parent = view._rows[row]
        child = view._rows[row + 1]
        assert child.span.parent_id == parent.span.span_id and child.depth == parent.depth + 1
        # the root is on the critical path
        assert view._rows[0].critical and row_text(view, 0).startswith("◆")
        # m: everything; r: only the messages and their handlers
        await pilot.press("m")
        await pilot.pause()
        assert "FaultWrapper" in names(view) and any(n.startswith("db ") for n in names(view))
        await pilot.press("m", "r")
        await pilot.pause()
        rpc = names(view)
        assert "select_destinations" in rpc and "FilterScheduler._schedule" not in rpc
        assert all(r.span.kind != "INTERNAL" for r in view._rows[1:])


@sync
async def test_search_and_selected_row_kept_in_view() -> None:
    app = BootflowApp(ReplaySource(load("boot_real.jsonl"), start_at_end=True), mode="replay")
    async with app.run_test(size=(100, 30)) as pilot:
        view = await final(pilot, app)
        # the followed (last) hop's row is in view, though the boot has more rows
        assert len(view._rows) > view.size.height
        row = view.row_of_selected()
        assert row is not None
        top = int(view.scroll_offset.y)
        assert top <= row < top + view.size.height - 1
        # / finds a span by name and scrolls to it
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"claim_resources", "enter")
        await pilot.pause()
        hit = names(view).index("claim_resources")
        top = int(view.scroll_offset.y)
        assert top <= hit < top + view.size.height - 1
        assert view.search == "claim_resources"
        # a click on a name folds its subtree
        root = view._rows[0].span.span_id
        view.scroll_to(y=0, animate=False)
        await pilot.pause()
        await pilot.click(Timeline, offset=(3, 1))
        await pilot.pause()
        assert len(view._rows) == 1 and view._rows[0].span.span_id == root
        assert view._rows[0].folded > 10


async def shown_names(pilot: Any, view: Timeline) -> dict[str, list[str]]:
    """Each span name → its rows' name column as drawn (every row scrolled into view)."""
    out: dict[str, list[str]] = {}
    for i, row in enumerate(view._rows):
        view.scroll_to(y=i, animate=False)
        await pilot.pause()
        text = row_text(view, i)
        assert text[view._gutter - 1] == "│"  # the column's rule where the bars start
        out.setdefault(row.span.name, []).append(text[: view._gutter - 1])
    return out


@pytest.mark.parametrize(("size", "readable"), [
    ((100, 30), ["select_destinations", "build_and_run_instance", "external_instance_event"]),
    ((120, 40), ["select_destinations", "build_and_run_instance", "external_instance_event",
                 "schedule_and_build_instances"]),
])
@sync
async def test_names_readable_and_bars_get_the_rest(size: tuple[int, int],
                                                     readable: list[str]) -> None:
    """The Stein boot's RPC names whole in the name column, though they sit 8 to 16 deep
    (at 100x30 the old 29-cell column cut ``external_instance_e…``); the bars keep at
    least 45% of the timeline."""
    app = BootflowApp(ReplaySource(load("boot_real.jsonl"), start_at_end=True), mode="replay")
    async with app.run_test(size=size) as pilot:
        view = await final(pilot, app)
        drawn = await shown_names(pilot, view)
        for name in readable:
            assert drawn[name], name
            for column in drawn[name]:
                assert name in column, column
        assert view.size.width - view._gutter >= view.size.width * 45 // 100
        # a name too long for the column, even unindented, keeps its start and its end
        # (at 100x30 the boot's longest); at 120x40 every name is whole once the
        # indentation gives way
        post = drawn["POST /v2.1/os-server-external-events"][0].strip().lstrip("◆")
        put = drawn["PUT /allocations/{consumer_uuid}"][0].strip().lstrip("◆")
        if size[0] < 120:
            assert post.startswith("POST /"), post
            assert "…" in post and post.endswith("events"), post
        else:
            assert post == "POST /v2.1/os-server-external-events", post
            assert put == "PUT /allocations/{consumer_uuid}", put


def test_elide_middle() -> None:
    assert elide_middle("external_instance_event", 30) == "external_instance_event"
    assert elide_middle("external_instance_event", 15) == "external_…event"
    assert len(elide_middle("PUT /allocations/8f2c1d6e-3b4a", 12)) == 12
    assert elide_middle("abc", 1) == "a"


def test_indent_cap_one_scale_as_deep_as_the_names_allow() -> None:
    # (depth, cells left for its indentation): a deep row with 6 to spare holds the
    # whole tree at 6; a row that does not fit even at the budget's depth does not
    assert indent_cap([(2, 20), (12, 6), (9, 1)], budget=4) == 6
    assert indent_cap([(3, 0), (12, 30)], budget=4) == 8
    assert indent_cap([(12, 4)], budget=4) == 4


@sync
async def test_rows_follow_each_change_of_the_trace_and_only_then_are_rebuilt() -> None:
    """The rows are kept while the trace's view is the same object (a frame of an
    unchanged 5,000-span trace costs ~2 ms instead of ~16), and made anew when one of its
    spans ends (the reducer hands out a new view): no stale open bar."""
    events = load()
    last_end = max(i for i, e in enumerate(events) if e.get("type") == "span_end")
    before, after = TraceState(), TraceState()
    before.feed_all(events[:last_end])
    after.feed_all(events)
    app = BootflowApp(ListSource(events[:1]), mode="live", clock=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.wait_for_idle_snapshot()
        view = app.screen.query_one(Timeline)
        sid = events[last_end]["span_id"]
        view.trace_id = events[last_end]["trace_id"]
        view.snapshot = before.snapshot()
        await pilot.pause()
        rows = view._rows
        assert next(r.span for r in rows if r.span.span_id == sid).end_ns is None
        view.snapshot = before.snapshot()  # the same picture again: the same rows
        assert view._rows is rows
        view.snapshot = after.snapshot()
        assert view._rows is not rows
        assert next(r.span for r in view._rows if r.span.span_id == sid).end_ns is not None
