"""Routing's copy of the registry (stations, studios, sectors, members and their memberships,
rosters), kept by ``registry.*`` events, so routing assigns while the registry is down.

An announcement older than the copy (or repeated) changes nothing (``copies.newer``). A member
who joins a station may take the cases waiting there.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from services.kernel import copies
from services.routing import opening
from services.routing.models import (
    MemberCopy,
    MembershipCopy,
    RosterCopy,
    SectorCopy,
    StationCopy,
    StudioCopy,
    StudioMembershipCopy,
)


def _newer(session: Session, model, payload: dict):
    """The copy row to write for this announcement (its revision set), or None."""
    row = copies.newer(session, model, payload["code"], payload["revision"])
    if row is not None:
        row.revision = payload["revision"]
    return row


def on_member_saved(session: Session, event: dict) -> None:
    p = event["payload"]
    row = _newer(session, MemberCopy, p)
    if row is None:
        return
    row.name, row.sector, row.level, row.active = p["name"], p["sector"], p["level"], p["active"]
    session.query(MembershipCopy).filter_by(member_code=p["code"]).delete()
    session.query(StudioMembershipCopy).filter_by(member_code=p["code"]).delete()
    session.flush()
    for m in p.get("stations", []):
        session.add(
            MembershipCopy(member_code=p["code"], station_code=m["station"], role=m["role"])
        )
    for m in p.get("studios", []):
        session.add(
            StudioMembershipCopy(member_code=p["code"], studio_code=m["studio"], role=m["role"])
        )
    session.flush()
    for m in p.get("stations", []):
        opening.assign_waiting(session, m["station"])


def on_station_saved(session: Session, event: dict) -> None:
    p = event["payload"]
    row = _newer(session, StationCopy, p)
    if row is not None:
        row.name, row.district, row.active = p["name"], p["district"], p["active"]


def on_studio_saved(session: Session, event: dict) -> None:
    p = event["payload"]
    row = _newer(session, StudioCopy, p)
    if row is not None:
        row.name, row.district, row.active = p.get("name"), p["district"], p["active"]
        row.sectors = ",".join(p.get("sectors", []))


def on_sector_saved(session: Session, event: dict) -> None:
    p = event["payload"]
    row = _newer(session, SectorCopy, p)
    if row is not None:
        row.name = p["name"]


def on_roster_saved(session: Session, event: dict) -> None:
    p = event["payload"]
    row = _newer(session, RosterCopy, p)
    if row is not None:
        row.day, row.slot = date.fromisoformat(p["date"]), p["slot"]
        row.station_code, row.studio_code = p.get("station"), p.get("studio")
        row.members, row.active = ",".join(p.get("members", [])), p["active"]


HANDLERS = {
    "registry.member_saved": on_member_saved,
    "registry.station_saved": on_station_saved,
    "registry.studio_saved": on_studio_saved,
    "registry.roster_saved": on_roster_saved,
    "registry.sector_saved": on_sector_saved,
}
