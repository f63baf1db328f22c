"""The member's duty list (履职清单) and the station lead's view, as phone-sized HTML pages.

Rendered on the server from the same data as the JSON API. Each card shows the citizen's words
(masked by intake: phone and identity numbers typed into them never reach routing), the place,
channel and time, the deadline as a person reads it ("12月1日（周一）下班前") and the case's whole
history. On the member's page every action the case's status allows now has a button; each
posts to ``/cases/<number>/actions/<action>`` with the case's version and the fields it needs
(the reply, the reason for closing unresolved or for a transfer, the member to transfer to, the
case to merge into), and the page reloads. A second tab lists the member's closed and past
cases. Sign-out is the registry's sign-in page, which has the 退出登录 button (its sign-out is a
POST with CSRF; cookies belong to the host, so it signs the member out here too).

Everything shown is escaped, and no user text ever reaches inline script (the buttons carry data
attributes; one listener acts on them). Chinese first, English beside it.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from urllib.parse import quote

from werkzeug.wrappers import Response

from services.kernel import dates
from services.routing import catalogue, consultations, lifecycle, photos
from services.routing.workdays import CHINA

COLOURS = {
    "red": ("超期", "overdue"),
    "yellow": ("即将到期", "due soon"),
    "green": ("正常", "on track"),
}
CHANNELS = {
    "qr": ("扫码", "QR code"),
    "staff": ("工作站录入", "entered by staff"),
    "phone": ("电话", "phone"),
    "letter": ("来信", "letter"),
    "visit": ("来访", "visit"),
    "open311": ("Open311", "Open311"),
    "amqp": ("系统接入", "system"),
}

STYLE = """
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;
margin:0;background:#f5f5f5;color:#212121}
header{background:#b71c1c;color:#fff;padding:12px 16px;display:flex;justify-content:space-between;
align-items:center;gap:8px;flex-wrap:wrap}h1{font-size:1.2em;margin:0}
header a{color:#fff;border:1px solid #fff;border-radius:6px;padding:6px 10px;text-decoration:none;
font-size:.9em;white-space:nowrap}
.en{color:#777;font-size:.85em}header .en{color:#ffd}
nav{display:flex;background:#fff;border-bottom:1px solid #ddd}
nav a{flex:1;text-align:center;padding:10px 4px;color:#555;text-decoration:none}
nav a.on{color:#b71c1c;border-bottom:3px solid #b71c1c;font-weight:bold}
main{padding:8px;max-width:640px;margin:auto}
.case{background:#fff;border-radius:8px;margin:8px 0;padding:12px;border-left:6px solid #2e7d32;
overflow-wrap:anywhere}
.case.yellow{border-color:#f9a825}.case.red{border-color:#c62828}.case.past{border-color:#9e9e9e}
.row{display:flex;justify-content:space-between;gap:8px;flex-wrap:wrap}
.tag{font-size:.8em;padding:2px 6px;border-radius:4px;background:#eee}
.meta{color:#555;font-size:.9em;margin:4px 0}
.words{margin:8px 0;padding:8px 10px;background:#fff8e1;border-radius:6px;white-space:pre-wrap}
.words .en{display:block}
.due{font-weight:bold;margin:4px 0}
details{margin:6px 0}summary{cursor:pointer;color:#1565c0;padding:4px 0}
ol.history{margin:4px 0;padding-left:20px;font-size:.9em}ol.history li{margin:4px 0}
ol.history .note{display:block;color:#333;white-space:pre-wrap}
label{display:block;margin-top:8px;font-size:.9em}
textarea,input{width:100%;box-sizing:border-box;margin:6px 0;font-size:1em;padding:6px}
button{font-size:1em;padding:8px 12px;margin:4px 4px 0 0;border:0;border-radius:6px;
background:#1565c0;color:#fff}button.alt{background:#757575}button.warn{background:#c62828}
.more{border-top:1px dashed #ccc;margin-top:8px;padding-top:4px}
.error{color:#c62828}.empty{text-align:center;color:#777;padding:32px}
.filters{background:#fff;padding:8px 12px;border-bottom:1px solid #ddd;display:grid;
grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:4px 12px;align-items:end}
select{width:100%;font-size:1em;padding:6px;margin:6px 0}
.check input{width:auto}
a.call{display:inline-block;margin:4px 0 6px;padding:8px 12px;border-radius:6px;background:#2e7d32;
color:#fff;text-decoration:none}a.call .en{color:#e8f5e9}
"""

SCRIPT = """
document.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-action]');
  if (b) { act(b.closest('.case'), b); }
});
function field(card, name) {
  const f = name ? card.querySelector('[name="' + name + '"]') : null;
  return f ? f.value : '';
}
async function act(card, b) {
  const number = card.dataset.number;
  const body = {note: field(card, b.dataset.note), version: Number(card.dataset.version)};
  if (b.dataset.param) { body[b.dataset.param] = field(card, b.dataset.param); }
  b.disabled = true;
  try {
    // relative to the page (body data-root): the same behind nginx's /routing/ prefix
    const path = b.dataset.path ? '/' + b.dataset.path : '/actions/' + b.dataset.action;
    const r = await fetch(document.body.dataset.root + '/cases/' + encodeURIComponent(number)
                          + path,
                          {method: 'POST', headers: {'Content-Type': 'application/json'},
                           body: JSON.stringify(body)});
    if (r.ok && b.dataset.path === 'remind' && !(await r.json()).reminded) {
      card.querySelector('.error').textContent =
        '今天已催办过该委员 / the member was already reminded today';
      b.disabled = false; return;
    }
    if (r.ok) { location.reload(); return; }
    const e = (await r.json()).error;
    card.querySelector('.error').textContent = e.message_zh + ' / ' + e.message;
  } catch (err) {
    card.querySelector('.error').textContent = '网络错误，请重试 / network error, try again';
  }
  b.disabled = false;
}
"""

# The buttons of the main row: (action, 中文, English, the field its note comes from).
MAIN_ACTIONS = {
    "assigned": [("accept", "接单", "Accept", None), ("respond", "答复", "Respond", "note")],
    "accepted": [("respond", "答复", "Respond", "note")],
    "responded": [("resolve", "办结", "Resolve", "note")],
}


def deadline_words(due: datetime | str | None, calendar=None) -> tuple[str, str]:
    """A deadline as a person reads it (:func:`services.kernel.dates.deadline_words`), with
    ``calendar`` (``workdays.Calendar``) telling working days."""
    return dates.deadline_words(due, calendar.is_workday if calendar is not None else None)


def _when(value: str | None) -> str:
    if not value:
        return "-"
    local = datetime.fromisoformat(value).astimezone(CHINA)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _category(code: str) -> str:
    entry = catalogue.load()["categories"].get(code)
    return f"{entry['name']} <span class=en>{entry['name_en']}</span>" if entry else escape(code)


def _channel(code: str | None) -> str:
    zh, en = CHANNELS.get(code or "", (code or "-", ""))
    return f"{escape(zh)} <span class=en>{escape(en)}</span>" if en else escape(zh)


def _words(case: dict) -> str:
    text = case.get("description")
    if not text:
        return (
            "<div class=words>（本案件受理时未附群众原话）"
            "<span class=en>No words came with this case (received before they travelled)</span>"
            "</div>"
        )
    place = case.get("place")
    where = (
        f"<div class=meta>地点 <span class=en>place</span> {escape(place)}</div>" if place else ""
    )
    return f"<div class=words>{escape(text)}</div>{where}"


def step_name(action: str) -> str:
    """A history step's name: the lifecycle's, or a consultation's (consultations.py)."""
    return lifecycle.ACTION_NAMES.get(action) or consultations.STEP_NAMES.get(action, action)


def consultation_link(step: dict) -> str:
    """A consultation's step (协商议定 / 纳入协商) links to it; from a page two levels deep
    (``/duty/station/<code>``, ``/office/cases/<n>``), where the station and office read it."""
    found = consultations.consultation_in(step)
    if found is None:
        return ""
    return (
        f'<a class=consultation href="../../consultations/{found}/page">查看协商 #{found} '
        "<span class=en>the consultation</span></a>"
    )


def _history(case: dict, link: bool = False) -> str:
    steps = case.get("history") or []
    if not steps:
        return ""
    items = []
    for s in steps:
        name, action = step_name(s["action"]), s["action"]
        if action == "rate" and s.get("to") in lifecycle.OPEN:  # 不满意: the case reopened
            name, action = "评价不满意，重新办理", "rated unsatisfied: reopened"
        to = lifecycle.STATUS_NAMES.get(s.get("to") or "", s.get("to") or "")
        note = f"<span class=note>{escape(s['note'])}</span>" if s.get("note") else ""
        note += consultation_link(s) if link else ""
        items.append(
            f"<li>{_when(s['at'])} <b>{escape(name)}</b> <span class=en>{escape(action)}"
            f"</span> · {escape(s['actor'])} → {escape(to)}{note}</li>"
        )
    return (
        f"<details class=history-box><summary>办理记录 <span class=en>history</span> "
        f"({len(steps)})</summary><ol class=history>{''.join(items)}</ol></details>"
    )


def _deadline(case: dict) -> str:
    if case["status"] not in lifecycle.OPEN:
        return ""
    responded = case.get("responded_at")
    due = case.get("resolution_due") if responded else case.get("response_due")
    stage = ("办结期限", "resolve") if responded else ("答复期限", "respond")
    zh, en = deadline_words(due)
    return (
        f"<div class=due>{stage[0]}：{escape(zh)} "
        f"<span class=en>{stage[1]} {escape(en)}</span></div>"
    )


# After the field naming whom to transfer to: the reason, the transfer, the merge (member's and
# station's cards alike).
HANDOVER = (
    "<label>转办原因（必填）<span class=en>reason for the transfer (required)</span>"
    "<textarea name=transfer_note></textarea></label>"
    "<button class=alt data-action=transfer data-note=transfer_note data-param=to_member>"
    "转办 Transfer</button>"
    "<label>与此案件相同，合并到案件编号 <span class=en>same problem: merge into case</span>"
    "<input name=into></label>"
    "<button class=alt data-action=merge data-note=transfer_note data-param=into>"
    "合并 Merge</button></details>"
)


def _actions(case: dict) -> str:
    if case["status"] not in lifecycle.ACTIVE:
        return ""
    parts = [
        "<label>答复或办理情况 <span class=en>reply or what was done</span>"
        '<textarea name=note placeholder="答复或办理情况 / reply or what was done"></textarea>'
        "</label>"
    ]
    for action, label, label_en, note in MAIN_ACTIONS.get(case["status"], []):
        data = f" data-note={note}" if note else ""
        parts.append(f"<button data-action={action}{data}>{label} {label_en}</button>")
    parts.append(
        "<details class=more><summary>更多操作 <span class=en>more actions</span></summary>"
        "<label>办结未解决的原因（必填）<span class=en>why it stays unresolved (required)</span>"
        "<textarea name=reason></textarea></label>"
        "<button class=warn data-action=close_unresolved data-note=reason>"
        "办结未解决 Close unresolved</button>"
        "<label>转给委员编号 <span class=en>transfer to member code</span>"
        "<input name=to_member></label>" + HANDOVER
    )
    return "".join(parts)


def _station_actions(case: dict, members: dict[str, str]) -> str:
    """What the station's clerk does with a case: hand it to another member of the station
    (or another station: its rules pick), or merge it into the same problem's case."""
    if case["status"] not in lifecycle.ACTIVE:
        return ""
    choices = "".join(
        f'<option value="{escape(code)}">{escape(name)}（{escape(code)}）</option>'
        for code, name in members.items()
        if code != case["member"]
    )
    remind = (
        "<button class=alt data-action=remind data-path=remind>催办 Remind</button>"
        "<span class=meta>提醒承办委员尽快办理（每天一次）<span class=en>"
        "a notice to the member, once a day</span></span>"
        if case["member"]
        else ""
    )
    return (
        remind
        + "<details class=more><summary>转办或合并 <span class=en>transfer or merge</span></summary>"
        "<label>转给本站委员 <span class=en>to a member of this station</span>"
        f'<select name=to_member><option value="">—</option>{choices}</select></label>' + HANDOVER
    )


def _call(case: dict, call_base: str | None) -> str:
    """联系群众: intake's page that reveals the contact on a tap (audited) and dials it."""
    if not call_base or case["status"] not in lifecycle.ACTIVE:
        return ""
    href = f"{call_base}/issues/{quote(case['tracking_number'], safe='')}/call"
    return (
        f'<a class=call href="{escape(href)}">联系群众 <span class=en>call the citizen</span></a>'
    )


def _card(
    case: dict,
    with_actions: bool,
    members: dict[str, str] | None = None,
    call_base: str | None = None,
) -> str:
    number = escape(case["tracking_number"])
    past = case["status"] not in lifecycle.OPEN
    colour = "past" if past else case["colour"]
    zh, en = (
        (case["status_name"], case["status"]) if past else COLOURS.get(case["colour"], ("", ""))
    )
    parts = [
        f'<div class="case {escape(colour)}" id="case-{number}" data-number="{number}" '
        f'data-version="{int(case["version"])}">',
        f"<div class=row><b>{number}</b><span class=tag>{escape(zh)} "
        f"<span class=en>{escape(en)}</span></span></div>",
        f"<div>{_category(case['category'])}</div>",
        f"<div class=meta>{_channel(case.get('channel'))} · 受理 <span class=en>received</span> "
        f"{_when(case.get('received_at'))}</div>",
        _words(case),
        photos.thumbnails(case, call_base),
        _call(case, call_base),
        f"<div>{escape(case['status_name'])} <span class=en>{escape(case['status'])}</span></div>",
        _deadline(case),
    ]
    if not with_actions:
        code = case["member"] or "-"
        name = (members or {}).get(code)
        who = f"{escape(name)}（{escape(code)}）" if name else escape(code)
        parts.append(f"<div class=member>委员 <span class=en>member</span> {who}</div>")
    parts.append(_history(case, link=not with_actions))  # the station's cards
    if with_actions:
        parts.append(_actions(case))
    elif members is not None:
        parts.append(_station_actions(case, members))
    parts.append("<div class=error role=alert></div></div>")
    return "".join(parts)


def _page(
    title_zh: str,
    title_en: str,
    cards: list[str],
    *,
    sign_out: str | None = None,
    tabs: str = "",
    empty: tuple[str, str] = ("暂无案件", "No open cases"),
    root: str = "..",
) -> str:
    """``root``: the service's root relative to the page (``..`` from ``/duty/<code>``), so
    the page's calls work wherever the service is mounted."""
    body = "".join(cards) or f"<div class=empty>{empty[0]} <span class=en>{empty[1]}</span></div>"
    out = (
        f'<a id=sign-out href="{escape(sign_out)}">退出登录 <span class=en>Sign out</span></a>'
        if sign_out
        else ""
    )
    return (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title_zh)} {escape(title_en)}</title><style>{STYLE}</style></head>"
        f'<body data-root="{escape(root)}"><header><h1>{escape(title_zh)} '
        f"<span class=en>{escape(title_en)}</span></h1>{out}</header>{tabs}<main>{body}</main>"
        f"<script>{SCRIPT}</script></body></html>"
    )


def _tabs(view: str, open_count: int | None, past_count: int | None) -> str:
    def tab(key, zh, en, count):
        on = " class=on" if key == view else ""
        n = f" ({count})" if count is not None else ""
        href = "?view=closed" if key == "closed" else "?"
        return f'<a id=tab-{key}{on} href="{href}">{zh}{n} <span class=en>{en}</span></a>'

    return (
        "<nav>"
        + tab("open", "待办", "open", open_count)
        + tab("closed", "已办结及过往", "closed & past", past_count)
        + "</nav>"
    )


def duty_page(
    member: str,
    cases: list[dict],
    *,
    past: list[dict] | None = None,
    view: str = "open",
    sign_out: str | None = None,
    name: str | None = None,
    call_base: str | None = None,
    office: bool = False,
) -> str:
    """The member's page: the open cases with their actions, or (``view="closed"``) ``past``,
    the closed cases and those handed on, without actions. ``office``: the office is looking,
    and gets a link to all of the member's cases in its case list."""
    closed = view == "closed"
    shown = (past or []) if closed else cases
    counts = (len(cases), None if past is None else len(past))
    who = f"{name}（{member}）" if name else member
    return _page(
        f"履职清单 · {who}",
        f"Duty list of {name or member}",
        [_card(c, with_actions=not closed, call_base=call_base) for c in shown],
        sign_out=sign_out,
        tabs=_tabs("closed" if closed else "open", *counts)
        + (_office_member_link(member) if office else _report_link()),
        empty=("暂无已办结的案件", "No closed cases") if closed else ("暂无案件", "No open cases"),
    )


def _report_link() -> str:
    """写社情民意: the member's 社情民意 reports drawn from its cases (report_pages.py)."""
    return (
        '<div class=filters><a id=write-report href="../reports/new">写社情民意 <span class=en>'
        'write a social-opinion report</span></a><a id=my-reports href="../reports/page">'
        "我的社情民意 <span class=en>my reports</span></a></div>"
    )


def _office_member_link(member: str) -> str:
    """The office's case list with this member chosen (office_pages.py)."""
    return (
        f'<div class=filters><a id=office-cases href="../office/cases?member={quote(member)}">'
        "案件查询：该委员的全部案件 <span class=en>all of this member's cases</span></a></div>"
    )


FILTER_STATUSES = ("assigned", "accepted", "responded", "resolved", "closed_unresolved", "merged")


def _filters(members: dict[str, str], chosen: dict) -> str:
    """The list's filter form (a GET: the address says what is shown, a clerk can keep it)."""

    def select_of(name, zh, en, options):
        picked = chosen.get(name) or ""
        items = "".join(
            f'<option value="{escape(value)}"{" selected" if value == picked else ""}>'
            f"{escape(label)}</option>"
            for value, label in [("", "全部 all"), *options]
        )
        return f"<label>{zh} <span class=en>{en}</span><select name={name}>{items}</select></label>"

    categories = [
        (code, f"{entry['name']} {entry['name_en']}")
        for code, entry in catalogue.load()["categories"].items()
    ]
    statuses = [(s, f"{lifecycle.STATUS_NAMES[s]} {s}") for s in FILTER_STATUSES]
    people = [(code, f"{name}（{code}）") for code, name in members.items()]
    overdue = " checked" if chosen.get("overdue") else ""
    return (
        "<form id=filters class=filters method=get>"
        + select_of("status", "状态", "status", statuses)
        + select_of("member", "委员", "member", people)
        + select_of("category", "类别", "category", categories)
        + f"<label class=check><input type=checkbox name=overdue value=true{overdue}> "
        "只看已超期 <span class=en>overdue only</span></label>"
        "<button type=submit>筛选 Filter</button> <a href=?>清除 clear</a></form>"
    )


def _office_link(station: str) -> str:
    """To the case list (office_pages.py), this station chosen: search, every filter, export."""
    return (
        f'<div class=filters><a id=office-cases href="../../office/cases?station={quote(station)}">'
        "案件查询：搜索全文、更多筛选、导出 <span class=en>search, more filters, export</span>"
        f'</a><a id=consultations href="../../consultations/page?station={quote(station)}">'
        "协商 <span class=en>consultations</span></a></div>"
    )


def station_page(
    station: str,
    cases: list[dict],
    members: dict[str, str] | None = None,
    chosen: dict | None = None,
    sign_out: str | None = None,
    call_base: str | None = None,
) -> str:
    """The station's cases for its clerk: each with the member's name, the citizen's words,
    the deadline and the history; filters by status, member, category and overdue; a case
    still being worked on can be transferred to another member of the station or merged."""
    members = members or {}
    return _page(
        f"工作站案件 · {station}",
        f"Cases of station {station}",
        [_card(c, with_actions=False, members=members, call_base=call_base) for c in cases],
        sign_out=sign_out,
        tabs=_filters(members, chosen or {}) + _office_link(station),
        empty=("没有符合条件的案件", "No cases match"),
        root="../..",
    )


def page_response(text: str) -> Response:
    return Response(text, mimetype="text/html", content_type="text/html; charset=utf-8")
