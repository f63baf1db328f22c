"""Who may do what at intake, beyond the role ``@guard`` checks (docs/security.md, "Intake
scope"). One rule per resource, for reads and writes alike, and for codes and ids that come in
a body as much as for those in a path:

- **station** (:func:`station`): the office; a station admin of that station.
- **studio** (:func:`studio`): the office; a studio admin of that studio.
- **member** (:func:`member`): the office; that member.
- **submission** (:func:`submission`): an issue made from a submission (tracking number, lookup
  code, text) is the office's and its station's admins'. Studio admins and members have no case
  access (cases belong to a station and a member). Staff entry (:func:`staff_issue`) follows
  from it: an admin enters at its own station, a studio admin for its own studio at the
  studio's station; :func:`same_submission` says whether an id already used is the caller's own.
- **activity** (:func:`activity`, :func:`record_activity`): the office; a station admin of its
  station; a studio admin of its studio; a member only an activity it takes part in, at a
  station or studio it serves, naming itself alone.

Each rule raises ``auth.forbidden()`` (403 in the one error format, nothing of the record) or
answers what the caller may see. Contact data has its own rule (``personal.may_reveal``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake import known
from services.intake.models import Issue, Submission
from services.kernel import auth
from services.kernel.http import ApiError, invalid


def conflict(field: str) -> ApiError:
    """An id in the body that already names another record: nothing of that record is said."""
    return ApiError(
        "conflict",
        f"{field} 已被另一条记录使用，请换一个（或不填，由系统生成）",
        f"{field} is already used by another record; send a new one (or none: one is made)",
        fields={
            field: [
                f"已被另一条记录使用 / already used by another record; send a new {field} or none"
            ]
        },
        status=409,
    )


# -- places and people ----------------------------------------------------------------------------


def station(who: auth.Principal, code: str | None) -> None:
    if not (isinstance(code, str) and who.may_station(code)):
        raise auth.forbidden()


def studio(who: auth.Principal, code: str | None) -> None:
    if not (isinstance(code, str) and who.may_studio(code)):
        raise auth.forbidden()


def member(who: auth.Principal, code: str | None) -> None:
    if not (isinstance(code, str) and who.may_member(code)):
        raise auth.forbidden()


# -- submissions and the issues made from them ----------------------------------------------------


def may_see_submission(who: auth.Principal, station_code: str | None) -> bool:
    """Whether ``who`` may see an issue of ``station_code`` (number, lookup code, text)."""
    return isinstance(station_code, str) and who.may_station(station_code)


def submission(who: auth.Principal, station_code: str | None) -> None:
    if not may_see_submission(who, station_code):
        raise auth.forbidden()


def staff_issue(session: Session | None, who: auth.Principal, data: dict) -> None:
    """Staff entry of one issue (``data`` loaded by the schema): the office anywhere; a station
    admin at its own station (and at most a studio of that station); a studio admin for its own studio (``studio`` in the body), at
    the studio's station only. ``session`` None: only what needs no copy is checked."""
    if who.is_office:
        return
    if who.role == "station_admin":
        station(who, data.get("station"))
        if data.get("studio") is not None and session is not None:
            found = known.known_studio(session, data["studio"])
            if found is None or found["station"] != data["station"]:  # another station's studio
                raise auth.forbidden()
    elif who.role == "studio_admin":
        studio(who, data.get("studio"))
        if session is None:
            return
        found = known.known_studio(session, data["studio"])
        if found is None or found["station"] != data.get("station"):
            raise auth.forbidden()
    else:
        raise auth.forbidden()
    if session is not None and data.get("member") is not None:
        _serving(session, "member", [data["member"]], data.get("station"), data.get("studio"))


def same_submission(session: Session, who: auth.Principal, message: dict) -> bool | None:
    """For a submission id sent again: None when the id is new; True when it made an issue the
    caller may see with the same station, category and text (an idempotent re-send: answer it);
    else False (the id is someone else's, or another text's: refuse, say nothing of it)."""
    sid = message["submission_id"]
    issue = session.scalar(select(Issue).where(Issue.submission_id == sid))
    if issue is None:
        seen = session.scalar(select(Submission.id).where(Submission.submission_id == sid))
        return None if seen is None else False
    return bool(
        may_see_submission(who, issue.station_code)
        and issue.station_code == message.get("station")
        and issue.category == message.get("category")
        and issue.description == message.get("description")
        and issue.activity_id == message.get("activity")
    )


def similar_in_scope(who: auth.Principal, found: list[dict] | None) -> list[dict] | None:
    """The candidate cases ``who`` may see: the office all; a station admin its stations';
    a studio admin or a member none (no case access)."""
    if found is None:
        return None
    return [c for c in found if may_see_submission(who, c.get("station"))]


# -- activities -----------------------------------------------------------------------------------


def may_see_activity(who: auth.Principal, row: dict) -> bool:
    """An activity (its members, note and issues): the office; an admin of its station or of its
    studio; a member that took part."""
    if who.is_office:
        return True
    if who.role == "station_admin":
        return row.get("station") in who.stations
    if who.role == "studio_admin":
        return row.get("studio") in who.studios
    if who.role == "member":
        return who.member in (row.get("members") or [])
    return False


def activity(who: auth.Principal, row: dict) -> None:
    if not may_see_activity(who, row):
        raise auth.forbidden()


def record_activity(session: Session | None, who: auth.Principal, a: dict) -> None:
    """Recording an activity (``a`` loaded by the schema). On top of :func:`activity`: a station
    admin names its station (and at most a studio of that station), a studio admin its studio
    (and at most the studio's own station); a member names itself alone as taking
    part, at a station or studio it serves, and raises issues for no other member.
    ``session`` None: only what needs no copy is checked."""
    if who.is_office:
        return
    if who.role in ("station_admin", "studio_admin"):
        if who.role == "station_admin":
            station(who, a.get("station"))
        else:
            studio(who, a.get("studio"))
        if session is None:
            return
        if a.get("station") is not None and a.get("studio") is not None:
            found = known.known_studio(session, a["studio"])
            if found is None or found["station"] != a["station"]:  # another station's studio
                raise auth.forbidden()
        _serving(session, "members", a.get("members") or [], a.get("station"), a.get("studio"))
        named = [i["member"] for i in a.get("issues") or [] if i.get("member")]
        _serving(session, "issues", named, a.get("station"), a.get("studio"))
        return
    if who.role != "member":
        raise auth.forbidden()
    if a.get("members") != [who.member]:
        raise auth.forbidden()
    if any(i.get("member") not in (None, who.member) for i in a.get("issues") or []):
        raise auth.forbidden()
    if session is None:
        return
    me = known.known_member(session, who.member)
    if me is None:
        raise auth.forbidden()
    if a.get("station") is not None and a["station"] not in me["stations"]:
        raise auth.forbidden()
    if a.get("studio") is not None and a["studio"] not in me["studios"]:
        raise auth.forbidden()


def _serving(
    session: Session,
    field: str,
    codes: list[str],
    station_code: str | None,
    studio_code: str | None,
) -> None:
    """Admins name only members who serve where they enter (the station, or the studio): a
    400 on ``field`` naming the others (who serves where is no secret: the registry lists it)."""
    away = []
    for code in codes:
        found = known.known_member(session, code)
        if found is None:
            continue  # unknown codes: the reference check says so
        if station_code not in found["stations"] and studio_code not in found["studios"]:
            away.append(code)
    if away:
        names = ", ".join(away)
        raise invalid(
            {
                field: [
                    f"这些委员不在此工作站或工作室服务：{names} / "
                    f"members not serving at this station or studio: {names}"
                ]
            }
        )


def activities_scope(
    who: auth.Principal, station_code: str | None
) -> tuple[str | None, list[str] | None, str | None]:
    """Which activities ``who`` may list: ``(station, studios, member)`` for
    ``activities.activities``. A station admin asks for one of its stations; a studio admin
    sees its studios'; a member the activities the member took part in."""
    if station_code is not None:
        station(who, station_code)
    elif who.role == "station_admin":
        raise auth.forbidden()
    studios = None if who.is_office or station_code else sorted(who.studios)
    member_code = who.member if who.role == "member" else None
    return station_code, studios, member_code
