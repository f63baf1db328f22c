"""Each member's open cases and last assignment (``member_loads``), kept in step with the cases.

The assignment rules break ties by these two figures. Counted from ``cases`` and
``assignments`` on every assignment they cost more the longer the service runs (a member's
whole history is read each time); kept here they are one row per member, read by key.

One listener keeps the counts for every change of a case object: before each flush it compares
every case being inserted, changed or deleted with what it was, and moves the count of the
member who had it open and of the member who has it open now, in the same transaction.
``seen`` records an assignment's time (called by the one place that assigns, ``routing._give``)
and, for the one case row written without the ORM (a new case on the hot path,
``routing._written``: one plain INSERT, no flush), counts its open case too.
``tests/unit/test_member_loads.py`` checks the counts against ``cases`` after every kind of
change.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import bindparam, event, inspect, select
from sqlalchemy.orm import Session

from services.kernel.db import insert_on_conflict
from services.routing.lifecycle import ACTIVE
from services.routing.models import Case, MemberLoad

_TABLE = MemberLoad.__table__
_ADD_OPEN = insert_on_conflict(_TABLE, ["member_code"], add=["open_cases"])
_SET_LAST = insert_on_conflict(
    _TABLE, ["member_code"], add=["open_cases"], replace=["last_assigned_at"]
)
_READ = select(_TABLE.c.member_code, _TABLE.c.open_cases, _TABLE.c.last_assigned_at).where(
    _TABLE.c.member_code.in_(bindparam("codes", expanding=True))
)


def read(session: Session, codes: list[str]) -> dict[str, tuple[int, object]]:
    """``{member: (open cases, last assigned at)}`` for the members that have a row."""
    session.flush()  # the listener brings the counts up to every change of this transaction
    return {m: (n, at) for m, n, at in session.connection().execute(_READ, {"codes": codes})}


def seen(session: Session, member: str, at, new_case: bool = False) -> None:
    """``member`` was given a case at ``at``; ``new_case``: one written by a plain INSERT, which
    the listener never sees, so its open case is counted here, in the same statement."""
    session.connection().execute(
        _SET_LAST,
        {"member_code": member, "open_cases": 1 if new_case else 0, "last_assigned_at": at},
    )


def _before(state, attr: str):
    """The value an attribute had when loaded (it is ``active_history``: always known)."""
    history = state.attrs[attr].history
    if history.deleted:
        return history.deleted[0]
    return history.unchanged[0] if history.unchanged else None


def _holder(status, member):
    return member if member and status in ACTIVE else None


def moves(session: Session) -> Counter:
    """How each member's open cases change with this flush."""
    delta = Counter()
    for case in session.new:
        if isinstance(case, Case) and (m := _holder(case.status, case.member_code)):
            delta[m] += 1
    for case in session.dirty:
        if isinstance(case, Case):
            state = inspect(case)
            old = _holder(_before(state, "status"), _before(state, "member_code"))
            new = _holder(case.status, case.member_code)
            if old != new:
                if old:
                    delta[old] -= 1
                if new:
                    delta[new] += 1
    for case in session.deleted:
        if isinstance(case, Case) and (m := _holder(case.status, case.member_code)):
            delta[m] -= 1
    return delta


@event.listens_for(Session, "before_flush")
def _keep_loads(session, _flush_context, _instances) -> None:
    delta = moves(session)
    rows = [
        {"member_code": m, "open_cases": n, "last_assigned_at": None}
        for m, n in sorted(delta.items())
        if n
    ]
    if rows:
        session.connection().execute(_ADD_OPEN, rows)
