"""The staff channel (工作站/工作室 staff): duty activities and the issues raised at them, and
single issues heard by phone, in a letter or on a visit.

An activity is intake's own record (stored here, announced by ``intake.activity_recorded``
through the outbox); every issue, single or raised at an activity, becomes a station message
like any other channel's, so it is validated, numbered and de-duplicated in one place.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake import access, duplicates, known
from services.intake.intake import SOURCE, check_references
from services.intake.models import Activity, Issue
from services.intake.schemas import (
    ACTIVITY_KINDS,
    ActivityRecordedSchema,
    ActivitySchema,
    Invalid,
    SubmissionSchema,
    bilingual,
)
from services.kernel import auth, outbox

STAFF_CHANNELS = ("staff", "phone", "letter", "visit")


def _load(schema, data: dict) -> dict:
    try:
        return schema.load(data)
    except ValidationError as err:
        raise Invalid(bilingual(err.messages)) from err


def load_staff_issue(data: dict) -> tuple[dict, dict]:
    """The station message for a single issue staff typed in, and the message as the schema
    loaded it (types checked: every field the right type before anything uses it); or
    :class:`Invalid`. A ``submission_id`` in the body is the sender's, for a safe re-send."""
    message = {"submission_id": str(uuid.uuid4()), "channel": "staff", **data}
    return message, _load(SubmissionSchema(), message)


def staff_issue(session: Session, who: auth.Principal, message: dict, sub: dict) -> dict:
    """``message`` if its codes are known and its channel is staff's, else :class:`Invalid`."""
    errors = {}
    if sub["channel"] not in STAFF_CHANNELS:
        errors["channel"] = [
            f"工作人员录入的渠道须为 {'/'.join(STAFF_CHANNELS)} / staff channel must be one of "
            f"{', '.join(STAFF_CHANNELS)}"
        ]
    if known.known_station(session, sub["station"]) is None:
        errors["station"] = [
            f"没有编号为 {sub['station']} 的工作站 / no active station {sub['station']}"
        ]
    errors.update(check_references(session, sub))
    errors.update(_out_of_scope_references(session, who, sub))
    if errors:
        raise Invalid(errors)
    return message


def _out_of_scope_references(session: Session, who: auth.Principal, sub: dict) -> dict:
    """An activity or a case named in the body that is not the caller's is answered as if it
    did not exist (the same words as ``check_references``): no one learns of others' records."""
    errors = {}
    same_as = sub.get("same_as")
    if same_as is not None:
        issue = session.scalar(select(Issue).where(Issue.tracking_number == same_as))
        if issue is not None and not access.may_see_submission(who, issue.station_code):
            errors["same_as"] = [f"没有受理编号为 {same_as} 的问题 / no issue {same_as}"]
    activity_id = sub.get("activity")
    if activity_id is not None:
        row = session.scalar(select(Activity).where(Activity.activity_id == activity_id))
        if row is None or not access.may_see_activity(who, activity_view(row)):
            errors["activity"] = [f"没有编号为 {activity_id} 的活动 / no activity {activity_id}"]
    return errors


def check_new_or_own(session: Session, who: auth.Principal, messages: list[dict], field: str):
    """Before sending: every submission id is new, or an idempotent re-send of the caller's own
    (``access.same_submission``); else 409 on ``field``, nothing of the other said."""
    for message in messages:
        if access.same_submission(session, who, message) is False:
            raise access.conflict(field)


def own_result(session: Session, who: auth.Principal, message: dict, result: dict) -> dict:
    """The worker's answer for ``message``, checked again once it is made: a number and a lookup
    code only for an issue that is this message's and in the caller's scope (a submission id
    taken by another between the check and the send is a 409 like any other)."""
    if result.get("tracking_number") and not access.same_submission(session, who, message):
        raise access.conflict("submission_id")
    return result


def staff_answer(session: Session, who: auth.Principal, message: dict, result: dict) -> dict:
    """What staff get for a submission: 201 with the tracking number and the open cases in the
    caller's scope it may be the same problem as, 202 while the station's worker has not
    answered, 400 if rejected, 409 if the id was someone else's."""
    if result["status"] == "rejected":
        raise Invalid(result["errors"])
    result = own_result(session, who, message, result)
    if result.get("tracking_number"):
        found = duplicates.for_staff(session, result["tracking_number"])
        result["similar"] = access.similar_in_scope(who, found) or []
    return result


def load_activity(data: dict) -> dict:
    """The activity as the schema loads it (types and bounds checked), or :class:`Invalid`."""
    return _load(ActivitySchema(), data)


def record_activity(session: Session, who: auth.Principal, a: dict) -> tuple[dict, list[dict]]:
    """Store an activity (once per ``activity_id``) and announce it; returns the activity and
    the station messages for the issues raised at it (ids derived from the activity's, so
    sending them again after a retry never makes second issues).

    An ``activity_id`` already stored is answered only to a caller whose scope holds it and
    only when the activity sent is the same; otherwise 409, nothing of the stored one said."""
    access.record_activity(session, who, a)
    station = _activity_station(session, a)
    activity_id = a["activity_id"] or str(uuid.uuid4())
    row = session.scalar(select(Activity).where(Activity.activity_id == activity_id))
    if row is not None and not (
        access.may_see_activity(who, activity_view(row)) and _same_activity(row, a)
    ):
        raise access.conflict("activity_id")
    messages = _issue_messages(a, activity_id, station)
    check_new_or_own(session, who, messages, "activity_id")
    if row is None:
        row = _store(session, a, activity_id)
    return activity_view(row), messages


def _same_activity(row: Activity, a: dict) -> bool:
    return (
        row.kind == a["kind"]
        and row.station_code == a["station"]
        and row.studio_code == a["studio"]
        and row.held_on == a["date"]
        and row.slot == a["slot"]
        and json.loads(row.members) == a["members"]
        and row.people_served == a["people_served"]
        and row.note == a["note"]
    )


def _activity_station(session: Session, a: dict) -> str | None:
    """The station the activity's issues go to (its own, or its studio's); or :class:`Invalid`."""
    errors: dict[str, list[str]] = {}
    station = a["station"]
    if a["station"] is None and a["studio"] is None:
        errors["station"] = ["须填写工作站或工作室 / give a station or a studio"]
    if a["station"] is not None and known.known_station(session, a["station"]) is None:
        errors["station"] = [
            f"没有编号为 {a['station']} 的工作站 / no active station {a['station']}"
        ]
    if a["studio"] is not None:
        studio = known.known_studio(session, a["studio"])
        if studio is None:
            errors["studio"] = [
                f"没有编号为 {a['studio']} 的工作室 / no active studio {a['studio']}"
            ]
        elif station is None:
            station = studio["station"]
    unknown = [m for m in a["members"] if known.known_member(session, m) is None]
    if unknown:
        errors["members"] = [f"没有这些在任委员 / no active members: {', '.join(unknown)}"]
    if a["issues"] and station is None and "station" not in errors and "studio" not in errors:
        errors["issues"] = [
            "该工作室没有对应的工作站，无法派出问题 / the studio has no station to send issues to"
        ]
    if errors:
        raise Invalid(errors)
    return station


def _store(session: Session, a: dict, activity_id: str) -> Activity:
    """The new activity row, and ``intake.activity_recorded`` in the same transaction."""
    now = datetime.now(UTC)
    row = Activity(
        activity_id=activity_id,
        kind=a["kind"],
        station_code=a["station"],
        studio_code=a["studio"],
        held_on=a["date"],
        slot=a["slot"],
        members=json.dumps(a["members"]),
        people_served=a["people_served"],
        note=a["note"],
        recorded_at=now,
    )
    session.add(row)
    payload = ActivityRecordedSchema().dump(
        {
            "activity_id": activity_id,
            "kind": a["kind"],
            "station": a["station"],
            "studio": a["studio"],
            "date": a["date"],
            "slot": a["slot"],
            "members": a["members"],
            "people_served": a["people_served"],
            "issues_raised": len(a["issues"]),
            "recorded_at": now,
        }
    )
    outbox.record(session, "intake.activity_recorded", payload, SOURCE, occurred_at=now)
    return row


def _issue_messages(a: dict, activity_id: str, station: str | None) -> list[dict]:
    """One station message per issue raised, ``<activity_id>.<n>`` its submission id."""
    messages = []
    for n, issue in enumerate(a["issues"], start=1):
        message = {
            "submission_id": f"{activity_id}.{n}",
            "station": station,
            "channel": "staff",
            "category": issue["category"],
            "description": issue["description"],
            "place": issue["place"],
            "member": issue["member"],
            "studio": a["studio"],
            "activity": activity_id,
            "contact": issue["contact"],
        }
        messages.append({k: v for k, v in message.items() if v is not None})
    return messages


def activity_view(a: Activity) -> dict:
    zh, en = ACTIVITY_KINDS[a.kind]
    return {
        "activity_id": a.activity_id,
        "kind": a.kind,
        "kind_zh": zh,
        "kind_en": en,
        "station": a.station_code,
        "studio": a.studio_code,
        "date": a.held_on.isoformat(),
        "slot": a.slot,
        "members": json.loads(a.members),
        "people_served": a.people_served,
        "note": a.note,
        "recorded_at": a.recorded_at.isoformat(),
    }


def activities(
    session: Session,
    station: str | None = None,
    limit: int = 100,
    studios: list[str] | None = None,
    member: str | None = None,
) -> list[dict]:
    """The latest activities, of ``station``, of one of ``studios`` (when not None), with
    ``member`` among those on duty (when given)."""
    query = select(Activity).order_by(Activity.held_on.desc(), Activity.id.desc()).limit(limit)
    if station:
        query = query.where(Activity.station_code == station)
    if studios is not None and member is None:
        query = query.where(Activity.studio_code.in_(studios))
    if member:  # members is a JSON list of codes: match the quoted code, then check exactly
        query = query.where(Activity.members.contains(json.dumps(member)))
    found = []
    for a in session.scalars(query):
        view = activity_view(a)
        if member and member not in view["members"]:
            continue
        view["issues"] = list(
            session.scalars(
                select(Issue.tracking_number)
                .where(Issue.activity_id == a.activity_id)
                .order_by(Issue.id)
            )
        )
        found.append(view)
    return found
