"""Who may see and do what in routing (docs/security.md): the scope checks after ``@guard``."""

from __future__ import annotations

from services.kernel import auth


def own(request, member: str) -> None:
    """A member's own things (cases, duty page, notification settings): the member, the office."""
    if not auth.current(request).may_member(member):
        raise auth.forbidden()


def station(request, code: str) -> None:
    """A station's cases: its admins, the office."""
    if not auth.current(request).may_station(code):
        raise auth.forbidden()


def may_see_case(who: auth.Principal, case: dict) -> str:
    """Who may see and act on a case: the office, the member it is assigned to, an admin of its
    station. Returns the actor its history records (the member's code, else the login)."""
    if not (who.may_station(case["station"]) or who.may_member(case["member"])):
        raise auth.forbidden()
    return who.member if who.role == "member" else who.account


def notices_member(request) -> str | None:
    """Whose notices a request lists: a member's own; the office names one (or none: all)."""
    who = auth.current(request)
    return who.member if who.role == "member" else request.args.get("member")
