"""A case's progress as intake heard it from routing's events (``issue_steps``), and the views
of it: the citizen's (tracking number + lookup code), staff's, and which case a merged issue
follows (主案件, through the kernel's one merge-chain walk).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake import case_reports, known
from services.intake.models import Issue, IssueStep
from services.intake.personal import masked_contact
from services.kernel import merges

# The public words (``/api/status``'s ``status`` and each step's ``step``): stable, documented in
# docs/intake.md ("Public status words"), never routing's event names. Each with its labels.
PUBLIC_STATUS = {
    "received": ("已受理", "received"),
    "waiting": ("等待分派委员", "waiting for a member"),
    "assigned": ("已派单", "assigned to a member"),
    "accepted": ("委员已接单", "accepted by the member"),
    "responded": ("已答复", "answered"),
    "resolved": ("已办结", "resolved"),
    "closed_unresolved": ("未解决关闭", "closed, not resolved"),
    "reopened": ("重新办理中", "reopened"),
}
# What each step of routing's case lifecycle (services/routing/lifecycle.py) is to the citizen:
# its public word and labels, and the public status it leaves the case in (None: unchanged).
STEPS = {
    "intake.issue_received": ("received", "已受理", "received", "received"),
    "routing.issue_waiting": ("waiting", "等待分派委员", "waiting for a member", "waiting"),
    "routing.issue_assigned": ("assigned", "已派给委员办理", "assigned to a member", "assigned"),
    "routing.issue_accepted": ("accepted", "委员已接单", "accepted by the member", "accepted"),
    "routing.issue_responded": ("responded", "委员已答复", "the member replied", "responded"),
    "routing.issue_resolved": ("resolved", "已办结", "resolved", "resolved"),
    "routing.issue_closed_unresolved": (
        "closed_unresolved",
        "已关闭（未解决）",
        "closed, not resolved",
        "closed_unresolved",
    ),
    "routing.issue_transferred": ("transferred", "已转交办理", "transferred", "assigned"),
    "routing.issue_reopened": ("reopened", "重新办理", "reopened", "reopened"),
    "routing.issue_escalated": ("escalated", "已督办", "escalated", None),
    "routing.issue_rated": ("rated", "已评价", "rated", None),
    "routing.issue_merged": (
        "merged",
        "已与其他群众反映的同一问题合并办理",
        "merged with the same problem others reported: handled as one",
        None,
    ),
}
# each step's labels alone (Open311's status_notes)
STEP_LABELS = {step: (zh, en) for step, (_, zh, en, _) in STEPS.items()}
# a step routing adds later shows as "处理中 / in progress" and changes nothing
IN_PROGRESS = ("in_progress", "处理中", "in progress", None)
# Routing's state behind each public status (the reopened case is routing's "assigned").
ROUTING_STATUS = {"received": "waiting", "reopened": "assigned"}
# The citizen's actions and the routing states each is allowed from: routing's rule
# (lifecycle.TRANSITIONS, "rate" and "reopen"), which cannot be imported (no service imports
# another); tests/unit/test_intake_rules.py holds this copy to routing's table.
CITIZEN_ACTIONS = {"rate": ("resolved",), "reopen": ("resolved", "closed_unresolved")}
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


def routing_heard(session: Session, number: str) -> bool:
    """Whether routing announced anything of the case yet (assigned, waiting, merged…)."""
    return (
        session.scalar(select(IssueStep.id).where(IssueStep.tracking_number == number).limit(1))
        is not None
    )


def receipt_facts(session: Session, number: str) -> dict | None:
    """What the receipt says besides the number and code: the station (its name), the member
    who has the case once routing assigned it (the public name), the public status."""
    issue = _issue(session, number)
    if issue is None:
        return None
    main = main_of(session, issue)
    names = [
        s.step
        for s in session.scalars(
            select(IssueStep)
            .where(IssueStep.tracking_number == main.tracking_number)
            .order_by(IssueStep.occurred_at, IssueStep.id)
        )
    ]
    return {
        "case_number": main.tracking_number,
        "station": known.station_name(session, main.station_code) or main.station_code,
        "member": known.member_name(session, _holder(session, main.tracking_number)),
        "status": status_of(names),
    }


def is_closed(steps: list[str]) -> bool:
    """Closed once resolved or closed unresolved, until reopened (rating keeps it closed)."""
    closed = False
    for step in steps:
        if step in CLOSING_STEPS:
            closed = True
        elif step in REOPENING_STEPS:
            closed = False
    return closed


def status_of(steps: list[str]) -> str:
    """The public status a case is in after ``steps`` (event types, in order)."""
    status = "received"
    for step in steps:
        status = STEPS.get(step, IN_PROGRESS)[3] or status
    return status


def citizen_actions(steps: list[str]) -> list[str]:
    """What the citizen may do now, as routing decides it: the actions its lifecycle allows
    from the case's state (:data:`CITIZEN_ACTIONS`), a rating once per answer (a case rated
    不满意, reopened and resolved again may be rated again; routing's ``_rate`` says the same)."""
    state = status_of(steps)
    state = ROUTING_STATUS.get(state, state)
    allowed = [a for a, states in CITIZEN_ACTIONS.items() if state in states]
    closed = [i for i, step in enumerate(steps) if step in CLOSING_STEPS]
    if "routing.issue_rated" in steps[closed[-1] + 1 if closed else 0 :]:
        allowed = [a for a in allowed if a != "rate"]
    return allowed


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
    word, zh, en, _ = STEPS.get(step, IN_PROGRESS)
    return {"step": word, "label_zh": zh, "label_en": en, "at": at.isoformat(), "answer": answer}


def _holder(session: Session, number: str) -> str | None:
    """The member who has the case now, as routing's last event naming one said."""
    return session.scalar(
        select(IssueStep.member_code)
        .where(IssueStep.tracking_number == number, IssueStep.member_code.is_not(None))
        .order_by(IssueStep.occurred_at.desc(), IssueStep.id.desc())
        .limit(1)
    )


def public_status(session: Session, number: str, lookup_code: str) -> dict | None:
    """A case's progress for whoever holds its tracking number and lookup code; nothing else.

    No citizen's name or phone, no member code, no reasons: what happened and when, the
    member's answer, the station and the public name of the member who has it (as on the
    poster), and what the citizen may do now (``actions``). A merged issue shows its own steps up to the merge, then the progress of
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
    names = [step for step, _, _ in progress]
    status = status_of(names)
    zh, en = PUBLIC_STATUS[status]
    answers = [(at, answer) for step, at, answer in progress if step in ANSWER_STEPS and answer]
    return {
        "tracking_number": issue.tracking_number,
        "category": issue.category,
        "received_at": issue.received_at.isoformat(),
        "station": known.station_name(session, main.station_code),
        "member": known.member_name(session, _holder(session, main.tracking_number)),
        "status": status,
        "status_zh": zh,
        "status_en": en,
        "closed": is_closed(names),
        "actions": citizen_actions(names),
        "answer": answers[-1][1] if answers else None,
        "answered_at": answers[-1][0].isoformat() if answers else None,
        "merged": main is not issue,
        "reporters": 1 + len(followers(session, main.tracking_number)),
        "steps": [_step_view(*step) for step in timeline],
        # the 社情民意 reports a member wrote the case into, with the office's outcome
        "reports": case_reports.of_case(session, main.tracking_number),
    }
