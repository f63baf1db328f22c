"""What routing shows of its cases: one case with its history, a member's duty list (履职清单),
a station's cases, and the counts on ``/health``."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel.http import ApiError, flag_arg, invalid
from services.routing import lifecycle, merging
from services.routing.deadlines import due_of
from services.routing.models import Assignment, Case, CaseEvent, MemberCopy, MembershipCopy

# What a citizen may see of a case (``case_status``): its state and dates, nobody's data.
CITIZEN_FIELDS = (
    "tracking_number",
    "status",
    "status_name",
    "response_due",
    "resolution_due",
    "responded_at",
    "resolved_at",
    "rating",
)


def case_view(session: Session, number: str) -> dict | None:
    case = session.get(Case, number)
    if case is None:
        return None
    merged_in = merging.followers(session, number)
    return {
        **_summary(case),
        "reason": case.reason,
        "merged_into": case.merged_into,
        "main": merging.root_of(session, number) if case.merged_into else number,
        "merged_in": merged_in,
        "reporters": 1 + len(merged_in),
        "assignments": _assignments(session, number),
        "history": _history(session, number),
    }


def _assignments(session: Session, number: str) -> list[dict]:
    rows = session.scalars(
        select(Assignment).where(Assignment.tracking_number == number).order_by(Assignment.id)
    )
    return [
        {
            "member": a.member_code,
            "rule": a.rule,
            "reason": a.reason,
            "assigned_at": a.assigned_at.isoformat(),
        }
        for a in rows
    ]


def _history(session: Session, number: str) -> list[dict]:
    rows = session.scalars(
        select(CaseEvent).where(CaseEvent.tracking_number == number).order_by(CaseEvent.id)
    )
    return [_step(e) for e in rows]


def _step(e: CaseEvent) -> dict:
    return {
        "action": e.action,
        "actor": e.actor,
        "from": e.from_status,
        "to": e.to_status,
        "note": e.note,
        "at": e.at.isoformat(),
    }


def with_history(session: Session, cases: list[dict]) -> list[dict]:
    """``cases`` (summaries), each with its whole history, read in one query: the cards of a
    page show every step."""
    numbers = [c["tracking_number"] for c in cases]
    steps: dict[str, list[dict]] = {n: [] for n in numbers}
    for chunk in range(0, len(numbers), 500):
        rows = session.scalars(
            select(CaseEvent)
            .where(CaseEvent.tracking_number.in_(numbers[chunk : chunk + 500]))
            .order_by(CaseEvent.id)
        )
        for e in rows:
            steps[e.tracking_number].append(_step(e))
    return [{**c, "history": steps[c["tracking_number"]]} for c in cases]


def holder_view(session: Session, number: str) -> dict | None:
    """Whose case it is (its station and member), for the access rules; None if no such case."""
    case = session.get(Case, number)
    return None if case is None else {"station": case.station_code, "member": case.member_code}


def citizen_view(session: Session, number: str) -> dict | None:
    """What a citizen may see of a case, or None if there is no such case."""
    case = session.get(Case, number)
    if case is None:
        return None
    summary = _summary(case)
    return {k: summary[k] for k in CITIZEN_FIELDS}


def _iso(value):
    return value.isoformat() if value else None


def _summary(case: Case) -> dict:
    return {
        "tracking_number": case.tracking_number,
        "station": case.station_code,
        "category": case.category,
        # the citizen's words (masked by intake), where and how they came, and when
        "description": case.description,
        "place": case.place,
        "photos": case.photos or 0,  # shown as thumbnails from intake (routing.photos)
        "channel": case.channel,
        "received_at": _iso(case.received_at),
        "status": case.status,
        "status_name": lifecycle.STATUS_NAMES[case.status],
        "member": case.member_code,
        "colour": case.colour,
        "version": case.version,
        "response_due": _iso(case.response_due),
        "resolution_due": _iso(case.resolution_due),
        "responded_at": _iso(case.responded_at),
        "resolved_at": _iso(case.resolved_at),
        "handoffs": case.handoffs,
        "reopens": case.reopens,
        "rating": case.rating,
    }


def duty_list(session: Session, member: str) -> list[dict]:
    """The member's 履职清单: open cases, red first, then by the next deadline."""
    order = {"red": 0, "yellow": 1, "green": 2}
    cases = session.scalars(
        select(Case).where(Case.member_code == member, Case.status.in_(lifecycle.ACTIVE))
    ).all()
    cases.sort(key=lambda c: (order.get(c.colour, 3), due_of(c) or c.received_at))
    return [_summary(c) for c in cases]


PAST_LIMIT = 200


def past_cases(session: Session, member: str) -> list[dict]:
    """The member's closed and past cases, newest first: those it held that are closed
    (resolved, closed unresolved, merged) and those it handed on (transferred, reassigned)."""
    held = select(Assignment.tracking_number).where(Assignment.member_code == member)
    cases = session.scalars(
        select(Case)
        .where(
            Case.tracking_number.in_(held),
            Case.member_code.is_distinct_from(member) | Case.status.not_in(lifecycle.ACTIVE),
        )
        .order_by(Case.received_at.desc())
        .limit(PAST_LIMIT)
    ).all()
    return [_summary(c) for c in cases]


def station_filters(args) -> dict:
    """The station list's filters from a query (``status``, ``member``, ``category``,
    ``overdue``), each checked, or an ``invalid`` answer naming the field. ``overdue`` is the
    deadline job's red (:mod:`services.routing.deadlines`), as the cards show it."""
    found, errors = {}, {}
    status = args.get("status") or None
    if status is not None and status not in lifecycle.STATUS_NAMES:
        errors["status"] = ["没有这个状态 / no such status"]
    for name in ("member", "category"):
        value = args.get(name) or None
        if value is not None and (len(value) > 40 or not value.isprintable()):
            errors[name] = ["编号无效 / not a code"]
        found[name] = value
    try:
        found["overdue"] = flag_arg(args.get("overdue"), "overdue") or False
    except ApiError as err:
        errors.update(err.fields)
    if errors:
        raise invalid(errors)
    return found | {"status": status}


def station_cases(
    session: Session,
    station: str,
    status: str | None = None,
    member: str | None = None,
    category: str | None = None,
    overdue: bool = False,
) -> list[dict]:
    """A station's cases, newest first (at most 500), narrowed by :func:`station_filters`."""
    query = select(Case).where(Case.station_code == station)
    if status:
        query = query.where(Case.status == status)
    if member:
        query = query.where(Case.member_code == member)
    if category:
        query = query.where(Case.category == category)
    if overdue:
        query = query.where(Case.colour == "red", Case.status.in_(lifecycle.OPEN))
    cases = session.scalars(query.order_by(Case.received_at.desc()).limit(500))
    return [_summary(c) for c in cases]


def station_members(session: Session, station: str) -> dict[str, str]:
    """The members serving at ``station`` (the registry copy): code → name."""
    rows = session.execute(
        select(MemberCopy.code, MemberCopy.name)
        .join(MembershipCopy, MembershipCopy.member_code == MemberCopy.code)
        .where(MembershipCopy.station_code == station)
        .order_by(MemberCopy.code)
    )
    return dict(rows.all())


def member_name(session: Session, code: str) -> str | None:
    """A member's name from the registry copy (a member is a public figure), None if unknown."""
    member = session.get(MemberCopy, code)
    return member.name if member is not None else None


def counts(session: Session) -> dict:
    return dict(session.execute(select(Case.status, func.count()).group_by(Case.status)).all())
