"""Duty rosters (委员接待日值班): duty days, the monthly rotation (轮值接待), who is on duty.

A duty day is one date and time slot at one station or studio with the members on duty; its
public code is derived from those (``station-gwm-20261202-am``), so re-importing a roster file
finds the same rows. ``plan_rotation`` is the fair spread, pure and deterministic;
``generate_rotation`` applies it to a station's or studio's active members for one month.
"""

from __future__ import annotations

import calendar
from datetime import date

from marshmallow import ValidationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from services.registry.models import (
    Member,
    Membership,
    RosterDay,
    RosterDuty,
    Station,
    Studio,
    StudioMembership,
)
from services.registry.registry import lookup, save_row
from services.registry.schemas import RosterSchema

_SCHEMA = RosterSchema()


def roster_code(day: date, slot: str, station: str | None = None, studio: str | None = None):
    place = f"station-{station}" if station else f"studio-{studio}"
    return f"{place}-{day:%Y%m%d}-{slot}"


def roster_payload(r: RosterDay) -> dict:
    return {
        "code": r.code,
        "date": r.day.isoformat(),
        "slot": r.slot,
        "station": r.station_code,
        "studio": r.studio_code,
        "members": [d.member_code for d in r.duties],
        "active": r.active,
        "revision": r.revision,
    }


def roster_record(r: RosterDay) -> dict:
    return {k: v for k, v in roster_payload(r).items() if k not in ("code", "revision")}


def save_roster(session: Session, data: dict):
    """Save one duty day; refuses unknown places and members, and deactivated members."""
    d = _SCHEMA.load(data)
    errors = {}
    if d["station"] and lookup(session, Station, d["station"]) is None:
        errors["station"] = [f"未知工作站 / unknown station: {d['station']}"]
    if d["studio"] and lookup(session, Studio, d["studio"]) is None:
        errors["studio"] = [f"未知工作室 / unknown studio: {d['studio']}"]
    wanted = sorted(set(d["members"]))
    found = {m: lookup(session, Member, m) for m in wanted}
    code = roster_code(d["date"], d["slot"], d["station"], d["studio"])
    existing = lookup(session, RosterDay, code)
    # a day already on the roster keeps the members it had (re-importing last year's roster
    # after someone left changes nothing); only putting a deactivated member on duty is refused
    already = {x.member_code for x in existing.duties} if existing is not None else set()
    unknown = [m for m in wanted if found[m] is None]
    inactive = [
        m for m in wanted if found[m] is not None and not found[m].active and m not in already
    ]
    problems = []
    if unknown:
        problems.append(f"未知委员 / unknown member: {', '.join(unknown)}")
    if inactive and d["active"]:
        problems.append(f"委员已停用，不能排班 / member is deactivated: {', '.join(inactive)}")
    if problems:
        errors["members"] = problems
    if errors:
        raise ValidationError(errors)

    def duties():
        return [RosterDuty(roster_code=code, member_code=m) for m in wanted]

    def apply(row):
        row.active = d["active"]
        if [x.member_code for x in row.duties] != wanted:
            row.duties = duties()

    return save_row(
        session,
        RosterDay,
        code,
        lambda: RosterDay(
            code=code,
            day=d["date"],
            slot=d["slot"],
            station_code=d["station"],
            studio_code=d["studio"],
            active=d["active"],
            revision=1,
            duties=duties(),
        ),
        apply,
        roster_record,
        roster_payload,
        "registry.roster_saved",
    )


def plan_rotation(
    members: list[str], days: list[date], per_day: int = 1, carried: dict | None = None
) -> dict[date, list[str]]:
    """Spread ``days`` over ``members``, ``per_day`` a day, as evenly as it goes (轮值接待).

    Each day takes the members with the fewest duties so far (``carried`` counts earlier
    months), then the one who served longest ago, then by code: counts never differ by more
    than one when the carried ones did not, and nobody serves twice on one day.
    """
    members = sorted(set(members))
    counts = {m: (carried or {}).get(m, 0) for m in members}
    last = dict.fromkeys(members, -1)
    plan = {}
    for i, day in enumerate(sorted(set(days))):
        chosen = sorted(members, key=lambda m: (counts[m], last[m], m))[:per_day]
        for m in chosen:
            counts[m] += 1
            last[m] = i
        plan[day] = sorted(chosen)
    return plan


def month_days(month: str, weekdays=(2,)) -> list[date]:
    """The days of ``month`` (YYYY-MM) falling on ``weekdays`` (0 = Monday; default Wednesday)."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        last = calendar.monthrange(year, mon)[1]
    except (ValueError, calendar.IllegalMonthError) as exc:
        raise ValidationError({"month": ["应为 YYYY-MM / must be YYYY-MM"]}) from exc
    return [
        date(year, mon, d) for d in range(1, last + 1) if date(year, mon, d).weekday() in weekdays
    ]


def place_members(session: Session, station: str | None = None, studio: str | None = None):
    """The active members serving a station or a studio, by code."""
    if station:
        link, column = Membership, Membership.station_code == station
    else:
        link, column = StudioMembership, StudioMembership.studio_code == studio
    return list(
        session.scalars(
            select(Member.code)
            .join(link)
            .where(column, Member.active.is_(True))
            .order_by(Member.code)
        )
    )


def generate_rotation(
    session: Session,
    *,
    month: str,
    station: str | None = None,
    studio: str | None = None,
    weekdays=(2,),
    dates: list[date] | None = None,
    slot: str = "am",
    per_day: int = 2,
) -> list[RosterDay]:
    """Plan and save one month's reception days; running it again for the month changes nothing."""
    if bool(station) == bool(studio):
        raise ValidationError({"station": ["工作站和工作室须填且只填一个 / give exactly one"]})
    if per_day < 1:
        raise ValidationError({"per_day": ["至少为1 / must be at least 1"]})
    days = dates if dates is not None else month_days(month, weekdays)
    members = place_members(session, station, studio)
    if not members:
        raise ValidationError(
            {"members": ["该处没有在岗委员，无法排班 / nobody active serves here to put on duty"]}
        )
    first = min(days) if days else None
    place = RosterDay.station_code == station if station else RosterDay.studio_code == studio
    carried = {}
    if first is not None:
        carried = dict(
            session.execute(
                select(RosterDuty.member_code, func.count())
                .join(RosterDay)
                .where(place, RosterDay.active.is_(True), RosterDay.day < first)
                .group_by(RosterDuty.member_code)
            ).all()
        )
    plan = plan_rotation(members, days, per_day, carried)
    return [
        save_roster(
            session,
            {
                "date": day.isoformat(),
                "slot": slot,
                "station": station,
                "studio": studio,
                "members": on_duty,
            },
        )[0]
        for day, on_duty in plan.items()
    ]


def list_rosters(
    session: Session,
    *,
    station: str | None = None,
    studio: str | None = None,
    member: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[dict]:
    query = select(RosterDay).order_by(RosterDay.day, RosterDay.code)
    if station:
        query = query.where(RosterDay.station_code == station)
    if studio:
        query = query.where(RosterDay.studio_code == studio)
    if member:
        query = query.where(RosterDay.duties.any(RosterDuty.member_code == member))
    if date_from:
        query = query.where(RosterDay.day >= date_from)
    if date_to:
        query = query.where(RosterDay.day <= date_to)
    return [roster_payload(r) for r in session.scalars(query)]


# Built once with bound parameters: a look-up only binds values (routing asks this per case).
_ON_DUTY = (
    select(Member.code, Member.name, Member.sector_code, Member.level, RosterDay.slot)
    .select_from(RosterDay)
    .join(RosterDuty, RosterDuty.roster_code == RosterDay.code)
    .join(Member, Member.code == RosterDuty.member_code)
    .where(
        RosterDay.station_code == bindparam("station"),
        RosterDay.day == bindparam("day"),
        RosterDay.active.is_(True),
        Member.active.is_(True),
    )
)
ON_DUTY_ANY = _ON_DUTY.order_by(Member.code, RosterDay.slot)
ON_DUTY_OF_SECTOR = _ON_DUTY.where(Member.sector_code == bindparam("sector")).order_by(
    Member.code, RosterDay.slot
)


def on_duty(session: Session, station: str, day: date, sector: str | None = None) -> list[dict]:
    """Who is on duty at ``station`` on ``day`` (of ``sector`` if given): the routing candidates."""
    params = {"station": station, "day": day}
    if sector:
        statement, params["sector"] = ON_DUTY_OF_SECTOR, sector
    else:
        statement = ON_DUTY_ANY
    rows = session.connection().execute(statement, params).all()
    return [
        {"code": c, "name": n, "sector": s, "level": lv, "slot": slot} for c, n, s, lv, slot in rows
    ]
