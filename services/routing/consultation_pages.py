"""The consultation pages (有事好商量, ``consultations.py``): the list with its filters, the form
that records one, and one consultation with its cases.

The house style of :mod:`services.routing.office_pages`: f-string HTML, every value escaped, no
user text in script (the form's one listener reads the fields by name), Chinese first with
English beside it, phone-sized first. The form posts JSON to ``POST /consultations`` (the same
route a program calls) and opens the new consultation's page; a refusal shows each field's
message beside the form.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote, urlencode

from services.routing import lifecycle
from services.routing.office_pages import _head
from services.routing.pages import _category, _when

FORM_STYLE = """
.picks label{display:flex;gap:8px;align-items:flex-start;margin:6px 0}
.picks input{width:auto;margin-top:4px}
fieldset{border:1px solid #ddd;border-radius:8px;background:#fff;margin:8px 0;padding:8px 10px}
legend{font-weight:bold;padding:0 4px}
.case-pick{border-top:1px solid #eee;padding:6px 0}.case-pick .words{max-height:3em;overflow:hidden}
.case-pick .opts{display:flex;gap:16px;flex-wrap:wrap}
dl{margin:0}dt{color:#555;font-size:.9em;margin-top:8px}dd{margin:2px 0 0 0;white-space:pre-wrap}
a.button{display:inline-block;padding:8px 12px;border-radius:6px;background:#1565c0;color:#fff;
text-decoration:none;margin:8px 0}a.button .en{color:#e3f2fd}
"""

FORM_SCRIPT = """
document.getElementById('record').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target, root = document.body.dataset.root;
  const lines = (name) => form.elements[name].value.split('\\n').map(s => s.trim())
                                                       .filter(s => s);
  const ticked = (name) => Array.from(form.querySelectorAll('input[name="' + name + '"]:checked'))
                                .map(i => i.value);
  const body = {topic: form.elements.topic.value, date: form.elements.date.value,
                agreement: form.elements.agreement.value,
                follow_up_owner: form.elements.follow_up_owner.value,
                units_invited: lines('units_invited'), units_present: lines('units_present'),
                members: ticked('members'), cases: ticked('cases'), settled: ticked('settled')};
  body[form.dataset.kind] = form.dataset.code;
  const out = document.getElementById('refused'), go = document.getElementById('save');
  go.disabled = true; out.textContent = '';
  try {
    const r = await fetch(root + '/consultations', {method: 'POST',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
    const answer = await r.json();
    if (r.ok) { location.href = root + '/consultations/' + answer.consultation_id + '/page';
                return; }
    const err = answer.error, parts = [err.message_zh + ' / ' + err.message];
    for (const [k, v] of Object.entries(err.fields || {})) { parts.push(k + ': ' + v.join('; ')); }
    out.textContent = parts.join('\\n');
  } catch (x) { out.textContent = '网络错误，请重试 / network error, try again'; }
  go.disabled = false;
});
"""


def _page(title_zh, title_en, sign_out, root, body: str, back: str = "", script="") -> str:
    head = _head(title_zh, title_en, sign_out, root, back).replace(
        "</style>", f"{FORM_STYLE}</style>", 1
    )
    return head + body + (f"<script>{script}</script>" if script else "") + "</body></html>"


def _options(items: list[tuple[str, str]], picked: str | None, blank="全部 all") -> str:
    return "".join(
        f'<option value="{escape(v)}"{" selected" if v == (picked or "") else ""}>'
        f"{escape(label)}</option>"
        for v, label in [("", blank), *items]
    )


def _convener(c: dict) -> str:
    kind = (
        "工作站 <span class=en>station</span>"
        if c.get("station")
        else ("工作室 <span class=en>studio</span>")
    )
    code = escape(c.get("station") or c.get("studio") or "")
    name = c.get("convener_name")
    return f"{kind} {escape(name)}（{code}）" if name else f"{kind} {code}"


# --- the list ---------------------------------------------------------------------------------


def list_page(found, f: dict, choices: dict, *, sign_out=None, error=None) -> str:
    """The consultations the caller may see, filtered by station, studio, member and year."""
    places = "".join(
        f"<label>{zh} <span class=en>{en}</span><select name={key} id=f-{key}>"
        f"{_options(choices[key + 's'], f.get(key))}</select></label>"
        for key, zh, en in (("station", "工作站", "station"), ("studio", "工作室", "studio"))
        if choices[key + "s"]  # a station admin has no studio to pick, and the other way round
    )
    form = (
        f"<form id=filters class=search method=get action=page><div class=grid>{places}"
        "<label>到会委员编号 <span class=en>member present</span>"
        f'<input name=member id=f-member maxlength=40 value="{escape(f.get("member") or "")}">'
        "</label><label>年份 <span class=en>year</span>"
        f'<input name=year id=f-year inputmode=numeric maxlength=4 value="{f.get("year") or ""}">'
        "</label></div><button type=submit>筛选 Filter</button> <a href=page>清除 clear</a></form>"
    )
    new = {k: f[k] for k in ("station", "studio") if f.get(k)}
    body = [form, "<main class=wide>"]
    body.append(
        f'<a class=button id=new href="new{"?" + urlencode(new) if new else ""}">'
        "记录一次协商 <span class=en>record a consultation</span></a>"
    )
    if error:
        items = "".join(f"<li>{escape(k)}: {escape('; '.join(v))}</li>" for k, v in error.items())
        body.append(
            "<div class='notice error' id=refused role=alert>筛选条件有误 "
            f"<span class=en>some filters are wrong</span><ul>{items}</ul></div>"
        )
    if found is not None:
        body.append(
            f"<div class=summary><span id=total>共 {len(found)} 次 "
            f"<span class=en>{len(found)} consultations</span></span></div>"
        )
        for c in found:
            settled = len(c["settled"])
            body.append(
                f'<a class="case past" id="consultation-{c["consultation_id"]}" '
                f'href="{c["consultation_id"]}/page"><div class=row><b>{escape(c["topic"])}</b>'
                f"<span class=tag>{escape(c['date'])}</span></div>"
                f"<div class=meta>{_convener(c)} · 案件 {len(c['cases'])} 件，议定办结 {settled} 件 "
                f"<span class=en>{len(c['cases'])} cases, {settled} settled</span></div>"
                f"<div class=words>{escape(c['agreement'])}</div></a>"
            )
        if not found:
            body.append(
                "<div class=empty>暂无协商记录 <span class=en>No consultations</span></div>"
            )
    body.append("</main>")
    back = '<a id=cases href="../office/cases">案件 <span class=en>cases</span></a>'
    return _page("协商议事", "Consultations", sign_out, "..", "".join(body), back)


# --- the form ---------------------------------------------------------------------------------


def _picker(choices: dict, convener: dict | None) -> str:
    """Which station or studio convenes: a GET form that reloads the page with its cases
    (nothing when the caller has only the one it has)."""
    if convener is not None and len(choices["stations"]) + len(choices["studios"]) == 1:
        return ""
    picked = convener["code"] if convener else None
    kind = convener["kind"] if convener else None
    parts = ["<form id=convener class=search method=get action=new><div class=grid>"]
    if choices["stations"]:
        parts.append(
            "<label>召集的工作站 <span class=en>convening station</span><select name=station "
            f"id=pick-station>{_options(choices['stations'], picked if kind == 'station' else None, '—')}"
            "</select></label>"
        )
    if choices["studios"]:
        parts.append(
            "<label>或工作室 <span class=en>or studio</span><select name=studio id=pick-studio>"
            f"{_options(choices['studios'], picked if kind == 'studio' else None, '—')}</select></label>"
        )
    parts.append("</div><button type=submit>选择 Choose</button></form>")
    return "".join(parts)


def _case_pick(c: dict) -> str:
    number = escape(c["tracking_number"])
    settle = (
        f'<label><input type=checkbox name=settled value="{number}" id="settle-{number}"> '
        "议定办结 <span class=en>settles it</span></label>"
        if c["status"] in lifecycle.ACTIVE
        else "<span class=meta>未派单，只能关联 <span class=en>not assigned: link only</span></span>"
    )
    return (
        f'<div class=case-pick id="pick-{number}"><div class=row><b>{number}</b>'
        f"<span class=tag>{escape(c['status_name'])}</span></div>"
        f"<div>{_category(c['category'])} · 受理 {_when(c.get('received_at'))}</div>"
        f"<div class=words>{escape(c.get('description') or '')}</div><div class=opts>"
        f'<label><input type=checkbox name=cases value="{number}" id="link-{number}"> '
        f"关联 <span class=en>linked</span></label>{settle}</div></div>"
    )


def new_page(convener, choices, cases, members, today: str, *, sign_out=None) -> str:
    """The form: topic, date, units invited and present (one a line), members present (the
    convener's members), the convener's open cases (linked / settles), agreement, follow-up."""
    back = '<a id=back href="page">协商列表 <span class=en>the list</span></a>'
    body = [_picker(choices, convener), "<main>"]
    if convener is None:
        body.append(
            "<div class=empty>请先选择召集的工作站或工作室 "
            "<span class=en>choose the convening station or studio first</span></div></main>"
        )
        return _page("记录协商", "Record a consultation", sign_out, "..", "".join(body), back)
    people = (
        "".join(
            f'<label><input type=checkbox name=members value="{escape(code)}" id="member-{escape(code)}">'
            f" {escape(name)}（{escape(code)}）</label>"
            for code, name in members.items()
        )
        or "<span class=meta>暂无委员 <span class=en>no members</span></span>"
    )
    picks = "".join(_case_pick(c) for c in cases) or (
        "<div class=empty>暂无未办结的案件 <span class=en>No open cases</span></div>"
    )
    body.append(
        f'<form id=record data-kind="{escape(convener["kind"])}" data-code="{escape(convener["code"])}">'
        f"<div class=meta id=convening>召集 <span class=en>convened by</span> "
        f"{escape(convener['name'])}（{escape(convener['code'])}）</div>"
        "<label>议题 <span class=en>topic</span><input name=topic id=topic maxlength=200 "
        'placeholder="如：建宁路护坡雨污水管道隐患"></label>'
        f'<label>日期 <span class=en>date</span><input type=date name=date id=date value="{today}" '
        f'max="{today}"></label>'
        "<label>受邀单位（每行一个）<span class=en>units invited, one a line</span>"
        "<textarea name=units_invited id=units-invited rows=4></textarea></label>"
        "<label>到会单位（每行一个）<span class=en>units present, one a line</span>"
        "<textarea name=units_present id=units-present rows=4></textarea></label>"
        f"<fieldset class=picks><legend>到会委员 <span class=en>members present</span></legend>{people}"
        "</fieldset>"
        "<fieldset class=picks><legend>案件 <span class=en>cases</span></legend>"
        f"{picks}</fieldset>"
        "<label>议定事项（即办结答复）<span class=en>agreement (the settled cases' answer)</span>"
        "<textarea name=agreement id=agreement rows=4></textarea></label>"
        "<label>跟进责任人 <span class=en>follow-up owner</span>"
        "<input name=follow_up_owner id=follow-up maxlength=200></label>"
        "<button type=submit id=save>保存 Save</button>"
        "<pre class=error id=refused role=alert></pre></form></main>"
    )
    return _page(
        "记录协商", "Record a consultation", sign_out, "..", "".join(body), back, FORM_SCRIPT
    )


# --- one consultation -------------------------------------------------------------------------


def _list(items: list[str]) -> str:
    return escape("、".join(items)) if items else "-"


def detail_page(c: dict, *, sign_out=None) -> str:
    """One consultation, every field, and its cases with links to them."""
    names = c.get("member_names") or {}
    members = [f"{names.get(m, m)}（{m}）" if m in names else m for m in c["members"]]
    rows = []
    for number in c["cases"]:
        status = c["case_status"].get(number, "")
        settles = number in c["settled"]
        rows.append(
            f'<li id="case-{escape(number)}"><a href="../../office/cases/{quote(number, safe="")}">'
            f"{escape(number)}</a> · {escape(lifecycle.STATUS_NAMES.get(status, status))} "
            f"<span class=en>{escape(status)}</span>"
            f"{' · <b>议定办结</b> <span class=en>settled</span>' if settles else ''}</li>"
        )
    fields = [
        ("召集", "convened by", _convener(c)),
        ("区县", "district", escape(c.get("district") or "-")),
        ("日期", "date", escape(c["date"])),
        ("受邀单位", "units invited", _list(c["units_invited"])),
        ("到会单位", "units present", _list(c["units_present"])),
        ("到会委员", "members present", _list(members)),
        ("议定事项", "agreement", escape(c["agreement"])),
        ("跟进责任人", "follow-up owner", escape(c["follow_up_owner"])),
        ("记录", "recorded", f"{escape(c['actor'])} · {_when(c['recorded_at'])}"),
    ]
    items = "".join(
        f'<dt>{zh} <span class=en>{en}</span></dt><dd id="d-{en.replace(" ", "-")}">{value}</dd>'
        for zh, en, value in fields
    )
    body = (
        f"<main><div class='case past' id=consultation><h2 id=topic>{escape(c['topic'])}</h2>"
        f"<dl>{items}</dl><h2>案件 <span class=en>cases</span> ({len(c['cases'])})</h2>"
        f"<ol id=cases>{''.join(rows)}</ol></div></main>"
    )
    back = '<a id=back href="../page">协商列表 <span class=en>the list</span></a>'
    title = f"协商 #{c['consultation_id']}"
    return _page(title, f"Consultation #{c['consultation_id']}", sign_out, "../..", body, back)
