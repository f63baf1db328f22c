"""Deadlines: every open case coloured green, yellow (due soon) or red (overdue); a red case is
escalated to its station's lead and the office, once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.kernel import outbox
from services.routing import lifecycle, notify
from services.routing.models import Case, MembershipCopy
from services.routing.records import SOURCE, common, now
from services.routing.settings import RoutingSettings


def due_of(case: Case) -> datetime | None:
    """The deadline the case works to now: the first response's, then the resolution's."""
    return case.resolution_due if case.responded_at else case.response_due


def colour_of(case: Case, at: datetime, due_soon: timedelta) -> str:
    due = due_of(case)
    if due is None:
        return "green"
    if at > due:
        return "red"
    return "yellow" if due - at <= due_soon else "green"


def station_lead(session: Session, station: str) -> str | None:
    return session.scalar(
        select(MembershipCopy.member_code)
        .where(MembershipCopy.station_code == station, MembershipCopy.role == "lead")
        .order_by(MembershipCopy.member_code)
    )


def check_deadlines(
    session: Session, at: datetime | None = None, settings: RoutingSettings = RoutingSettings()
) -> dict:
    """Colour every open case; announce each change, and escalate a case once it is red.

    Only the open cases whose colour can change are read: those not green, and the green ones
    with a deadline within ``due_soon`` (every other open case stays green), so the minute's
    check costs what is near its deadline, not every open case there is."""
    at = at or now()
    due_soon = timedelta(hours=settings.due_soon_hours)
    changed = {"yellow": 0, "red": 0, "escalated": 0}
    near = at + due_soon
    may_change = select(Case).where(
        Case.status.in_(lifecycle.ACTIVE),
        or_(Case.colour != "green", Case.response_due <= near, Case.resolution_due <= near),
    )
    for case in session.scalars(may_change):
        colour = colour_of(case, at, due_soon)
        if colour == case.colour:
            continue
        case.colour = colour
        if colour in ("yellow", "red"):
            changed[colour] += 1
            _announce(session, case, at)
        if colour == "red" and case.escalated_at is None:
            changed["escalated"] += 1
            _escalate(session, case, at)
    session.flush()
    return changed


def _announce(session: Session, case: Case, at: datetime) -> None:
    """A case turned yellow or red: the event, and a notice to its member."""
    yellow, due = case.colour == "yellow", due_of(case)
    stage = "resolution" if case.responded_at else "first_response"
    kind = "routing.issue_due_soon" if yellow else "routing.issue_overdue"
    payload = {**common(case), "due": due.isoformat(), "stage": stage}
    outbox.record(session, kind, payload, SOURCE, occurred_at=at)
    notice = "due_soon" if yellow else "overdue"
    cause = f"{due.isoformat()}:r{case.reopens}"
    notify.queue_notice(session, case.member_code, notice, case.tracking_number, cause)


def _escalate(session: Session, case: Case, at: datetime) -> None:
    """A red case, once: a notice to the station's lead, the event to the lead and the office."""
    case.escalated_at = at
    lead = station_lead(session, case.station_code)
    notify.queue_notice(session, lead, "escalated", case.tracking_number, f"r{case.reopens}")
    payload = {**common(case), "to": [t for t in (lead, "office") if t]}
    outbox.record(session, "routing.issue_escalated", payload, SOURCE, occurred_at=at)
