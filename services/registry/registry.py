"""Registry rules: validate, save, bump the revision, announce the change (plain Python).

Every change records a ``registry.<kind>_saved`` event carrying the whole record and its
revision, so routing and intake keep copies that converge whatever order events arrive in.
Saving identical data changes nothing and announces nothing: re-imports are harmless.
A member's phone is personal data: it is in the record the office reads, never in an event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from marshmallow import ValidationError
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from services.kernel import outbox
from services.kernel.http import ApiError
from services.registry.models import (
    Member,
    Membership,
    Sector,
    Station,
    Studio,
    StudioMembership,
    StudioSector,
)
from services.registry.schemas import MemberSchema, SectorSchema, StationSchema, StudioSchema

SOURCE = "registry"
# one instance each: building a schema costs more than loading a record with it
_SECTOR, _STATION, _STUDIO, _MEMBER = (
    SectorSchema(),
    StationSchema(),
    StudioSchema(),
    MemberSchema(),
)


# -- what events carry (no personal data) ------------------------------------------------------


def sector_payload(s: Sector) -> dict:
    return {"code": s.code, "name": s.name, "revision": s.revision}


def station_payload(s: Station) -> dict:
    return {
        "code": s.code,
        "name": s.name,
        "district": s.district,
        "kind": s.kind,
        "street": s.street,
        "active": s.active,
        "revision": s.revision,
    }


def studio_payload(s: Studio) -> dict:
    return {
        "code": s.code,
        "name": s.name,
        "district": s.district,
        "location": s.location,
        "sectors": [x.sector_code for x in s.sectors],
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
        "expertise": list(m.expertise or []),
        "term": m.term,
        "active": m.active,
        "revision": m.revision,
        "stations": [{"station": ms.station_code, "role": ms.role} for ms in m.memberships],
        "studios": [{"studio": ms.studio_code, "role": ms.role} for ms in m.studio_memberships],
    }


# -- the whole record as the office writes it (the input form; phone included) -----------------


def sector_record(s: Sector) -> dict:
    return {"code": s.code, "name": s.name}


def station_record(s: Station) -> dict:
    return {k: v for k, v in station_payload(s).items() if k != "revision"}


def studio_record(s: Studio) -> dict:
    return {k: v for k, v in studio_payload(s).items() if k != "revision"}


def member_record(m: Member) -> dict:
    record = {k: v for k, v in member_payload(m).items() if k != "revision"}
    record["phone"] = m.phone
    return record


def lookup(session: Session, model, key):
    """``session.get``, but only the identity map for tables ``preload`` brought in whole."""
    if model in session.info.get("lx_preloaded_models", ()):
        row = session.identity_map.get(identity_key(model, key))
        return row if row is not None else session.info["lx_created"].get((model, key))
    return session.get(model, key)


def save_row(session, model, key, create, apply, record_fn, payload_fn, event_type):
    row = lookup(session, model, key)
    if row is None:
        row = create()
        session.add(row)
        if model in session.info.get("lx_preloaded_models", ()):
            # a bulk save: keep it findable unflushed, and let one flush insert them all
            session.info["lx_created"][(model, key)] = row
            outbox.record(session, event_type, payload_fn(row), SOURCE)
            return row, True
    else:
        before = record_fn(row)
        apply(row)
        if record_fn(row) == before:
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


def _unknown(session, model, codes) -> list[str]:
    # session.get answers from the identity map when the rows are there (see preload)
    return [c for c in sorted(set(codes)) if lookup(session, model, c) is None]


def preload(session: Session) -> None:
    """Load every record into ``session`` at once, so a bulk save (an import, the demo) finds
    each one in the identity map instead of asking the database row by row, and new rows are
    inserted together at the next flush. Flush before saving rows that refer to new ones of
    another kind (members after their sectors)."""
    from services.registry.models import RosterDay

    session.flush()
    rows, models = [], (Sector, Station, Studio, Member, RosterDay)
    for model in models:
        rows.extend(session.scalars(select(model)).all())
    session.info["lx_preloaded"] = rows  # the identity map holds rows weakly; keep them
    session.info["lx_preloaded_models"] = models
    session.info["lx_created"] = {}


def save_sector(session: Session, data: dict):
    d = _SECTOR.load(data)
    return save_row(
        session,
        Sector,
        d["code"],
        lambda: Sector(**d, revision=1),
        _setter(d),
        sector_record,
        sector_payload,
        "registry.sector_saved",
    )


def save_station(session: Session, data: dict):
    d = _STATION.load(data)
    return save_row(
        session,
        Station,
        d["code"],
        lambda: Station(**d, revision=1),
        _setter(d),
        station_record,
        station_payload,
        "registry.station_saved",
    )


def save_studio(session: Session, data: dict):
    d = _STUDIO.load(data)
    missing = _unknown(session, Sector, d["sectors"])
    if missing:
        raise ValidationError({"sectors": [f"未知界别 / unknown sector: {', '.join(missing)}"]})
    values = {k: d[k] for k in ("code", "name", "district", "location", "active")}
    wanted = sorted(set(d["sectors"]))

    def sectors():
        return [StudioSector(studio_code=d["code"], sector_code=s) for s in wanted]

    def apply(row):
        _setter(values)(row)
        if [x.sector_code for x in row.sectors] != wanted:
            row.sectors = sectors()

    return save_row(
        session,
        Studio,
        d["code"],
        lambda: Studio(**values, revision=1, sectors=sectors()),
        apply,
        studio_record,
        studio_payload,
        "registry.studio_saved",
    )


def save_member(session: Session, data: dict):
    d = _MEMBER.load(data)
    errors = {}
    if lookup(session, Sector, d["sector"]) is None:
        errors["sector"] = [f"未知界别 / unknown sector: {d['sector']}"]
    missing = _unknown(session, Station, [m["station"] for m in d["stations"]])
    if missing:
        errors["stations"] = [f"未知工作站 / unknown station: {', '.join(missing)}"]
    missing = _unknown(session, Studio, [m["studio"] for m in d["studios"]])
    if missing:
        errors["studios"] = [f"未知工作室 / unknown studio: {', '.join(missing)}"]
    if errors:
        raise ValidationError(errors)
    values = {k: d[k] for k in ("code", "name", "level", "district", "phone", "term", "active")}
    values["sector_code"] = d["sector"]
    values["expertise"] = list(dict.fromkeys(d["expertise"]))
    stations = sorted({(m["station"], m["role"]) for m in d["stations"]})
    studios = sorted({(m["studio"], m["role"]) for m in d["studios"]})

    def memberships():
        return [Membership(member_code=d["code"], station_code=s, role=r) for s, r in stations]

    def studio_memberships():
        return [StudioMembership(member_code=d["code"], studio_code=s, role=r) for s, r in studios]

    def apply(row):
        _setter(values)(row)
        if sorted((ms.station_code, ms.role) for ms in row.memberships) != stations:
            row.memberships = memberships()
        if sorted((ms.studio_code, ms.role) for ms in row.studio_memberships) != studios:
            row.studio_memberships = studio_memberships()

    return save_row(
        session,
        Member,
        d["code"],
        lambda: Member(
            **values,
            revision=1,
            memberships=memberships(),
            studio_memberships=studio_memberships(),
        ),
        apply,
        member_record,
        member_payload,
        "registry.member_saved",
    )


# -- one table of kinds, so create / update / deactivate are written once -----------------------


@dataclass(frozen=True)
class Kind:
    model: type
    save: object
    record: object
    payload: object
    name_zh: str
    name: str


KINDS = {
    "sectors": Kind(Sector, save_sector, sector_record, sector_payload, "界别", "sector"),
    "stations": Kind(Station, save_station, station_record, station_payload, "工作站", "station"),
    "studios": Kind(Studio, save_studio, studio_record, studio_payload, "工作室", "studio"),
    "members": Kind(Member, save_member, member_record, member_payload, "委员", "member"),
}


def get(session: Session, kind: str, code: str):
    row = session.get(KINDS[kind].model, code)
    if row is None:
        k = KINDS[kind]
        raise ApiError(
            "not_found", f"未找到{k.name_zh}: {code}", f"{k.name} not found: {code}", status=404
        )
    return row


def create(session: Session, kind: str, data: dict):
    """Save a new record. The same data again is harmless; other data under a used code is not."""
    k = KINDS[kind]
    code = data.get("code") if isinstance(data, dict) else None
    existing = session.get(k.model, code) if isinstance(code, str) else None
    if existing is not None:
        # validates field by field first; a change is refused (the caller's transaction rolls
        # back), the same data again answers "unchanged"
        checked = k.save(session, data)
        if checked[1]:
            raise ApiError(
                "duplicate_code",
                f"编号已存在: {code}（修改请用 PATCH /{kind}/{code}）",
                f"code already exists: {code} (use PATCH /{kind}/{code} to change it)",
                fields={"code": [f"编号已存在 / code already exists: {code}"]},
                status=409,
            )
        return checked
    return k.save(session, data)


def update(session: Session, kind: str, code: str, changes: dict):
    """Apply some fields to an existing record; the code itself cannot change."""
    k = KINDS[kind]
    row = get(session, kind, code)
    if "code" in changes and changes["code"] != code:
        raise ValidationError({"code": ["编号不能修改 / the code cannot change"]})
    return k.save(session, {**k.record(row), **changes, "code": code})


def deactivate(session: Session, kind: str, code: str):
    return update(session, kind, code, {"active": False})


# -- look-ups -----------------------------------------------------------------------------------


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
