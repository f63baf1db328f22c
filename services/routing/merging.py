"""Merging cases (one problem, many voices): a merged case follows its main case (主案件).

The chain walk is the kernel's (``services.kernel.merges``); which merge is refused, and why, is
the lifecycle's (``lifecycle.merge_refusal``). A refused merge is kept in the case's audit trail.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel import merges, outbox
from services.routing import lifecycle, loads
from services.routing.lifecycle import CaseError
from services.routing.models import Case
from services.routing.records import SOURCE, audit, common, now


def chain_of(session: Session, number: str) -> list[str]:
    """``number`` and the cases it follows, in order: a merged case → its main → … → the root."""

    def next_of(n: str) -> str | None:
        case = session.get(Case, n)
        return case.merged_into if case is not None else None

    return merges.chain(number, next_of)


def root_of(session: Session, number: str) -> str:
    return chain_of(session, number)[-1]


def followers(session: Session, number: str) -> list[str]:
    """Every case that follows ``number``, directly or through a chain, oldest first."""

    def followers_of(numbers: list[str]) -> list[str]:
        return session.scalars(
            select(Case.tracking_number)
            .where(Case.merged_into.in_(numbers))
            .order_by(Case.received_at, Case.tracking_number)
        ).all()

    return merges.followers(number, followers_of)


def merge(session: Session, case: Case, actor: str, into, note, may_see=None) -> Case:
    """Merge ``case`` into ``into`` (or the open case ``into`` already follows): it stops being
    worked on by itself and follows that case, its 主案件; its reporter keeps the tracking number.

    ``may_see``: the caller's case scope over a list of cases (``access.Scope.may_cases``), None
    for a caller inside the system. ``into`` and every case it follows must be in it: otherwise
    the merge is refused exactly as for a case that does not exist (400 ``not_found`` on ``into``)."""
    into = str(into).strip() if into else None
    root = _main_case(session, case.tracking_number, into, may_see)
    number, main, before, at = case.tracking_number, root.tracking_number, case.status, now()
    after = lifecycle.next_status("merge", before)
    loads.moved(session, loads.holder(before, case.member_code), None)
    case.status, case.merged_into = after, main
    step = {"actor": actor, "at": at}
    audit(
        session,
        **step,
        tracking_number=number,
        action="merge",
        from_status=before,
        to_status=after,
        note=_reason(into, main, note),
    )
    audit(
        session,
        **step,
        tracking_number=main,
        action="merged_in",
        from_status=root.status,
        to_status=root.status,
        note=f"{number} 合并到本案件 / {number} merged into this case",
    )
    session.flush()
    payload = {**common(case), "into": main, "actor": actor, "from_status": before}
    payload |= {"at": at.isoformat(), "received_at": case.received_at.isoformat()}
    outbox.record(session, "routing.issue_merged", payload, SOURCE, occurred_at=at)
    return case


def _main_case(session: Session, number: str, into: str | None, may_see=None) -> Case:
    """The open case a merge of ``number`` into ``into`` would follow; CaseError if none. A case
    of the chain outside ``may_see`` makes it none: the refusal cannot tell the two apart."""
    chain = chain_of(session, into) if into else []
    root = session.get(Case, chain[-1], with_for_update=True) if chain else None
    if root is not None and may_see is not None:
        if not may_see([session.get(Case, n) for n in chain]):
            root = None
    refusal = lifecycle.merge_refusal(number, into, chain, root.status if root else None)
    if refusal is not None:
        raise refusal
    return root


def _reason(into: str, main: str, note) -> str:
    reason = f"合并到 {main} / merged into {main}"
    if into != main:
        reason += f" ({into} → {main})"
    if note and str(note).strip():
        reason += f"; {str(note).strip()}"
    return reason


def record_refusal(session: Session, case: Case, action: str, actor: str, err: CaseError) -> None:
    """A refused merge, kept in the case's audit trail; the case itself does not change."""
    audit(
        session,
        tracking_number=case.tracking_number,
        action=f"{action}_refused",
        actor=actor,
        from_status=case.status,
        to_status=case.status,
        note=f"{err.code}: {err}",
        at=now(),
    )
    session.flush()


def refuse(session: Session, number: str, action: str, actor: str, err: CaseError) -> None:
    """Record ``err`` in the audit of case ``number`` (if there is such a case)."""
    case = session.get(Case, number)
    if case is not None:
        record_refusal(session, case, action, actor, err)
