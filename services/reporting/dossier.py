"""Each member's annual 履职档案 (performance file): what one member did in one year, counted
from reporting's own event store, each figure beside the records behind it (issue #21).

The figures (docs/statistics.md, "履职档案") and what each reads:

- reception days and other activities: ``intake.activity_recorded`` naming the member in
  ``members``, by the activity's date;
- cases: the ``routing.issue_*`` events of the cases the member holds now, received in the year
  (Beijing time): the same cases as routing's ``/office/cases?member=…&from=…&to=…``; their
  status, the on-time share of the resolved ones and the citizens' ratings of the member's
  answers;
- consultations (``routing.consultation_recorded``, the member among ``members``, by date);
- 社情民意 reports (``routing.report_submitted`` by the member, by ``submitted_at``; the latest
  ``routing.report_reviewed`` gives the outcome);
- leader-liaison visits (``registry.leader_visit_saved``: the latest revision of each visit,
  active, the member among ``members``, by date).

Every record is chosen by its own time and id (latest revision, latest review, the case's last
event by ``occurred_at``), never by the order events arrived in, so events out of order and a
rebuild give the same file. Nothing is stored: the file is read when asked, from the store
(the events that name one of the members asked about, narrowed in SQL; consultations and visits
whole, since a later revision may take a member off them).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import urlencode

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.reporting.event_store import loads_payload
from services.reporting.models import StationDim, StoredEvent, StudioDim
from services.reporting.periods import CHINA

ACTIVITY = "intake.activity_recorded"
SECTOR = "registry.sector_saved"
CONSULTATION = "routing.consultation_recorded"
SUBMITTED, REVIEWED = "routing.report_submitted", "routing.report_reviewed"
VISIT, LEADER, MEMBER = (
    "registry.leader_visit_saved",
    "registry.leader_saved",
    "registry.member_saved",
)
CASE_EVENTS = (
    "routing.issue_assigned",
    "routing.issue_transferred",
    "routing.issue_accepted",
    "routing.issue_responded",
    "routing.issue_resolved",
    "routing.issue_closed_unresolved",
    "routing.issue_reopened",
    "routing.issue_rated",
    "routing.issue_merged",
    "routing.issue_overdue",
    "routing.issue_due_soon",
    "routing.issue_escalated",
)
# Read only where they name one of the members asked about (the LIKE narrows in SQL): a case's
# events (a transfer names the member it leaves), activities, reports (their member never
# changes). Records that a later revision can take a member off are read whole: few per year.
NAMING = (ACTIVITY, SUBMITTED, REVIEWED, *CASE_EVENTS)
REVISED = (CONSULTATION, VISIT)
STATUSES = ("assigned", "accepted", "responded", "resolved", "closed_unresolved", "merged")
RATINGS = ("satisfied", "basically_satisfied", "unsatisfied")
SATISFIED = ("satisfied", "basically_satisfied")
OUTCOMES = ("received", "adopted", "forwarded", "pending")  # pending: submitted, not reviewed


@dataclass
class Member:
    """A member as the registry last announced it (highest revision)."""

    code: str
    name: str = ""
    level: str = ""
    sector: str = ""
    stations: list[str] = field(default_factory=list)
    studios: list[str] = field(default_factory=list)
    active: bool = True
    revision: int = -1


# -- reading the store ---------------------------------------------------------------------------


def _quoted(code: str) -> str:
    """A LIKE pattern for ``"code"`` anywhere in a payload (``%`` and ``_`` taken literally)."""
    escaped = code.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f'%"{escaped}"%'


def _events(session: Session, types, codes=None):
    """``(seq, type, payload, occurred_at)`` of ``types``; with ``codes``, only those whose
    payload names one of them (checked exactly afterwards: this only narrows)."""
    query = select(StoredEvent.seq, StoredEvent.type, StoredEvent.payload, StoredEvent.occurred_at)
    query = query.where(StoredEvent.type.in_(types))
    if codes is not None:
        query = query.where(_naming(session, codes))
    for seq, kind, payload, at in session.execute(query):
        yield seq, kind, loads_payload(payload), at


def _naming(session: Session, codes):
    """The condition "the payload holds ``"code"`` for one of ``codes``". On PostgreSQL several
    codes are one regular expression: each row is read once (a sector's 40 members over 800,000
    events: 4 s, against 24 s for 40 LIKEs); one code, or SQLite, LIKEs."""
    codes = list(codes)
    if len(codes) > 1 and session.get_bind().dialect.name == "postgresql":
        return StoredEvent.payload.regexp_match('"(' + "|".join(map(re.escape, codes)) + ')"')
    return or_(*(StoredEvent.payload.like(_quoted(c), escape="\\") for c in codes))


def _newest(rows, key: str):
    """Of ``rows`` (``(seq, type, payload, at)``), the highest ``revision`` of each ``key``
    (ties: the later ``occurred_at``, then the later arrival)."""
    found: dict = {}
    for seq, _kind, p, at in rows:
        rank = (int(p.get("revision") or 0), at, seq)
        code = p.get(key)
        if code is not None and (code not in found or rank > found[code][0]):
            found[code] = (rank, p)
    return {code: p for code, (_rank, p) in found.items()}


def members(session: Session, codes=None, sector: str | None = None) -> dict[str, Member]:
    """The members ``codes`` (or all of ``sector``) as the registry last said."""
    rows = _events(session, (MEMBER,), codes)
    found = {}
    for code, p in _newest(rows, "code").items():
        if (codes is not None and code not in codes) or (sector and p.get("sector") != sector):
            continue
        found[code] = Member(
            code=code,
            name=p.get("name") or code,
            level=p.get("level") or "",
            sector=p.get("sector") or "",
            stations=sorted(
                {s.get("station") for s in p.get("stations") or () if s.get("station")}
            ),
            studios=sorted({s.get("studio") for s in p.get("studios") or () if s.get("studio")}),
            active=bool(p.get("active", True)),
            revision=int(p.get("revision") or 0),
        )
    return found


def leaders(session: Session) -> dict[str, dict]:
    """Every leader (领导) as last saved: ``{code: payload}``."""
    return _newest(_events(session, (LEADER,)), "code")


def place_names(session: Session) -> dict[str, str]:
    names = {c: n for c, n in session.execute(select(StationDim.code, StationDim.name))}
    names.update({c: n or c for c, n in session.execute(select(StudioDim.code, StudioDim.name))})
    return names


# -- dates ---------------------------------------------------------------------------------------


def year_of_day(text) -> int | None:
    """The year of a ``YYYY-MM-DD`` day (already a Beijing calendar day)."""
    try:
        return date.fromisoformat(str(text)[:10]).year
    except ValueError:
        return None


def year_of_time(text) -> int | None:
    """The Beijing year of an ISO 8601 time (a time without a zone is taken as UTC)."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(CHINA).year


def local_day(text) -> str:
    """An ISO time as its Beijing day ``YYYY-MM-DD`` (a day as given stays)."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return str(text or "")[:10]
    return (moment.astimezone(CHINA) if moment.tzinfo else moment).date().isoformat()


# -- the figures ---------------------------------------------------------------------------------


def _named(p: dict, code: str) -> bool:
    return code in (p.get("members") or ())


def _activities(rows, code: str, year: int) -> list[dict]:
    """The activities the member took part in during ``year``, one per activity id (intake
    refuses a different activity under an id it has: a repeat is the same activity)."""
    found = {}
    for _seq, _kind, p, _at in sorted(rows, key=lambda r: (r[3], r[0])):
        if _named(p, code) and year_of_day(p.get("date")) == year:
            found.setdefault(p.get("activity_id"), p)
    return sorted(found.values(), key=lambda p: (p.get("date") or "", p.get("activity_id") or ""))


def _consultations(rows, code: str, year: int) -> list[dict]:
    """The consultations the member was present at, held in ``year`` (the last record of each)."""
    latest = {}
    for seq, _kind, p, at in rows:
        rank = (str(p.get("recorded_at") or ""), at, seq)
        key = p.get("consultation_id")
        if key not in latest or rank > latest[key][0]:
            latest[key] = (rank, p)
    chosen = [
        p for _r, p in latest.values() if _named(p, code) and year_of_day(p.get("date")) == year
    ]
    return sorted(chosen, key=lambda p: (p.get("date") or "", str(p.get("consultation_id"))))


def _reports(submitted, reviewed, code: str, year: int) -> list[dict]:
    """The member's 社情民意 reports submitted in ``year``, each with its latest review's outcome
    (``pending`` before any). A report only reviewed so far (its submission not here yet) is
    dated by the review."""
    reports: dict = {}
    for seq, _kind, p, at in submitted:
        if p.get("member") != code:
            continue
        rank = (str(p.get("submitted_at") or ""), at, seq)
        key = p.get("report_id")
        if key not in reports or rank < reports[key]["rank"]:  # the first submission dates it
            reports[key] = {"rank": rank, "p": p, "review": None, "review_rank": None}
    for seq, _kind, p, at in reviewed:
        if p.get("member") != code:
            continue
        key = p.get("report_id")
        entry = reports.setdefault(key, {"rank": None, "p": p, "review": None, "review_rank": None})
        rank = (str(p.get("at") or ""), at, seq)
        if entry["review_rank"] is None or rank > entry["review_rank"]:
            entry["review"], entry["review_rank"] = p, rank
    found = []
    for key, entry in reports.items():
        p, review = entry["p"], entry["review"]
        when = p.get("submitted_at") if entry["rank"] is not None else (review or {}).get("at")
        if year_of_time(when) != year:
            continue
        outcome = (review or {}).get("outcome") or "pending"
        found.append(
            {
                "report_id": key,
                "title": (review or p).get("title") or p.get("title") or "",
                "sector": p.get("sector") or (review or {}).get("sector") or "",
                "cases": list(p.get("cases") or (review or {}).get("cases") or ()),
                "submitted_at": when,
                "outcome": outcome if outcome in OUTCOMES else "pending",
                "note": (review or {}).get("note") or "",
            }
        )
    return sorted(found, key=lambda r: (str(r["submitted_at"]), str(r["report_id"])))


def _visits(rows, code: str, year: int) -> list[dict]:
    """The leader-liaison visits the member came to in ``year``: each visit's latest revision,
    active (a withdrawn visit is not counted)."""
    chosen = [
        p
        for p in _newest(rows, "visit_id").values()
        if p.get("active", True) and _named(p, code) and year_of_day(p.get("date")) == year
    ]
    return sorted(chosen, key=lambda p: (p.get("date") or "", str(p.get("visit_id"))))


def _status_after(kind: str, p: dict) -> str | None:
    """The case's status after one of its events; None when the event does not change it."""
    if kind in ("routing.issue_assigned", "routing.issue_transferred"):
        return "assigned"
    if kind == "routing.issue_merged":
        return "merged"
    return p.get("to_status") or None


def _cases(rows, code: str, year: int) -> list[dict]:
    """The cases received in ``year`` that the member holds now.

    Every ``routing.issue_*`` event names the case's holder at the time (``member``), and a
    transfer also the one it leaves (``from_member``); a holder changes only by assignment
    (from nobody) or transfer. So of the events naming the member, the case's last one (by
    ``occurred_at``) names its holder now, and every event since the member took the case
    names the member: its status, latest resolution and latest rating are among them."""
    by_case = defaultdict(list)
    for seq, kind, p, at in rows:
        number = p.get("tracking_number")
        if number and code in (p.get("member"), p.get("from_member")):
            by_case[number].append((at, seq, kind, p))
    found = []
    for number, events in by_case.items():
        events.sort(key=lambda e: (e[0], e[1]))
        if events[-1][3].get("member") != code:
            continue  # transferred on: the case is its new holder's
        received = next((e[3]["received_at"] for e in events if e[3].get("received_at")), None)
        if year_of_time(received) != year:
            continue
        case = {"tracking_number": number, "received_at": received, "status": "assigned"}
        case |= {"on_time": None, "rating": None, "station": events[-1][3].get("station")}
        for _at, _seq, kind, p in events:
            case["status"] = _status_after(kind, p) or case["status"]
            if kind == "routing.issue_resolved":
                case["on_time"] = bool(p.get("on_time"))
            if kind == "routing.issue_rated" and p.get("member") == code:
                case["rating"] = p.get("rating")
        found.append(case)
    return sorted(found, key=lambda c: (str(c["received_at"]), c["tracking_number"]))


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(records: dict) -> dict:
    """The file's figures from its records (every figure is a count of records shown)."""
    acts, cases = records["activities"], records["cases"]
    statuses = Counter(c["status"] for c in cases)
    resolved = [c for c in cases if c["status"] == "resolved"]
    rated = [c for c in cases if c["rating"] in RATINGS]
    ratings = Counter(c["rating"] for c in rated)
    satisfied = sum(ratings[r] for r in SATISFIED)
    on_time = sum(1 for c in resolved if c["on_time"])
    outcomes = Counter(r["outcome"] for r in records["reports"])
    return {
        "reception_days": sum(1 for a in acts if a.get("kind") == "reception_day"),
        "activities": len(acts),
        "people_served": sum(int(a.get("people_served") or 0) for a in acts),
        "cases": len(cases),
        "cases_by_status": {s: statuses.get(s, 0) for s in STATUSES},
        "cases_resolved": len(resolved),
        "resolved_on_time": on_time,
        "on_time_share": _share(on_time, len(resolved)),
        "cases_rated": len(rated),
        "ratings": {r: ratings.get(r, 0) for r in RATINGS},
        "cases_satisfied": satisfied,
        "satisfaction": _share(satisfied, len(rated)),
        "consultations": len(records["consultations"]),
        "reports": len(records["reports"]),
        "reports_by_outcome": {o: outcomes.get(o, 0) for o in OUTCOMES},
        "leader_visits": len(records["visits"]),
    }


def dossiers(session: Session, codes, year: int) -> dict[str, dict]:
    """The files of the members ``codes`` for ``year``: ``{code: {"member", "year", "figures",
    "records"}}`` (a code the registry never announced has an empty file under its code)."""
    codes = sorted(set(codes))
    if not codes:
        return {}
    known = members(session, codes)
    rows = defaultdict(list)
    for row in _events(session, NAMING, codes):
        rows[row[1]].append(row)
    for row in _events(session, REVISED):  # a later revision may no longer name the member
        rows[row[1]].append(row)
    case_rows = [r for kind in CASE_EVENTS for r in rows[kind]]
    names, chiefs = place_names(session), leaders(session)
    sectors = {
        c: p.get("name") or c for c, p in _newest(_events(session, (SECTOR,)), "code").items()
    }
    found = {}
    for code in codes:
        records = {
            "activities": _activities(rows[ACTIVITY], code, year),
            "cases": _cases(case_rows, code, year),
            "consultations": _consultations(rows[CONSULTATION], code, year),
            "reports": _reports(rows[SUBMITTED], rows[REVIEWED], code, year),
            "visits": _visits(rows[VISIT], code, year),
        }
        for visit in records["visits"]:
            leader = chiefs.get(visit.get("leader")) or {}
            visit["leader_name"] = leader.get("name") or visit.get("leader") or ""
            visit["leader_title"] = leader.get("title") or ""
        for record in records["activities"] + records["consultations"] + records["visits"]:
            place = record.get("station") or record.get("studio")
            record["place_name"] = names.get(place, place or "")
        member = known.get(code) or Member(code=code, name=code)
        places = {c: names.get(c, c) for c in member.stations + member.studios}
        found[code] = {
            "member": member.__dict__
            | {"place_names": places, "sector_name": sectors.get(member.sector, member.sector)},
            "year": year,
            "figures": figures(records),
            "records": records,
        }
    return found


def dossier(session: Session, code: str, year: int) -> dict:
    """One member's file for ``year``."""
    return dossiers(session, [code], year)[code]


def sector_dossiers(session: Session, sector: str, year: int) -> list[dict]:
    """The files of every member of ``sector`` (as the registry last said), by code."""
    codes = sorted(members(session, sector=sector))
    files = dossiers(session, codes, year)
    return [files[c] for c in codes]


def links(file: dict, bases: dict[str, str], role: str) -> dict[str, str]:
    """Where each figure's records are, for a reader in ``role``: ``{figure: URL}``
    (``bases``: the services' public addresses). The office and admins read the cases in
    routing's ``/office/cases`` with the same member, year and status, a member on its duty
    list; a list the reader's role may not open (routing's consultations for a member, the
    registry's visits for a member or a studio admin) is the records on the page instead."""
    code, year = file["member"]["code"], file["year"]
    routing, registry = bases.get("routing", ""), bases.get("registry", "")
    span = {"member": code, "from": f"{year}-01-01", "to": f"{year}-12-31"}

    def cases(**extra) -> str:
        if role == "member":
            return f"{routing}/duty/{code}"
        return f"{routing}/office/cases?{urlencode(span | extra)}"

    by_year = urlencode({"member": code, "year": year})
    found = {
        "reception_days": "#activities",
        "activities": "#activities",
        "people_served": "#activities",
        "cases": cases(),
        "cases_resolved": cases(status="resolved"),
        "resolved_on_time": cases(status="resolved"),
        "on_time_share": cases(status="resolved"),
        "cases_rated": "#cases",
        "cases_satisfied": "#cases",
        "satisfaction": "#cases",
        "consultations": "#consultations"
        if role == "member"
        else f"{routing}/consultations/page?{by_year}",
        "reports": f"{routing}/reports/page?{by_year}",
        "leader_visits": f"{registry}/office/visits?{by_year}"
        if role in ("office", "station_admin")
        else "#visits",
    }
    for status in STATUSES:
        found[f"cases_by_status.{status}"] = cases(status=status)
    for outcome in OUTCOMES:
        status = "submitted" if outcome == "pending" else outcome
        found[f"reports_by_outcome.{outcome}"] = (
            f"{routing}/reports/page?{urlencode({'member': code, 'year': year, 'status': status})}"
        )
    return found


def years_of(file: dict, this_year: int) -> list[int]:
    """The years a year picker offers: 2024 (the seed's year) to this year, and the file's."""
    return sorted(set(range(2024, this_year + 1)) | {file["year"]})


def as_json(file: dict) -> str:
    return json.dumps(file, ensure_ascii=False, default=str)


# -- the figures as every format shows them ----------------------------------------------------

STATUS_NAMES = {
    "assigned": ("已派单", "assigned"),
    "accepted": ("已接单", "accepted"),
    "responded": ("已答复", "responded"),
    "resolved": ("已办结", "resolved"),
    "closed_unresolved": ("未解决关闭", "closed unresolved"),
    "merged": ("已合并", "merged"),
}
RATING_NAMES = {
    "satisfied": ("满意", "satisfied"),
    "basically_satisfied": ("基本满意", "basically satisfied"),
    "unsatisfied": ("不满意", "unsatisfied"),
}
OUTCOME_NAMES = {
    "received": ("已收到", "received"),
    "adopted": ("已采用", "adopted"),
    "forwarded": ("已转送", "forwarded"),
    "pending": ("待处理", "awaiting review"),
}
LEVEL_NAMES = {"national": "全国", "provincial": "省", "municipal": "市", "county": "县区"}
# (key, 中文, English, the key of its sub-figures' dict or None)
HEADINGS = (
    ("reception_days", "参加委员接待日", "Reception days attended"),
    ("activities", "参加履职活动（各类合计）", "Activities joined (all kinds)"),
    ("people_served", "活动中接待群众（人次）", "People served at them"),
    ("cases", "承办案件（当年受理、本人承办）", "Cases held (received this year)"),
    ("on_time_share", "按时办结率", "Resolved on time"),
    ("satisfaction", "群众满意率", "Citizens satisfied"),
    ("consultations", "参加协商议事", "Consultations joined"),
    ("reports", "报送社情民意信息", "Social-opinion reports submitted"),
    ("leader_visits", "参加领导对口联系走访", "Leader-liaison visits joined"),
)


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def rows(file: dict) -> list[dict]:
    """The file's figures in order, as every format shows them: ``key`` (the link's key),
    ``zh``, ``en``, ``value`` (a number, or None for a share that is not defined), ``text``
    (how it reads), ``sub`` (a line under another)."""
    f = file["figures"]
    found = []

    def add(key, zh, en, value, text=None, sub=False):
        shown = text if text is not None else str(value)
        found.append({"key": key, "zh": zh, "en": en, "value": value, "text": shown, "sub": sub})

    for key, zh, en in HEADINGS:
        if key == "on_time_share":
            text = f"{percent(f[key])}（{f['resolved_on_time']}/{f['cases_resolved']}）"
            add(key, zh, en, f[key], text)
        elif key == "satisfaction":
            text = f"{percent(f[key])}（{f['cases_satisfied']}/{f['cases_rated']}）"
            add(key, zh, en, f[key], text)
            for rating, (rzh, ren) in RATING_NAMES.items():
                add("cases_rated", rzh, ren, f["ratings"][rating], sub=True)
        else:
            add(key, zh, en, f[key])
        if key == "cases":
            for status, (szh, sen) in STATUS_NAMES.items():
                add(f"cases_by_status.{status}", szh, sen, f["cases_by_status"][status], sub=True)
        if key == "reports":
            for outcome, (ozh, oen) in OUTCOME_NAMES.items():
                value = f["reports_by_outcome"][outcome]
                add(f"reports_by_outcome.{outcome}", ozh, oen, value, sub=True)
    return found


def title(file: dict) -> str:
    m = file["member"]
    return f"{m['name']}（{m['code']}）{file['year']} 年度履职档案"


def describe(file: dict) -> str:
    """The member line under the title: level, sector, stations and studios."""
    m = file["member"]
    names = m.get("place_names") or {}
    parts = [f"{LEVEL_NAMES.get(m['level'], m['level'])}政协委员" if m["level"] else "委员"]
    if m["sector"]:
        parts.append(f"界别 {m.get('sector_name') or m['sector']}")
    if m["stations"]:
        parts.append("工作站 " + "、".join(names.get(c, c) for c in m["stations"]))
    if m["studios"]:
        parts.append("工作室 " + "、".join(names.get(c, c) for c in m["studios"]))
    return "，".join(parts)  # (STSong-Light has no "·")


ACTIVITY_NAMES = {
    "reception_day": "委员接待日",
    "living_room": "委员会客厅",
    "consultation": "协商议事",
    "visit": "走访",
    "free_clinic": "义诊",
    "lecture": "讲座",
    "other": "其他",
}


def tables(file: dict) -> list[dict]:
    """The records behind the figures, one table each: ``anchor``, ``zh``, ``en``, ``head``
    (column names, Chinese / English) and ``body`` (rows of text)."""
    r = file["records"]

    def table(anchor, zh, en, head, body):
        return {"anchor": anchor, "zh": zh, "en": en, "head": head, "body": body}

    def yes(flag):
        return "—" if flag is None else ("是" if flag else "否")

    return [
        table(
            "activities",
            "履职活动",
            "Activities",
            ["日期 Date", "类型 Kind", "地点 Place", "接待群众 Served"],
            [
                [
                    a.get("date") or "",
                    ACTIVITY_NAMES.get(a.get("kind"), a.get("kind") or ""),
                    a.get("place_name") or "",
                    str(int(a.get("people_served") or 0)),
                ]
                for a in r["activities"]
            ],
        ),
        table(
            "cases",
            "承办案件",
            "Cases",
            ["编号 No.", "受理日期 Received", "状态 Status", "按时办结 On time", "评价 Rating"],
            [
                [
                    c["tracking_number"],
                    local_day(c["received_at"]),
                    STATUS_NAMES.get(c["status"], (c["status"],))[0],
                    yes(c["on_time"]) if c["status"] == "resolved" else "—",
                    RATING_NAMES.get(c["rating"], ("—",))[0],
                ]
                for c in r["cases"]
            ],
        ),
        table(
            "consultations",
            "协商议事",
            "Consultations",
            ["日期 Date", "议题 Topic", "地点 Place", "协商结果 Agreement"],
            [
                [
                    c.get("date") or "",
                    c.get("topic") or "",
                    c.get("place_name") or "",
                    c.get("agreement") or "",
                ]
                for c in r["consultations"]
            ],  # fmt: skip
        ),
        table(
            "reports",
            "社情民意信息",
            "Social-opinion reports",
            ["报送日期 Submitted", "标题 Title", "结果 Outcome", "说明 Note"],
            [
                [
                    local_day(x["submitted_at"]),
                    x["title"],
                    OUTCOME_NAMES[x["outcome"]][0],
                    x["note"],
                ]
                for x in r["reports"]
            ],  # fmt: skip
        ),
        table(
            "visits",
            "领导对口联系走访",
            "Leader-liaison visits",
            ["日期 Date", "领导 Leader", "工作站 Station", "推动事项 Purpose"],
            [
                [
                    v.get("date") or "",
                    f"{v['leader_name']} {v['leader_title']}".strip(),
                    v.get("place_name") or "",
                    v.get("purpose") or "",
                ]
                for v in r["visits"]
            ],  # fmt: skip
        ),
    ]


# -- who may read a file -------------------------------------------------------------------------


def may_read(who, member: Member | None) -> bool:
    """The one scope rule of a file: the office any member's; a member its own; a station
    (studio) admin the members serving at one of its stations (studios), as the registry last
    said. A member the registry never announced: the office only (it then reads 404)."""
    if who.is_office:
        return True
    if member is None:
        return False
    if who.role == "member":
        return who.member == member.code
    if who.role == "station_admin":
        return bool(set(member.stations) & set(who.stations))
    if who.role == "studio_admin":
        return bool(set(member.studios) & set(who.studios))
    return False
