"""The monthly rotation (轮值接待): reception days spread fairly over a place's members.

``plan_rotation`` is the fair spread, pure and deterministic; ``generate_rotation`` applies it
to a station's or studio's active members for one month and saves the duty days
(``roster.save_roster``).
"""

from __future__ import annotations

import calendar
from datetime import date

from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.registry.args import MAX_PER_DAY
from services.registry.models import Member, Membership, RosterDay, RosterDuty, StudioMembership
from services.registry.roster import save_roster


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
        year, mon = (int(x) for x in str(month).split("-"))
        last = calendar.monthrange(year, mon)[1]
        return [
            date(year, mon, d)
            for d in range(1, last + 1)
            if date(year, mon, d).weekday() in weekdays
        ]
    except (ValueError, calendar.IllegalMonthError) as exc:
        raise ValidationError({"month": ["应为 YYYY-MM / must be YYYY-MM"]}) from exc


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


def _carried(session: Session, station: str | None, studio: str | None, first: date | None):
    """Each member's active duties at the place before ``first`` (earlier months)."""
    if first is None:
        return {}
    place = RosterDay.station_code == station if station else RosterDay.studio_code == studio
    return dict(
        session.execute(
            select(RosterDuty.member_code, func.count())
            .join(RosterDay)
            .where(place, RosterDay.active.is_(True), RosterDay.day < first)
            .group_by(RosterDuty.member_code)
        ).all()
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
    if not 1 <= per_day <= MAX_PER_DAY:
        raise ValidationError(
            {"per_day": [f"应为1到{MAX_PER_DAY}的整数 / must be an integer 1–{MAX_PER_DAY}"]}
        )
    days = dates if dates is not None else month_days(month, weekdays)
    members = place_members(session, station, studio)
    if not members:
        raise ValidationError(
            {"members": ["该处没有在岗委员，无法排班 / nobody active serves here to put on duty"]}
        )
    carried = _carried(session, station, studio, min(days) if days else None)
    plan = plan_rotation(members, days, per_day, carried)
    place = {"slot": slot, "station": station, "studio": studio}
    return [
        save_roster(session, {"date": day.isoformat(), **place, "members": on_duty})[0]
        for day, on_duty in plan.items()
    ]
