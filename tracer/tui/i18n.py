"""The screen's own words in English and Simplified Chinese: one table, one lookup.

``t(text, lang)``: the English text is the key (as gettext does), so a string without
a Chinese line still shows, in English. Nova's own names (methods, states such as
``spawning``, services, ``vm_state``) stay untranslated: they are what a learner will
meet in Nova's logs and code. The per-hop explanations live in ``narration.yaml``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode

LANGS = ("en", "zh")

# the help screen's "reading the picture": one block per language
READING = """\
━━▶  call   the caller is BLOCKED until the reply
            (select_destinations, object_action)
╌╌▷  cast   published; the caller returns at once
            (schedule_and_build_instances, build_and_run_instance)
┅┅▷  fanout one cast copied to every server of a topic
            (update_instance_info)
░░░  timeline: a caller waiting in a call; its bar spans the server's work
┃╌╌▷ timeline: a cast — a tick where it was sent, an arrow to where
            the consumer starts
◆    timeline: on the critical path (what the trace's end waited for);
            +3 after a name: spans folded into it (m shows all, r only
            messages, / finds a name, a click on a name folds it)
≈    timeline: time the walkthrough's gate held the flow, cut out
WAIT graph: this service is waiting for a reply; BUSY: it is working
‖    graph: the walkthrough's gate holds this message on the broker
┃    sequence: the caller is blocked in a call (activation bar)
no hb services: the service sends no heartbeat (nova-api sends none), so
            it is neither up nor down; "last hop" is when it last sent or
            took a message
↓ more below  hop pane: its text goes on (h, then PgDn; or the wheel)
request 1/2 (+45 background)  status line: the shown trace among the REST
            requests; background: the services' start-up, heartbeats and
            periodic tasks, traces no request started (< > step through all)"""

READING_ZH = """\
━━▶  call   调用方阻塞，直到收到回复
            （select_destinations、object_action）
╌╌▷  cast   消息发出后调用方立即返回
            （schedule_and_build_instances、build_and_run_instance）
┅┅▷  fanout 一个 cast 复制给某 topic 的所有服务
            （update_instance_info）
░░░  时间线：调用方在 call 中等待；这段条覆盖服务端的工作
┃╌╌▷ 时间线：一次 cast —— 竖线是发出处，箭头指向消费者开始处
◆    时间线：关键路径（trace 结束所等待的部分）；
            名称后的 +3：折叠进去的 span 数（m 显示全部，r 只看
            消息，/ 按名称查找，点击名称折叠）
≈    时间线：演练闸门扣住流程的时间，已剪掉
WAIT 服务图：该服务在等待回复；BUSY：正在工作
‖    服务图：演练闸门把这条消息扣在 broker 上
┃    时序图：调用方阻塞在 call 中（激活条）
no hb 服务：该服务不发送心跳（nova-api 不发送），所以既不算 up
            也不算 down；"last hop" 是它上次发出或接收消息的时间
↓ more below  跳详情：下面还有内容（h，然后 PgDn；或滚轮）
request 1/2 (+45 background)  状态栏：当前 trace 在 REST 请求中的位置；
            background：服务启动、心跳和周期任务，即不是由请求发起的
            trace（< > 逐个浏览全部）"""

ZH: dict[str, str] = {
    READING: READING_ZH,
    # footer and help: the keys
    "Quit": "退出",
    "Help": "帮助",
    "Prev hop": "上一跳",
    "Next hop": "下一跳",
    "Prev trace": "上一个 trace",
    "Next trace": "下一个 trace",
    "Follow": "跟随",
    "Timeline/Sequence": "时间线/时序图",
    "Present": "演示",
    "Graph: other traces' traffic, dimmed": "服务图：其他 trace 的流量（变暗）",
    "Timeline: messages only": "时间线：只看消息",
    "Timeline: middleware and db too": "时间线：也显示中间件和 db",
    "Timeline: find a span by name": "时间线：按名称查找 span",
    "Dark/light": "深色/浅色",
    "Play": "播放",
    "Hop▶": "跳▶",
    "◀Hop": "◀跳",
    "Event ▶": "下一事件",
    "◀ Event": "上一事件",
    "Slower": "减速",
    "Faster": "加速",
    "Scrub +5%": "前进 5%",
    "Scrub -5%": "后退 5%",
    "End": "末尾",
    "Start": "开头",
    "Release hop": "放行",
    "Release": "放行",
    "Release the held hop": "放行被扣住的一跳",
    "Gate": "闸门",
    "View": "视图",
    "Hop": "跳",
    "Gate on/off": "闸门开/关",
    "Zoom in": "放大",
    "Zoom out": "缩小",
    "Fit": "适应宽度",
    "Close": "关闭",
    "Cancel": "取消",
    "palette": "命令面板",
    # pane titles and tabs
    "service graph": "服务图",
    "hop": "跳",
    "hop · {style}": "跳 · {style}",
    "instances": "实例",
    "services": "服务",
    "Timeline": "时间线",
    "Sequence": "时序图",
    "held by the gate ({n} waiting)": "被闸门扣住（{n} 个等待）",
    "{title} · browsing": "{title} · 浏览中",
    # status line
    "{n} events": "{n} 个事件",
    " ({n} spans, {took}": "（{n} 个 span，{took}",
    " + {cut} held, cut": "，另有 {cut} 被扣住、已剪掉",
    ")": "）",
    "{kind} {i}/{n} (+{others} {other}, < >)": "{kind} {i}/{n}（另有 {others} 个{other}，< >）",
    "request": "请求",
    "requests": "请求",
    "background": "后台",
    "skipped {n}": "跳过 {n}",
    "(follow off: a)": "（未跟随：a）",
    "playing": "播放中",
    "paused": "已暂停",
    "speed ×{speed}": "速度 ×{speed}",
    "hop {i}/{n}": "跳 {i}/{n}",
    "event {i}/{n} +{t}": "事件 {i}/{n} +{t}",
    "gate ": "闸门 ",
    "teacher's gate ": "老师的闸门 ",
    "ON": "开",
    "OFF (free run)": "关（自由运行）",
    " · {n} held": " · 扣住 {n} 个",
    " · {n} held · read-only": " · 扣住 {n} 个 · 只读",
    # the hop pane
    "in flight (on the broker)": "在途（在 broker 上）",
    "caller BLOCKED, waiting for the reply": "调用方阻塞，等待回复",
    "consumer running (sender already returned)": "消费者运行中（发送方已返回）",
    "done": "完成",
    "ERROR": "错误",
    "exchange": "交换机",
    "routing key": "路由键",
    "properties": "属性",
    "sent": "发出",
    "picked up": "被取走",
    "(queue {t})": "（排队 {t}）",
    "caller waited": "调用方等待",
    " … still waiting": " … 仍在等待",
    "0 — a cast returns once published": "0 —— cast 发出即返回",
    "handler took": "处理耗时",
    "client code": "客户端代码",
    "server code": "服务端代码",
    "── on the wire ──": "── 线上的消息 ──",
    "envelope (oslo.message, secrets redacted)": "消息信封（oslo.message，已隐去机密）",
    "(no narration for {key})": "（{key} 没有讲解）",
    "Stein: ": "Stein 代码：",
    "  {kind} in {where}": "  {kind}，位于 {where}",
    "duration {t}": "耗时 {t}",
    " (open)": "（未结束）",
    "code ": "代码 ",
    "NEXT HOP (held by the gate)": "下一跳（被闸门扣住）",
    "press n / space to let it go": "按 n / 空格放行",
    "the teacher lets it go": "由老师放行",
    "  exchange {exchange}  routing key {key}": "  交换机 {exchange}  路由键 {key}",
    "Waiting for the first hop… ([ ] select, click a bar)":
        "等待第一跳……（[ ] 选择，或点击一条）",
    "Select a hop (click, or [ and ])": "选择一跳（点击，或 [ 和 ]）",
    "JUST HAPPENED": "刚刚发生",
    "… the caller still waits for the reply": "… 调用方仍在等待回复",
    "a cast: no reply, the sender went on": "cast：没有回复，发送方已继续",
    "new": "新建",
    "‖ the gate still holds {method}": "‖ 闸门仍扣住 {method}",
    "  (a: back to it, n: let it go)\n": "  （a：回到它，n：放行）\n",
    # instances and services
    "name": "名称",
    "host": "主机",
    "service": "服务",
    "heartbeat": "心跳",
    "up": "在线",
    "down": "离线",
    "no hb": "无心跳",
    "last hop": "上一跳",
    "just now": "刚刚",
    "{s}s ago": "{s} 秒前",
    "{m}m {s}s ago": "{m} 分 {s} 秒前",
    "{t} ago": "{t} 前",
    "never": "从未",
    "no instance yet": "还没有实例",
    "… {n} more": "… 另有 {n} 个",
    "no heartbeat yet": "还没有心跳",
    # the graph
    "call (caller blocked)": "call（调用方阻塞）",
    "cast (returns at once)": "cast（立即返回）",
    "call blocks": "call 阻塞",
    "cast returns": "cast 返回",
    "WAIT caller blocked": "WAIT 调用方阻塞",
    "WAIT blocked": "WAIT 阻塞",
    "‖ held": "‖ 扣住",
    "waiting": "等待中",
    "in flight": "在途",
    "reply": "回复",
    "running": "运行中",
    "error": "错误",
    # presentation mode: one sentence of what happens now
    "{src} → {dst} FAILED — {what}": "{src} → {dst} 失败 —— {what}",
    "{src} WAITS for {dst} — {what} is on its way": "{src} 等待 {dst} —— {what} 在途",
    "{src} WAITS for {dst} — {what}": "{src} 等待 {dst} —— {what}",
    "{dst} ANSWERED {src} — {what}": "{dst} 已回复 {src} —— {what}",
    "{src} SENT {what} to {dst} and goes on — on its way":
        "{src} 把 {what} 发给 {dst} 后继续 —— 在途",
    "{dst} WORKS on {what} — {src} did not wait": "{dst} 处理 {what} —— {src} 没有等待",
    "{dst} handled {what} from {src} — nobody waited":
        "{dst} 处理完 {src} 的 {what} —— 没有人等待",
    "‖ HELD: {src} {verb} {dst} — {what}  ·  n lets it go":
        "‖ 扣住：{src} {verb} {dst} —— {what}  ·  按 n 放行",
    "WAITS for": "等待",
    "SENDS to": "发给",
    "the caller": "调用方",
    "waiting for the first message…": "等待第一条消息……",
    # the help screen
    "keys ({mode})": "按键（{mode}）",
    "key": "键",
    "does": "作用",
    "mouse": "鼠标",
    "click an edge, a bar or an arrow to select that hop; wheel scrolls, shift+wheel "
    "sideways, ctrl+wheel zooms":
        "点击边、条或箭头选中那一跳；滚轮滚动，shift+滚轮横向，ctrl+滚轮缩放",
    "timeline zoom in / out / fit (when the timeline has focus)":
        "时间线放大 / 缩小 / 适应宽度（时间线有焦点时）",
    "about this scenario": "关于这个场景",
    "\nreading the picture": "\n如何看图",
    "\nesc closes": "\nesc 关闭",
    "press any key (enter/space) to start · q quits · ? shows it again":
        "按任意键（回车/空格）开始 · q 退出 · ? 再次显示",
    "find a span by name (enter; empty clears)": "按名称查找 span（回车；留空清除）",
    "watching the services": "观察各服务",
    "nothing is held right now": "现在没有被扣住的消息",
    "gate on: each hop waits for n/space": "闸门开：每一跳等待 n/空格",
    "gate off: the flow runs free": "闸门关：流程自由运行",
    "read-only viewer: the teacher releases the hops": "只读观看：由老师放行",
    "(q quits)": "（q 退出）",
    "the run failed": "运行失败",
    "cell": "格",
    "one hop at a time": "一次一跳",
    "watching the teacher's walkthrough": "观看老师的演练",
    # the hop pane: the wire, the envelope, the scheduler's decision (tracer.tui.words)
    "↓ more below: h, PgDn, wheel": "↓ 下面还有：h、PgDn、滚轮",
    "Hop pane: focus it (PgDn/PgUp scroll)": "跳详情：聚焦（PgDn/PgUp 滚动）",
    "none (fanout)": "无（fanout）",
    'body on the wire: {"oslo.version": "2.0", "oslo.message": '
    '<this message as a JSON string>}':
        '线上的消息体：{"oslo.version": "2.0", "oslo.message": <这条消息的 JSON 字符串>}',
    "args": "参数（args）",
    "request context": "请求上下文",
    "… truncated: {n} more characters": "… 已截断：还有 {n} 个字符",
    "(shortened: values nested deeper than {depth} levels shown as {{… N keys}})":
        "（已缩短：嵌套超过 {depth} 层的值显示为 {{… N keys}}）",
    "vm_state(task_state): ": "vm_state(task_state)：",
    "scheduler's decision": "调度器的决定",
    "instance {n} of {m}": "第 {n} 个实例（共 {m} 个）",
    "hosts from placement: ": "placement 给出的主机：",
    "none": "无",
    "{a} → {b} hosts": "{a} → {b} 台主机",
    "  {host} went": "  去掉了 {host}",
    "  (skipped: {why})": "  （跳过：{why}）",
    "weighers (weight per host, 0..1; ×multiplier when not 1):":
        "权重器（每台主机的权重，0..1；乘数不为 1 时标出 ×乘数）：",
    "⇒ chosen ": "⇒ 选中 ",
    "  (total weight ": "  （总权重 ",
    "⇒ no host left: NoValidHost": "⇒ 没有剩下的主机：NoValidHost",
}

TABLES: dict[str, dict[str, str]] = {"zh": ZH}


def t(text: str, lang: str, **fields: Any) -> str:
    """*text* in *lang* (English when the table has no line for it), with *fields*
    filled in (``str.format``) after translating."""
    out = TABLES.get(lang, {}).get(text, text)
    return out.format(**fields) if fields else out


def translate_bindings(node: DOMNode, english: BindingsMap, lang: str) -> None:
    """Show *node*'s keys in *lang* in the footer and help. Textual's bindings are
    static, so the node's map is rebuilt from its English one (kept by the caller)
    with each description translated; the footer redraws on ``refresh_bindings``."""
    node._bindings = BindingsMap(
        replace(b, description=t(b.description, lang),
                group=b.group and Binding.Group(t(b.group.description, lang),
                                                compact=b.group.compact))
        for _key, b in english)
    node.refresh_bindings()


def lang_of(widget: Any) -> str:
    """The app's language, for a widget drawn outside a screen's ``lang`` property."""
    try:
        return str(getattr(widget.app, "lang", "en"))
    except Exception:  # no app yet (a widget drawn in a unit test)
        return "en"
