"""Members (政协委员): checked against the sectors, stations and studios they name, and saved
with their memberships."""

from __future__ import annotations

from marshmallow import ValidationError
from sqlalchemy.orm import Session

from services.registry.models import Member, Membership, Sector, Station, Studio, StudioMembership
from services.registry.records import member_payload, member_record
from services.registry.saving import lookup, save_row, setter, unknown
from services.registry.schemas import MemberSchema

_MEMBER = MemberSchema()  # one instance: building a schema costs more than loading with it


def _check_places(session: Session, d: dict) -> None:
    """Every sector, station and studio the member names exists, or a field error for each."""
    errors = {}
    if lookup(session, Sector, d["sector"]) is None:
        errors["sector"] = [f"未知界别 / unknown sector: {d['sector']}"]
    missing = unknown(session, Station, [m["station"] for m in d["stations"]])
    if missing:
        errors["stations"] = [f"未知工作站 / unknown station: {', '.join(missing)}"]
    missing = unknown(session, Studio, [m["studio"] for m in d["studios"]])
    if missing:
        errors["studios"] = [f"未知工作室 / unknown studio: {', '.join(missing)}"]
    if errors:
        raise ValidationError(errors)


def save_member(session: Session, data: dict):
    d = _MEMBER.load(data)
    _check_places(session, d)
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
        setter(values)(row)
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
