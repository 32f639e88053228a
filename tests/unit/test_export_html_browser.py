"""The HTML export as a person sees it: opened in Debian's headless Chromium.

``bootflow export REC --format html`` is run as a user runs it; Chromium runs the page's
scripts and hands back the DOM and a screenshot (kept in ``build/test-artifacts/``). The
checks are what a reader needs: a selector listing the recording's traces, the boot shown
first and alone, every span on its own row with its whole name readable.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.browser import ARTIFACTS, DomScan, open_page

from tracer.model import snapshot_of
from tracer.recording import read_recording

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EVIL = '</script><script>alert("x")</script><img src=x onerror=alert(1)> & //evil.example'


@dataclass
class Row:
    """One waterfall row: the name column's parts and the bar's label."""

    span: str
    name: str = ""
    name_cut: bool = False
    who: str = ""
    chips: list[str] = field(default_factory=list)
    folds: list[str] = field(default_factory=list)
    duration: str = ""
    bars: int = 0


def rows_of(scan: DomScan) -> list[Row]:
    rows: list[Row] = []
    for e in scan.elements:
        if e.tag == "div" and "row" in e.classes and "data-span" in e.attrs:
            rows.append(Row(e.attrs["data-span"]))
        elif not rows:
            continue
        elif "op" in e.classes:
            rows[-1].name, rows[-1].name_cut = e.text, "cut" in e.classes
        elif "who" in e.classes:
            rows[-1].who = e.text
        elif "chip" in e.classes:
            rows[-1].chips.append(e.text)
        elif "fold" in e.classes:
            rows[-1].folds.append(e.text)
        elif "dur" in e.classes:
            rows[-1].duration = e.text
        elif "bar" in e.classes:
            rows[-1].bars += 1
    return rows


def export_html(recording: Path, out: Path) -> Path:
    """``bootflow export RECORDING --format html -o OUT``, as a user runs it."""
    done = subprocess.run([sys.executable, "-m", "tracer.cli", "export", str(recording),
                           "--format", "html", "-o", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return out


def options(scan: DomScan) -> list[tuple[str, str]]:
    """The trace selector's (group, text) entries."""
    entries, group = [], ""
    for e in scan.elements[scan.elements.index(scan.by_id("trace")):]:
        if e.tag == "optgroup":
            group = e.attrs.get("label", "")
        elif e.tag == "option":
            entries.append((group, e.text.strip()))
        elif e.tag not in ("select", "optgroup", "option"):
            break
    return entries


@pytest.mark.parametrize(("fixture", "n_traces", "size"),
                         [("boot_one", 1, (1000, 700)), ("boot_three", 3, (1400, 900))])
def test_waterfall_shows_the_boot_with_readable_names(tmp_path: Path, fixture: str,
                                                      n_traces: int,
                                                      size: tuple[int, int]) -> None:
    recording = FIXTURES / f"{fixture}.jsonl"
    snap = snapshot_of(read_recording(recording)[1])
    boot = snap.latest_trace()
    assert boot is not None
    shot = ARTIFACTS / f"html_export_{fixture}.png"
    scan = DomScan(open_page(export_html(recording, tmp_path / "t.html"), screenshot=shot,
                             size=size))

    listed = options(scan)
    assert len(listed) == n_traces == len(snap.traces)
    assert all(g == "requests (REST API)" and t.startswith("POST /v2.1/servers")
               for g, t in listed)
    # the traces are told apart (three boots share a name): by their id's tail
    assert sorted(t.rsplit(" ", 1)[-1] for _, t in listed) == sorted(
        tid[-8:] for tid in snap.traces)
    assert scan.by_id("summary").text.endswith(f"trace {boot}")

    rows = rows_of(scan)
    spans = snap.trace_spans(boot)
    # one row per span of the boot (no span folded in these recordings), nothing else
    assert sorted(r.span for r in rows) == sorted(s.span_id for s in spans)
    assert all(r.bars == 1 for r in rows)
    select = [r for r in rows if r.name == "select_destinations"]
    assert [(r.who, r.chips) for r in select] == [("conductor", ["call"]),
                                                  ("scheduler", ["call"])]
    assert not any(r.name_cut for r in select), "select_destinations is cut off"
    if size[0] <= 1000:  # the check sees a cut name: the long placement URL, deep down
        assert [r.name[:16] for r in rows if r.name_cut] == ["PUT /allocations"]
    assert select[0].duration.endswith("waiting for reply")  # the blocked caller
    cast = [r for r in rows if r.name == "build_and_run_instance"]
    assert [r.chips for r in cast] == [["cast"], ["cast"]]
    assert cast[0].duration.endswith("cast, no wait")
    fanout = [r for r in rows if r.name == "update_instance_info"]
    assert [r.chips for r in fanout] == [["fanout"], ["fanout"]]
    assert fanout[0].duration.endswith("fanout, no wait")
    # an arrow per message and handler: out and back for a call, one way for cast/fanout
    want: dict[str, int] = {}
    for hop in snap.trace_hops(boot):
        back = 2 if hop.style in ("call", "http") else 1
        want[hop.style] = want.get(hop.style, 0) + back * len(hop.server_span_ids)
    drawn: dict[str, int] = {}
    for line in scan.find("line"):
        style = line.attrs["marker-end"].removeprefix("url(#ah-").removesuffix(")")
        drawn[style] = drawn.get(style, 0) + 1
    assert drawn == {k: v for k, v in want.items() if v}
    assert drawn["call"] == 12 and drawn["cast"] == 2 and drawn["fanout"] == 1
    # the screenshot is a real picture of the page, kept for a person to look at
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_start_up_traces_are_selectable_but_not_drawn_with_the_boot(tmp_path: Path) -> None:
    recording = FIXTURES / "boot_real.jsonl"
    snap = snapshot_of(read_recording(recording)[1])
    boot = snap.latest_trace()
    start_compute = next(t.trace_id for t in snap.traces.values()
                         if t.root_name == "start nova-compute")
    page = export_html(recording, tmp_path / "t.html")

    scan = DomScan(open_page(page, screenshot=ARTIFACTS / "html_export_boot_real.png"))
    listed = options(scan)
    assert len(listed) == len(snap.traces)
    groups = {t.split("  ")[0]: g for g, t in listed}
    assert groups["POST /v2.1/servers"] == "requests (REST API)"
    assert groups["start nova-compute"] == groups["start nova-conductor"] == \
        "start-up and background"
    assert scan.by_id("summary").text.endswith(f"trace {boot}")
    rows = rows_of(scan)
    names = [r.name for r in rows]
    assert names[0] == "POST /v2.1/servers"
    assert not [n for n in names if n.startswith("start ")], "start-up spans drawn"
    assert {r.span for r in rows} <= {s.span_id for s in snap.trace_spans(boot)}
    # plumbing is folded into its parent's row: middleware and db calls behind a badge
    assert "FaultWrapper" not in names and not [n for n in names if n.startswith("db ")]
    assert "+2 middleware" in rows[0].folds
    assert "ServersController.create" in names
    select = [r for r in rows if r.name == "select_destinations"]
    assert len(select) == 2 and not any(r.name_cut for r in select)

    # another trace, picked as the selector does it (the URL's fragment names it)
    scan = DomScan(open_page(page, fragment=f"trace={start_compute}",
                             screenshot=ARTIFACTS / "html_export_boot_real_startup.png"))
    assert scan.by_id("summary").text.endswith(f"trace {start_compute}")
    names = [r.name for r in rows_of(scan)]
    assert names[0] == "start nova-compute"
    assert "POST /v2.1/servers" not in names and "select_destinations" not in names


def test_hostile_names_stay_text_in_the_browser(tmp_path: Path) -> None:
    header, events = read_recording(FIXTURES / "boot_one.jsonl")
    for ev in events:
        if ev.get("type") == "span_start" and ev.get("name") == "select_destinations":
            ev["name"] = EVIL
            ev["attrs"] = {**ev.get("attrs", {}), "evil": EVIL}
    recording = tmp_path / "evil.jsonl"
    recording.write_text("".join(json.dumps(x) + "\n" for x in [header, *events]))
    scan = DomScan(open_page(export_html(recording, tmp_path / "t.html")))
    assert not scan.find("img"), "a recorded name became markup"
    assert len(scan.find("script")) == 2
    assert [r.name for r in rows_of(scan) if r.name == EVIL] == [EVIL, EVIL]
