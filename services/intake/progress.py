"""A case's progress as intake heard it from routing's events (``issue_steps``), and the views
of it: the citizen's (tracking number + lookup code), staff's, and which case a merged issue
follows (主案件, through the kernel's one merge-chain walk).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.models import Issue, IssueStep
from services.intake.personal import masked_contact
from services.kernel import merges

# What each step of routing's case lifecycle means to the citizen (services/routing/lifecycle.py);
# a step routing adds later shows as "处理中 / in progress".
STEP_LABELS = {
    "intake.issue_received": ("已受理", "received"),
    "routing.issue_waiting": ("等待分派委员", "waiting for a member"),
    "routing.issue_assigned": ("已派给委员办理", "assigned to a member"),
    "routing.issue_accepted": ("委员已接单", "accepted by the member"),
    "routing.issue_responded": ("委员已答复", "the member replied"),
    "routing.issue_resolved": ("已办结", "resolved"),
    "routing.issue_closed_unresolved": ("已关闭（未解决）", "closed, not resolved"),
    "routing.issue_transferred": ("已转交办理", "transferred"),
    "routing.issue_reopened": ("重新办理", "reopened"),
    "routing.issue_escalated": ("已督办", "escalated"),
    "routing.issue_rated": ("已评价", "rated"),
    "routing.issue_merged": (
        "已与其他群众反映的同一问题合并办理",
        "merged with the same problem others reported: handled as one",
    ),
}
IN_PROGRESS = ("处理中", "in progress")
ANSWER_STEPS = {
    "routing.issue_responded",
    "routing.issue_resolved",
    "routing.issue_closed_unresolved",
}
# Deadline reminders are the office's business, not progress the citizen needs to read.
HIDDEN_STEPS = {"routing.issue_due_soon", "routing.issue_overdue"}
CLOSING_STEPS = {"routing.issue_resolved", "routing.issue_closed_unresolved"}
REOPENING_STEPS = {"routing.issue_reopened", "routing.issue_transferred", "routing.issue_assigned"}

Step = tuple[str, datetime, str | None]  # (event type, when, the member's answer)


def has_step(session: Session, number: str, step: str) -> bool:
    return (
        session.scalar(
            select(IssueStep.id)
            .where(IssueStep.tracking_number == number, IssueStep.step == step)
            .limit(1)
        )
        is not None
    )


def is_closed(steps: list[str]) -> bool:
    """Closed once resolved or closed unresolved, until reopened (rating keeps it closed)."""
    closed = False
    for step in steps:
        if step in CLOSING_STEPS:
            closed = True
        elif step in REOPENING_STEPS:
            closed = False
    return closed


def _issue(session: Session, number: str) -> Issue | None:
    return session.scalar(select(Issue).where(Issue.tracking_number == number))


def main_of(session: Session, issue: Issue) -> Issue:
    """The issue whose case ``issue`` follows once merged (主案件); the issue itself if never."""
    found = {issue.tracking_number: issue}

    def next_of(number: str) -> str | None:
        following = found[number].merged_into
        if following and following not in found:
            row = _issue(session, following)
            if row is None:
                return None
            found[following] = row
        return following

    return found[merges.chain(issue.tracking_number, next_of)[-1]]


def followers(session: Session, number: str) -> list[str]:
    """The issues that follow ``number``, directly or through others, as intake heard of them."""
    return merges.followers(
        number,
        lambda frontier: session.scalars(
            select(Issue.tracking_number).where(Issue.merged_into.in_(frontier))
        ),
    )


def case_to_act_on(session: Session, number: str) -> str:
    """A citizen's rating or reopening of a merged issue is about the case it follows."""
    issue = _issue(session, number)
    return main_of(session, issue).tracking_number if issue is not None else number


def issue_status(session: Session, number: str) -> dict | None:
    """An issue for staff: the contact masked (whole only through POST /issues/<n>/contact)."""
    issue = _issue(session, number)
    if issue is None:
        return None
    return {
        "tracking_number": issue.tracking_number,
        "station": issue.station_code,
        "category": issue.category,
        "received_at": issue.received_at.isoformat(),
        "contact": masked_contact(issue),
    }


def _steps(session: Session, issue: Issue) -> list[Step]:
    steps = [("intake.issue_received", issue.received_at, None)]
    steps += [
        (s.step, s.occurred_at, s.answer)
        for s in session.scalars(
            select(IssueStep)
            .where(IssueStep.tracking_number == issue.tracking_number)
            .order_by(IssueStep.occurred_at, IssueStep.id)
        )
        if s.step not in HIDDEN_STEPS
    ]
    return steps


def _timeline(own: list[Step], progress: list[Step]) -> list[Step]:
    """A merged issue's own steps up to the merge, then those of the case it follows."""
    merged_at = max((at for step, at, _ in own if step == "routing.issue_merged"), default=None)
    return own + [s for s in progress[1:] if merged_at is None or s[1] > merged_at]


def _step_view(step: str, at: datetime, answer: str | None) -> dict:
    zh, en = STEP_LABELS.get(step, IN_PROGRESS)
    return {"step": step, "label_zh": zh, "label_en": en, "at": at.isoformat(), "answer": answer}


def public_status(session: Session, number: str, lookup_code: str) -> dict | None:
    """A case's progress for whoever holds its tracking number and lookup code; nothing else.

    No names, phone numbers, member codes or reasons: only what happened and when, and the
    member's answer. A merged issue shows its own steps up to the merge, then the progress of
    the case it follows (its status, its answer): every reporter of one problem reads the same.
    """
    issue = _issue(session, number)
    given = (lookup_code or "").encode("utf-8")
    if issue is None or not secrets.compare_digest(issue.lookup_code.encode("utf-8"), given):
        return None
    own = _steps(session, issue)
    main = main_of(session, issue)
    progress = own if main is issue else _steps(session, main)
    timeline = own if main is issue else _timeline(own, progress)
    zh, en = STEP_LABELS.get(progress[-1][0], IN_PROGRESS)
    answers = [(at, answer) for step, at, answer in progress if step in ANSWER_STEPS and answer]
    return {
        "tracking_number": issue.tracking_number,
        "category": issue.category,
        "received_at": issue.received_at.isoformat(),
        "status": progress[-1][0],
        "status_zh": zh,
        "status_en": en,
        "closed": is_closed([step for step, _, _ in progress]),
        "answer": answers[-1][1] if answers else None,
        "answered_at": answers[-1][0].isoformat() if answers else None,
        "merged": main is not issue,
        "reporters": 1 + len(followers(session, main.tracking_number)),
        "steps": [_step_view(*step) for step in timeline],
    }
