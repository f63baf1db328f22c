"""Who may read or change what beyond their role (docs/security.md): the scope checks the
entrypoints make after ``@guard`` let the role through. Each raises ``auth.forbidden()``.

One rule per resource, for reads and writes alike, and for every code a body names:

- a **station**: the office, or an admin of that station (:func:`may_station`);
- a **studio**: the office, or an admin of that studio (:func:`may_studio`);
- a **member's own things** (its rosters): the office, or the member itself;
- a **member's record** (the whole of it, and putting it on duty): the office, the member, or an
  admin of a station or studio it serves at (:func:`may_member_record`);
- a **duty day** (roster): its place's rule, and for a change every member it puts on duty by
  the member rule; the rotation only ever names the place's own members.

Scope is checked after a body is parsed (types and bounds), so a rule never sees a list where a
code belongs.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.kernel import auth
from services.registry.models import Member


def may_station(who: auth.Principal, code) -> bool:
    return isinstance(code, str) and who.may_station(code)


def may_studio(who: auth.Principal, code) -> bool:
    return isinstance(code, str) and who.may_studio(code)


def may_member(who: auth.Principal, code) -> bool:
    return isinstance(code, str) and who.may_member(code)


def may_member_record(who: auth.Principal, member: Member) -> bool:
    return (
        who.may_member(member.code)
        or any(who.may_station(m.station_code) for m in member.memberships)
        or any(who.may_studio(m.studio_code) for m in member.studio_memberships)
    )


def may_place(who: auth.Principal, station, studio) -> bool:
    """A duty day's place: exactly one of a station or a studio, and the caller's."""
    if bool(station) == bool(studio):
        return who.is_office
    return may_station(who, station) if station else may_studio(who, studio)


def see_member(who: auth.Principal, member: Member) -> None:
    """A member's whole record (phone included)."""
    if not may_member_record(who, member):
        raise auth.forbidden()


def see_station(who: auth.Principal, station) -> None:
    """A station's own things (who is on duty there)."""
    if not may_station(who, station):
        raise auth.forbidden()


def read_rosters(who: auth.Principal, filters: dict) -> None:
    """The office all rosters; others only those of a station, studio or member of theirs (the
    filters combine with AND, so one filter of the caller's bounds the whole answer)."""
    if not (
        who.is_office
        or may_station(who, filters["station"])
        or may_studio(who, filters["studio"])
        or may_member(who, filters["member"])
    ):
        raise auth.forbidden()


def change_roster(who: auth.Principal, session: Session, roster: dict) -> None:
    """A duty day (``roster`` as ``RosterSchema`` loaded it): the office any; an admin only at
    its own station or studio, and only with members whose record it may see (those serving
    at one of its places). An unknown member is left to the roster's own field error."""
    if who.is_office:
        return
    if not may_place(who, roster.get("station"), roster.get("studio")):
        raise auth.forbidden()
    for code in roster.get("members", ()):
        member = session.get(Member, code)
        if member is not None and not may_member_record(who, member):
            raise auth.forbidden()


def plan_rotation(who: auth.Principal, plan: dict) -> None:
    """A month's rotation (``args.rotation``'s plan): the office, or the place's admin."""
    if not may_place(who, plan["station"], plan["studio"]):
        raise auth.forbidden()
