"""The office console's case pages (issue #18): the list with its filters, and one case.

The same style as routing's other pages (:mod:`services.routing.pages`: f-string HTML, every
value escaped, no user text in script; Chinese first, English beside it; phone-sized first,
wider on a desk). The list is a GET form: the address says what is shown, so a clerk can keep
it, and the dashboard links to it with ``station=…&from=…&to=…``. The case page's actions
(transfer, merge, close unresolved) are routing's own (``POST /cases/<n>/actions/<action>``
through :data:`pages.SCRIPT`, the :data:`pages.HANDOVER` block), not new ones.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from services.routing import lifecycle, office
from services.routing.pages import (
    HANDOVER,
    SCRIPT,
    STYLE,
    _category,
    _channel,
    _when,
    _words,
    consultation_link,
    deadline_words,
    step_name,
)

OFFICE_STYLE = """
main.wide{max-width:1080px}
.search{background:#fff;padding:8px 12px;border-bottom:1px solid #ddd}
.search .q{display:flex;gap:8px;align-items:center}.search .q input{flex:1}
.search details summary{padding:6px 0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:0 12px}
.grid input[type=date]{padding:5px}
.summary{display:flex;justify-content:space-between;flex-wrap:wrap;gap:8px;margin:8px 4px}
.summary a{color:#1565c0}
a.case{display:block;text-decoration:none;color:inherit}
.case .words{max-height:4.5em;overflow:hidden}
.pager{display:flex;flex-wrap:wrap;gap:6px;justify-content:center;margin:12px 0}
.pager a,.pager span{padding:6px 10px;border-radius:6px;background:#fff;border:1px solid #ddd;
color:#1565c0;text-decoration:none}.pager span.on{background:#1565c0;color:#fff}
.notice{background:#fff3e0;border-radius:6px;padding:8px 10px;margin:8px 4px}
table.times{border-collapse:collapse;font-size:.9em;margin:6px 0}
table.times td{padding:2px 12px 2px 0;vertical-align:top}
.photos{border:1px dashed #bbb;border-radius:6px;padding:8px;margin:8px 0;color:#777}
section{margin:10px 0}h2{font-size:1em;margin:12px 0 4px}
"""

LABELS = {
    "district": ("区县", "district"),
    "station": ("工作站", "station"),
    "studio": ("工作室", "studio"),
    "member": ("委员", "member"),
    "sector": ("界别", "sector"),
    "category": ("类别", "category"),
    "channel": ("渠道", "channel"),
    "status": ("状态", "status"),
    "colour": ("颜色", "colour"),
}
CHANNEL_NAMES = {
    "qr": "扫码 QR",
    "staff": "工作站录入 staff",
    "phone": "电话 phone",
    "letter": "来信 letter",
    "visit": "来访 visit",
    "open311": "Open311",
    "amqp": "系统接入 system",
}


def _head(title_zh: str, title_en: str, sign_out: str | None, root: str, back: str = "") -> str:
    out = (
        f'<a id=sign-out href="{escape(sign_out)}">退出登录 <span class=en>Sign out</span></a>'
        if sign_out
        else ""
    )
    return (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title_zh)} {escape(title_en)}</title>"
        f"<style>{STYLE}{OFFICE_STYLE}</style></head>"
        f'<body data-root="{escape(root)}"><header><h1>{escape(title_zh)} '
        f"<span class=en>{escape(title_en)}</span></h1>{back}{out}</header>"
    )


def _select(name: str, options: list[tuple[str, str]], picked) -> str:
    zh, en = LABELS[name]
    picked = picked or ""
    if name == "channel":
        options = [(v, CHANNEL_NAMES.get(v, v)) for v, _ in options]
    items = "".join(
        f'<option value="{escape(value)}"{" selected" if value == picked else ""}>'
        f"{escape(label)}</option>"
        for value, label in [("", "全部 all"), *options]
    )
    return (
        f"<label>{zh} <span class=en>{en}</span>"
        f"<select name={name} id=f-{name}>{items}</select></label>"
    )


def _form(f: dict, choices: dict) -> str:
    selects = "".join(
        _select(name, choices[name], f.get(name)) for name in LABELS if choices.get(name)
    )
    overdue = " checked" if f.get("overdue") else ""
    sorts = "".join(
        f'<option value="{key}"{" selected" if key == f.get("sort") else ""}>{zh} {en}</option>'
        for key, (zh, en) in office.SORTS.items()
    )
    day = {k: f[k].isoformat() if f.get(k) else "" for k in ("from", "to")}
    opened = any(f.get(n) for n in (*LABELS, "overdue", "from", "to")) or f.get("sort") not in (
        None,
        "received",
    )
    return (
        "<form id=filters class=search method=get action=cases>"
        "<div class=q><input type=search name=q id=f-q maxlength=50 "
        f'value="{escape(f.get("q") or "")}" '
        'placeholder="搜索群众原话，如：路灯 / search the words"><button type=submit id=go>'
        "查询 Search</button></div>"
        f"<details{' open' if opened else ''}><summary>筛选与排序 "
        "<span class=en>filters and sort</span></summary><div class=grid>"
        f"{selects}"
        "<label>受理日期从 <span class=en>received from</span>"
        f'<input type=date name=from id=f-from value="{day["from"]}"></label>'
        "<label>至 <span class=en>to</span>"
        f'<input type=date name=to id=f-to value="{day["to"]}"></label>'
        f"<label>排序 <span class=en>sort</span><select name=sort id=f-sort>{sorts}</select></label>"
        f"<label class=check><input type=checkbox name=overdue id=f-overdue value=true{overdue}>"
        " 只看已超期 <span class=en>overdue only</span></label>"
        "</div><button type=submit>筛选 Filter</button> <a href=cases>清除 clear</a></details>"
        "</form>"
    )


def _row(c: dict) -> str:
    number = c["tracking_number"]
    open_ = c["status"] in lifecycle.OPEN
    colour = c["colour"] if open_ else "past"
    zh, en = office.COLOURS.get(c["colour"], ("", ""))
    tag = f"{zh} {en}" if open_ else f"{c['status_name']}"
    member = (
        f"{escape(c['member_name'])}（{escape(c['member'])}）"
        if c.get("member_name")
        else escape(c.get("member") or "未派单 none yet")
    )
    station = escape(c.get("station_name") or c["station"])
    district = f" · {escape(c['district'])}" if c.get("district") else ""
    due = ""
    if open_:
        when = c.get("resolution_due") if c.get("responded_at") else c.get("response_due")
        due_zh, due_en = deadline_words(when)
        due = f"<div class=due>期限 {escape(due_zh)} <span class=en>{escape(due_en)}</span></div>"
    return (
        f'<a class="case {escape(colour)}" id="row-{escape(number)}" '
        f'href="cases/{quote(number, safe="")}">'
        f"<div class=row><b>{escape(number)}</b><span class=tag>{escape(tag)}</span></div>"
        f"<div>{_category(c['category'])} · {escape(c['status_name'])}</div>"
        f"<div class=meta>{station}{district} · 委员 {member}</div>"
        f"<div class=meta>{_channel(c.get('channel'))} · 受理 {_when(c.get('received_at'))}</div>"
        f"{_words(c)}{due}</a>"
    )


def _pager(f: dict, page: int, pages: int) -> str:
    if pages <= 1:
        return ""
    shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    parts, last = [], 0
    for n in shown:
        if n - last > 1:
            parts.append("<span>…</span>")
        if n == page:
            parts.append(f"<span class=on>{n}</span>")
        else:
            parts.append(f'<a href="?{escape(office.query_string(f, page=n))}">{n}</a>')
        last = n
    if page < pages:
        parts.append(
            f'<a id=next href="?{escape(office.query_string(f, page=page + 1))}">下一页 next</a>'
        )
    return f"<nav class=pager>{''.join(parts)}</nav>"


def list_page(
    f: dict,
    found: dict | None,
    choices: dict,
    *,
    sign_out: str | None = None,
    error: dict | None = None,
) -> str:
    """The list: the search and filter form, the count, one card per case, page links."""
    body = [_form(f, choices)]
    body.append("<main class=wide>")
    if error is not None:
        items = "".join(
            f"<li>{escape(LABELS.get(k, (k,))[0])} {escape(k)}: {escape('; '.join(v))}</li>"
            for k, v in error.items()
        )
        body.append(
            "<div class='notice error' id=refused role=alert>查询条件有误，请修改 "
            f"<span class=en>some filters are wrong</span><ul>{items}</ul></div>"
        )
    if found is not None:
        export = office.query_string(f, page=1)
        total = f"{found['total']}+" if found.get("total_more") else str(found["total"])
        body.append(
            f"<div class=summary><span id=total>共 {total} 件 "
            f"<span class=en>{total} cases</span> · 第 {found['page']}/"
            f'{found["pages"]} 页</span><a id=export href="cases.xlsx?{escape(export)}">'
            f"导出 Excel <span class=en>export (at most {office.EXPORT_MAX} rows)</span></a></div>"
        )
        if found["short_query"]:
            body.append(
                "<div class=notice id=short>一两个字的搜索只查最近 "
                f"{office.search.SHORT_SCAN} 件案件；三个字以上查全部。"
                "<span class=en>A 1–2 character search looks through the newest "
                f"{office.search.SHORT_SCAN} cases only; 3 or more search them all.</span></div>"
            )
        if found.get("total_more"):
            cap = found["count_cap"]
            body.append(
                f"<div class=notice id=more>超过 {cap} 件，只列出最新的 "
                f"{cap} 件，请加筛选条件缩小范围。<span class=en>More than "
                f"{cap} cases match: the newest {cap} are listed; "
                "narrow the filters.</span></div>"
            )
        rows = [_row(c) for c in found["cases"]]
        body.append(
            "".join(rows)
            or "<div class=empty>没有符合条件的案件 <span class=en>No cases match</span></div>"
        )
        body.append(_pager(f, found["page"], found["pages"]))
    body.append("</main></body></html>")
    reports = '<a id=reports href="../reports/page">社情民意 <span class=en>reports</span></a>'
    return _head("案件查询", "Cases", sign_out, "..", reports) + "".join(body)


# --- one case ---------------------------------------------------------------------------------


def _photos(case: dict, intake_base: str | None) -> str:
    """The citizen's photos: the "photos" engineer's :func:`services.routing.photos.thumbnails`
    (thumbnails served by intake), when that module is there; else nothing."""
    try:
        from services.routing import photos
    except ImportError:  # PHOTOS: the place for them, should photos.py go
        return ""
    return f"<section id=photos>{photos.thumbnails(case, intake_base)}</section>"


def _times(c: dict) -> str:
    rows = [
        ("受理", "received", c.get("received_at")),
        ("派单", "assigned", c.get("assigned_at")),
        ("接单", "accepted", c.get("accepted_at")),
        ("答复", "responded", c.get("responded_at")),
        ("办结", "resolved", c.get("resolved_at")),
        ("关闭", "closed", c.get("closed_at")),
    ]
    cells = "".join(
        f"<tr><td>{zh} <span class=en>{en}</span></td><td>{_when(at)}</td></tr>"
        for zh, en, at in rows
        if at
    )
    for zh, en, key in (
        ("答复期限", "respond by", "response_due"),
        ("办结期限", "resolve by", "resolution_due"),
    ):
        words_zh, words_en = deadline_words(c.get(key))
        cells += (
            f"<tr class=deadline><td>{zh} <span class=en>{en}</span></td>"
            f"<td>{escape(words_zh)} <span class=en>{escape(words_en)}</span></td></tr>"
        )
    return f"<table class=times>{cells}</table>"


def _steps(c: dict) -> str:
    items = []
    for s in c.get("history") or []:
        name = step_name(s["action"])
        to = lifecycle.STATUS_NAMES.get(s.get("to") or "", s.get("to") or "")
        note = f"<span class=note>{escape(s['note'])}</span>" if s.get("note") else ""
        note += consultation_link(s)
        items.append(
            f"<li>{_when(s['at'])} <b>{escape(name)}</b> <span class=en>{escape(s['action'])}"
            f"</span> · {escape(s['actor'])} → {escape(to)}{note}</li>"
        )
    return (
        f"<section id=history><h2>办理记录 <span class=en>history</span> ({len(items)})</h2>"
        f"<ol class=history>{''.join(items)}</ol></section>"
    )


def _office_actions(c: dict, members: dict[str, str] | None) -> str:
    if members is None:
        return (
            "<p class=meta>工作室管理员只能查看 <span class=en>studio admins may only read"
            "</span></p>"
        )
    if c["status"] not in lifecycle.ACTIVE:
        return ""
    choices = "".join(
        f'<option value="{escape(code)}">{escape(name)}（{escape(code)}）</option>'
        for code, name in members.items()
    )
    return (
        "<section id=actions><h2>办公室操作 <span class=en>what the office may do</span></h2>"
        "<details class=more open><summary>转办或合并 <span class=en>transfer or merge</span>"
        "</summary><label>转给委员 <span class=en>to member</span>"
        f'<select name=to_member id=to-member><option value="">—</option>{choices}</select>'
        "</label>" + HANDOVER + "<details class=more><summary>关闭 <span class=en>close</span>"
        "</summary><label>办结未解决的原因（必填）<span class=en>why it stays unresolved "
        "(required)</span><textarea name=reason></textarea></label>"
        "<button class=warn data-action=close_unresolved data-note=reason>"
        "办结未解决 Close unresolved</button></details></section>"
    )


def case_page(
    c: dict,
    members: dict[str, str] | None,
    *,
    sign_out: str | None = None,
    intake_base: str | None = None,
) -> str:
    """One case for the office: words, place, channel, times, deadlines, member, station, every
    step of its history, photos, and (office, station admins) transfer, merge and close.
    ``members``: whom a transfer may name; None when the caller may not act (studio admins)."""
    number = c["tracking_number"]
    open_ = c["status"] in lifecycle.OPEN
    colour = c["colour"] if open_ else "past"
    zh, en = office.COLOURS.get(c["colour"], ("", ""))
    member = (
        f"{escape(c['member_name'])}（{escape(c['member'])}）"
        if c.get("member_name")
        else escape(c.get("member") or "未派单 none yet")
    )
    station = escape(c.get("station_name") or c["station"])
    district = f"（{escape(c['district'])}）" if c.get("district") else ""
    merged = ""
    if c.get("merged_into"):
        merged += (
            f"<div class=meta>已合并到 <span class=en>merged into</span> "
            f'<a href="{quote(c["main"], safe="")}">{escape(c["main"])}</a></div>'
        )
    if c.get("merged_in"):
        links = " ".join(f'<a href="{quote(n, safe="")}">{escape(n)}</a>' for n in c["merged_in"])
        merged += f"<div class=meta>合并进来的案件 <span class=en>merged in</span> {links}</div>"
    closing = (
        f"<div class=meta>关闭原因 <span class=en>reason</span> {escape(c['close_reason'])}</div>"
        if c.get("close_reason")
        else ""
    )
    card = (
        f'<div class="case {escape(colour)}" id="case-{escape(number)}" '
        f'data-number="{escape(number)}" data-version="{int(c["version"])}">'
        f"<div class=row><b>{escape(number)}</b><span class=tag id=status>"
        f"{escape(c['status_name'])} <span class=en>{escape(c['status'])}</span>"
        f"{f' · {zh} {en}' if open_ else ''}</span></div>"
        f"<div>{_category(c['category'])}</div>"
        f"<div class=meta>{_channel(c.get('channel'))}</div>"
        f"{_words(c)}{_photos(c, intake_base)}"
        f"<div class=member id=member>委员 <span class=en>member</span> {member}</div>"
        f"<div class=meta id=station>工作站 <span class=en>station</span> {station}{district}</div>"
        f"{merged}{closing}{_times(c)}{_steps(c)}{_office_actions(c, members)}"
        "<div class=error role=alert></div></div>"
    )
    back = '<a id=back href="../cases">返回列表 <span class=en>back to the list</span></a>'
    back += '<a id=reports href="../../reports/page">社情民意 <span class=en>reports</span></a>'
    return (
        _head(f"案件 {number}", f"Case {number}", sign_out, "../..", back)
        + f"<main>{card}</main><script>{SCRIPT}</script></body></html>"
    )
