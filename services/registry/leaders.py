"""Leader liaison (领导对口联系): city CPPCC leaders, the stations each is linked to, and their
field visits (深入基层, 现场推进联系服务界别群众工作), saved like every registry record.

The rules, in the order they are checked:

1. A leader is a code, a name, a title (职务: 主席, 副主席, 秘书长…) and the stations linked to it;
   every linked station must exist (else a field error on ``stations``). The same data again
   changes nothing; other data under a used code is ``duplicate_code`` (409).
2. A visit names a station, a date, what was pushed forward (``purpose``, 1–500 characters),
   the members who came and who else came (``others``, text ≤ 200). Field errors: an unknown
   ``station`` or ``members``; a ``date`` after today in Beijing (a visit is recorded after it
   happened; any earlier day, 2024's included, is fine); a station that is **not one of the
   leader's linked stations** (the liaison system: link the station first). A visit already
   recorded keeps its station even if the link is removed later, and a deactivated leader gets
   no new visit (an existing one can still be corrected or withdrawn).
3. A visit is withdrawn (``active`` false), never deleted; its id never changes, nor its leader.
   ``visit_id`` may be given by the caller (a code): posting the same id again updates that
   visit (the same data: unchanged), so a replay that retries makes no second visit.
4. Scope (one rule, reads and writes): the office everything; a station's admin reads the
   visits **to its own stations** and the leaders linked to them, nothing else; only the office
   writes. Deactivated members may appear on a visit (it lies in the past).

Every change bumps the revision and is announced through the outbox
(``registry.leader_saved``, ``registry.leader_visit_saved``; docs/messages.md).
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime

from marshmallow import ValidationError, fields
from sqlalchemy import extract, select
from sqlalchemy.orm import Session

from services.kernel import auth
from services.kernel.dates import CHINA
from services.kernel.http import ApiError, invalid
from services.kernel.models import utcnow
from services.registry import args
from services.registry.models import (
    Leader,
    LeaderStation,
    LeaderVisit,
    LeaderVisitMember,
    Member,
    Station,
)
from services.registry.saving import lookup, save_row, setter, unknown
from services.registry.schemas import CODE, DATES, Schema, at_most, text

TITLES = ("主席", "常务副主席", "副主席", "秘书长", "党组书记", "党组副书记")  # the usual 职务
MAX_LINKED = 50  # stations one leader is linked to
MAX_COMING = 100  # members on one visit
MAX_PURPOSE, MAX_OTHERS = 500, 200


class LeaderSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=text(100, 1))
    title = fields.String(required=True, validate=text(40, 1))
    stations = fields.List(
        fields.String(validate=CODE), load_default=list, validate=at_most(MAX_LINKED)
    )
    active = fields.Boolean(load_default=True)


class VisitSchema(Schema):
    visit_id = fields.String(load_default=None, allow_none=True, validate=CODE)
    station = fields.String(required=True, validate=CODE)
    date = fields.Date(
        required=True, validate=DATES, error_messages={"invalid": "日期无效 / not a date"}
    )
    purpose = fields.String(required=True, validate=text(MAX_PURPOSE, 1))
    members = fields.List(
        fields.String(validate=CODE), load_default=list, validate=at_most(MAX_COMING)
    )
    others = fields.String(load_default="", validate=text(MAX_OTHERS))
    active = fields.Boolean(load_default=True)


_LEADER, _VISIT = LeaderSchema(), VisitSchema()


def today() -> date:
    """Today in Beijing: a visit on it may be recorded, none after it."""
    return datetime.now(CHINA).date()


# -- shapes: what the events carry (and the JSON answers) ----------------------------------------


def leader_payload(row: Leader) -> dict:
    return {
        "code": row.code,
        "name": row.name,
        "title": row.title,
        "stations": [s.station_code for s in row.stations],
        "active": row.active,
        "revision": row.revision,
    }


def leader_record(row: Leader) -> dict:
    return {k: v for k, v in leader_payload(row).items() if k != "revision"}


def visit_payload(row: LeaderVisit) -> dict:
    return {
        "visit_id": row.visit_id,
        "leader": row.leader_code,
        "station": row.station_code,
        "date": row.day.isoformat(),
        "purpose": row.purpose,
        "members": [m.member_code for m in row.members],
        "others": row.others,
        "active": row.active,
        "revision": row.revision,
        "recorded_at": row.recorded_at.isoformat(),
    }


def visit_record(row: LeaderVisit) -> dict:
    skip = ("revision", "recorded_at")
    return {k: v for k, v in visit_payload(row).items() if k not in skip}


# -- leaders ------------------------------------------------------------------------------------


def not_found(what_zh: str, what: str, code) -> ApiError:
    return ApiError(
        "not_found", f"未找到{what_zh}: {code}", f"{what} not found: {code}", status=404
    )


def get_leader(session: Session, code) -> Leader:
    row = session.get(Leader, code) if args.path_code(code, CODE.regex) else None
    if row is None:
        raise not_found("领导", "leader", code)
    return row


def save_leader(session: Session, data: dict):
    """Save a leader with its linked stations; ``(row, changed)``."""
    d = _LEADER.load(data)
    missing = unknown(session, Station, d["stations"])
    if missing:
        raise ValidationError({"stations": [f"未知工作站 / unknown station: {', '.join(missing)}"]})
    values = {k: d[k] for k in ("code", "name", "title", "active")}
    linked = sorted(set(d["stations"]))

    def links():
        return [LeaderStation(leader_code=d["code"], station_code=s) for s in linked]

    def apply(row):
        setter(values)(row)
        if [s.station_code for s in row.stations] != linked:
            row.stations = links()

    return save_row(
        session,
        Leader,
        d["code"],
        lambda: Leader(**values, revision=1, stations=links()),
        apply,
        leader_record,
        leader_payload,
        "registry.leader_saved",
    )


def create_leader(session: Session, data: dict):
    """A new leader; the same data again is harmless, other data under a used code a 409."""
    code = data.get("code") if isinstance(data, dict) else None
    existing = session.get(Leader, code) if args.path_code(code, CODE.regex) else None
    if existing is None:
        return save_leader(session, data)
    d = _LEADER.load(data)  # field errors first; then refused before anything is written
    d["stations"] = sorted(set(d["stations"]))
    if d != leader_record(existing):
        raise ApiError(
            "duplicate_code",
            f"编号已存在: {code}（修改请用 PUT /leaders/{code}）",
            f"code already exists: {code} (use PUT /leaders/{code} to change it)",
            fields={"code": [f"编号已存在 / code already exists: {code}"]},
            status=409,
        )
    return existing, False


def update_leader(session: Session, code: str, changes: dict):
    """``PUT /leaders/<code>``: the fields given replace the record's, the others are kept."""
    row = get_leader(session, code)
    if not isinstance(changes, dict):
        raise invalid({"_body": ["应为对象 / must be an object"]})
    if "code" in changes and changes["code"] != code:
        raise ValidationError({"code": ["编号不能修改 / the code cannot change"]})
    return save_leader(session, {**leader_record(row), **changes, "code": code})


def list_leaders(session: Session, stations=None) -> list[dict]:
    """Every leader (chair first, then by code), or those linked to one of ``stations``."""
    query = select(Leader).order_by(Leader.code)
    if stations is not None:
        query = query.where(Leader.stations.any(LeaderStation.station_code.in_(sorted(stations))))
    rows = sorted(session.scalars(query), key=lambda r: (_rank(r.title), r.code))
    return [leader_payload(r) for r in rows]


def _rank(title: str) -> int:
    return TITLES.index(title) if title in TITLES else len(TITLES)


# -- visits -------------------------------------------------------------------------------------


def get_visit(session: Session, visit_id) -> LeaderVisit:
    row = session.get(LeaderVisit, visit_id) if args.path_code(visit_id, CODE.regex) else None
    if row is None:
        raise not_found("走访记录", "visit", visit_id)
    return row


def _visit_errors(session, leader: Leader, d: dict, existing, day: date) -> dict:
    """What the schema cannot see, of the fields it let through (all of them, or
    ``valid_data`` when others were refused: the form shows every mistake at once)."""
    errors = {}
    station = d.get("station")
    linked = {s.station_code for s in leader.stations}
    if station is None:
        pass
    elif lookup(session, Station, station) is None:
        errors["station"] = [f"未知工作站 / unknown station: {station}"]
    elif station not in linked and not (existing and existing.station_code == station):
        errors["station"] = [
            f"{station} 不是{leader.name}联系的工作站，请先在领导页面关联 / "
            f"not one of the leader's linked stations: link it first"
        ]
    missing = unknown(session, Member, d.get("members") or [])
    if missing:
        errors["members"] = [f"未知委员 / unknown member: {', '.join(missing)}"]
    if d.get("date") is not None and d["date"] > day:
        errors["date"] = [f"不能晚于今天（{day}） / must not be after today ({day})"]
    if existing is None and not leader.active:
        errors["leader"] = [f"{leader.name}已停用，不能新增走访 / the leader is deactivated"]
    return errors


def _load_visit(session, leader: Leader, data: dict, day: date):
    """The visit as the schema loads it and the rules allow, with its stored row (or None)."""
    try:
        d = _VISIT.load(data)
    except ValidationError as err:
        valid = err.valid_data if isinstance(err.valid_data, dict) else {}
        existing = _existing(session, valid.get("visit_id"))
        others = _visit_errors(session, leader, valid, existing, day)
        raise ValidationError({**others, **err.messages}) from err
    existing = _existing(session, d["visit_id"])
    errors = _visit_errors(session, leader, d, existing, day)
    if errors:
        raise ValidationError(errors)
    return d, existing


def _existing(session, visit_id) -> LeaderVisit | None:
    return session.get(LeaderVisit, visit_id) if visit_id else None


def save_visit(session: Session, leader_code: str, data: dict, day: date | None = None):
    """Record a visit of ``leader_code`` (or correct or withdraw the one under ``visit_id``);
    ``(row, changed, created)``. ``day``: today in Beijing unless a test says otherwise."""
    leader = get_leader(session, leader_code)
    given = data.get("visit_id") if isinstance(data, dict) else None
    earlier = _existing(session, given) if args.path_code(given, CODE.regex) else None
    if earlier is not None and earlier.leader_code != leader.code:
        raise ApiError(
            "conflict",
            f"走访记录 {given} 属于另一位领导",
            f"visit {given} belongs to another leader",
            fields={"visit_id": ["属于另一位领导 / belongs to another leader"]},
            status=409,
        )
    d, existing = _load_visit(session, leader, data, day or today())
    visit_id = d["visit_id"] or f"v{d['date']:%Y%m%d}-{uuid.uuid4().hex[:10]}"
    coming = sorted(set(d["members"]))
    values = {
        "station_code": d["station"],
        "day": d["date"],
        "purpose": d["purpose"],
        "others": d["others"],
        "active": d["active"],
    }

    def came():
        return [LeaderVisitMember(visit_id=visit_id, member_code=m) for m in coming]

    def apply(row):
        setter(values)(row)
        if [m.member_code for m in row.members] != coming:
            row.members = came()

    row, changed = save_row(
        session,
        LeaderVisit,
        visit_id,
        lambda: LeaderVisit(
            visit_id=visit_id,
            leader_code=leader.code,
            **values,
            recorded_at=utcnow(),
            revision=1,
            members=came(),
        ),
        apply,
        visit_record,
        visit_payload,
        "registry.leader_visit_saved",
    )
    return row, changed, existing is None


def withdraw_visit(session: Session, visit_id: str):
    """Withdraw (撤销) a visit recorded by mistake: kept, marked inactive, announced."""
    row = get_visit(session, visit_id)
    record = visit_record(row) | {"active": False}
    record.pop("leader")
    return save_visit(session, row.leader_code, record, day=max(row.day, today()))[:2]


def list_visits(
    session: Session,
    *,
    leader=None,
    station=None,
    member=None,
    year=None,
    stations=None,
    active=None,
) -> list[dict]:
    """Visits, newest first, filtered (AND); ``stations``: only visits to these (a station
    admin's own)."""
    query = select(LeaderVisit).order_by(LeaderVisit.day.desc(), LeaderVisit.visit_id)
    if leader:
        query = query.where(LeaderVisit.leader_code == leader)
    if station:
        query = query.where(LeaderVisit.station_code == station)
    if member:
        query = query.where(LeaderVisit.members.any(LeaderVisitMember.member_code == member))
    if year:
        query = query.where(extract("year", LeaderVisit.day) == year)
    if stations is not None:
        query = query.where(LeaderVisit.station_code.in_(sorted(stations)))
    if active is not None:
        query = query.where(LeaderVisit.active.is_(active))
    return [visit_payload(r) for r in session.scalars(query)]


# -- the query, the scope ---------------------------------------------------------------------------


def visit_filters(query) -> dict:
    """``/visits``' (and the page's) query: ``leader``, ``station``, ``member``, ``year``."""
    return {
        "leader": args.text_arg(query.get("leader"), "leader"),
        "station": args.text_arg(query.get("station"), "station"),
        "member": args.text_arg(query.get("member"), "member"),
        "year": args.whole(
            query.get("year"), "year", minimum=args.FIRST_YEAR, maximum=args.LAST_YEAR
        ),
    }


def scope_visits(who: auth.Principal, filters: dict) -> dict:
    """The filters a caller may use: the office any; a station's admin only its own stations (a
    station filter of another's is refused, none means all of its own)."""
    if who.is_office:
        return {**filters, "stations": None}
    station = filters["station"]
    if station is not None and not who.may_station(station):
        raise auth.forbidden()
    return {**filters, "stations": who.stations}


def see_visit(who: auth.Principal, row: LeaderVisit) -> None:
    if not who.may_station(row.station_code):
        raise auth.forbidden()


def see_leader(who: auth.Principal, row: Leader) -> None:
    if not (who.is_office or any(who.may_station(s.station_code) for s in row.stations)):
        raise auth.forbidden()


def leader_scope(who: auth.Principal):
    """The stations whose leaders a caller may list (None: all)."""
    return None if who.is_office else who.stations


SPLIT = re.compile(r"[\s,，、;；]+")


def codes(text_value: str) -> list[str]:
    """Member codes typed in one field (a page's form), split at commas, 、 or spaces."""
    return [c for c in SPLIT.split(text_value or "") if c]
