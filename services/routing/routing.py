"""Routing rules (plain Python): keep the registry copy, open a case per issue, assign it.

An ``intake.issue_received`` opens one case (a repeated event opens nothing) and assigns it at
once, recording ``routing.issue_assigned`` (or ``routing.issue_waiting`` when the station has
nobody yet; such cases are assigned as soon as the registry announces a member there).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel import outbox
from services.routing import catalogue
from services.routing.assignment import Candidate, choose
from services.routing.models import (
    Assignment,
    Case,
    MemberCopy,
    MembershipCopy,
    PublishedCatalogue,
)

SOURCE = "routing"


def handle_event(session: Session, event: dict) -> None:
    handler = HANDLERS.get(event["type"])
    if handler is not None:
        handler(session, event)


def on_member_saved(session: Session, event: dict) -> None:
    p = event["payload"]
    row = session.get(MemberCopy, p["code"])
    if row is not None and row.revision >= p["revision"]:
        return  # older or repeated announcement
    if row is None:
        row = MemberCopy(code=p["code"])
        session.add(row)
    row.name, row.sector, row.level = p["name"], p["sector"], p["level"]
    row.active, row.revision = p["active"], p["revision"]
    session.query(MembershipCopy).filter_by(member_code=p["code"]).delete()
    session.flush()
    for m in p["stations"]:
        session.add(
            MembershipCopy(member_code=p["code"], station_code=m["station"], role=m["role"])
        )
    session.flush()
    for m in p["stations"]:
        assign_waiting(session, m["station"])


def on_issue_received(session: Session, event: dict) -> None:
    p = event["payload"]
    if session.get(Case, p["tracking_number"]) is not None:
        return
    case = Case(
        tracking_number=p["tracking_number"],
        station_code=p["station"],
        category=p["category"],
        member_hint=p.get("member"),
        status="waiting",
        received_at=datetime.fromisoformat(p["received_at"]),
    )
    session.add(case)
    session.flush()
    assign(session, case)


def candidates(session: Session, station: str) -> list[Candidate]:
    """The station's members with their open-case counts and last assignment times."""
    rows = session.execute(
        select(MemberCopy, MembershipCopy.role)
        .join(MembershipCopy, MembershipCopy.member_code == MemberCopy.code)
        .where(MembershipCopy.station_code == station)
    ).all()
    codes = [m.code for m, _ in rows]
    open_counts = dict(
        session.execute(
            select(Case.member_code, func.count())
            .where(Case.status == "assigned", Case.member_code.in_(codes))
            .group_by(Case.member_code)
        ).all()
    )
    last = dict(
        session.execute(
            select(Assignment.member_code, func.max(Assignment.assigned_at))
            .where(Assignment.member_code.in_(codes))
            .group_by(Assignment.member_code)
        ).all()
    )
    return [_candidate(m, role, open_counts, last) for m, role in rows]


def _candidate(m: MemberCopy, role: str, open_counts: dict, last: dict) -> Candidate:
    when = last.get(m.code)
    if isinstance(when, str):  # SQLite's max() returns text
        when = datetime.fromisoformat(when)
    return Candidate(m.code, m.sector, role, m.active, open_counts.get(m.code, 0), when)


def assign(session: Session, case: Case) -> None:
    own = None
    if case.member_hint:
        m = session.get(MemberCopy, case.member_hint)
        if m is not None:
            own = Candidate(m.code, m.sector, "member", m.active)
    decision = choose(
        candidates(session, case.station_code), catalogue.sectors_for(case.category), own
    )
    case.reason = decision.reason
    if decision.member is None:
        outbox.record(
            session,
            "routing.issue_waiting",
            {
                "tracking_number": case.tracking_number,
                "station": case.station_code,
                "reason": decision.reason,
            },
            SOURCE,
        )
        return
    now = datetime.now(UTC)
    case.status, case.member_code, case.assigned_at = "assigned", decision.member, now
    session.add(
        Assignment(
            tracking_number=case.tracking_number,
            member_code=decision.member,
            rule=decision.rule,
            reason=decision.reason,
            assigned_at=now,
        )
    )
    session.flush()
    outbox.record(
        session,
        "routing.issue_assigned",
        {
            "tracking_number": case.tracking_number,
            "station": case.station_code,
            "category": case.category,
            "member": decision.member,
            "rule": decision.rule,
            "reason": decision.reason,
            "received_at": case.received_at.isoformat(),
            "assigned_at": now.isoformat(),
        },
        SOURCE,
        occurred_at=now,
    )


def assign_waiting(session: Session, station: str) -> None:
    for case in session.scalars(
        select(Case)
        .where(Case.station_code == station, Case.status == "waiting")
        .order_by(Case.received_at)
    ):
        assign(session, case)


def case_view(session: Session, number: str) -> dict | None:
    case = session.get(Case, number)
    if case is None:
        return None
    history = session.scalars(
        select(Assignment).where(Assignment.tracking_number == number).order_by(Assignment.id)
    )
    return {
        "tracking_number": case.tracking_number,
        "station": case.station_code,
        "category": case.category,
        "status": case.status,
        "member": case.member_code,
        "reason": case.reason,
        "assignments": [
            {
                "member": a.member_code,
                "rule": a.rule,
                "reason": a.reason,
                "assigned_at": a.assigned_at.isoformat(),
            }
            for a in history
        ],
    }


def counts(session: Session) -> dict:
    return dict(session.execute(select(Case.status, func.count()).group_by(Case.status)).all())


def publish_catalogue(session: Session) -> bool:
    """Announce the catalogue if this content was never announced; True if it was now."""
    form = catalogue.published_form()
    if session.get(PublishedCatalogue, form["digest"]) is not None:
        return False
    session.add(PublishedCatalogue(digest=form["digest"], version=form["version"]))
    outbox.record(session, "routing.catalogue_published", form, SOURCE)
    return True


HANDLERS = {
    "registry.member_saved": on_member_saved,
    "intake.issue_received": on_issue_received,
}
