"""The station clerk's pages (工作站工作人员, issue 17): a phone or letter issue, and a reception
day or activity with the issues raised at it, entered on a phone or a desk.

The pages are forms only. Each submits as JSON, by a small script, to the one staff API
(``POST /staff/issues``, ``POST /staff/activities``): the same rules, scope checks and error
format as any client's, and no second way to record anything. The ids that make a double
submit harmless are made here, when the page is shown (``submission_id``, ``activity_id``):
sent again, the API answers with what the first post made.

Who may open them: the office (any station) and a station admin for its own stations
(``access.station``); ``@guard(..., page=True)`` answers anybody else with the 403 page.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake import access, known
from services.intake.intake import CHINA
from services.intake.models import KnownDutyDay, KnownMember
from services.intake.pages import Call, html_response, language, message_page, render, switch_url
from services.intake.schemas import (
    ACTIVITY_KINDS,
    DESCRIPTION_MAX,
    ISSUES_MAX,
    PEOPLE_SERVED_MAX,
    SLOTS,
)
from services.kernel import auth

ISSUE_ROWS_MAX = min(5, ISSUES_MAX)  # issues raised typed in on one page; more: a second page
CHANNELS = ("phone", "letter", "visit")
ROSTER_DAYS_BACK, ROSTER_DAYS_AHEAD = 62, 31  # the rosters the page can tick from

TEXT = {
    "zh": {
        "title": "连心 · 工作站录入",
        "switch": "English",
        "issue_title": "录入来电来信问题",
        "activity_title": "记录接待日 / 活动",
        "station": "工作站",
        "channel": "来源",
        "channels": {"phone": "电话", "letter": "来信", "visit": "来访"},
        "category": "问题类别",
        "choose": "请选择",
        "description": "问题描述",
        "description_hint": f"群众反映的情况（最多 {DESCRIPTION_MAX} 字）",
        "place": "地点（选填）",
        "name": "联系人姓名（选填）",
        "phone": "联系电话（选填）",
        "contact_hint": "联系人信息只有办理此事的委员和工作站可见。",
        "submit": "提交",
        "sending": "正在提交…",
        "fix": "请修改标出的内容后再提交。",
        "done": "已受理",
        "tracking_number": "受理编号",
        "lookup_code": "查询码",
        "tell": "请把受理编号和查询码告诉群众，凭二者可查询办理进度。",
        "pending": "已收到，正在受理；稍候自动刷新结果。",
        "similar": "可能相同的在办问题",
        "similar_none": "没有相似的在办问题。",
        "similar_hint": "如为同一问题，可在工作站案件页合并办理。",
        "reporters": "{n} 人反映",
        "cases_page": "工作站案件页",
        "another": "再录一条",
        "kind": "活动类型",
        "date": "日期",
        "slot": "时段",
        "slots": {"am": "上午", "pm": "下午", "day": "全天"},
        "members": "到场委员",
        "members_roster": "已按当日排班勾选，请核对实际到场委员。",
        "members_no_roster": "当日没有排班记录，请勾选实际到场的委员。",
        "members_none": "本工作站暂无委员。",
        "people_served": "接待群众人数",
        "note": "备注（选填）",
        "issues": "群众反映的问题",
        "issues_hint": f"每个问题单独受理、派给委员（本页最多 {ISSUE_ROWS_MAX} 个）。",
        "issue_n": "问题 {n}",
        "add_issue": "＋ 添加问题",
        "remove_issue": "删除此问题",
        "activity_done": "活动已记录",
        "issues_made": "受理的问题",
        "no_issues": "本次没有录入问题。",
        "rejected": "未受理",
        "network": "网络错误，内容已保留，请再点提交 / network error, your text is kept; submit again",
        "no_station": "没有这个工作站。",
    },
    "en": {
        "title": "Lianxin · station entry",
        "switch": "中文",
        "issue_title": "Enter a phone or letter issue",
        "activity_title": "Record a reception day / activity",
        "station": "Workstation",
        "channel": "Channel",
        "channels": {"phone": "phone", "letter": "letter", "visit": "visit"},
        "category": "Category",
        "choose": "Please choose",
        "description": "Description",
        "description_hint": f"What the citizen reported (at most {DESCRIPTION_MAX} characters)",
        "place": "Place (optional)",
        "name": "Contact name (optional)",
        "phone": "Contact phone (optional)",
        "contact_hint": "The contact is seen only by the member and the station handling it.",
        "submit": "Submit",
        "sending": "Sending…",
        "fix": "Please correct the marked fields and submit again.",
        "done": "Received",
        "tracking_number": "Tracking number",
        "lookup_code": "Lookup code",
        "tell": "Give the citizen the tracking number and the lookup code: both are needed to "
        "check progress.",
        "pending": "Received, being processed; the result shows in a moment.",
        "similar": "Open cases that may be the same",
        "similar_none": "No similar open case.",
        "similar_hint": "If it is the same problem, merge them on the station's case page.",
        "reporters": "reported by {n}",
        "cases_page": "Station cases",
        "another": "Enter another",
        "kind": "Kind",
        "date": "Date",
        "slot": "Time of day",
        "slots": {"am": "morning", "pm": "afternoon", "day": "all day"},
        "members": "Members present",
        "members_roster": "Ticked from the day's roster: check who actually came.",
        "members_no_roster": "No roster for this day: tick the members who came.",
        "members_none": "No members serve at this station yet.",
        "people_served": "People served",
        "note": "Note (optional)",
        "issues": "Issues raised",
        "issues_hint": f"Each issue is received and routed to a member on its own (at most "
        f"{ISSUE_ROWS_MAX} on this page).",
        "issue_n": "Issue {n}",
        "add_issue": "+ Add an issue",
        "remove_issue": "Remove this issue",
        "activity_done": "Activity recorded",
        "issues_made": "Issues received",
        "no_issues": "No issues were entered.",
        "rejected": "not accepted",
        "network": "网络错误，内容已保留，请再点提交 / network error, your text is kept; submit again",
        "no_station": "No such workstation.",
    },
}
KIND_NAMES = {"zh": {k: v[0] for k, v in ACTIVITY_KINDS.items()}}
KIND_NAMES["en"] = {k: v[1] for k, v in ACTIVITY_KINDS.items()}


def new_id(prefix: str) -> str:
    """An id the page carries from showing to posting (``clerk-…``, fits both schemas' rule):
    posting the same page twice names the same submission or activity, so nothing is made
    twice; the API refuses one that is another's (409)."""
    return f"{prefix}-{uuid.uuid4().hex}"


def _open(call: Call, station: str) -> tuple[str, dict, list[dict]] | object:
    """The caller's scope (403 page through ``@guard``), the station (404 page) and categories."""
    access.station(auth.current(call.request), station)
    lang = language(call.request.args.get("lang"))
    with call.db.transaction() as session:
        found = known.known_station(session, station)
        categories = known.categories(session)
    if found is None:
        return message_page(call.request, lang, TEXT[lang]["no_station"], 404)
    return lang, found, categories


def _page(call: Call, template: str, lang: str, **context):
    body = render(
        template,
        lang,
        switch_url=switch_url(call.request, lang),
        cases_url=auth.public_url(call.config, "routing"),
        description_max=DESCRIPTION_MAX,
        js_text=TEXT[lang],
        **context,
    )
    response = html_response(body)
    response.headers["Cache-Control"] = "no-store"  # a new id each time it is shown
    return response


def issue_page(call: Call, station: str):
    """``GET /staff/<station>/issue``: a phone, letter or visit issue, sent to
    ``POST /staff/issues`` with the ``submission_id`` made here."""
    opened = _open(call, station)
    if not isinstance(opened, tuple):
        return opened
    lang, found, categories = opened
    return _page(
        call,
        "clerk_issue.html",
        lang,
        t_clerk=TEXT[lang],
        station=found,
        categories=categories,
        channels=CHANNELS,
        submission_id=new_id("clerk"),
    )


def activity_page(call: Call, station: str):
    """``GET /staff/<station>/activity[?date=&slot=]``: a reception day (the default) or
    another activity, its members ticked from intake's copy of the day's roster, sent to
    ``POST /staff/activities`` with the ``activity_id`` made here."""
    opened = _open(call, station)
    if not isinstance(opened, tuple):
        return opened
    lang, found, categories = opened
    args = call.request.args
    today = datetime.now(CHINA).date()
    day = _date_arg(args.get("date")) or today
    with call.db.transaction() as session:
        rosters = station_rosters(session, station, min(day, today), max(day, today))
        members = station_members(session, station, rosters)
    slot = args.get("slot") if args.get("slot") in SLOTS else _default_slot(rosters, day)
    return _page(
        call,
        "clerk_activity.html",
        lang,
        t_clerk=TEXT[lang],
        station=found,
        categories=categories,
        kinds=KIND_NAMES[lang],
        slots=SLOTS,
        day=day.isoformat(),
        slot=slot,
        members=members,
        on_duty=set(rosters.get(f"{day.isoformat()}|{slot}", [])),
        rosters=rosters,
        issue_rows_max=ISSUE_ROWS_MAX,
        people_served_max=PEOPLE_SERVED_MAX,
        activity_id=new_id("clerk-act"),
    )


def _date_arg(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _default_slot(rosters: dict, day: date) -> str:
    """The slot the station's roster has on ``day`` (the first), else the time of day now."""
    for slot in SLOTS:
        if f"{day.isoformat()}|{slot}" in rosters:
            return slot
    return "am" if datetime.now(CHINA).hour < 12 else "pm"


def station_rosters(session: Session, station: str, first: date, last: date) -> dict:
    """``{"<date>|<slot>": [member code, ...]}``: the station's duty days in intake's copy of the
    rosters (``registry.roster_saved``), from ``first`` a while back to ``last`` a while ahead,
    so the page ticks the right members when the clerk changes the date or the slot."""
    rows = session.scalars(
        select(KnownDutyDay).where(
            KnownDutyDay.active,
            KnownDutyDay.station_code == station,
            KnownDutyDay.day >= first - timedelta(days=ROSTER_DAYS_BACK),
            KnownDutyDay.day <= last + timedelta(days=ROSTER_DAYS_AHEAD),
        )
    )
    found: dict[str, list[str]] = {}
    for row in rows:
        key = f"{row.day.isoformat()}|{row.slot}"
        found[key] = sorted(set(found.get(key, [])) | set(json.loads(row.members)))
    return found


def station_members(session: Session, station: str, rosters: dict) -> list[dict]:
    """The active members serving at ``station`` in intake's copy (and any its rosters name)."""
    on_rosters = {code for codes in rosters.values() for code in codes}
    rows = session.scalars(
        select(KnownMember)
        .where(KnownMember.active)
        .where(
            KnownMember.stations.contains(json.dumps(station)) | KnownMember.code.in_(on_rosters)
        )
        .order_by(KnownMember.code)
    )
    return [
        {"code": m.code, "name": m.name}
        for m in rows
        if station in json.loads(m.stations or "[]") or m.code in on_rosters
    ]
