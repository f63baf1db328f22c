"""The office console's cases (办公室案件查询, issue #18): every case, filtered, searched, sorted and
paged, as a page, as JSON and as a workbook; and one case with everything about it.

Who sees what (docs/security.md, "Routing scope"): the office, every case; a station admin, the
cases at its stations; a studio admin, the cases held by members of its studios. One rule for
ids in the filters: naming a station, studio or member outside the caller's reach is refused
(403 ``forbidden``), never answered with an empty list that would look like "no cases"; every
other filter (district, sector, category, …) only narrows, and the caller's scope always
applies on top.

The filters' names are the dashboard's links' (reporting links its rows here):
``district station studio member sector category channel status colour overdue from to q``,
plus ``sort`` and ``page``. Each is checked (:func:`read_filters`), a bad one is a 400 naming
its field. The text search is :mod:`services.routing.search`'s.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel import auth
from services.kernel.auth import Principal
from services.kernel.http import ApiError, flag_arg, int_arg, invalid, not_found
from services.routing import catalogue, lifecycle, search, views
from services.routing.models import (
    Case,
    MemberCopy,
    MembershipCopy,
    SectorCopy,
    StationCopy,
    StudioCopy,
    StudioMembershipCopy,
)
from services.routing.workdays import CHINA

PAGE_SIZE = 50
MAX_PAGE = 10_000
EXPORT_MAX = 10_000  # rows of a workbook; the file says when there were more
COUNT_CAP = 10_000  # a list counts its matches up to this ("10000+ 件"): pages stop there
# A text search (3+ characters) counts up to this: past it the words of every further match must
# be read to count it (on PostgreSQL the trigram index only narrows; each row is checked), and a
# phrase in one case of eight over a million cases took 114 ms p95 to count to 10,000 against
# 7 ms to 1,000 (tests/bench/test_office_search_bench.py). Twenty pages of a search is more
# than anyone reads; a clerk narrows it instead.
SEARCH_COUNT_CAP = 1_000
CODE_FILTERS = ("district", "station", "studio", "member", "sector", "category")
CODE_LEN = 40
COLOURS = {"red": ("红", "超期"), "yellow": ("黄", "即将到期"), "green": ("绿", "正常")}
CHANNELS = ("qr", "staff", "phone", "letter", "visit", "open311", "amqp")
SORTS = {
    "received": ("受理时间（新的在前）", "received, newest first"),
    "deadline": ("期限（近的在前）", "deadline, soonest first"),
    "status": ("状态", "status"),
    "station": ("工作站", "station"),
}


# --- the filters ------------------------------------------------------------------------------


def _day(value: str | None, name: str, errors: dict) -> date | None:
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = ["日期应为 YYYY-MM-DD / a date YYYY-MM-DD"]
        return None


def read_filters(args) -> dict:
    """The list's filters from a query string, each checked; an ``invalid`` answer naming every
    bad field. Empty values are no filter."""
    found: dict = {}
    errors: dict = {}
    for name in CODE_FILTERS:
        value = (args.get(name) or "").strip() or None
        if value is not None and (len(value) > CODE_LEN or not value.isprintable()):
            errors[name] = ["编号无效 / not a code"]
        found[name] = value
    checks = (
        ("channel", CHANNELS, "没有这个渠道 / no such channel"),
        ("status", tuple(lifecycle.STATUS_NAMES), "没有这个状态 / no such status"),
        ("colour", tuple(COLOURS), "颜色应为 red、yellow 或 green / red, yellow or green"),
        ("sort", tuple(SORTS), "排序应为 received、deadline、status 或 station / unknown sort"),
    )
    for name, allowed, message in checks:
        value = args.get(name) or None
        if value is not None and value not in allowed:
            errors[name] = [message]
        found[name] = value
    found["sort"] = found["sort"] or "received"
    try:
        found["overdue"] = flag_arg(args.get("overdue"), "overdue") or False
    except ApiError as err:
        errors.update(err.fields)
    try:
        found["page"] = int_arg(args.get("page"), "page", default=1, minimum=1, maximum=MAX_PAGE)
    except ApiError as err:
        errors.update(err.fields)
    found["from"] = _day(args.get("from"), "from", errors)
    found["to"] = _day(args.get("to"), "to", errors)
    if found["from"] and found["to"] and found["from"] > found["to"]:
        errors["to"] = ["结束日期早于开始日期 / 'to' is before 'from'"]
    q = (args.get("q") or "").strip()
    if len(q) > search.QUERY_MAX:
        errors["q"] = [f"搜索词最多{search.QUERY_MAX}个字 / at most {search.QUERY_MAX} characters"]
    elif q and not q.isprintable():
        errors["q"] = ["搜索词含不可见字符 / the search has invisible characters"]
    found["q"] = q or None
    if errors:
        raise invalid(errors)
    return found


def query_string(filters: dict, **change) -> str:
    """The filters as a query string (page links, the export link), ``change`` applied."""
    from urllib.parse import urlencode

    shown = {**filters, **change}
    pairs = []
    for key, value in shown.items():
        if value in (None, "", False) or (key == "page" and value == 1):
            continue
        if key == "sort" and value == "received":
            continue
        pairs.append((key, "true" if value is True else str(value)))
    return urlencode(pairs)


# --- who reaches what -------------------------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """The cases one caller may see: ``stations`` / ``members`` None when unrestricted."""

    who: Principal
    stations: frozenset[str] | None
    members: frozenset[str] | None

    def condition(self):
        if self.stations is not None:
            return Case.station_code.in_(self.stations)
        if self.members is not None:
            return Case.member_code.in_(self.members)
        return None

    def may_see(self, case: Case) -> bool:
        if self.stations is not None:
            return case.station_code in self.stations
        if self.members is not None:
            return case.member_code in self.members
        return True


def reach_of(session: Session, who: Principal) -> Reach:
    if who.is_office:
        return Reach(who, None, None)
    if who.role == "station_admin":
        return Reach(who, frozenset(who.stations), None)
    if who.role == "studio_admin":
        members = session.scalars(
            select(StudioMembershipCopy.member_code).where(
                StudioMembershipCopy.studio_code.in_(who.studios)
            )
        )
        return Reach(who, None, frozenset(members))
    return Reach(who, frozenset(), frozenset())  # nobody else reaches this console


def check_named(session: Session, reach: Reach, filters: dict) -> None:
    """The one rule for ids in filters: a station, studio or member outside the caller's reach
    is refused (403), whatever it holds."""
    who = reach.who
    if who.is_office:
        return
    station, studio, member = filters["station"], filters["studio"], filters["member"]
    if reach.stations is not None and station is not None and station not in reach.stations:
        raise auth.forbidden()
    if studio is not None and not who.may_studio(studio):
        raise auth.forbidden()
    if member is not None and member not in _members_in_reach(session, reach):
        raise auth.forbidden()


def _members_in_reach(session: Session, reach: Reach) -> set[str]:
    if reach.members is not None:
        return set(reach.members)
    serving = select(MembershipCopy.member_code).where(
        MembershipCopy.station_code.in_(reach.stations or ())
    )
    holding = select(Case.member_code).where(
        Case.station_code.in_(reach.stations or ()), Case.member_code.is_not(None)
    )
    return set(session.scalars(serving.union(holding)))


# --- the query --------------------------------------------------------------------------------


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=CHINA)


def _conditions(reach: Reach, f: dict) -> list:
    found = []
    scope = reach.condition()
    if scope is not None:
        found.append(scope)
    if f["district"]:
        at = select(StationCopy.code).where(StationCopy.district == f["district"])
        found.append(Case.station_code.in_(at))
    if f["station"]:
        found.append(Case.station_code == f["station"])
    if f["studio"]:
        of = select(StudioMembershipCopy.member_code).where(
            StudioMembershipCopy.studio_code == f["studio"]
        )
        found.append(Case.member_code.in_(of))
    if f["member"]:
        found.append(Case.member_code == f["member"])
    if f["sector"]:
        of = select(MemberCopy.code).where(MemberCopy.sector == f["sector"])
        found.append(Case.member_code.in_(of))
    for name, column in (
        ("category", Case.category),
        ("channel", Case.channel),
        ("status", Case.status),
        ("colour", Case.colour),
    ):
        if f[name]:
            found.append(column == f[name])
    if f["overdue"]:
        found += [Case.colour == "red", Case.status.in_(lifecycle.OPEN)]
    if f["from"]:
        found.append(Case.received_at >= _start_of(f["from"]))
    if f["to"]:
        found.append(Case.received_at < _start_of(f["to"] + timedelta(days=1)))
    return found


def _searched(session: Session, conditions: list, q: str | None) -> list:
    if not q:
        return conditions
    if search.is_short(q):
        newest = (
            select(Case.tracking_number)
            .where(*conditions)
            .order_by(Case.received_at.desc())
            .limit(search.SHORT_SCAN)
        )
        return [Case.tracking_number.in_(newest), search.short_condition(q)]
    return [*conditions, search.condition(session.get_bind().dialect.name, q)]


def _order(sort: str) -> list:
    if sort == "deadline":
        due = func.coalesce(Case.resolution_due, Case.response_due)
        return [due.is_(None), due, Case.received_at.desc(), Case.tracking_number]
    if sort == "status":
        return [Case.status, Case.received_at.desc(), Case.tracking_number]
    if sort == "station":
        return [Case.station_code, Case.received_at.desc(), Case.tracking_number]
    return [Case.received_at.desc(), Case.tracking_number.desc()]


def statement(session: Session, reach: Reach, f: dict):
    """The SELECT of the cases the filters leave in the caller's reach, sorted (no paging)."""
    where = _searched(session, _conditions(reach, f), f["q"])
    return select(Case).where(*where).order_by(*_order(f["sort"]))


def count(session: Session, where: list, cap: int | None = None) -> tuple[int, bool]:
    """How many cases match, counted up to ``cap`` (:data:`COUNT_CAP` if None) and whether there
    are more: a common word in a million cases would otherwise cost a count of every match per
    page."""
    cap = COUNT_CAP if cap is None else cap
    limited = select(Case.tracking_number).where(*where).limit(cap + 1)
    counted = session.scalar(select(func.count()).select_from(limited.subquery()))
    return min(counted, cap), counted > cap


def count_cap(q: str | None) -> int:
    """The count's cap for a list: :data:`SEARCH_COUNT_CAP` for a text search the index
    answers, else :data:`COUNT_CAP`."""
    return SEARCH_COUNT_CAP if q and not search.is_short(q) else COUNT_CAP


def find(session: Session, reach: Reach, f: dict) -> dict:
    """One page of the list: the cases (summaries with the member's name), the total (up to
    :func:`count_cap`, ``total_more`` when there are more), the pages."""
    conditions = _conditions(reach, f)
    q = f["q"]
    dialect = session.get_bind().dialect.name
    where = _searched(session, conditions, q)
    indexed = bool(q) and not search.is_short(q)
    cap = count_cap(q)
    # every case searched (the office, no filter): the index counts its own matches (SQLite)
    counted = search.index_count(session, dialect, q) if indexed and not conditions else None
    if counted is not None:
        total, more = min(counted, cap), counted > cap
    else:
        total, more = count(session, where, cap)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(f["page"], pages)
    if more and indexed and f["sort"] == "received":
        if counted is not None:
            # a phrase in very many cases: reading the words newest first finds a page of them
            # sooner than the index hands every match over (tests/bench/README.md)
            where = [search.short_condition(q)]
        else:
            # newest first along the receipt index, each case looked up in the index's matches,
            # stopping after a page (instead of sorting every match)
            where = [*conditions, search.condition(dialect, q, many=True)]
    query = select(Case).where(*where).order_by(*_order(f["sort"]))
    rows = session.scalars(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return {
        "total": total,
        "total_more": more,
        "count_cap": cap,
        "page": page,
        "pages": pages,
        "page_size": PAGE_SIZE,
        "short_query": bool(f["q"]) and search.is_short(f["q"]),
        "cases": _named(session, [views._summary(c) for c in rows]),
    }


def _named(session: Session, cases: list[dict]) -> list[dict]:
    members = {c["member"] for c in cases if c["member"]}
    stations = {c["station"] for c in cases}
    names = dict(
        session.execute(
            select(MemberCopy.code, MemberCopy.name).where(MemberCopy.code.in_(members))
        ).all()
    )
    places = {
        s.code: s
        for s in session.scalars(select(StationCopy).where(StationCopy.code.in_(stations)))
    }
    for c in cases:
        c["member_name"] = names.get(c["member"])
        station = places.get(c["station"])
        c["station_name"] = station.name if station else None
        c["district"] = station.district if station else None
    return cases


def as_json(f: dict, found: dict) -> dict:
    shown = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in f.items()}
    return {"filters": shown, **found}


# --- the pickers ------------------------------------------------------------------------------


def pickers(session: Session, reach: Reach) -> dict[str, list[tuple[str, str]]]:
    """The values each filter offers (value, label), from the registry copy, within reach."""
    stations = select(StationCopy).order_by(StationCopy.district, StationCopy.code)
    studios = select(StudioCopy).order_by(StudioCopy.district, StudioCopy.code)
    members = select(MemberCopy).order_by(MemberCopy.code)
    if reach.stations is not None:
        stations = stations.where(StationCopy.code.in_(reach.stations))
        studios = studios.where(StudioCopy.code.in_(()))
        members = members.where(MemberCopy.code.in_(_members_in_reach(session, reach)))
    elif reach.members is not None:
        stations = stations.where(StationCopy.code.in_(()))
        studios = studios.where(StudioCopy.code.in_(reach.who.studios))
        members = members.where(MemberCopy.code.in_(reach.members))
    station_rows = session.scalars(stations).all()
    studio_rows = session.scalars(studios).all()
    member_rows = session.scalars(members).all()
    districts = sorted({s.district for s in station_rows} | {s.district for s in studio_rows})
    sectors = sorted({m.sector for m in member_rows if m.sector})
    named = select(SectorCopy.code, SectorCopy.name).where(SectorCopy.code.in_(sectors))
    sector_names = dict(session.execute(named).all())
    return {
        "district": [(d, d) for d in districts if d],
        "station": [(s.code, f"{s.name}（{s.district}）") for s in station_rows],
        "studio": [(s.code, f"{s.name or s.code}（{s.district}）") for s in studio_rows],
        "member": [(m.code, f"{m.name}（{m.code}）") for m in member_rows],
        "sector": [(s, sector_names.get(s, s)) for s in sectors],
        "category": [
            (code, f"{entry['name']} {entry['name_en']}")
            for code, entry in catalogue.load()["categories"].items()
        ],
        "channel": [(c, c) for c in CHANNELS],
        "status": [(s, f"{name} {s}") for s, name in lifecycle.STATUS_NAMES.items()],
        "colour": [(c, f"{zh}（{words}） {c}") for c, (zh, words) in COLOURS.items()],
    }


# --- one case ---------------------------------------------------------------------------------


def one_case(session: Session, reach: Reach, number: str) -> dict:
    """One case with its history, names and station: 404 if none, 403 out of reach."""
    case = session.get(Case, number)
    if case is None:
        raise not_found(number)
    if not reach.may_see(case):
        raise auth.forbidden()
    view = views.case_view(session, number)
    [named] = _named(session, [view])
    for step in named["history"]:
        step.setdefault("note", None)
    named["assigned_at"] = case.assigned_at.isoformat() if case.assigned_at else None
    named["accepted_at"] = case.accepted_at.isoformat() if case.accepted_at else None
    named["closed_at"] = case.closed_at.isoformat() if case.closed_at else None
    named["close_reason"] = case.close_reason
    return named


def handover_members(session: Session, reach: Reach, case: dict) -> dict[str, str]:
    """Whom the page offers a transfer to: the office, every active member; a station admin,
    the members of its stations (access.Scope.may_give_to decides again on the POST)."""
    query = select(MemberCopy.code, MemberCopy.name).where(MemberCopy.active.is_(True))
    if reach.stations is not None:
        query = query.join(MembershipCopy, MembershipCopy.member_code == MemberCopy.code).where(
            MembershipCopy.station_code.in_(reach.stations)
        )
    rows = session.execute(query.distinct().order_by(MemberCopy.code)).all()
    return {code: name for code, name in rows if code != case["member"]}


# --- the workbook -----------------------------------------------------------------------------

COLUMNS = (
    ("编号", "number", "tracking_number"),
    ("受理时间（北京时间）", "received (Beijing)", "received_at"),
    ("区", "district", "district"),
    ("工作站", "station", "station_name"),
    ("类别", "category", "category"),
    ("渠道", "channel", "channel"),
    ("状态", "status", "status_name"),
    ("颜色", "colour", "colour"),
    ("委员", "member", "member_name"),
    ("答复期限", "respond by", "response_due"),
    ("办结期限", "resolve by", "resolution_due"),
    ("群众原话（已遮盖）", "words (masked)", "description"),
    ("地点", "place", "place"),
)


def _local(value: str | None):
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(CHINA).replace(tzinfo=None)


def workbook(session: Session, reach: Reach, f: dict) -> bytes:
    """The filtered list (every page, at most :data:`EXPORT_MAX` rows) as an xlsx file."""
    from openpyxl import Workbook

    query = statement(session, reach, f)
    where = _searched(session, _conditions(reach, f), f["q"])
    total, more = count(session, where, count_cap(f["q"]))
    rows = session.scalars(query.limit(EXPORT_MAX)).all()
    cases = _named(session, [views._summary(c) for c in rows])
    categories = catalogue.load()["categories"]
    book = Workbook()
    sheet = book.active
    sheet.title = "案件 cases"
    sheet.append([f"{zh} {en}" for zh, en, _ in COLUMNS])
    for c in cases:
        values = []
        for _, _, key in COLUMNS:
            value = c.get(key)
            if key in ("received_at", "response_due", "resolution_due"):
                value = _local(value)
            elif key == "category":
                value = categories.get(value, {}).get("name", value)
            elif key == "colour":
                value = COLOURS.get(value, (value,))[0]
            elif key == "station_name":
                value = value or c["station"]
            elif key == "member_name":
                value = f"{value}（{c['member']}）" if value else c["member"]
            values.append(value)
        sheet.append(values)
    about = book.create_sheet("说明 about")
    about.append(["筛选条件 filters", query_string(f) or "（无 none）"])
    about.append(["符合条件 matching", f"{total}+" if more else total])
    about.append(["已导出 exported", len(cases)])
    if more:
        about.append(
            [
                f"只导出前{EXPORT_MAX}件，请缩小筛选范围",
                f"only the first {EXPORT_MAX} rows are exported: narrow the filters",
            ]
        )
    about.append(
        ["群众原话中的电话、身份证号已遮盖", "phone and ID numbers in the words are masked"]
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
