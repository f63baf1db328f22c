"""催办: the station's clerk (or the office) reminds the member who holds a case.

A reminder is a notice to the case's member (through the member's own channel, quiet hours and
retries, like every notice: ``notify.py``) and a step in the case's history ("催办", the status
unchanged), written in one transaction with the case row locked. At most one reminder per case,
member and Beijing day: a second press the same day changes nothing and says so, so a clerk's
double tap never sends two messages. A reminder is internal to the station: no event is
published, the citizen's status page does not show it and reporting does not count it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.routing import lifecycle, notify
from services.routing.lifecycle import CaseError
from services.routing.models import Case, Notice
from services.routing.records import audit, now
from services.routing.workdays import CHINA

KIND = "reminded"


def remind(session: Session, number: str, actor: str, at: datetime | None = None) -> dict:
    """Remind the member holding case ``number``; ``{"reminded": bool, "member", "day"}``,
    ``reminded`` False when this member was already reminded of this case today.
    CaseError 404 if there is no such case, 409 if it is not being worked on by a member."""
    at = at or now()
    case = session.get(Case, number, with_for_update=True)
    if case is None:
        raise CaseError("not_found", f"未找到案件 {number}", f"no case {number}", 404)
    if case.status not in lifecycle.ACTIVE or not case.member_code:
        status = lifecycle.STATUS_NAMES.get(case.status, case.status)
        raise CaseError(
            "not_open",
            f"案件当前为“{status}”，无需催办",
            f"a case that is {case.status} has no one to remind",
            409,
        )
    day = at.astimezone(CHINA).date().isoformat()
    cause = f"{day}:{case.member_code}"
    key = f"{KIND}:{number}:{case.member_code}:{cause}"
    if session.scalar(select(Notice.key).where(Notice.key == key)) is not None:
        return {"reminded": False, "member": case.member_code, "day": day}
    notify.queue_notice(session, case.member_code, KIND, number, cause)
    audit(
        session,
        tracking_number=number,
        action="remind",
        actor=actor,
        from_status=case.status,
        to_status=case.status,
        note=None,
        at=at,
    )
    return {"reminded": True, "member": case.member_code, "day": day}
