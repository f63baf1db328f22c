"""Intake rules (plain Python): a station message becomes an issue, or a rejected submission.

Nothing that reached a queue is dropped: a body that is not JSON, misses fields or has a wrong
type is stored as a rejected submission with a field-level reason (Chinese / English) and
announced as ``intake.submission_rejected``. A submission id seen before gives no second issue.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.intake.models import Issue, KnownCategory, KnownStation, Submission
from services.intake.schemas import IssueReceivedSchema, SubmissionSchema
from services.kernel import outbox
from services.kernel.messaging import Delivery

SOURCE = "intake"
CHINA = ZoneInfo("Asia/Shanghai")


def tracking_number(issue_id: int, received_at: datetime) -> str:
    """``LX`` + the Beijing-time date + the issue's number: LX20261127000042."""
    return f"LX{received_at.astimezone(CHINA):%Y%m%d}{issue_id:06d}"


def station_of_queue(queue: str) -> str:
    return queue.removeprefix("station.")


def receive(session: Session, delivery: Delivery) -> dict:
    """Turn one station-queue message into an issue, a duplicate, or a rejected submission."""
    station = station_of_queue(delivery.queue)
    try:
        data = delivery.json()
    except ValueError as exc:
        return _reject(
            session, delivery, None, {"_body": [f"内容不是有效的 JSON / body is not JSON: {exc}"]}
        )
    if not isinstance(data, dict):
        return _reject(
            session,
            delivery,
            None,
            {"_body": ["内容必须是 JSON 对象 / body must be a JSON object"]},
        )
    submission_id = (
        data.get("submission_id") if isinstance(data.get("submission_id"), str) else None
    )
    try:
        sub = SubmissionSchema().load(data)
    except ValidationError as err:
        return _reject(session, delivery, submission_id, err.messages)
    if sub["station"] != station:
        return _reject(
            session,
            delivery,
            submission_id,
            {
                "station": [
                    f"与队列的工作站 {station} 不一致 / does not match the queue's station {station}"
                ]
            },
        )

    existing = session.scalar(select(Issue).where(Issue.submission_id == sub["submission_id"]))
    if existing is not None:
        session.add(
            Submission(
                submission_id=sub["submission_id"],
                queue=delivery.queue,
                status="duplicate",
                raw_body=delivery.body,
                tracking_number=existing.tracking_number,
            )
        )
        return {"status": "duplicate", "tracking_number": existing.tracking_number}

    now = datetime.now(UTC)
    contact = sub.get("contact") or {}
    issue = Issue(
        lookup_code=f"{secrets.randbelow(10**6):06d}",
        submission_id=sub["submission_id"],
        station_code=station,
        channel=sub["channel"],
        category=sub["category"],
        description=sub["description"],
        place=sub.get("place"),
        member_code=sub.get("member"),
        contact_name=contact.get("name"),
        contact_phone=contact.get("phone"),
        submitted_at=sub.get("submitted_at") or now,
        received_at=now,
    )
    session.add(issue)
    session.flush()  # the id makes the tracking number
    issue.tracking_number = tracking_number(issue.id, now)
    session.add(
        Submission(
            submission_id=sub["submission_id"],
            queue=delivery.queue,
            status="accepted",
            raw_body=delivery.body,
            tracking_number=issue.tracking_number,
            received_at=now,
        )
    )
    outbox.record(
        session, "intake.issue_received", IssueReceivedSchema().dump(issue), SOURCE, occurred_at=now
    )
    return {"status": "accepted", "tracking_number": issue.tracking_number}


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


def apply_catalogue(session: Session, event: dict) -> None:
    """Keep the category copy: the announced catalogue replaces the last one whole."""
    categories = event["payload"]["categories"]
    announced = {c["code"] for c in categories}
    for row in session.scalars(select(KnownCategory)):
        row.active = row.code in announced
    for position, c in enumerate(categories):
        row = session.get(KnownCategory, c["code"]) or KnownCategory(code=c["code"])
        row.name, row.name_en, row.position, row.active = c["name"], c["name_en"], position, True
        session.add(row)


def categories(session: Session) -> list[dict]:
    """The categories a citizen may choose, in the catalogue's order."""
    return [
        {"code": c.code, "name": c.name, "name_en": c.name_en}
        for c in session.scalars(
            select(KnownCategory).where(KnownCategory.active).order_by(KnownCategory.position)
        )
    ]


def apply_event(session: Session, event: dict) -> str | None:
    """Keep intake's copies; returns the code of a station that is new or changed."""
    if event["type"] == "routing.catalogue_published":
        apply_catalogue(session, event)
        return None
    if event["type"] != "registry.station_saved":
        return None
    p = event["payload"]
    row = session.get(KnownStation, p["code"])
    if row is not None and row.revision >= p["revision"]:
        return None  # an older or repeated announcement
    if row is None:
        row = KnownStation(code=p["code"])
        session.add(row)
    row.name, row.active, row.revision = p["name"], p["active"], p["revision"]
    return row.code


def known_station_codes(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(KnownStation.code).where(KnownStation.active).order_by(KnownStation.code)
        )
    )


def issue_status(session: Session, number: str) -> dict | None:
    issue = session.scalar(select(Issue).where(Issue.tracking_number == number))
    if issue is None:
        return None
    return {
        "tracking_number": issue.tracking_number,
        "station": issue.station_code,
        "category": issue.category,
        "received_at": issue.received_at.isoformat(),
    }


def submission_view(s: Submission) -> dict:
    return {
        "id": s.id,
        "submission_id": s.submission_id,
        "station": station_of_queue(s.queue),
        "status": s.status,
        "tracking_number": s.tracking_number,
        "errors": json.loads(s.errors) if s.errors else None,
        "received_at": s.received_at.isoformat(),
    }


def submissions(
    session: Session, submission_id: str | None = None, status: str | None = None, limit: int = 100
) -> list[dict]:
    """Submissions as received, newest first: how a channel learns what became of its message."""
    query = select(Submission).order_by(Submission.id.desc()).limit(limit)
    if submission_id:
        query = query.where(Submission.submission_id == submission_id)
    if status:
        query = query.where(Submission.status == status)
    return [submission_view(s) for s in session.scalars(query)]


def counts(session: Session) -> dict:
    rows = session.execute(select(Submission.status, func.count()).group_by(Submission.status))
    return {status: n for status, n in rows}
