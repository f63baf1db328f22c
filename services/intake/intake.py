"""Intake rules (plain Python): a station message becomes an issue, or a rejected submission.

Nothing that reached a queue is dropped: a body that is not JSON, misses fields or has a wrong
type is stored as a rejected submission with a field-level reason (Chinese / English) and
announced as ``intake.submission_rejected``. A submission id seen before gives no second issue.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from marshmallow import ValidationError
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from services.intake.known import category_codes
from services.intake.models import Issue, KnownMember, KnownStudio, Submission
from services.intake.photos import count_of_submission
from services.intake.schemas import IssueReceivedSchema, SubmissionSchema, bilingual
from services.kernel import backdating, http, logs, outbox
from services.kernel.messaging import Delivery

SOURCE = "intake"
CHINA = ZoneInfo("Asia/Shanghai")
# A submission is a few kilobytes of text; anything far bigger is refused (and kept as rejected).
MAX_BODY_BYTES = 64 * 1024
PHOTO_CHANNELS = ("qr", "open311")  # the channels that may attach photos (services.intake.photos)


def tracking_number(issue_id: int, received_at: datetime) -> str:
    """``LX`` + the Beijing-time date + the issue's number: LX20261127000042."""
    return f"LX{received_at.astimezone(CHINA):%Y%m%d}{issue_id:06d}"


def station_of_queue(queue: str) -> str:
    return queue.removeprefix("station.")


def decode_body(body: bytes, content_type: str | None) -> tuple[object, dict | None]:
    """The body as JSON, decoded with the charset the message names (UTF-8 if none), at most
    :data:`MAX_BODY_BYTES` and nested at most ``http.MAX_JSON_DEPTH`` levels: the kernel's one
    decoder (:func:`services.kernel.http.decode_json`), for the queue and HTTP alike.

    Returns ``(data, None)`` or ``(None, errors)`` with the reason under ``_body``.
    """
    try:
        return http.decode_json(body, content_type, MAX_BODY_BYTES), None
    except http.ApiError as err:
        return None, err.fields


def check_references(session: Session, sub: dict) -> dict:
    """Field errors for codes intake's copies do not know (member, studio, category)."""
    errors = {}
    member = sub.get("member")
    if member is not None:
        row = session.get(KnownMember, member)
        if row is None or not row.active:
            errors["member"] = [f"没有编号为 {member} 的在任委员 / no active member {member}"]
    studio = sub.get("studio")
    if studio is not None:
        row = session.get(KnownStudio, studio)
        if row is None or not row.active:
            errors["studio"] = [f"没有编号为 {studio} 的委员工作室 / no active studio {studio}"]
    same_as = sub.get("same_as")
    if same_as is not None and (
        session.scalar(select(Issue.id).where(Issue.tracking_number == same_as)) is None
    ):
        errors["same_as"] = [f"没有受理编号为 {same_as} 的问题 / no issue {same_as}"]
    # Until routing's catalogue has reached intake, any code is taken (routing checks it again).
    known = category_codes(session)
    if known and sub["category"] not in known:
        errors["category"] = [
            f"问题类别 {sub['category']} 不在目录中 / unknown category {sub['category']}"
        ]
    return errors


def receive(session: Session, delivery: Delivery, config: dict | None = None) -> dict:
    """Turn one station-queue message into an issue, a duplicate, or a rejected submission.

    ``config`` (the deployment's): only for an operator's back-dated replay (:func:`_received`)."""
    sub, submission_id, errors = _read(session, delivery)
    now = datetime.now(UTC)
    received, by = now, None
    if not errors:
        received, by, errors = _received(sub, delivery, config or {}, now)
    if errors:
        return _reject(session, delivery, submission_id, errors)
    # The hot path (every issue): plain statements on the session's connection, no ORM objects.
    conn = session.connection()
    existing = conn.execute(_NUMBER_OF_SUBMISSION, {"sid": sub["submission_id"]}).scalar()
    if existing is not None:
        session.add(
            Submission(
                submission_id=sub["submission_id"],
                queue=delivery.queue,
                status="duplicate",
                raw_body=delivery.body,
                tracking_number=existing,
            )
        )
        return {"status": "duplicate", "tracking_number": existing}
    return _accept(session, conn, delivery, sub, received, by)


def _read(session: Session, delivery: Delivery) -> tuple[dict | None, str | None, dict | None]:
    """The submission a message holds, its id as far as it can be read, and field errors."""
    data, errors = decode_body(delivery.body, delivery.content_type)
    if errors is not None:
        return None, None, errors
    if not isinstance(data, dict):
        return None, None, {"_body": ["内容必须是 JSON 对象 / body must be a JSON object"]}
    submission_id = (
        data.get("submission_id") if isinstance(data.get("submission_id"), str) else None
    )
    if submission_id is not None and len(submission_id) > 64:
        submission_id = None  # too long to be one; the field error says so
    try:
        sub = _SUBMISSION.load(data)
    except ValidationError as err:
        return None, submission_id, bilingual(err.messages)
    station = station_of_queue(delivery.queue)
    if sub["station"] != station:
        return (
            None,
            submission_id,
            {
                "station": [
                    f"与队列的工作站 {station} 不一致 / does not match the queue's station {station}"
                ]
            },
        )
    return sub, submission_id, check_references(session, sub)


def _received(sub: dict, delivery: Delivery, config: dict, now: datetime):
    """When the issue counts as received: now, or, for a message carrying an operator's
    credential (``backdating.OPERATOR_HEADER``) on a deployment with back-dating on, its
    ``submitted_at`` (in the past). ``(received_at, operator account, field errors)``: a message
    asking for back-dating that may not is rejected, never received now in silence."""
    if backdating.OPERATOR_HEADER not in (delivery.headers or {}):
        return now, None, None
    who = backdating.operator(config, delivery.headers)
    at = sub.get("submitted_at")
    try:
        if at is None:
            raise backdating.refused(
                "submitted_at", "补记须给出提交时间", "back-dating needs submitted_at"
            )
        backdating.check(at, datetime(2000, 1, 1, tzinfo=UTC), who is not None, "submitted_at", now)
    except http.ApiError as err:
        return now, None, err.fields
    return at, who.account, None


def _accept(
    session: Session,
    conn,
    delivery: Delivery,
    sub: dict,
    received: datetime | None = None,
    backdated_by: str | None = None,
) -> dict:
    """A new issue, its number made from its id, the submission, and ``intake.issue_received``.
    ``received``: now, unless an operator's replay back-dated it (:func:`_received`)."""
    now = received or datetime.now(UTC)
    issue = _issue_row(sub, now)
    issue["backdated_by"] = backdated_by
    issue_id = conn.execute(_INSERT_ISSUE, issue).inserted_primary_key[0]
    number = issue["tracking_number"] = tracking_number(issue_id, now)  # the id makes it
    conn.execute(_SET_NUMBER, {"issue_id": issue_id, "number": number})
    logs.bind(tracking_number=number)
    if sub["channel"] in PHOTO_CHANNELS:  # stored by the web process before it published
        photos = count_of_submission(session, sub["submission_id"])
        if photos:
            issue["photos"] = photos
    conn.execute(
        _INSERT_SUBMISSION,
        {
            "submission_id": sub["submission_id"],
            "queue": delivery.queue,
            "status": "accepted",
            "errors": None,
            "raw_body": delivery.body,
            "tracking_number": number,
            "received_at": datetime.now(UTC) if backdated_by else now,  # the message's arrival
        },
    )
    payload = _ISSUE_RECEIVED.dump(SimpleNamespace(**issue))
    if backdated_by:  # an operator's replay: routing dates the first assignment at the receipt
        payload["backdated"] = True
    outbox.record(session, "intake.issue_received", payload, SOURCE, occurred_at=now)
    return {"status": "accepted", "tracking_number": number}


def _issue_row(sub: dict, now: datetime) -> dict:
    """The ``issues`` row of a valid submission (its tracking number comes with its id)."""
    contact = sub.get("contact") or {}
    return {
        "lookup_code": f"{secrets.randbelow(10**6):06d}",
        "submission_id": sub["submission_id"],
        "station_code": sub["station"],
        "channel": sub["channel"],
        "category": sub["category"],
        "description": sub["description"],
        "place": sub.get("place"),
        "member_code": sub.get("member"),
        "studio_code": sub.get("studio"),
        "activity_id": sub.get("activity"),
        "contact_name": contact.get("name"),
        "contact_phone": contact.get("phone"),
        "submitted_at": sub.get("submitted_at") or now,
        "received_at": now,
        "same_as": sub.get("same_as"),
    }


_ISSUES = Issue.__table__
_NUMBER_OF_SUBMISSION = select(_ISSUES.c.tracking_number).where(
    _ISSUES.c.submission_id == bindparam("sid")
)
_INSERT_ISSUE = insert(_ISSUES)
_SET_NUMBER = (
    update(_ISSUES)
    .where(_ISSUES.c.id == bindparam("issue_id"))
    .values(tracking_number=bindparam("number"))
)
_INSERT_SUBMISSION = insert(Submission.__table__)
_ISSUE_RECEIVED = IssueReceivedSchema()
_SUBMISSION = SubmissionSchema()


def _reject(session, delivery, submission_id, errors: dict) -> dict:
    now = datetime.now(UTC)
    session.add(
        Submission(
            submission_id=submission_id,
            queue=delivery.queue,
            status="rejected",
            errors=json.dumps(errors, ensure_ascii=False),
            raw_body=delivery.body,
            received_at=now,
        )
    )
    outbox.record(
        session,
        "intake.submission_rejected",
        {
            "station": station_of_queue(delivery.queue),
            "submission_id": submission_id,
            "errors": errors,
            "received_at": now.isoformat(),
        },
        SOURCE,
        occurred_at=now,
    )
    return {"status": "rejected", "errors": errors}
