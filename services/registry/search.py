"""Look-ups: the lists other services and the office read, the member search, the counts."""

from __future__ import annotations

import json

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from services.registry.models import (
    Member,
    Membership,
    Sector,
    Station,
    Studio,
    StudioMembership,
    StudioSector,
)
from services.registry.records import (
    member_payload,
    sector_payload,
    station_payload,
    studio_payload,
)


def list_stations(session: Session, district: str | None = None, active=None) -> list[dict]:
    query = select(Station).order_by(Station.code)
    if district:
        query = query.where(Station.district == district)
    if active is not None:
        query = query.where(Station.active == active)
    return [station_payload(s) for s in session.scalars(query)]


def list_sectors(session: Session) -> list[dict]:
    return [sector_payload(s) for s in session.scalars(select(Sector).order_by(Sector.code))]


def list_studios(
    session: Session, district: str | None = None, sector: str | None = None, active=None
) -> list[dict]:
    query = select(Studio).order_by(Studio.code)
    if district:
        query = query.where(Studio.district == district)
    if sector:
        query = query.join(StudioSector).where(StudioSector.sector_code == sector)
    if active is not None:
        query = query.where(Studio.active == active)
    return [studio_payload(s) for s in session.scalars(query)]


def list_members(session: Session, station: str | None = None) -> list[dict]:
    return search_members(session, station=station)[1]


def search_members(
    session: Session,
    *,
    q: str | None = None,
    level: str | None = None,
    sector: str | None = None,
    district: str | None = None,
    station: str | None = None,
    studio: str | None = None,
    expertise: str | None = None,
    active: bool | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[int, list[dict]]:
    """Members matching every given filter, by code: (how many match, one page of them)."""
    query = select(Member)
    if q:
        query = query.where(or_(Member.name.contains(q, autoescape=True), Member.code == q))
    for column, value in ((Member.level, level), (Member.sector_code, sector)):
        if value:
            query = query.where(column == value)
    if district:
        query = query.where(Member.district == district)
    if station:
        query = query.join(Membership).where(Membership.station_code == station)
    if studio:
        query = query.join(StudioMembership).where(StudioMembership.studio_code == studio)
    if expertise:
        # JSON as text, the tag as json.dumps wrote it (\u escapes: autoescape, or PostgreSQL's
        # LIKE reads the backslashes as its escape character)
        as_text = cast(Member.expertise, String)
        query = query.where(as_text.contains(json.dumps(expertise), autoescape=True))
    if active is not None:
        query = query.where(Member.active == active)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    query = query.order_by(Member.code).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return total, [member_payload(m) for m in session.scalars(query)]


def counts(session: Session) -> dict:
    """How many of each, and members per level and per sector (what the office reports)."""

    def count(model):
        return session.scalar(select(func.count()).select_from(model))

    by = {}
    for name, column in (("level", Member.level), ("sector", Member.sector_code)):
        rows = session.execute(
            select(column, func.count()).where(Member.active.is_(True)).group_by(column)
        ).all()
        by[name] = dict(sorted(rows))
    return {
        "sectors": count(Sector),
        "stations": count(Station),
        "studios": count(Studio),
        "members": count(Member),
        "members_by_level": by["level"],
        "members_by_sector": by["sector"],
    }
