"""Duty rosters (委员接待日值班): duty days saved and listed, and who is on duty.

A duty day is one date and time slot at one station or studio with the members on duty; its
public code is derived from those (``station-gwm-20261202-am``), so re-importing a roster file
finds the same rows. The monthly rotation (轮值接待) that fills them: ``rotation.py``.
"""

from __future__ import annotations

from datetime import date

from marshmallow import ValidationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from services.registry.models import (
    Member,
    RosterDay,
    RosterDuty,
    Station,
    Studio,
)
from services.registry.saving import lookup, save_row
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


def parse(data: dict) -> dict:
    """A duty day as the schema loads it (types, bounds, exactly one place), or field errors."""
    return _SCHEMA.load(data)


def _check(session: Session, d: dict, wanted: list[str], existing: RosterDay | None) -> None:
    """Refuses unknown places and members, and putting a deactivated member on duty."""
    errors = {}
    if d["station"] and lookup(session, Station, d["station"]) is None:
        errors["station"] = [f"未知工作站 / unknown station: {d['station']}"]
    if d["studio"] and lookup(session, Studio, d["studio"]) is None:
        errors["studio"] = [f"未知工作室 / unknown studio: {d['studio']}"]
    found = {m: lookup(session, Member, m) for m in wanted}
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


def save_roster(session: Session, data: dict):
    """Save one duty day; refuses unknown places and members, and deactivated members."""
    d = _SCHEMA.load(data)
    wanted = sorted(set(d["members"]))
    code = roster_code(d["date"], d["slot"], d["station"], d["studio"])
    _check(session, d, wanted, lookup(session, RosterDay, code))

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
