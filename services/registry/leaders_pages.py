"""The leader-liaison pages (领导对口联系) and their JSON twins: ``LeaderRoutes``, a mixin of the
registry service.

Pages (phone first, Chinese first, forms with the CSRF token, ``office_page.Page``):
``/office/leaders`` (list, add), ``/office/leaders/<code>`` (edit, link stations, the leader's
visits), ``/office/visits?leader=&station=&member=&year=`` (list, record a visit, withdraw one).
A station's admin opens ``/office/visits`` and sees its own stations' visits only; everything
else is the office's. The rules are ``leaders.py``'s; this module reads forms and writes HTML.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel import auth
from services.kernel.auth import guard
from services.kernel.http import ApiError, flag_arg, json_response
from services.kernel.web import http
from services.registry import args, leaders
from services.registry.models import Leader, Member, Membership, Station
from services.registry.office_page import Page, field_errors, invalid_attr, notice

SHOWN = 500  # visits one page lists; the filters narrow them
MULTI = "可按住 Ctrl（手机上直接点选）多选 / hold Ctrl to pick several (tap on a phone)"
STATUS = {True: ("有效", "recorded"), False: ("已撤销", "withdrawn")}
CONFIRM = (
    "return confirm('撤销这次走访？撤销后不再计数。 Withdraw this visit? It no longer counts.')"
)

SCRIPT = """
(function(){
  var refused=document.getElementById('form-error');
  if(refused){refused.scrollIntoView({block:'start'});}
  var leader=document.getElementById('visit-leader');var station=document.getElementById('visit-station');
  if(!leader||!station){return;}
  function show(){
    var first=null;
    station.querySelectorAll('option').forEach(function(o){
      var on=!o.value||(' '+o.dataset.leaders+' ').indexOf(' '+leader.value+' ')>=0;
      o.hidden=!on;o.disabled=!on;if(on&&o.value&&!first){first=o;}
    });
    var chosen=station.options[station.selectedIndex];
    if(!chosen||chosen.disabled){station.value=first?first.value:'';}
  }
  var picker=document.getElementById('visit-picked');
  function members(){
    if(!picker){return;}
    picker.querySelectorAll('option').forEach(function(o){
      var on=o.dataset.station===station.value;o.hidden=!on;o.disabled=!on;if(!on){o.selected=false;}
    });
  }
  leader.addEventListener('change',function(){show();members();});
  station.addEventListener('change',members);show();members();
})();
"""


# -- small pieces -----------------------------------------------------------------------------------


def flat(messages) -> dict:
    """A refusal's field messages as lists of text (a list's item errors come keyed by index)."""
    if not isinstance(messages, dict):
        return {"_body": [str(messages)]}
    out = {}
    for field, said in messages.items():
        if isinstance(said, dict):
            out[str(field)] = [str(m) for v in said.values() for m in flat_list(v)]
        else:
            out[str(field)] = [str(m) for m in flat_list(said)]
    return out


def flat_list(said) -> list:
    if isinstance(said, dict):
        return [m for v in said.values() for m in flat_list(v)]
    return list(said) if isinstance(said, list) else [said]


def refusal(err: Exception) -> dict | None:
    """A form's refusal as field messages, or None when it is not the client's mistake."""
    if isinstance(err, ValidationError):
        return flat(err.messages)
    if isinstance(err, ApiError):
        return flat(err.fields) if err.fields else {"_body": [f"{err.message_zh} / {err.message}"]}
    return None


def option(value: str, label: str, chosen) -> str:
    on = value in chosen if isinstance(chosen, (list, set, tuple)) else value == chosen
    return f'<option value="{escape(value)}"{" selected" if on else ""}>{escape(label)}</option>'


def names(session: Session, model) -> dict:
    return dict(session.execute(select(model.code, model.name).order_by(model.code)).all())


def station_label(stations: dict, code: str) -> str:
    return f"{stations.get(code, code)}（{code}）"


def text_field(field, zh, en, typed, errors, kind="text", extra="", name=None) -> str:
    """A labelled input with its errors; ``name``: the form's field when not the id."""
    value = escape(str(typed.get(field) or ""))
    return (
        f"<label for={field}>{zh} <span class=en>{en}</span></label>"
        f'<input id={field} name={name or field} type={kind} value="{value}"{extra}'
        f"{invalid_attr(errors, field)}>{field_errors(errors, field)}"
    )


def banner_for(errors: dict, what: tuple[str, str]) -> str:
    if not errors:
        return ""
    body = field_errors(errors, "_body")
    return notice(f"未{what[0]}：请改正标出的字段", f"not {what[1]}: correct the fields marked",
                  False, "form-error") + body  # fmt: skip


# -- /office/leaders --------------------------------------------------------------------------------


def visits_this_year(session: Session) -> Counter:
    year = leaders.today().year
    found = leaders.list_visits(session, year=year, active=True)
    return Counter(v["leader"] for v in found)


def _leader_rows(found: list[dict], stations: dict, counted: Counter) -> str:
    if not found:
        return "<p id=no-leaders>还没有领导 <span class=en>no leader yet</span></p>"
    rows = []
    for ld in found:
        code = escape(ld["code"])
        zh, en = ("在任", "active") if ld["active"] else ("已停用", "deactivated")
        linked = "、".join(escape(station_label(stations, s)) for s in ld["stations"]) or "-"
        rows.append(
            f'<tr id="leader-{code}"{"" if ld["active"] else " class=inactive"}>'
            f'<td data-label="领导 Leader"><b>{escape(ld["name"])}</b> {escape(ld["title"])}'
            f"<br><span class=hint>{code}</span></td>"
            f'<td data-label="联系的工作站 Linked stations" class=linked>{linked}</td>'
            f'<td data-label="今年走访 Visits this year" class=count>{counted[ld["code"]]}</td>'
            f'<td data-label="状态 Status">{zh} <span class=en>{en}</span></td>'
            f'<td data-label="操作 Actions"><a href="leaders/{code}" id="edit-{code}">编辑 '
            f'<span class=en>Edit</span></a> · <a href="visits?leader={code}">走访 '
            "<span class=en>Visits</span></a></td></tr>"
        )
    head = "".join(
        f"<th>{z} <span class=en>{e}</span></th>"
        for z, e in (("领导", "Leader"), ("联系的工作站", "Linked stations"),
                     ("今年走访", "Visits this year"), ("状态", "Status"), ("操作", "Actions"))
    )  # fmt: skip
    return (
        f"<table class=cards id=leaders><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _leader_fields(stations: dict, typed: dict, errors: dict, with_code: bool) -> str:
    titles = "".join(f'<option value="{escape(t)}"></option>' for t in leaders.TITLES)
    chosen = typed.get("stations") or []
    picks = "".join(option(c, f"{n}（{c}）", chosen) for c, n in stations.items())
    code = (
        text_field(
            "code",
            "编号",
            "Code",
            typed,
            errors,
            extra=" autocapitalize=none autocomplete=off required",
        )  # fmt: skip
        + "<p class=hint>小写字母、数字和连字符，如 ldr-wang / lowercase, digits, '-'</p>"
        if with_code
        else ""
    )
    return (
        code
        + text_field("name", "姓名", "Name", typed, errors, extra=" required")
        + text_field("title", "职务", "Title", typed, errors, extra=" list=titles required")
        + f"<datalist id=titles>{titles}</datalist>"
        "<label for=stations>联系的工作站 <span class=en>Linked stations</span></label>"
        f"<select id=stations name=stations multiple{invalid_attr(errors, 'stations')}>"
        f"{picks}</select><p class=hint>{MULTI}</p>{field_errors(errors, 'stations')}"
    )


def leaders_main(page: Page, session: Session, typed=None, errors=None, banner="") -> str:
    typed, errors = typed or {}, errors or {}
    stations = names(session, Station)
    found = leaders.list_leaders(session)
    add = page.form(
        "leaders",
        _leader_fields(stations, typed, errors, True)
        + "<button type=submit id=add-leader-submit>添加领导 <span class=en>Add leader</span>"
        "</button>",
        "add-leader",
    )
    return (
        banner
        + "<section><h2>市政协领导对口联系 <span class=en>Leaders and their stations</span></h2>"
        f"<p class=hint>共 {len(found)} 位 <span class=en>{len(found)} leaders</span> · "
        '<a href="visits">走访记录 <span class=en>visits</span></a></p>'
        f"{_leader_rows(found, stations, visits_this_year(session))}</section>"
        "<section id=add><h2>添加领导 <span class=en>Add a leader</span></h2>"
        f"{banner_for(errors, ('添加', 'added'))}{add}</section>"
        f"<script>{SCRIPT}</script>"
    )


def leader_form(form) -> dict:
    data = {k: form.get(k, "").strip() for k in ("code", "name", "title")}
    data["stations"] = [c for c in form.getlist("stations") if c]
    if "active" in form:
        data["active"] = bool(flag_arg(form.getlist("active")[-1], "active"))
    return data


def add_leader(page: Page, session: Session, form) -> tuple[str, int]:
    data = leader_form(form)
    try:
        row, _ = leaders.create_leader(session, data)
    except (ValidationError, ApiError) as err:
        errors = refusal(err)
        if errors is None:
            raise
        return leaders_main(page, session, data, errors), 400
    said = notice(f"已添加 {row.title}{row.name}", f"{row.name} ({row.code}) added")
    return leaders_main(page, session, banner=said), 200


# -- /office/leaders/<code> -------------------------------------------------------------------------


def _visit_list(page, session, found: list[dict], office: bool) -> str:
    if not found:
        return "<p id=no-visits>没有符合条件的走访 <span class=en>no visit matches</span></p>"
    stations = names(session, Station)
    people = {**names(session, Member)}
    heads = {r.code: f"{r.title}{r.name}" for r in session.scalars(select(Leader))}
    rows = []
    for v in found[:SHOWN]:
        vid = escape(v["visit_id"])
        zh, en = STATUS[v["active"]]
        came = "、".join(escape(people.get(m, m)) for m in v["members"]) or "-"
        withdraw = ""
        if office and v["active"]:
            withdraw = page.form(
                "visit-withdraw" if page.here == "visits" else "../visit-withdraw",
                f'<input type=hidden name=visit_id value="{vid}">'
                f'<button class=danger type=submit id="withdraw-{vid}" onclick="{CONFIRM}">撤销 '
                "<span class=en>Withdraw</span></button>",
            )
        rows.append(
            f'<tr id="visit-{vid}"{"" if v["active"] else " class=inactive"}>'
            f'<td data-label="日期 Date"><b>{escape(v["date"])}</b></td>'
            f'<td data-label="领导 Leader">{escape(heads.get(v["leader"], v["leader"]))}</td>'
            f'<td data-label="工作站 Station">{escape(station_label(stations, v["station"]))}</td>'
            f'<td data-label="推进事项 Pushed forward" class=purpose>{escape(v["purpose"])}</td>'
            f'<td data-label="同行人员 Who came" class=members>{came}'
            + (f"<br><span class=hint>{escape(v['others'])}</span>" if v["others"] else "")
            + f'</td><td data-label="状态 Status" class=status>{zh} <span class=en>{en}</span>'
            f"{withdraw}</td></tr>"
        )
    head = "".join(
        f"<th>{z} <span class=en>{e}</span></th>"
        for z, e in (("日期", "Date"), ("领导", "Leader"), ("工作站", "Station"),
                     ("推进事项", "Pushed forward"), ("同行人员", "Who came"), ("状态", "Status"))
    )  # fmt: skip
    more = ""
    if len(found) > SHOWN:
        more = f"<p class=hint>只显示前{SHOWN}条 <span class=en>first {SHOWN} shown</span></p>"
    return (
        f"<table class=cards id=visits><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{more}"
    )


def leader_page(page: Page, session: Session, code: str, typed=None, errors=None, banner=""):
    row = leaders.get_leader(session, code)
    record = leaders.leader_record(row)
    typed, errors = typed or record, errors or {}
    stations = names(session, Station)
    active = typed.get("active", record["active"])
    inner = (
        _leader_fields(stations, typed, errors, False)
        + "<input type=hidden name=active value=false>"
        f"<label><input type=checkbox name=active value=true id=active{' checked' if active else ''}>"
        "在任 <span class=en>active</span></label>"
        "<button type=submit id=save-leader>保存 <span class=en>Save</span></button>"
    )
    found = leaders.list_visits(session, leader=row.code)
    c = escape(row.code)
    return (
        banner
        + f"<section><h2>{escape(row.title)}{escape(row.name)} <span class=en>{c}</span></h2>"
        f'<p><a href="../leaders">← 全部领导 <span class=en>all leaders</span></a> · '
        f'<a href="../visits?leader={c}#record" id=record-link>记录走访 '
        "<span class=en>record a visit</span></a></p>"
        f"{banner_for(errors, ('保存', 'saved'))}{page.form(c, inner, 'edit-leader')}</section>"
        f"<section><h2>走访记录 <span class=en>Visits</span> ({len(found)})</h2>"
        f"{_visit_list(page, session, found, page.who.is_office)}</section>"
        f"<script>{SCRIPT}</script>"
    )


def save_leader_page(page: Page, session: Session, code: str, form) -> tuple[str, int]:
    data = leader_form(form)
    data.pop("code", None)
    try:
        row, changed = leaders.update_leader(session, code, data)
    except (ValidationError, ApiError) as err:
        errors = refusal(err)
        if errors is None or getattr(err, "status", 400) == 404:
            raise
        return leader_page(page, session, code, data, errors), 400
    said = (
        notice(f"已保存 {row.name}", f"{row.name} saved")
        if changed
        else notice("没有改动", "nothing changed")
    )
    return leader_page(page, session, code, banner=said), 200


# -- /office/visits ---------------------------------------------------------------------------------


def _filter_form(wanted: dict, heads: dict, stations: dict) -> str:
    leader_opts = option("", "全部领导 / all leaders", wanted["leader"] or "") + "".join(
        option(c, label, wanted["leader"] or "") for c, label in heads.items()
    )
    station_opts = option("", "全部工作站 / all stations", wanted["station"] or "") + "".join(
        option(c, f"{n}（{c}）", wanted["station"] or "") for c, n in stations.items()
    )
    year = wanted["year"] or ""
    return (
        "<section><h2>查找走访 <span class=en>Find visits</span></h2>"
        '<form method=get action="visits" id=filter><div class=row>'
        "<div><label for=filter-leader>领导 <span class=en>Leader</span></label>"
        f"<select id=filter-leader name=leader>{leader_opts}</select></div>"
        "<div><label for=filter-station>工作站 <span class=en>Station</span></label>"
        f"<select id=filter-station name=station>{station_opts}</select></div>"
        "<div><label for=filter-member>同行委员编号 <span class=en>Member code</span></label>"
        f'<input id=filter-member name=member value="{escape(wanted["member"] or "")}" '
        "autocapitalize=none></div>"
        "<div><label for=filter-year>年份 <span class=en>Year</span></label>"
        f'<input id=filter-year name=year type=number min=2000 max=2100 value="{year}"></div>'
        "</div><button type=submit id=filter-submit>查找 <span class=en>Search</span></button>"
        "</form></section>"
    )


def _record_form(page: Page, session, typed: dict, errors: dict, stations: dict) -> str:
    found = [ld for ld in leaders.list_leaders(session) if ld["active"]]
    chosen = typed.get("leader") or ""
    leader_opts = option("", "请选择 / choose", chosen) + "".join(
        option(ld["code"], f"{ld['title']}{ld['name']}", chosen) for ld in found
    )
    linked = {}
    for ld in found:
        for s in ld["stations"]:
            linked.setdefault(s, []).append(ld["code"])
    station_opts = option("", "请选择 / choose", typed.get("station") or "") + "".join(
        f'<option value="{escape(s)}" data-leaders="{escape(" ".join(who))}"'
        f"{' selected' if s == typed.get('station') else ''}>"
        f"{escape(station_label(stations, s))}</option>"
        for s, who in sorted(linked.items())
    )
    day = typed.get("date") or leaders.today().isoformat()
    picked = typed.get("picked") or []
    pick_opts = "".join(
        f'<option value="{escape(code)}" data-station="{escape(s)}"'
        f"{' selected' if code in picked else ''}>{escape(name)}（{escape(code)}）</option>"
        for s, code, name in serving(session, sorted(linked))
    )
    inner = (
        "<label for=visit-leader>领导 <span class=en>Leader</span></label>"
        f"<select id=visit-leader name=leader required{invalid_attr(errors, 'leader')}>"
        f"{leader_opts}</select>{field_errors(errors, 'leader')}"
        "<label for=visit-station>工作站（该领导联系的） <span class=en>Station (one of the "
        "leader's)</span></label>"
        f"<select id=visit-station name=station required{invalid_attr(errors, 'station')}>"
        f"{station_opts}</select>{field_errors(errors, 'station')}"
        "<label for=visit-date>日期 <span class=en>Date</span></label>"
        f'<input id=visit-date name=date type=date value="{escape(day)}" '
        f'max="{leaders.today().isoformat()}" required{invalid_attr(errors, "date")}>'
        f"{field_errors(errors, 'date')}"
        "<label for=visit-purpose>推进事项 <span class=en>What was pushed forward</span></label>"
        f"<textarea id=visit-purpose name=purpose maxlength={leaders.MAX_PURPOSE} rows=3 "
        f'required style="width:100%;font-size:1em"{invalid_attr(errors, "purpose")}>'
        f"{escape(typed.get('purpose') or '')}</textarea>{field_errors(errors, 'purpose')}"
        + "<label for=visit-picked>同行委员（本站） <span class=en>Members of the station who "
        "came</span></label>"
        f"<select id=visit-picked name=picked multiple>{pick_opts}</select>"
        f"<p class=hint>{MULTI}</p>"
        + text_field(
            "visit-members",
            "其他同行委员编号",
            "Other members who came (codes)",
            {"visit-members": typed.get("members_text", "")},
            {},
            extra=" autocapitalize=none" + invalid_attr(errors, "members"),
            name="members",
        )  # fmt: skip
        + "<p class=hint>用逗号或空格分隔，如 m001, m002 / codes separated by commas</p>"
        + field_errors(errors, "members")
        + text_field(
            "visit-others",
            "其他同行人员",
            "Others who came",
            {"visit-others": typed.get("others", "")},
            {},
            extra=f" maxlength={leaders.MAX_OTHERS}" + invalid_attr(errors, "others"),
            name="others",
        )  # fmt: skip
        + field_errors(errors, "others")
        + "<button type=submit id=record-submit>记录走访 <span class=en>Record visit</span>"
        "</button>"
    )
    return (
        "<section id=record><h2>记录走访 <span class=en>Record a visit</span></h2>"
        f"{banner_for(errors, ('记录', 'recorded'))}{page.form('visits', inner, 'record-form')}"
        "</section>"
    )


def visits_main(page: Page, session: Session, wanted: dict, typed=None, errors=None, banner=""):
    who = page.who
    scoped = leaders.scope_visits(who, wanted)
    found = leaders.list_visits(
        session, **{k: scoped[k] for k in ("leader", "station", "member", "year", "stations")}
    )
    stations = names(session, Station)
    if not who.is_office:
        stations = {c: n for c, n in stations.items() if c in who.stations}
    heads = {
        ld["code"]: f"{ld['title']}{ld['name']}"
        for ld in leaders.list_leaders(session, leaders.leader_scope(who))
    }
    active = sum(1 for v in found if v["active"])
    typed = typed or {"leader": wanted["leader"]}  # from a leader's page: that leader chosen
    record = _record_form(page, session, typed, errors or {}, names(session, Station))
    return (
        banner
        + _filter_form(wanted, heads, stations)
        + "<section><h2>领导走访 <span class=en>Leaders' visits</span></h2>"
        f"<p class=hint id=visit-count>共 {active} 次有效走访 <span class=en>{active} visits"
        f"</span>{f'（另有 {len(found) - active} 次已撤销）' if len(found) > active else ''}</p>"
        f"{_visit_list(page, session, found, who.is_office)}</section>"
        + (record if who.is_office else "")
        + f"<script>{SCRIPT}</script>"
    )


def visit_form(form) -> tuple[str, dict]:
    """The record form: the members picked from the station's list and those typed by code."""
    data = {k: form.get(k, "").strip() for k in ("station", "date", "purpose", "others")}
    picked = [c for c in form.getlist("picked") if c]
    data["members"] = list(dict.fromkeys(picked + leaders.codes(form.get("members", ""))))
    return form.get("leader", "").strip(), data


def serving(session: Session, stations: list[str]) -> list[tuple[str, str, str]]:
    """``(station, member code, name)`` of the active members serving at ``stations``."""
    if not stations:
        return []
    query = (
        select(Membership.station_code, Member.code, Member.name)
        .join(Member, Member.code == Membership.member_code)
        .where(Membership.station_code.in_(stations), Member.active.is_(True))
        .order_by(Membership.station_code, Member.code)
    )
    return [tuple(row) for row in session.execute(query)]


def record_visit(page: Page, session: Session, form) -> tuple[str, int]:
    leader, data = visit_form(form)
    wanted = {"leader": leader or None, "station": None, "member": None, "year": None}
    try:
        if not leader:
            raise ValidationError({"leader": ["必填 / required"]})
        row, _, _ = leaders.save_visit(session, leader, data)
    except (ValidationError, ApiError) as err:
        errors = refusal(err)
        if errors is None:
            raise
        if isinstance(err, ApiError) and err.status == 404:
            errors = {"leader": [f"{err.message_zh} / {err.message}"]}
        typed = {**data, "leader": leader, "members_text": form.get("members", ""),
                 "picked": form.getlist("picked")}  # fmt: skip
        return visits_main(page, session, wanted, typed, errors), 400
    said = notice(f"已记录 {row.day} 的走访（{row.visit_id}）", f"visit {row.visit_id} recorded")
    return visits_main(page, session, wanted, banner=said), 200


def withdraw(page: Page, session: Session, form) -> str:
    row, changed = leaders.withdraw_visit(session, form.get("visit_id", ""))
    said = (
        notice(f"已撤销走访 {row.visit_id}", f"visit {row.visit_id} withdrawn")
        if changed
        else notice("该走访已撤销", "already withdrawn")
    )
    wanted = {"leader": row.leader_code, "station": None, "member": None, "year": None}
    return visits_main(page, session, wanted, banner=said)


# -- the routes (a mixin of RegistryService: JSON, then pages) ---------------------------------------


def saved(payload: dict, changed: bool, status: int = 200):
    return json_response({"saved": payload, "changed": changed}, status)


class LeaderRoutes:
    """``/leaders``, ``/visits`` and their pages. Writes are the office's; a station's admin
    reads its own stations' visits and the leaders linked to them (``leaders.scope_visits``)."""

    @http("GET", "/leaders")
    @guard("office", "station_admin")
    def http_leaders(self, request):
        who = auth.current(request)
        with self.db.transaction() as session:
            found = leaders.list_leaders(session, leaders.leader_scope(who))
        return json_response({"leaders": found})

    @http("POST", "/leaders")
    @guard("office")
    def http_create_leader(self, request):
        data = args.body(request)
        with self.db.transaction() as session:
            row, changed = leaders.create_leader(session, data)
            payload = leaders.leader_payload(row)
        return saved(payload, changed, 201 if changed else 200)

    @http("GET", "/leaders/<code>")
    @guard("office", "station_admin")
    def http_leader(self, request, code):
        with self.db.transaction() as session:
            row = leaders.get_leader(session, code)
            leaders.see_leader(auth.current(request), row)
            return json_response(leaders.leader_payload(row))

    @http("PUT", "/leaders/<code>")
    @guard("office")
    def http_update_leader(self, request, code):
        data = args.body(request)
        with self.db.transaction() as session:
            row, changed = leaders.update_leader(session, code, data)
            payload = leaders.leader_payload(row)
        return saved(payload, changed)

    @http("POST", "/leaders/<code>/visits")
    @guard("office")
    def http_record_visit(self, request, code):
        data = args.body(request)
        with self.db.transaction() as session:
            row, changed, created = leaders.save_visit(session, code, data)
            payload = leaders.visit_payload(row)
        return saved(payload, changed, 201 if created else 200)

    @http("GET", "/visits")
    @guard("office", "station_admin")
    def http_visits(self, request):
        wanted = leaders.scope_visits(auth.current(request), leaders.visit_filters(request.args))
        with self.db.transaction() as session:
            found = leaders.list_visits(session, **wanted)
        return json_response({"total": len(found), "visits": found})

    @http("GET", "/visits/<visit_id>")
    @guard("office", "station_admin")
    def http_visit(self, request, visit_id):
        with self.db.transaction() as session:
            row = leaders.get_visit(session, visit_id)
            leaders.see_visit(auth.current(request), row)
            return json_response(leaders.visit_payload(row))

    @http("POST", "/visits/<visit_id>/withdraw")
    @guard("office")
    def http_withdraw_visit(self, request, visit_id):
        with self.db.transaction() as session:
            row, changed = leaders.withdraw_visit(session, visit_id)
            payload = leaders.visit_payload(row)
        return saved(payload, changed)

    # -- pages --------------------------------------------------------------------------------

    @http("GET", "/office/leaders")
    @guard("office", page=True)
    def page_leaders(self, request):
        page = office_page(request, self.config, "leaders")
        with self.db.transaction() as session:
            return page.response("leaders", leaders_main(page, session))

    @http("POST", "/office/leaders")
    @guard("office", page=True)
    def page_add_leader(self, request):
        page = office_page(request, self.config, "leaders")
        with self.db.transaction() as session:
            html, status = add_leader(page, session, request.form)
        return page.response("leaders", html, status)

    @http("GET", "/office/leaders/<code>")
    @guard("office", page=True)
    def page_leader(self, request, code):
        page = office_page(request, self.config, "leader")
        with self.db.transaction() as session:
            return page.response("leaders", leader_page(page, session, code), up=1)

    @http("POST", "/office/leaders/<code>")
    @guard("office", page=True)
    def page_save_leader(self, request, code):
        page = office_page(request, self.config, "leader")
        with self.db.transaction() as session:
            html, status = save_leader_page(page, session, code, request.form)
        return page.response("leaders", html, status, up=1)

    @http("GET", "/office/visits")
    @guard("office", "station_admin", page=True)
    def page_visits(self, request):
        page = office_page(request, self.config, "visits")
        wanted = leaders.visit_filters(request.args)
        with self.db.transaction() as session:
            return page.response("visits", visits_main(page, session, wanted))

    @http("POST", "/office/visits")
    @guard("office", page=True)
    def page_record_visit(self, request):
        page = office_page(request, self.config, "visits")
        with self.db.transaction() as session:
            html, status = record_visit(page, session, request.form)
        return page.response("visits", html, status)

    @http("POST", "/office/visit-withdraw")
    @guard("office", page=True)
    def page_withdraw_visit(self, request):
        page = office_page(request, self.config, "visits")
        with self.db.transaction() as session:
            html = withdraw(page, session, request.form)
        return page.response("visits", html)


def office_page(request, config, here: str) -> Page:
    page = Page(request, config)
    page.here = here  # which page's forms: the withdraw button's action is relative to it
    return page
