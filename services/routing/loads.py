"""Each member's open cases and last assignment (``member_loads``), kept in step with the cases.

The assignment rules break ties by these two figures. Counted from ``cases`` and
``assignments`` on every assignment they cost more the longer the service runs (a member's
whole history is read each time); kept here they are one row per member, read by key.

Every rule that changes who holds a case open (its member while its status is active) says so
here, in the same transaction, with one plain statement: :func:`given` when a case is given to
a member (opening, a waiting case assigned, a transfer), :func:`moved` when it leaves a member's
open cases or comes back (resolved, closed, merged, reopened, transferred away).
``tests/unit/test_member_loads.py`` checks the counts against ``cases`` after every kind of
change.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from services.kernel.db import insert_on_conflict
from services.routing.lifecycle import ACTIVE
from services.routing.models import MemberLoad

_TABLE = MemberLoad.__table__
_ADD_OPEN = insert_on_conflict(_TABLE, ["member_code"], add=["open_cases"])
_GIVEN = insert_on_conflict(
    _TABLE, ["member_code"], add=["open_cases"], replace=["last_assigned_at"]
)
_READ = select(_TABLE.c.member_code, _TABLE.c.open_cases, _TABLE.c.last_assigned_at).where(
    _TABLE.c.member_code.in_(bindparam("codes", expanding=True))
)


def holder(status: str | None, member: str | None) -> str | None:
    """Whose open case a case with ``status`` and ``member`` is (None: nobody's)."""
    return member if member and status in ACTIVE else None


def read(session: Session, codes: list[str]) -> dict[str, tuple[int, object]]:
    """``{member: (open cases, last assigned at)}`` for the members that have a row."""
    return {m: (n, at) for m, n, at in session.connection().execute(_READ, {"codes": codes})}


def given(session: Session, member: str, at) -> None:
    """``member`` was given a case at ``at``: one more open case, and the time, in one
    statement (the one on the hot path of every new case)."""
    session.connection().execute(
        _GIVEN, {"member_code": member, "open_cases": 1, "last_assigned_at": at}
    )


def moved(session: Session, before: str | None, after: str | None) -> None:
    """A case held open by ``before`` is now held by ``after`` (either may be None: nobody);
    no statement when nothing changed."""
    if before == after:
        return
    rows = [
        {"member_code": m, "open_cases": n, "last_assigned_at": None}
        for m, n in ((before, -1), (after, 1))
        if m
    ]
    session.connection().execute(_ADD_OPEN, rows)
