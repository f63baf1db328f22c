"""Submissions as received (accepted, duplicate or rejected): what a channel learns of its own,
and the office's list of them."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.intake.intake import station_of_queue
from services.intake.models import Issue, Submission


def submission_result(session: Session, submission_id: str) -> dict | None:
    """What became of a submission, for the channel that sent it (HTTP waits on this).

    An accepted or duplicate one comes with the tracking number and its lookup code.
    """
    sub = session.scalar(
        select(Submission)
        .where(Submission.submission_id == submission_id)
        .order_by(Submission.id)
        .limit(1)
    )
    if sub is None:
        return None
    if sub.status == "rejected":
        return {"status": "rejected", "errors": json.loads(sub.errors) if sub.errors else {}}
    issue = session.scalar(select(Issue).where(Issue.tracking_number == sub.tracking_number))
    return {
        "status": sub.status,
        "tracking_number": sub.tracking_number,
        "lookup_code": issue.lookup_code,
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
