"""Opening a case and giving it to a member.

An ``intake.issue_received`` opens one case (a repeated event opens nothing), sets its deadlines
from the catalogue and assigns it at once: the new case is written once, as assigned (or
waiting), by one INSERT. A waiting case is assigned as soon as the registry announces a member
at its station; a transfer gives a case to another member the same way (:func:`give`).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from services.kernel import outbox
from services.kernel.masking import mask_text
from services.routing import access, catalogue, deciding, loads, merging, notify
from services.routing.lifecycle import CaseError
from services.routing.models import Case
from services.routing.records import (
    PAST,
    SOURCE,
    SYSTEM,
    audit,
    common,
    insert_assignment,
    insert_case,
    now,
)

log = logging.getLogger(__name__)

CITIZEN_SAME = "群众确认与该问题相同 / the citizen said it is the same problem"

_CASE_EXISTS = select(Case.__table__.c.tracking_number).where(
    Case.__table__.c.tracking_number == bindparam("number")
)


def on_issue_received(session: Session, event: dict) -> None:
    p = event["payload"]
    if session.connection().execute(_CASE_EXISTS, {"number": p["tracking_number"]}).first():
        return  # the same issue announced twice
    case = new_case(p)
    # An operator's replay of a past year (services/kernel/backdating.py): the case is assigned
    # at its back-dated receipt, so its history never has the assignment after its answers.
    at = case.received_at if p.get("backdated") is True else None
    if not p.get("same_as"):
        assign(session, case, new=True, at=at)  # written once, as assigned (or waiting)
        return
    # The citizen chose "same as this one" on the QR page: follow that case if it is still
    # open; otherwise the refusal goes to the audit and the case is assigned as usual.
    insert_case(session, case)  # stored as waiting: the merge changes it as any stored case
    case = session.get(Case, case.tracking_number)
    try:
        near = access.near(session, case.station_code)
        merging.merge(session, case, "citizen", p["same_as"], CITIZEN_SAME, near)
    except CaseError as err:
        merging.record_refusal(session, case, "merge", "citizen", err)
        assign(session, case)


def new_case(p: dict) -> Case:
    """The case an ``intake.issue_received`` payload opens, with its deadlines (not stored)."""
    received = datetime.fromisoformat(p["received_at"])
    first, resolution = catalogue.limits_for(p["category"])
    cal = catalogue.calendar()
    return Case(
        tracking_number=p["tracking_number"],
        station_code=p["station"],
        category=p["category"],
        channel=p.get("channel"),
        description=_masked(p.get("description")),
        place=_masked(p.get("place")),
        photos=p["photos"] if isinstance(p.get("photos"), int) and p["photos"] > 0 else None,
        member_hint=p.get("member"),
        status="waiting",
        received_at=received,
        response_due=cal.due(received, first),
        resolution_due=cal.due(received, resolution),
    )


def _masked(text) -> str | None:
    """The citizen's words as stored here: intake masks them before they leave; masked again,
    so no event (an old one replayed, another sender's) puts a number in routing's table."""
    return mask_text(text) if isinstance(text, str) else None


def assign(session: Session, case: Case, new: bool = False, at: datetime | None = None) -> None:
    """Assign ``case`` by the rules, or leave it waiting; ``new``: not stored yet (written here,
    once, with the outcome); ``at``: when (now unless a replay back-dated the receipt)."""
    decision = deciding.decide(session, case)
    reason = decision.reason
    if not catalogue.sectors_for(case.category):
        reason = f"派单目录中没有类别 {case.category} / category not in the catalogue; " + reason
    case.reason = reason
    if decision.member is not None:
        give(
            session, case, decision.member, decision.rule, reason, SYSTEM, "assign", new=new, at=at
        )
        return
    if new:
        insert_case(session, case)
    log.info("case %s waits for a member: %s", case.tracking_number, reason)
    payload = {"tracking_number": case.tracking_number, "station": case.station_code}
    outbox.record(session, "routing.issue_waiting", {**payload, "reason": reason}, SOURCE)


def assign_waiting(session: Session, station: str) -> None:
    for case in session.scalars(
        select(Case)
        .where(Case.station_code == station, Case.status == "waiting")
        .order_by(Case.received_at)
    ):
        assign(session, case)


def give(
    session, case, member, rule, reason, actor, action, extra=None, new=False, at=None
) -> None:
    """Give ``case`` to ``member`` (``action`` assign or transfer): the case, its assignment row,
    audit, the member's load and notice, and the event, in the caller's transaction."""
    at, number = at or now(), case.tracking_number
    before, held = case.status, loads.holder(case.status, case.member_code)
    case.status, case.member_code, case.assigned_at = "assigned", member, at
    if new:
        insert_case(session, case)  # one INSERT with all of this, no UPDATE
    # The one line per case an operator reads (every message handled is DEBUG, see runner).
    log.info("case %s %s to %s (%s)", number, PAST[action], member, rule)
    row = {"tracking_number": number, "member_code": member, "rule": rule, "reason": reason}
    assignment_id = insert_assignment(session, **row, assigned_at=at)
    step = {"action": action, "actor": actor, "from_status": before, "to_status": "assigned"}
    audit(session, tracking_number=number, **step, note=reason, at=at)
    loads.moved(session, held, None)  # a transfer: the member it leaves (no statement else)
    loads.given(session, member, at)
    kind = "assigned" if action == "assign" else "transferred"
    notify.queue_notice(session, member, kind, number, f"a{assignment_id}")
    payload = {**common(case), "member": member, "rule": rule, "reason": reason, "actor": actor}
    payload |= {"received_at": case.received_at.isoformat(), "assigned_at": at.isoformat()}
    event = f"routing.issue_{PAST[action]}"
    outbox.record(session, event, {**payload, **(extra or {})}, SOURCE, occurred_at=at)
