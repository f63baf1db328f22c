"""What routing shows of its consultations (``consultations.py`` records them): the list's
filters, the list and one consultation, each under the one scope rule (the office: all; a station
admin: its stations'; a studio admin: its studios'), and the view the event, the JSON and the
pages share."""

from __future__ import annotations

from sqlalchemy import extract, select
from sqlalchemy.orm import Session

from services.kernel import auth
from services.kernel.auth import Principal
from services.kernel.http import ApiError, int_arg, invalid, not_found
from services.routing import office
from services.routing.consultation_models import (
    Consultation,
    ConsultationCase,
    ConsultationMember,
)
from services.routing.inputs import CODE_MAX
from services.routing.models import Case, MemberCopy, StationCopy, StudioCopy

FIRST_YEAR = 2000  # the earliest year a consultation may be dated or listed by
ID_MAX = 2**63 - 1  # PostgreSQL's bigint


def read_filters(args) -> dict:
    """``station``, ``studio``, ``member``, ``year`` of a list, each checked."""
    found, errors = {}, {}
    for name in ("station", "studio", "member"):
        value = (args.get(name) or "").strip() or None
        if value is not None and (len(value) > CODE_MAX or not value.isprintable()):
            errors[name] = ["编号无效 / not a code"]
        found[name] = value
    try:
        found["year"] = int_arg(args.get("year") or None, "year", None, FIRST_YEAR, 2100)
    except ApiError as err:
        errors.update(err.fields)
    if errors:
        raise invalid(errors)
    return found


def _scope_condition(who: Principal):
    if who.is_office:
        return None
    if who.role == "station_admin":
        return Consultation.station_code.in_(who.stations)
    if who.role == "studio_admin":
        return Consultation.studio_code.in_(who.studios)
    return Consultation.id.is_(None)  # nobody else


def find(session: Session, who: Principal, f: dict, limit: int = 500) -> list[dict]:
    """The consultations the caller may see, newest first, narrowed by ``f``. Naming a station,
    studio or member outside the caller's reach is refused (403): the case list's one rule
    (:func:`office.check_named`)."""
    if f["station"] and not who.may_station(f["station"]):
        raise auth.forbidden()
    office.check_named(session, office.reach_of(session, who), f)
    query = select(Consultation)
    scope = _scope_condition(who)
    if scope is not None:
        query = query.where(scope)
    if f["station"]:
        query = query.where(Consultation.station_code == f["station"])
    if f["studio"]:
        query = query.where(Consultation.studio_code == f["studio"])
    if f["member"]:
        present = select(ConsultationMember.consultation_id).where(
            ConsultationMember.member_code == f["member"]
        )
        query = query.where(Consultation.id.in_(present))
    if f["year"]:
        query = query.where(extract("year", Consultation.day) == f["year"])
    rows = session.scalars(
        query.order_by(Consultation.day.desc(), Consultation.id.desc()).limit(limit)
    )
    return [view(session, r) for r in rows]


def one(session: Session, who: Principal, cid: int) -> dict:
    """One consultation: 404 if none (an id past any the database can hold included: the
    path's converter takes any digits), 403 outside the caller's scope."""
    row = session.get(Consultation, cid) if 0 < cid <= ID_MAX else None
    if row is None:
        raise not_found(str(cid))
    if not (
        who.may_station(row.station_code) if row.station_code else who.may_studio(row.studio_code)
    ):
        raise auth.forbidden()
    return view(session, row)


def view(session: Session, row: Consultation, with_cases: bool = True) -> dict:
    """A consultation as the event, the JSON and the pages show it; ``with_cases`` adds each
    linked case's status for the pages."""
    links = session.scalars(
        select(ConsultationCase)
        .where(ConsultationCase.consultation_id == row.id)
        .order_by(ConsultationCase.tracking_number)
    ).all()
    members = session.scalars(
        select(ConsultationMember.member_code)
        .where(ConsultationMember.consultation_id == row.id)
        .order_by(ConsultationMember.member_code)
    ).all()
    found = {
        "consultation_id": row.id,
        "topic": row.topic,
        "station": row.station_code,
        "studio": row.studio_code,
        "district": row.district,
        "date": row.day.isoformat(),
        "units_invited": list(row.units_invited),
        "units_present": list(row.units_present),
        "members": list(members),
        "agreement": row.agreement,
        "follow_up_owner": row.follow_up_owner,
        "cases": [c.tracking_number for c in links],
        "settled": [c.tracking_number for c in links if c.settles],
        "actor": row.actor,
        "recorded_at": row.recorded_at.isoformat(),
    }
    if with_cases:
        place = session.get(StationCopy, row.station_code) if row.station_code else None
        place = place or (session.get(StudioCopy, row.studio_code) if row.studio_code else None)
        found["convener_name"] = place.name if place is not None else None
        found["case_status"] = {
            c.tracking_number: session.get(Case, c.tracking_number).status for c in links
        }
        names = dict(
            session.execute(
                select(MemberCopy.code, MemberCopy.name).where(MemberCopy.code.in_(members))
            ).all()
        )
        found["member_names"] = names
    return found
