"""Who may do what at intake, beyond the role ``@guard`` checks (docs/security.md).

Each rule raises ``auth.forbidden()`` (403 in the one error format) or answers what the caller
may see. Contact data has its own rule (``personal.may_reveal``).
"""

from __future__ import annotations

from services.kernel import auth


def may_enter(who: auth.Principal, data: dict) -> None:
    """Staff entry: the office anywhere; an admin at its own station or studio; a member only
    an activity the member took part in."""
    if who.is_office:
        return
    station, studio = data.get("station"), data.get("studio")
    allowed = {
        "station_admin": bool(station) and who.may_station(station),
        "studio_admin": bool(studio) and who.may_studio(studio),
        "member": who.member in (data.get("members") or []),
    }
    if not allowed.get(who.role):
        raise auth.forbidden()


def may_see_station(who: auth.Principal, station: str) -> None:
    """An issue in staff's view: the office, or an admin of the issue's station."""
    if not who.may_station(station):
        raise auth.forbidden()


def activities_scope(
    who: auth.Principal, station: str | None
) -> tuple[str | None, list[str] | None, str | None]:
    """Which activities ``who`` may list: ``(station, studios, member)`` for
    ``activities.activities``. A station admin asks for one of its stations; a studio admin
    sees its studios'; a member the activities the member took part in."""
    if station and not who.may_station(station) or who.role == "station_admin" and not station:
        raise auth.forbidden()
    studios = None if who.is_office or station else sorted(who.studios)
    member = who.member if who.role == "member" else None
    return station, studios, member
