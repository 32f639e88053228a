"""`l` switches the whole screen between English and Chinese, not only the narration:
pane titles, tabs, footer, status line, graph legend, help and the hop pane."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from support.tui import GATE_HOPS, FakeGate, load, sync

from tracer.tui import BootflowApp, ListSource, ReplaySource
from tracer.tui.i18n import ZH, t
from tracer.tui.panes import DetailPane


def screen_text(app: Any) -> str:
    """What the terminal shows, one line per row (wide characters once)."""
    return "\n".join("".join(seg.text for seg in line)
                     for line in app.screen._compositor.render_strips())


def footer_words(app: Any) -> list[str]:
    return [str(key.description) for key in app.screen.query("FooterKey")]


def pane_text(app: Any) -> str:
    """The whole hop pane, also what is below its fold."""
    console = Console(width=60, record=True, file=io.StringIO())
    console.print(app.query_one(DetailPane).shown)
    return console.export_text()


ENGLISH = ("service graph", "instances", "services", "Timeline", "Sequence", "Quit",
           "View", "events", "call (caller blocked)", "heartbeat")
CHINESE = ("服务图", "实例", "服务", "时间线", "时序图", "退出", "视图", "个事件",
           "call（调用方阻塞）", "心跳")
PANE_EN = ("exchange", "routing key", "caller waited", "on the wire")
PANE_ZH = ("交换机", "路由键", "调用方等待", "线上的消息")


@sync
async def test_l_switches_every_fixed_string_and_back() -> None:
    app = BootflowApp(ListSource(load()), mode="live", clock=None)
    async with app.run_test(size=(160, 45)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        for _ in range(3):  # an rpc hop: its pane has exchange and routing key
            await pilot.press("left_square_bracket")
        await pilot.pause()
        english = screen_text(app)
        for word in ENGLISH:
            assert word in english, word
        assert "Quit" in footer_words(app)
        assert all(word in pane_text(app) for word in PANE_EN)

        await pilot.press("l")
        await pilot.pause()
        chinese = screen_text(app)
        for word in CHINESE:
            assert word in chinese, word
        for word in ("service graph", "Quit", "View", " events", "caller waited",
                     "heartbeat", "(caller blocked)"):
            assert word not in chinese, word
        words = footer_words(app)
        assert "退出" in words and "视图" in words
        assert all(w in ("EN/中文", "") or not w.isascii() for w in words), words
        pane = pane_text(app)
        assert all(word in pane for word in PANE_ZH)
        assert not any(word in pane for word in PANE_EN)

        await pilot.press("question_mark")
        await pilot.pause()
        help_text = screen_text(app)
        assert "如何看图" in help_text and "调用方阻塞，直到收到回复" in help_text
        assert "退出" in help_text  # the key list in the footer's words
        await pilot.press("escape")

        await pilot.press("l")
        await pilot.pause()
        back = screen_text(app)
        for word in ENGLISH:
            assert word in back, word
        assert "服务图" not in back and "退出" not in back
        assert "Quit" in footer_words(app)


@sync
async def test_mode_status_and_held_hop_in_chinese() -> None:
    """The walkthrough's gate and held hop, the replay's play state and speed."""
    app = BootflowApp(ListSource(load()[:20]), mode="walkthrough", gate=FakeGate(GATE_HOPS),
                      clock=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause(0.3)
        assert "gate ON · 3 held" in screen_text(app)
        await pilot.press("l")
        await pilot.pause()
        text = screen_text(app)
        assert "闸门 开 · 扣住 3 个" in text
        assert "下一跳（被闸门扣住）" in text and "被闸门扣住（3 个等待）" in text
        assert "放行" in footer_words(app)

    app = BootflowApp(ReplaySource(load()), mode="replay")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.wait_for_idle_snapshot()
        await pilot.pause()
        assert "paused · speed ×1" in screen_text(app)
        await pilot.press("l")
        await pilot.pause()
        assert "已暂停 · 速度 ×1" in screen_text(app)
        assert {"播放", "减速", "加速"} <= set(footer_words(app))


def test_table_fills_fields_and_falls_back_to_english() -> None:
    assert t("{n} events", "zh", n=3) == "3 个事件"
    assert t("{n} events", "en", n=3) == "3 events"
    assert t("no such line", "zh") == "no such line"
    # every Chinese line keeps the English line's fields
    for en, zh in ZH.items():
        assert sorted(_fields(en)) == sorted(_fields(zh)), en


def _fields(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]
