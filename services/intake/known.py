"""Intake's copies of other services' data, fed by their events, and what it reads from them.

From the registry: stations, members (with level and sector), studios, sectors and duty days
(``registry.*_saved``, newest revision wins).
From routing: the dispatch catalogue (``routing.catalogue_published``, replaced whole), and each
case's progress (every ``routing.*`` event about an issue, one ``issue_steps`` row each, and the
merge it announces). Intake never asks either service at the time of a submission.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from services.intake import case_reports
from services.intake.models import (
    CopyRevisions,
    Issue,
    IssueStep,
    KnownCategory,
    KnownDutyDay,
    KnownMember,
    KnownSector,
    KnownStation,
    KnownStudio,
)
from services.kernel import copies
from services.kernel.copies import CopyMemo

# -- the handlers, one per event type -------------------------------------------------------------


def apply_event(session: Session, event: dict) -> str | None:
    """Keep intake's copies; returns the code of a station that is new or changed."""
    kind = event["type"]
    handler = _HANDLERS.get(kind)
    if handler is not None:
        return handler(session, event)
    if kind.startswith("routing.") and event["payload"].get("tracking_number"):
        _record_step(session, event)
    return None


def apply_catalogue(session: Session, event: dict) -> None:
    """Keep the category copy: the announced catalogue replaces the last one whole."""
    categories = event["payload"]["categories"]
    announced = {c["code"] for c in categories}
    copies.bump(session, CopyRevisions, "catalogue")
    for row in session.scalars(select(KnownCategory)):
        row.active = row.code in announced
    for position, c in enumerate(categories):
        row = session.get(KnownCategory, c["code"]) or KnownCategory(code=c["code"])
        row.name, row.name_en, row.position, row.active = c["name"], c["name_en"], position, True
        session.add(row)


def _issue_rated(session: Session, event: dict) -> None:
    """A rating; a 不满意 that made routing reopen the case (its ``to_status`` is open again)
    is a reopening too: the citizen reads both steps."""
    _record_step(session, event)
    p = event["payload"]
    if p.get("reopened") or p.get("to_status") not in (None, p.get("from_status")):
        _record_step(session, {**event, "type": "routing.issue_reopened"})


def _issue_merged(session: Session, event: dict) -> None:
    """A step like any other, and the issue now follows the case it was merged into."""
    p = event["payload"]
    if not p.get("tracking_number"):
        return
    _record_step(session, event)
    issue = session.scalar(select(Issue).where(Issue.tracking_number == p["tracking_number"]))
    if issue is not None:
        issue.merged_into = p["into"]


def _member_saved(session: Session, event: dict) -> None:
    p = event["payload"]
    row = _newer(session, KnownMember, p)
    if row is not None:
        row.stations = json.dumps([s["station"] for s in p.get("stations", [])])
        row.studios = json.dumps([s["studio"] for s in p.get("studios", [])])
        row.level, row.sector = p.get("level"), p.get("sector")


def _sector_saved(session: Session, event: dict) -> None:
    p = event["payload"]  # a sector has a name and a revision, no active flag
    row = copies.newer(session, KnownSector, p["code"], p["revision"])
    if row is not None:
        row.name, row.active, row.revision = p["name"], p.get("active", True), p["revision"]


def _roster_saved(session: Session, event: dict) -> None:
    p = event["payload"]
    row = copies.newer(session, KnownDutyDay, p["code"], p["revision"])
    if row is not None:
        row.active, row.revision = p.get("active", True), p["revision"]
        row.day, row.slot = date.fromisoformat(p["date"]), p["slot"]
        row.station_code, row.studio_code = p.get("station"), p.get("studio")
        row.members = json.dumps(list(p.get("members") or []))


def _studio_saved(session: Session, event: dict) -> None:
    p = event["payload"]
    row = _newer(session, KnownStudio, p)
    if row is not None:
        row.station_code = p.get("station")


def _station_saved(session: Session, event: dict) -> str | None:
    p = event["payload"]
    row = _newer(session, KnownStation, p)
    if row is None:
        return None  # an older or repeated announcement
    row.district = p.get("district")
    row.lat, row.lng = p.get("lat"), p.get("lng")  # absent from announcements before issue 19
    return row.code


def _newer(session: Session, model, p: dict):
    """The copy row with the announced name, state and revision; None if not newer."""
    row = copies.newer(session, model, p["code"], p["revision"])
    if row is not None:
        row.name, row.active, row.revision = p["name"], p["active"], p["revision"]
    return row


_HANDLERS = {
    "routing.catalogue_published": apply_catalogue,
    "routing.issue_merged": _issue_merged,
    "routing.issue_rated": _issue_rated,
    "routing.report_submitted": case_reports.apply,  # a case written into a 社情民意 report
    "routing.report_reviewed": case_reports.apply,
    "registry.sector_saved": _sector_saved,
    "registry.roster_saved": _roster_saved,
    "registry.member_saved": _member_saved,
    "registry.studio_saved": _studio_saved,
    "registry.station_saved": _station_saved,
}


def _record_step(session: Session, event: dict) -> None:
    occurred = event["occurred_at"]  # parse_event gives a datetime; a plain dict gives text
    if isinstance(occurred, str):
        occurred = datetime.fromisoformat(occurred)
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    session.connection().execute(
        _INSERT_STEP,
        {
            "tracking_number": event["payload"]["tracking_number"],
            "step": event["type"],
            "occurred_at": occurred,
            "answer": event["payload"].get("answer"),
            "member_code": event["payload"].get("member"),
        },
    )


_INSERT_STEP = insert(IssueStep.__table__)  # one per progress event: a plain INSERT

# -- reading the copies ---------------------------------------------------------------------------

_CATALOGUE = CopyMemo(CopyRevisions, "catalogue")
_ACTIVE_CODES = select(KnownCategory.__table__.c.code).where(KnownCategory.__table__.c.active)


def category_codes(session: Session) -> frozenset[str]:
    """The active category codes, read again only when the catalogue copy changed."""
    return _CATALOGUE.get(
        session, "codes", lambda: frozenset(session.connection().execute(_ACTIVE_CODES).scalars())
    )


def categories(session: Session) -> list[dict]:
    """The categories a citizen may choose, in the catalogue's order."""
    return [
        {"code": c.code, "name": c.name, "name_en": c.name_en}
        for c in session.scalars(
            select(KnownCategory).where(KnownCategory.active).order_by(KnownCategory.position)
        )
    ]


def known_station_codes(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(KnownStation.code).where(KnownStation.active).order_by(KnownStation.code)
        )
    )


def known_member(session: Session, code: str) -> dict | None:
    row = session.get(KnownMember, code)
    if row is None or not row.active:
        return None
    return {
        "code": row.code,
        "name": row.name,
        "stations": json.loads(row.stations),
        "studios": json.loads(row.studios or "[]"),
        "level": row.level,
        "sector": row.sector,
    }


def member_name(session: Session, code: str | None) -> str | None:
    """A member's public name (as printed on the poster), or None."""
    row = session.get(KnownMember, code) if code else None
    return row.name if row is not None else None


def station_name(session: Session, code: str | None) -> str | None:
    row = session.get(KnownStation, code) if code else None
    return row.name if row is not None else None


def sector_name(session: Session, code: str | None) -> str | None:
    """A sector's name; the code itself while the copy has not heard of it."""
    if not code:
        return None
    row = session.get(KnownSector, code)
    return row.name if row is not None else code


def next_duty_day(session: Session, member: str, today: date) -> dict | None:
    """The member's next duty day (today or later) in intake's copy of the rosters, or None
    when the copy holds none (the registry announces rosters as they are saved)."""
    rows = session.scalars(
        select(KnownDutyDay)
        .where(
            KnownDutyDay.active,
            KnownDutyDay.day >= today,
            KnownDutyDay.members.contains(json.dumps(member)),
        )
        .order_by(KnownDutyDay.day, KnownDutyDay.slot)
    )
    for row in rows:
        if member in json.loads(row.members):
            return {
                "day": row.day,
                "slot": row.slot,
                "station": row.station_code,
                "studio": row.studio_code,
            }
    return None


def known_studio(session: Session, code: str) -> dict | None:
    row = session.get(KnownStudio, code)
    if row is None or not row.active:
        return None
    return {"code": row.code, "name": row.name, "station": row.station_code}


_PLACED = select(
    KnownStation.code, KnownStation.name, KnownStation.district, KnownStation.lat, KnownStation.lng
).where(KnownStation.active, KnownStation.lat.is_not(None), KnownStation.lng.is_not(None))


def placed_stations(session: Session) -> list[dict]:
    """The active stations with coordinates: where a location's nearest station is looked for."""
    return [dict(row._mapping) for row in session.execute(_PLACED)]


def known_station(session: Session, code: str) -> dict | None:
    row = session.get(KnownStation, code)
    if row is None or not row.active:
        return None
    return {"code": row.code, "name": row.name}
