"""The sequence view tells the story in order and follows it: a reply after the work it
answers, activation bars on blocked callers, what each object_action did, every
lifeline's name whole, the selected hop scrolled into view."""

from __future__ import annotations

from typing import Any

from support.tui import load, sync

from tracer.tui import BootflowApp, ListSource
from tracer.tui.sequence import SequenceView


async def open_sequence(pilot: Any, app: BootflowApp) -> SequenceView:
    await app.wait_for_idle_snapshot()
    await pilot.pause()
    await pilot.press("v")
    await pilot.pause()
    return app.screen.query_one(SequenceView)


def line(view: SequenceView, row: int) -> str:
    """The text of row *row* of the diagram, wherever the view is scrolled."""
    return "".join(seg.text for seg in view.render_line(row + 1 - int(view.scroll_offset.y)))


def row_of(view: SequenceView, method: str, part: str, nth: int = 0) -> int:
    rows = [i for i, (h, p) in enumerate(view._rows) if h.method == method and p == part]
    return rows[nth]


@sync
async def test_rows_in_time_order_with_activation_bars_and_object_methods() -> None:
    app = BootflowApp(ListSource(load()), mode="live", clock=None)
    async with app.run_test(size=(160, 45)) as pilot:
        view = await open_sequence(pilot, app)
        # select_destinations' reply comes after the scheduler's placement calls
        reply = row_of(view, "select_destinations", "reply")
        assert reply > row_of(view, "PUT /allocations/{consumer_uuid}", "reply")
        # the client's reply to POST /v2.1/servers comes when the api answered, after
        # it sent the cast
        assert row_of(view, "POST /v2.1/servers", "reply") > \
            row_of(view, "schedule_and_build_instances", "arrow")
        # the conductor is blocked (activation bar) between the call and its reply
        cols = view._columns()
        x = cols[("nova-conductor", "")]
        for idx in range(row_of(view, "select_destinations", "arrow"), reply + 1):
            text = line(view, idx)
            assert text[x] == "┃", (idx, text)
        after = row_of(view, "build_and_run_instance", "arrow")
        assert line(view, after)[x] == "│"  # a cast does not block
        # each object_action row says what it did: the object, the method, the state
        labels = [line(view, i).strip()
                  for i, (h, p) in enumerate(view._rows)
                  if h.method == "object_action" and p == "label"]
        assert labels and all("Instance.save (object_action, call 3.0)" in lb
                              for lb in labels)
        assert any("→ building/spawning" in lb for lb in labels)
        assert any("→ active" in lb for lb in labels)


@sync
async def test_follows_the_selected_hop_and_names_every_lifeline() -> None:
    app = BootflowApp(ListSource(load()), mode="live", clock=None)
    async with app.run_test(size=(100, 30)) as pilot:
        view = await open_sequence(pilot, app)
        # the last hop is selected (follow): its rows are in view, not below the fold
        rows = [i for i, (h, _) in enumerate(view._rows) if h.hop_id == view.selected]
        top = int(view.scroll_offset.y)
        assert rows and top > 0
        assert top <= rows[0] and rows[-1] < top + view.size.height - 1
        # back to the first hop: the view scrolls up to it
        for _ in range(len(app.snapshot.trace_hops(app.screen.trace_id))):
            await pilot.press("left_square_bracket")
        await pilot.pause()
        assert int(view.scroll_offset.y) == 0
        # every lifeline's name lies whole within the (scrollable) width
        width = view.virtual_size.width
        for (svc, host), x in view._columns().items():
            name = host or svc.removeprefix("nova-")
            assert x - len(name) // 2 >= 0 and x - len(name) // 2 + len(name) <= width
        header = "".join(s.text for s in view.render_line(0))
        view.scroll_to(x=width, animate=False)
        await pilot.pause()
        header += "".join(s.text for s in view.render_line(0))
        for name in ("client", "api", "conductor", "scheduler", "compute1", "placement"):
            assert name in header, header


@sync
async def test_no_sideways_scroll_when_the_lifelines_fit() -> None:
    """With its vertical scrollbar the sequence view still fits its width: no horizontal
    scrollbar takes the last row (presentation mode at 120x40 lost it)."""
    app = BootflowApp(ListSource(load()), mode="live", clock=None, present=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        view = app.query_one(SequenceView)
        assert view.show_vertical_scrollbar   # the boot is taller than the view
        assert view.virtual_size.width <= view.scrollable_content_region.width
        assert not view.show_horizontal_scrollbar
