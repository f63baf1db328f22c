"""Registry rules: validate, save, bump the revision, announce the change (plain Python).

Every change records a ``registry.<kind>_saved`` event carrying the whole record and its
revision, so routing and intake keep copies that converge whatever order events arrive in.
Saving identical data changes nothing and announces nothing: re-imports are harmless.
"""

from __future__ import annotations

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel import outbox
from services.registry.models import Member, Membership, Sector, Station
from services.registry.schemas import MemberSchema, SectorSchema, StationSchema

SOURCE = "registry"


def sector_payload(s: Sector) -> dict:
    return {"code": s.code, "name": s.name, "revision": s.revision}


def station_payload(s: Station) -> dict:
    return {
        "code": s.code,
        "name": s.name,
        "district": s.district,
        "kind": s.kind,
        "active": s.active,
        "revision": s.revision,
    }


def member_payload(m: Member) -> dict:
    return {
        "code": m.code,
        "name": m.name,
        "level": m.level,
        "sector": m.sector_code,
        "district": m.district,
        "active": m.active,
        "revision": m.revision,
        "stations": [{"station": ms.station_code, "role": ms.role} for ms in m.memberships],
    }


def _save(session, model, key, create, apply, payload_fn, event_type):
    row = session.get(model, key)
    if row is None:
        row = create()
        session.add(row)
    else:
        before = payload_fn(row)
        apply(row)
        session.flush()
        if payload_fn(row) | {"revision": 0} == before | {"revision": 0}:
            return row, False
        row.revision += 1
    session.flush()
    outbox.record(session, event_type, payload_fn(row), SOURCE)
    return row, True


def _setter(values: dict):
    def apply(row):
        for name, value in values.items():
            setattr(row, name, value)

    return apply


def save_sector(session: Session, data: dict):
    d = SectorSchema().load(data)
    return _save(
        session,
        Sector,
        d["code"],
        lambda: Sector(**d, revision=1),
        _setter(d),
        sector_payload,
        "registry.sector_saved",
    )


def save_station(session: Session, data: dict):
    d = StationSchema().load(data)
    return _save(
        session,
        Station,
        d["code"],
        lambda: Station(**d, revision=1),
        _setter(d),
        station_payload,
        "registry.station_saved",
    )


def save_member(session: Session, data: dict):
    d = MemberSchema().load(data)
    errors = {}
    if session.get(Sector, d["sector"]) is None:
        errors["sector"] = [f"未知界别 / unknown sector: {d['sector']}"]
    missing = [m["station"] for m in d["stations"] if session.get(Station, m["station"]) is None]
    if missing:
        errors["stations"] = [f"未知工作站 / unknown station: {', '.join(missing)}"]
    if errors:
        raise ValidationError(errors)
    values = {k: d[k] for k in ("code", "name", "level", "district", "active")}
    values["sector_code"] = d["sector"]
    wanted = sorted({(m["station"], m["role"]) for m in d["stations"]})

    def memberships():
        return [Membership(member_code=d["code"], station_code=s, role=r) for s, r in wanted]

    def apply(row):
        _setter(values)(row)
        if sorted((ms.station_code, ms.role) for ms in row.memberships) != wanted:
            row.memberships = memberships()

    return _save(
        session,
        Member,
        d["code"],
        lambda: Member(**values, revision=1, memberships=memberships()),
        apply,
        member_payload,
        "registry.member_saved",
    )


def list_stations(session: Session) -> list[dict]:
    return [station_payload(s) for s in session.scalars(select(Station).order_by(Station.code))]


def list_sectors(session: Session) -> list[dict]:
    return [sector_payload(s) for s in session.scalars(select(Sector).order_by(Sector.code))]


def list_members(session: Session, station: str | None = None) -> list[dict]:
    query = select(Member).order_by(Member.code)
    if station:
        query = query.join(Membership).where(Membership.station_code == station)
    return [member_payload(m) for m in session.scalars(query)]
