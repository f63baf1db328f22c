"""What every change of a case writes beside it: the new case row, its audit trail, the
common part of its events.

The audit trail (``case_events``) and the assignments only grow: written by plain INSERTs at
once (the case they belong to is always already in the database), never held as ORM objects.
A new case is written here too, by one plain INSERT with all its values (a flush of one new
object cost a quarter of routing's time per issue); the caller counts what it changes of the
members' loads itself (``loads.given``), as every rule that changes a case's holder does.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, inspect
from sqlalchemy.orm import Session

from services.routing.models import Assignment, Case, CaseEvent

SOURCE = "routing"
SYSTEM = "system"
PAST = {
    "assign": "assigned",
    "accept": "accepted",
    "respond": "responded",
    "resolve": "resolved",
    "close_unresolved": "closed_unresolved",
    "transfer": "transferred",
    "reopen": "reopened",
    "rate": "rated",
    "merge": "merged",
}

_CASE_COLUMNS = inspect(Case).column_attrs
_INSERT_CASE = insert(Case.__table__)
_INSERT_ASSIGNMENT = insert(Assignment.__table__)
_INSERT_CASE_EVENT = insert(CaseEvent.__table__)


def now() -> datetime:
    return datetime.now(UTC)


def insert_case(session: Session, case: Case) -> None:
    """Write a new case, whole, before any row that refers to it. ``case`` stays outside the
    session: whatever reads the case later in the transaction loads it from the row."""
    values = {c.key: getattr(case, c.key) for c in _CASE_COLUMNS}
    session.connection().execute(_INSERT_CASE, {k: v for k, v in values.items() if v is not None})


def insert_assignment(session: Session, **fields) -> int:
    """One row of a case's assignment history; its id."""
    return session.connection().execute(_INSERT_ASSIGNMENT, fields).inserted_primary_key[0]


def audit(session: Session, **fields) -> None:
    """One step of a case's audit trail (``case_events``)."""
    session.connection().execute(_INSERT_CASE_EVENT, fields)


def common(case: Case) -> dict:
    """What every ``routing.issue_*`` event says of its case."""
    return {
        "tracking_number": case.tracking_number,
        "station": case.station_code,
        "category": case.category,
        "member": case.member_code,
    }
