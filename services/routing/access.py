"""Who may see and do what in routing (docs/security.md, "Routing scope"): the scope checks after
``@guard``, one rule per resource, used by every entrypoint for the codes in its path, its query
and its body alike.

- **station** (:func:`may_station`): the office; an admin of that station.
- **member** (:func:`may_member`), a member's own things (duty list, duty page, notification
  settings, notices): the office; that member.
- **case** (:func:`may_case`): the office; the member it is assigned to; an admin of its station.
  A case named in a body (merge ``into``, and every case ``into`` already follows) must pass the
  same rule; one that does not answers exactly as a case that does not exist
  (``lifecycle.unknown_case``: 400 ``not_found`` on that field), so a refusal never tells
  whether a case exists.
- **hand-over** (:meth:`Scope.may_give_to`), the member a transfer names: the office, any active
  member; a station admin, the members serving at its stations; a member, those serving at the
  case's station or at a station it serves itself. Any other answers as an unknown member (400
  ``not_found`` on ``to_member``). A transfer *to a station* (``to_station``) is a referral open
  to whoever may act on the case: that station's own rules pick its member, and nothing of the
  station is shown (docs/security.md, "Routing scope").

- **a citizen's "same as"** (:func:`near`): the case an issue names as the same problem (chosen on
  the QR page from the open cases intake offered, those of its station's district) is followed
  only if it and every case it follows are at a station of the issue's station's district
  (routing's copy of the registry; just the station itself when the district is unknown).
  Otherwise the issue opens a case of its own: a message naming any case cannot make its sender
  read another district's answers through their own lookup code.

A path's own case keeps its documented answers: 404 when there is no such case, 403 when the
caller may not see it (tests/e2e/test_access.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel import auth
from services.kernel.auth import Principal
from services.kernel.http import not_found
from services.routing.inputs import CODE_MAX
from services.routing.lifecycle import CaseError
from services.routing.models import Case, MemberCopy, MembershipCopy, StationCopy

# --- the rules (pure) -----------------------------------------------------------------------


def may_station(who: Principal, code: str | None) -> bool:
    return who.may_station(code)


def may_member(who: Principal, code: str | None) -> bool:
    return who.may_member(code)


def may_case(who: Principal, station: str | None, member: str | None) -> bool:
    return may_station(who, station) or may_member(who, member)


def actor_of(who: Principal) -> str:
    """What a case's history records as the actor: the member's code, else the login."""
    return who.member if who.role == "member" else who.account


# --- the checks an entrypoint makes ---------------------------------------------------------


def own(request, member: str) -> None:
    """A member's own things (cases, duty page, notification settings): the member, the office.
    A code longer than any code can be is no member (404), after the scope check."""
    if not may_member(auth.current(request), member):
        raise auth.forbidden()
    if len(member) > CODE_MAX:
        raise not_found(member[:CODE_MAX])


def known_member(session: Session, member: str) -> None:
    """Before a write about a member (its notification settings): 404 if routing has no such
    member (the office could otherwise make rows for codes nobody has)."""
    if session.get(MemberCopy, member) is None:
        raise not_found(member)


def station(request, code: str) -> None:
    """A station's cases: its admins, the office."""
    if not may_station(auth.current(request), code):
        raise auth.forbidden()
    if len(code) > CODE_MAX:
        raise not_found(code[:CODE_MAX])


def case(request, holder: dict | None, number: str) -> str:
    """The case in a path (``holder``: its station and member, None if there is no such case):
    404 if none, 403 if the caller may not see it; else the actor its history records."""
    if holder is None:
        raise not_found(number)
    who = auth.current(request)
    if not may_case(who, holder["station"], holder["member"]):
        raise auth.forbidden()
    return actor_of(who)


def may_see_case(who: Principal, case: dict) -> str:
    """:func:`may_case` for a case view (``station``, ``member``), raising 403; the actor."""
    if not may_case(who, case["station"], case["member"]):
        raise auth.forbidden()
    return actor_of(who)


def notices_member(request, named: str | None) -> str | None:
    """Whose notices a request lists: a member's own (whatever it names); the office names one
    (or none: all)."""
    who = auth.current(request)
    return who.member if who.role == "member" else named


# --- ids in a body, checked inside the action's transaction ---------------------------------


def unseen_member(code) -> CaseError:
    """The one answer for a transfer target member that is unknown, inactive or out of scope."""
    return CaseError(
        "not_found",
        f"未找到可转给的委员 {code}",
        f"no member {code} this case can be transferred to",
        400,
        "to_member",
    )


@dataclass(frozen=True)
class Scope:
    """What one signed-in caller may reach, for the ids its body names. ``actions.act`` takes it
    (None: a trusted caller inside the system, e.g. the citizen's RPC, which names no ids)."""

    who: Principal

    def may_case(self, case: Case | None) -> bool:
        return case is not None and may_case(self.who, case.station_code, case.member_code)

    def may_cases(self, cases: Iterable[Case | None]) -> bool:
        return all(self.may_case(c) for c in cases)

    def stations_for(self, session: Session, case: Case) -> set[str] | None:
        """The stations whose members this caller may name for ``case``: None for any (the
        office)."""
        if self.who.is_office:
            return None
        if self.who.role == "station_admin":
            return set(self.who.stations)
        served = session.scalars(
            select(MembershipCopy.station_code).where(MembershipCopy.member_code == self.who.member)
        )
        return {case.station_code, *served}

    def may_give_to(self, session: Session, case: Case, member: MemberCopy) -> bool:
        stations = self.stations_for(session, case)
        if stations is None:
            return True
        serves = session.scalars(
            select(MembershipCopy.station_code).where(MembershipCopy.member_code == member.code)
        )
        return any(s in stations for s in serves)


def near(session: Session, station: str):
    """The case scope of a citizen's "same as" at ``station`` (``merging.merge``'s ``may_see``):
    cases at the stations of its district, as intake offers them."""
    row = session.get(StationCopy, station)
    if row is None or not row.district:
        stations = {station}
    else:
        district = select(StationCopy.code).where(StationCopy.district == row.district)
        stations = {station, *session.scalars(district)}
    return lambda cases: all(c is not None and c.station_code in stations for c in cases)
