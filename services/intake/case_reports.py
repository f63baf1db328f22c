"""The 社情民意 reports a case went into, as routing announced them (``routing.report_submitted``,
``routing.report_reviewed``: docs/messages.md), and what the citizen's status page says of them.

Intake keeps one ``case_reports`` row per case and report: the title, when it was submitted and
the office's latest outcome. The office's note stays with routing (it is written for the
office's and the member's eyes); the citizen reads that the problem went into a report and, once
reviewed, its outcome. Handlers are idempotent: an event heard twice sets the same values, and a
review older than the one kept changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.models import CaseReport

EVENTS = ("routing.report_submitted", "routing.report_reviewed")
# The office's outcomes (routing's opinion_reports.OUTCOMES; no service imports another).
OUTCOMES = {
    "received": ("已收悉", "received"),
    "adopted": ("已采用", "adopted"),
    "forwarded": ("已转送有关部门", "forwarded to the departments concerned"),
}


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def apply(session: Session, event: dict) -> None:
    """One report event: a row for each of its cases, with the submission or the review."""
    p = event["payload"]
    reviewed = event["type"] == "routing.report_reviewed"
    at = _when(p.get("at") if reviewed else p.get("submitted_at"))
    for number in dict.fromkeys(p.get("cases") or []):
        key = {"tracking_number": str(number)[:32], "report_id": int(p["report_id"])}
        row = session.get(CaseReport, key)
        if row is None:
            row = CaseReport(**key, title=str(p.get("title") or "")[:200])
            session.add(row)
        if not reviewed:
            row.submitted_at = at
        elif row.reviewed_at is None or (at is not None and at >= row.reviewed_at):
            row.outcome, row.reviewed_at = p.get("outcome"), at
            row.title = str(p.get("title") or row.title)[:200]


def of_case(session: Session, number: str) -> list[dict]:
    """What the status page says of the reports ``number`` went into, oldest first."""
    rows = session.scalars(
        select(CaseReport)
        .where(CaseReport.tracking_number == number)
        .order_by(CaseReport.report_id)
    )
    return [_view(r) for r in rows]


def _view(row: CaseReport) -> dict:
    outcome_zh, outcome_en = OUTCOMES.get(row.outcome or "", (None, None))
    return {
        "title": row.title,
        "text_zh": f"您反映的问题已被委员写入社情民意信息《{row.title}》",
        "text_en": f"A member wrote the problem you reported into the social-opinion report "
        f"“{row.title}”",
        "submitted_at": row.submitted_at.isoformat() if row.submitted_at else None,
        "outcome": row.outcome if outcome_zh else None,
        "outcome_zh": f"政协办公室审阅结果：{outcome_zh}" if outcome_zh else None,
        "outcome_en": f"the CPPCC office's review: {outcome_en}" if outcome_en else None,
        "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None,
    }
