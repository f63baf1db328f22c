"""社情民意 reports as phone-sized pages: the list (a member's own, or the office's and admins'
with filters), a member's new draft, and one report (the member edits and submits its draft;
the office reviews a submitted one; everybody else reads).

The same style as routing's other pages (:mod:`services.routing.pages`,
:mod:`services.routing.office_pages`): f-string HTML, every value escaped, no user text in script
(one listener acts on ``data-op`` buttons and posts JSON to the routes of
:mod:`services.routing.report_routes`), Chinese first, English beside it.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from services.kernel.auth import Principal
from services.routing.office_pages import _head
from services.routing.opinion_reports import CASES_MAX, OUTCOMES, STATUS_NAMES, TEXT_MAX, TITLE_MAX
from services.routing.pages import _category, _when

REPORT_STYLE = """
.report h2{margin:4px 0}.report .text{white-space:pre-wrap;margin:8px 0;line-height:1.5}
.tag.draft{background:#eee}.tag.submitted{background:#e3f2fd}.tag.adopted{background:#c8e6c9}
.tag.received{background:#fff9c4}.tag.forwarded{background:#ffe0b2}
.pick{display:flex;gap:8px;align-items:flex-start;background:#fafafa;border-radius:6px;
padding:6px;margin:6px 0}.pick input{width:auto;margin-top:4px}.pick>span{display:block;flex:1;min-width:0}
.pick .words{display:block;margin:4px 0;font-weight:normal}.pick .meta{display:block}
button .en,a.button .en{color:#e3f2fd}
.outcome{background:#e8f5e9;border-radius:6px;padding:8px 10px;margin:8px 0}
a.button{display:inline-block;padding:8px 12px;border-radius:6px;background:#1565c0;color:#fff;
text-decoration:none;margin:4px 0}
.radios label{display:flex;gap:6px;align-items:center}.radios input{width:auto}
ul.cases{padding-left:18px}ul.cases li{margin:6px 0}
"""

SCRIPT = """
function field(f, name) { const e = f.querySelector('[name="' + name + '"]'); return e ? e.value : ''; }
function draft() {
  const f = document.getElementById('report-form');
  return {title: field(f, 'title'), text: field(f, 'text'), sector: field(f, 'sector'),
          cases: Array.from(f.querySelectorAll('input[name=cases]:checked')).map(i => i.value)};
}
async function send(method, path, body) {
  const r = await fetch(document.body.dataset.root + path,
    {method: method, headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  const data = await r.json();
  if (!r.ok) { throw data.error; }
  return data;
}
function show(e) {
  let text = e.message_zh + ' / ' + e.message;
  for (const [k, v] of Object.entries(e.fields || {})) { text += '\\n' + k + ': ' + v.join('; '); }
  document.getElementById('error').textContent = text;
}
document.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-op]');
  if (!b) { return; }
  ev.preventDefault();
  b.disabled = true;
  const path = '/reports/' + document.body.dataset.report;
  try {
    if (b.dataset.op === 'create') {
      const made = await send('POST', '/reports', draft());
      location.href = made.report_id + '/page'; return;
    }
    if (b.dataset.op === 'save' || b.dataset.op === 'submit') { await send('PUT', path, draft()); }
    if (b.dataset.op === 'submit') { await send('POST', path + '/submit', {}); }
    if (b.dataset.op === 'review') {
      const f = document.getElementById('review-form');
      const o = f.querySelector('input[name=outcome]:checked');
      await send('POST', path + '/review', {outcome: o ? o.value : null, note: field(f, 'note')});
    }
    location.reload(); return;
  } catch (e) {
    show(e && e.message_zh ? e : {message_zh: '网络错误，请重试', message: 'network error, try again'});
  }
  b.disabled = false;
});
"""


def _tag(status: str) -> str:
    zh, en = STATUS_NAMES[status]
    return (
        f"<span class='tag {escape(status)}'>{escape(zh)} <span class=en>{escape(en)}</span></span>"
    )


def _page(head: str, body: str, report: int | None = None) -> str:
    """``head``: :func:`office_pages._head`'s start; the body gets the report's id for the script."""
    if report is not None:
        head = head.replace("<body ", f'<body data-report="{int(report)}" ', 1)
    head = head.replace("</style>", REPORT_STYLE + "</style>", 1)
    return f"{head}<main>{body}<div class=error id=error role=alert></div></main>" + (
        f"<script>{SCRIPT}</script></body></html>"
    )


def _who(r: dict) -> str:
    name = r.get("member_name")
    return f"{escape(name)}（{escape(r['member'])}）" if name else escape(r["member"])


def _sector(r: dict) -> str:
    return escape(r.get("sector_name") or r["sector"])


# --- the list --------------------------------------------------------------------------------


def _filters(f: dict, choices: dict) -> str:
    def select_of(name, zh, en, options):
        picked = str(f.get(name) or "")
        items = "".join(
            f'<option value="{escape(v)}"{" selected" if v == picked else ""}>{escape(label)}</option>'
            for v, label in [("", "全部 all"), *options]
        )
        return f"<label>{zh} <span class=en>{en}</span><select name={name} id=f-{name}>{items}</select></label>"

    statuses = [(s, f"{zh} {en}") for s, (zh, en) in STATUS_NAMES.items() if s != "draft"]
    year = escape(str(f.get("year") or ""))
    return (
        "<form id=filters class=filters method=get action=page>"
        + select_of("member", "委员", "member", choices.get("member", []))
        + select_of("sector", "界别", "sector", choices.get("sector", []))
        + select_of("status", "状态", "status", statuses)
        + "<label>年度 <span class=en>year</span><input name=year id=f-year inputmode=numeric "
        f'maxlength=4 value="{year}"></label>'
        "<button type=submit>筛选 Filter</button> <a href=page>清除 clear</a></form>"
    )


def _row(r: dict) -> str:
    when = r.get("submitted_at") or r.get("created_at")
    return (
        f'<a class="case past" id="report-{int(r["report_id"])}" href="{int(r["report_id"])}/page">'
        f"<div class=row><b>{escape(r['title'])}</b>{_tag(r['status'])}</div>"
        f"<div class=meta>{_who(r)} · 界别 <span class=en>sector</span> {_sector(r)}</div>"
        f"<div class=meta>{_when(when)} · {int(r.get('case_count') or 0)} 件案件 "
        f"<span class=en>cases</span></div></a>"
    )


def list_page(
    who: Principal,
    name: str | None,
    f: dict,
    reports: list[dict],
    choices: dict,
    sign_out: str | None,
    error: dict | None = None,
) -> str:
    """A member's own reports (drafts too) with 写社情民意; the office's and admins' submitted
    ones with the filters."""
    mine = who.role == "member"
    parts = []
    if mine:
        parts.append(
            '<a class=button id=new-report href="new">写社情民意 <span class=en>'
            "write a report</span></a> "
            f'<a id=duty href="../duty/{quote(who.member or "")}">返回履职清单 '
            "<span class=en>back to the duty list</span></a>"
        )
    if error:
        items = "".join(f"<li>{escape(k)}: {escape('; '.join(v))}</li>" for k, v in error.items())
        parts.append(
            "<div class='notice error' id=refused role=alert>筛选条件有误 "
            f"<span class=en>some filters are wrong</span><ul>{items}</ul></div>"
        )
    parts.append(
        f"<div class=summary id=total><span>共 {len(reports)} 篇 <span class=en>reports</span></span></div>"
    )
    parts.append(
        "".join(_row(r) for r in reports)
        or "<div class=empty>暂无社情民意信息 <span class=en>No reports</span></div>"
    )
    title = f"社情民意信息 · {name or who.member}" if mine else "社情民意信息"
    head = _head(title, "Social-opinion reports", sign_out, "..")
    if not mine:
        head += _filters(f, choices)
    return _page(head, "".join(parts))


# --- a draft's form ----------------------------------------------------------------------------


def _form(form: dict, values: dict, picked: list[str], buttons: str) -> str:
    sectors = (
        "".join(
            f'<option value="{escape(code)}"{" selected" if code == values.get("sector") else ""}>'
            f"{escape(label)}</option>"
            for code, label in form["sectors"]
        )
        or f'<option value="{escape(values.get("sector") or "")}">{escape(values.get("sector") or "")}</option>'
    )
    cases = []
    for c in form["cases"]:
        n = c["tracking_number"]
        on = " checked" if n in picked else ""
        words = escape((c.get("description") or "")[:80])
        cases.append(
            f'<label class=pick><input type=checkbox name=cases value="{escape(n)}" id="pick-{escape(n)}"{on}>'
            f"<span><b>{escape(n)}</b> · {_category(c['category'])} · {escape(c['status_name'])}"
            f"<span class=meta> {_when(c.get('received_at'))}</span>"
            f"<span class=words>{words}</span></span></label>"
        )
    listed = "".join(cases) or (
        "<div class=empty>您名下暂无案件 <span class=en>no cases of yours yet</span></div>"
    )
    return (
        "<form id=report-form class=case onsubmit='return false'>"
        f"<label>标题 <span class=en>title (≤{TITLE_MAX})</span>"
        f'<input name=title id=title maxlength={TITLE_MAX} value="{escape(values.get("title") or "")}"></label>'
        f"<label>正文：反映的问题、原因分析、意见建议 <span class=en>text: the problem, why, "
        f"what to do (≤{TEXT_MAX})</span><textarea name=text id=text rows=8 maxlength={TEXT_MAX}>"
        f"{escape(values.get('text') or '')}</textarea></label>"
        f"<label>界别 <span class=en>sector</span><select name=sector id=sector>{sectors}</select></label>"
        f"<h2>依据的案件（至少1件，最多{CASES_MAX}件）<span class=en>the cases it draws on "
        f"(1–{CASES_MAX})</span></h2>{listed}{buttons}</form>"
    )


def new_page(form: dict, picked: list[str], sign_out: str | None = None) -> str:
    """A member's new draft: title, text, sector (its own chosen), its cases to tick."""
    buttons = (
        "<button data-op=create id=create>保存草稿 <span class=en>save the draft</span></button>"
    )
    top = (
        '<a id=my-reports href="page">我的社情民意 <span class=en>my reports</span></a>'
        "<p class=meta>从履职清单中反映集中的问题写成社情民意信息，报送政协办公室。"
        "<span class=en>Turn recurring problems from your duty list into a report to the "
        "CPPCC office.</span></p>"
    )
    values = {"sector": form["sector"]}
    head = _head("写社情民意", "New social-opinion report", sign_out, "..")
    return _page(head, top + _form(form, values, picked, buttons))


# --- one report --------------------------------------------------------------------------------


def _case_item(c: dict, link: bool) -> str:
    n = escape(c["tracking_number"])
    label = (
        f'<a href="../../office/cases/{quote(c["tracking_number"], safe="")}">{n}</a>'
        if link
        else f"<b>{n}</b>"
    )
    words = escape((c.get("description") or "")[:120])
    return (
        f'<li id="linked-{n}">{label} · {_category(c["category"])} · {escape(c["status_name"])}'
        f"<div class=meta>{words}</div></li>"
    )


def _outcome(r: dict) -> str:
    if r["status"] not in OUTCOMES:
        return ""
    note = f"<div class=text id=review-note>{escape(r['note'])}</div>" if r.get("note") else ""
    return (
        f"<div class=outcome id=outcome>办公室审阅 <span class=en>the office's review</span>："
        f"{_tag(r['status'])} · {_when(r.get('reviewed_at'))}{note}</div>"
    )


def _review_form(r: dict) -> str:
    radios = "".join(
        f"<label><input type=radio name=outcome value={key} id=outcome-{key}"
        f"{' checked' if key == r['status'] else ''}> {zh} <span class=en>{en}</span></label>"
        for key, (zh, en) in OUTCOMES.items()
    )
    return (
        "<form id=review-form class=case onsubmit='return false'><h2>审阅 <span class=en>review"
        f"</span></h2><div class=radios>{radios}</div>"
        "<label>意见（转送时写明转送单位）<span class=en>note (when forwarded: to whom)</span>"
        f"<textarea name=note id=note>{escape(r.get('note') or '')}</textarea></label>"
        "<button data-op=review id=review>保存审阅 <span class=en>save the review</span></button>"
        "</form>"
    )


def report_page(who: Principal, r: dict, form: dict | None, sign_out: str | None = None) -> str:
    """One report. ``form``: the member's draft form (its cases, the sectors), when it may edit."""
    submitted = (
        f"<div class=meta>报送 <span class=en>submitted</span> {_when(r['submitted_at'])}</div>"
        if r.get("submitted_at")
        else ""
    )
    hidden = (
        f"<div class=meta>另有 {int(r['cases_hidden'])} 件不在您的范围内 <span class=en>more "
        "cases outside your reach</span></div>"
        if r.get("cases_hidden")
        else ""
    )
    link = who.role != "member"
    cases = "".join(_case_item(c, link) for c in r["cases"])
    parts = [
        f"<div class='case report past' id=report><div class=row><h2 id=report-title>"
        f"{escape(r['title'])}</h2><span id=status>{_tag(r['status'])}</span></div>"
        f"<div class=meta>委员 <span class=en>member</span> {_who(r)} · 界别 "
        f"<span class=en>sector</span> {_sector(r)}</div>{submitted}"
        f"<div class=text id=report-text>{escape(r['text'])}</div>{_outcome(r)}"
        f"<h2>依据的案件 <span class=en>cases</span></h2><ul class=cases id=cases>{cases}</ul>"
        f"{hidden}</div>"
    ]
    if form is not None:
        buttons = (
            "<button class=alt data-op=save id=save>保存 <span class=en>save</span></button>"
            "<button data-op=submit id=submit>报送政协办公室 <span class=en>submit to the office"
            "</span></button><p class=meta>报送后不能再修改 <span class=en>read-only once "
            "submitted</span></p>"
        )
        values = {"title": r["title"], "text": r["text"], "sector": r["sector"]}
        picked = [c["tracking_number"] for c in r["cases"]]
        parts.append(_form(form, values, picked, buttons))
    elif who.is_office and r["status"] != "draft":
        parts.append(_review_form(r))
    back = '<a id=back href="../page">返回列表 <span class=en>back to the list</span></a>'
    head = _head(
        f"社情民意 #{int(r['report_id'])}", "Social-opinion report", sign_out, "../..", back
    )
    return _page(head, "".join(parts), report=r["report_id"])
