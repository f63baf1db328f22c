"""Who may read or change what beyond their role (docs/security.md): the scope checks the
entrypoints make after ``@guard`` let the role through. Each raises ``auth.forbidden()``."""

from __future__ import annotations

from services.kernel import auth
from services.registry.models import Member


def see_member(who: auth.Principal, member: Member) -> None:
    """A member's whole record (phone included): the office, the member, or an admin of a
    station or studio the member serves at."""
    if not (
        who.may_member(member.code)
        or any(who.may_station(m.station_code) for m in member.memberships)
        or any(who.may_studio(m.studio_code) for m in member.studio_memberships)
    ):
        raise auth.forbidden()


def read_rosters(who: auth.Principal, filters: dict) -> None:
    """The office all rosters; others only those of a station, studio or member of theirs."""
    if not (
        who.is_office
        or (filters["station"] and who.may_station(filters["station"]))
        or (filters["studio"] and who.may_studio(filters["studio"]))
        or (filters["member"] and who.may_member(filters["member"]))
    ):
        raise auth.forbidden()


def change_roster(who: auth.Principal, data: dict) -> None:
    """The office any roster; an admin only its own station's or studio's."""
    if who.is_office:
        return
    station, studio = data.get("station"), data.get("studio")
    if not (station or studio) or (station and not who.may_station(station)):
        raise auth.forbidden()
    if studio and not who.may_studio(studio):
        raise auth.forbidden()


def see_station(who: auth.Principal, station: str) -> None:
    """Who is on duty at a station: the office or the station's admin."""
    if not who.may_station(station):
        raise auth.forbidden()
