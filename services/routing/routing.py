"""Routing rules (plain Python): the registry copy, cases, assignment, the lifecycle, deadlines.

An ``intake.issue_received`` opens one case (a repeated event opens nothing), sets its
deadlines from the catalogue and assigns it at once. Every later action goes through
:func:`act`, which checks the lifecycle (``lifecycle.py``), the case's version, and writes an
audit row and a ``routing.issue_<action>`` event in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, func, insert, inspect, or_, select
from sqlalchemy.orm import Session

from services.kernel import copies, logs, outbox
from services.kernel.copies import CopyMemo
from services.routing import catalogue, lifecycle, loads, notify
from services.routing.assignment import Candidate, Decision, choose
from services.routing.lifecycle import CaseError
from services.routing.models import (
    Assignment,
    Case,
    CaseEvent,
    CopyRevisions,
    MemberCopy,
    MembershipCopy,
    PublishedCatalogue,
    RosterCopy,
    StationCopy,
    StudioCopy,
    StudioMembershipCopy,
)
from services.routing.workdays import CHINA

log = logging.getLogger(__name__)

SOURCE = "routing"
SYSTEM = "system"
RATINGS = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
PAST = {
    "accept": "accepted",
    "respond": "responded",
    "resolve": "resolved",
    "close_unresolved": "closed_unresolved",
    "transfer": "transferred",
    "reopen": "reopened",
    "rate": "rated",
    "merge": "merged",
}
CITIZEN_SAME = "群众确认与该问题相同 / the citizen said it is the same problem"
MAX_CHAIN = 50  # merges follow merges; no real chain is this long


@dataclass(frozen=True)
class Settings:
    reopen_window_days: int = 15
    reopen_on_unsatisfied: bool = True
    due_soon_hours: float = 24

    @classmethod
    def from_config(cls, section: dict) -> Settings:
        return cls(
            int(section.get("reopen_window_days", 15)),
            bool(section.get("reopen_on_unsatisfied", True)),
            float(section.get("due_soon_hours", 24)),
        )


def now() -> datetime:
    return datetime.now(UTC)


# -- the registry copy --------------------------------------------------------------------------


def handle_event(session: Session, event: dict) -> None:
    logs.bind(
        event_id=str(event["event_id"]), tracking_number=event["payload"].get("tracking_number")
    )
    handler = HANDLERS.get(event["type"])
    if handler is not None:
        if event["type"].startswith("registry."):
            copies.bump(session, CopyRevisions, "registry")  # forget what was read of it
        handler(session, event)


def _newer(session: Session, model, key: str, revision: int):
    """The copy row to update for an announcement, or None if it is older than what we have."""
    row = session.get(model, key)
    if row is not None and row.revision >= revision:
        return None  # older or repeated announcement
    if row is None:
        row = model(code=key)
        session.add(row)
    row.revision = revision
    return row


def on_member_saved(session: Session, event: dict) -> None:
    p = event["payload"]
    row = _newer(session, MemberCopy, p["code"], p["revision"])
    if row is None:
        return
    row.name, row.sector, row.level, row.active = p["name"], p["sector"], p["level"], p["active"]
    session.query(MembershipCopy).filter_by(member_code=p["code"]).delete()
    session.query(StudioMembershipCopy).filter_by(member_code=p["code"]).delete()
    session.flush()
    for m in p.get("stations", []):
        session.add(
            MembershipCopy(member_code=p["code"], station_code=m["station"], role=m["role"])
        )
    for m in p.get("studios", []):
        session.add(
            StudioMembershipCopy(member_code=p["code"], studio_code=m["studio"], role=m["role"])
        )
    session.flush()
    for m in p.get("stations", []):
        assign_waiting(session, m["station"])


def on_station_saved(session: Session, event: dict) -> None:
    p = event["payload"]
    row = _newer(session, StationCopy, p["code"], p["revision"])
    if row is not None:
        row.name, row.district, row.active = p["name"], p["district"], p["active"]


def on_studio_saved(session: Session, event: dict) -> None:
    p = event["payload"]
    row = _newer(session, StudioCopy, p["code"], p["revision"])
    if row is not None:
        row.district, row.active = p["district"], p["active"]
        row.sectors = ",".join(p.get("sectors", []))


def on_roster_saved(session: Session, event: dict) -> None:
    p = event["payload"]
    row = _newer(session, RosterCopy, p["code"], p["revision"])
    if row is not None:
        row.day, row.slot = date.fromisoformat(p["date"]), p["slot"]
        row.station_code, row.studio_code = p.get("station"), p.get("studio")
        row.members, row.active = ",".join(p.get("members", [])), p["active"]


# -- opening and assigning ----------------------------------------------------------------------


def on_issue_received(session: Session, event: dict) -> None:
    p = event["payload"]
    if session.connection().execute(_CASE_EXISTS, {"number": p["tracking_number"]}).first():
        return  # the same issue announced twice
    received = datetime.fromisoformat(p["received_at"])
    first, resolution = catalogue.limits_for(p["category"])
    cal = catalogue.calendar()
    case = Case(
        tracking_number=p["tracking_number"],
        station_code=p["station"],
        category=p["category"],
        channel=p.get("channel"),
        member_hint=p.get("member"),
        status="waiting",
        received_at=received,
        response_due=cal.due(received, first),
        resolution_due=cal.due(received, resolution),
    )
    same_as = p.get("same_as")
    if same_as:
        # The citizen chose "same as this one" on the QR page: follow that case if it is
        # still open; otherwise the refusal goes to the audit and the case is assigned as usual.
        session.add(case)  # the merge changes it as any stored case
        session.flush()
        try:
            _merge(session, case, "citizen", same_as, CITIZEN_SAME)
            return
        except CaseError as err:
            record_refusal(session, case, "merge", "citizen", err)
    assign(session, case)  # a new case is written once, as assigned (or waiting)


def _written(session: Session, case: Case) -> bool:
    """A new case goes into the database here, whole, before any row that refers to it; True
    if it was new.

    One plain INSERT (a flush of one new object cost a quarter of routing's time per issue); the
    object stays outside the session, and whatever reads the case later in the transaction loads
    it from the row. The flush listener never sees it: ``_give`` counts its open case
    (``loads.seen``); a waiting case is nobody's open case.
    """
    state = inspect(case)
    if case in session or state.key is not None or state.info.get("lx_written"):
        return False  # a case already stored
    values = {c.key: getattr(case, c.key) for c in _CASE_COLUMNS}
    values = {k: v for k, v in values.items() if v is not None}
    session.connection().execute(_INSERT_CASE, values)
    state.info["lx_written"] = True
    return True


_CASE_COLUMNS = inspect(Case).column_attrs
_INSERT_CASE = insert(Case.__table__)


# The hot queries of assignment, built once: only their parameters change per case.
_CASE_EXISTS = select(Case.__table__.c.tracking_number).where(
    Case.__table__.c.tracking_number == bindparam("number")
)
_STATION_MEMBERS = (
    select(MemberCopy, MembershipCopy.role)
    .join(MembershipCopy, MembershipCopy.member_code == MemberCopy.code)
    .where(MembershipCopy.station_code == bindparam("station"))
)
_ON_DUTY = select(RosterCopy.members).where(
    RosterCopy.station_code == bindparam("station"),
    RosterCopy.day == bindparam("day"),
    RosterCopy.active,
)


def _candidates(session: Session, pairs: list[tuple[MemberView, str]]) -> list[Candidate]:
    """Members as candidates, with their open-case counts and last assignment times."""
    codes = [m.code for m, _ in pairs]
    if not codes:
        return []
    load = loads.read(session, codes)
    out = []
    for m, role in pairs:
        open_cases, when = load.get(m.code, (0, None))
        out.append(Candidate(m.code, m.sector, role, m.active, open_cases, when))
    return out


class MemberView(NamedTuple):
    """What assignment needs of a member copy: plain values, kept between transactions."""

    code: str
    sector: str
    active: bool


_REGISTRY = CopyMemo(CopyRevisions, "registry")


def _remembered(session: Session, key: tuple, read) -> list[tuple[MemberView, str]]:
    """The ``(member, role)`` pairs ``read()`` gives for ``key``, read again only when the
    registry copy changed (``handle_event`` bumps its revision with every registry event)."""

    def views():
        return [(MemberView(m.code, m.sector, m.active), role) for m, role in read()]

    return _REGISTRY.get(session, key, views)


def _station_pairs(session: Session, station: str) -> list[tuple[MemberView, str]]:
    return _remembered(
        session,
        ("station", station),
        lambda: session.execute(_STATION_MEMBERS, {"station": station}).all(),
    )


def _duty_pairs(session: Session, station: str, day: date) -> list[tuple[MemberView, str]]:
    """Members on the station's roster that (Beijing) day, any slot."""
    return _remembered(session, ("duty", station, day), lambda: _read_duty(session, station, day))


def _read_duty(session: Session, station: str, day: date) -> list[tuple[MemberCopy, str]]:
    codes = {
        c
        for row in session.scalars(_ON_DUTY, {"station": station, "day": day})
        for c in row.split(",")
        if c
    }
    if not codes:
        return []
    return [
        (m, "member") for m in session.scalars(select(MemberCopy).where(MemberCopy.code.in_(codes)))
    ]


def _studio_pairs(session: Session, station: str, sectors: list[str]):
    """Members of the active studios of ``sectors`` in the station's district."""
    return _remembered(
        session,
        ("studio", station, tuple(sectors)),
        lambda: _read_studio_pairs(session, station, sectors),
    )


def _read_studio_pairs(session: Session, station: str, sectors: list[str]):
    st = session.get(StationCopy, station)
    if st is None or not sectors:
        return []
    studios = [
        s.code
        for s in session.scalars(
            select(StudioCopy).where(StudioCopy.district == st.district, StudioCopy.active)
        )
        if set(s.sectors.split(",")) & set(sectors)
    ]
    if not studios:
        return []
    return (
        session.execute(
            select(MemberCopy, StudioMembershipCopy.role)
            .join(StudioMembershipCopy, StudioMembershipCopy.member_code == MemberCopy.code)
            .where(StudioMembershipCopy.studio_code.in_(studios))
        )
        .unique()
        .all()
    )


def candidates(session: Session, station: str) -> list[Candidate]:
    """The station's members, with their open cases and last assignment."""
    return _candidates(session, _station_pairs(session, station))


def decide(session: Session, case: Case) -> Decision:
    """The assignment decision for a case, from routing's own copy of the registry.

    The rules (``assignment.choose``) take the first group that has anyone: so the groups are
    fetched in the rules' order and stop at the first that can decide, and the open-case
    figures that break ties are counted for that group only.
    """
    sectors = catalogue.sectors_for(case.category)
    if case.member_hint:
        m = session.get(MemberCopy, case.member_hint)
        if m is not None and m.active:
            return choose([], sectors, Candidate(m.code, m.sector, "member", m.active))

    def usable(pairs, by_sector=True):
        return [(m, r) for m, r in pairs if m.active and (not by_sector or m.sector in sectors)]

    day = case.received_at.astimezone(CHINA).date()
    duty = usable(_duty_pairs(session, case.station_code, day))
    if duty:
        return choose([], sectors, on_duty=_candidates(session, duty))
    station = _station_pairs(session, case.station_code)
    matching = usable(station)
    if matching:
        return choose(_candidates(session, matching), sectors)
    studio = usable(_studio_pairs(session, case.station_code, sectors), by_sector=False)
    if studio:
        return choose([], sectors, studio_members=_candidates(session, studio))
    leads = [(m, r) for m, r in usable(station, by_sector=False) if r == "lead"]
    return choose(_candidates(session, leads), sectors)


def assign(session: Session, case: Case) -> None:
    decision = decide(session, case)
    reason = decision.reason
    if not catalogue.sectors_for(case.category):
        reason = f"派单目录中没有类别 {case.category} / category not in the catalogue; " + reason
    case.reason = reason
    if decision.member is None:
        _written(session, case)
        log.info("case %s waits for a member: %s", case.tracking_number, reason)
        outbox.record(
            session,
            "routing.issue_waiting",
            {
                "tracking_number": case.tracking_number,
                "station": case.station_code,
                "reason": reason,
            },
            SOURCE,
        )
        return
    _give(session, case, decision.member, decision.rule, reason, SYSTEM, "assign")


def _give(session, case, member, rule, reason, actor, action, extra=None):
    at = now()
    before = case.status
    case.status, case.member_code, case.assigned_at = "assigned", member, at
    new_case = _written(session, case)  # a new case: one INSERT with all of this, no UPDATE
    # The one line per case an operator reads (every message handled is DEBUG, see runner).
    done = "assigned" if action == "assign" else PAST[action]
    log.info("case %s %s to %s (%s)", case.tracking_number, done, member, rule)
    assignment_id = (
        session.connection()
        .execute(
            _INSERT_ASSIGNMENT,
            {
                "tracking_number": case.tracking_number,
                "member_code": member,
                "rule": rule,
                "reason": reason,
                "assigned_at": at,
            },
        )
        .inserted_primary_key[0]
    )
    _audit(
        session,
        tracking_number=case.tracking_number,
        action=action,
        actor=actor,
        from_status=before,
        to_status="assigned",
        note=reason,
        at=at,
    )
    loads.seen(session, member, at, new_case=new_case)
    notify.queue_notice(
        session,
        member,
        "assigned" if action == "assign" else "transferred",
        case.tracking_number,
        f"a{assignment_id}",
    )
    event = "routing.issue_assigned" if action == "assign" else f"routing.issue_{PAST[action]}"
    outbox.record(
        session,
        event,
        {
            **_common(case),
            "member": member,
            "rule": rule,
            "reason": reason,
            "actor": actor,
            "received_at": case.received_at.isoformat(),
            "assigned_at": at.isoformat(),
            **(extra or {}),
        },
        SOURCE,
        occurred_at=at,
    )


# The audit trail and the assignments only grow: written by plain INSERTs at once (the case they
# belong to is always already in the database), never held as ORM objects.
_INSERT_ASSIGNMENT = insert(Assignment.__table__)
_INSERT_CASE_EVENT = insert(CaseEvent.__table__)


def _audit(session: Session, **fields) -> None:
    """One step of a case's audit trail (``case_events``)."""
    session.connection().execute(_INSERT_CASE_EVENT, fields)


def _common(case: Case) -> dict:
    return {
        "tracking_number": case.tracking_number,
        "station": case.station_code,
        "category": case.category,
        "member": case.member_code,
    }


def assign_waiting(session: Session, station: str) -> None:
    for case in session.scalars(
        select(Case)
        .where(Case.station_code == station, Case.status == "waiting")
        .order_by(Case.received_at)
    ):
        assign(session, case)


# -- the lifecycle ------------------------------------------------------------------------------


def _required(value, field: str, zh: str, en: str) -> str:
    if not value or not str(value).strip():
        raise CaseError("missing", f"请填写{zh}", f"{en} is required", 400, field)
    return str(value).strip()


def act(
    session: Session,
    number: str,
    action: str,
    actor: str,
    *,
    note: str | None = None,
    version: int | None = None,
    settings: Settings = Settings(),
    **params,
) -> Case:
    """Apply one member, office or citizen action to a case; CaseError if it is not allowed."""
    logs.bind(tracking_number=number)
    case = session.get(Case, number, with_for_update=True)
    if case is None:
        raise CaseError("not_found", f"未找到案件 {number}", f"no case {number}", 404)
    if version is not None and int(version) != case.version:
        raise CaseError(
            "stale",
            "案件已被他人更新，请刷新后再试",
            f"the case changed meanwhile (version {case.version}, you had {version})",
        )
    before = case.status
    after = lifecycle.next_status(action, before)
    at = now()
    extra: dict = {}
    if action == "transfer":
        return _transfer(session, case, actor, params, note)
    if action == "merge":
        return _merge(session, case, actor, params.get("into"), note)
    if action == "accept":
        case.accepted_at = at
    elif action == "respond":
        note = _required(note, "note", "答复内容", "the reply")
        case.accepted_at = case.accepted_at or at
        case.responded_at = at
        extra["on_time"] = at <= case.response_due
        extra["answer"] = note  # what the citizen reads on the status page
    elif action == "resolve":
        note = _required(note, "note", "办理结果", "what was done")
        case.resolved_at = at
        extra["on_time"] = at <= case.resolution_due
        extra["answer"] = note
    elif action == "close_unresolved":
        note = _required(note, "note", "未解决的原因", "the reason")
        case.closed_at, case.close_reason = at, note
        extra["answer"] = note
    elif action == "reopen":
        _reopen_allowed(case, at, settings)
        _reopen(case, at)
    elif action == "rate":
        rating = params.get("rating")
        if rating not in RATINGS:
            raise CaseError(
                "invalid",
                "评价须为 满意/基本满意/不满意",
                f"rating must be one of {', '.join(RATINGS)}",
                400,
                "rating",
            )
        if case.rating is not None:
            raise CaseError("already_rated", "该案件已评价过", "this case was already rated")
        case.rating, case.rating_comment, case.rated_at = rating, note, at
        extra["rating"] = rating
        if rating == "unsatisfied" and settings.reopen_on_unsatisfied:
            after = "assigned"
            _reopen(case, at)
            extra["reopened"] = True
    case.status = after
    _audit(
        session,
        tracking_number=number,
        action=action,
        actor=actor,
        from_status=before,
        to_status=after,
        note=note,
        at=at,
    )
    session.flush()
    outbox.record(
        session,
        f"routing.issue_{PAST[action]}",
        {
            **_common(case),
            "actor": actor,
            "from_status": before,
            "to_status": after,
            "at": at.isoformat(),
            "received_at": case.received_at.isoformat(),
            **extra,
        },
        SOURCE,
        occurred_at=at,
    )
    return case


def _reopen_allowed(case: Case, at: datetime, settings: Settings) -> None:
    ended = case.resolved_at or case.closed_at
    if ended and at - ended > timedelta(days=settings.reopen_window_days):
        raise CaseError(
            "window_closed",
            f"已超过 {settings.reopen_window_days} 天的重新办理期限",
            f"cases can be reopened within {settings.reopen_window_days} days",
        )


def _reopen(case: Case, at: datetime) -> None:
    first, resolution = catalogue.limits_for(case.category)
    cal = catalogue.calendar()
    case.reopens += 1
    case.resolved_at = case.closed_at = case.close_reason = None
    case.responded_at = case.accepted_at = None
    case.response_due, case.resolution_due = cal.due(at, first), cal.due(at, resolution)
    case.colour, case.escalated_at = "green", None


def _transfer(session: Session, case: Case, actor: str, params: dict, note) -> Case:
    reason = _required(note, "note", "转办原因", "the reason for the transfer")
    to_member, to_station = params.get("to_member"), params.get("to_station")
    if bool(to_member) == bool(to_station):
        raise CaseError(
            "invalid",
            "请指定转给的委员或工作站（二选一）",
            "give either to_member or to_station",
            400,
            "to_member",
        )
    extra = {"from_member": case.member_code, "from_station": case.station_code}
    if to_member:
        member = session.get(MemberCopy, to_member)
        if member is None or not member.active:
            raise CaseError(
                "invalid",
                f"委员 {to_member} 不存在或已停用",
                f"member {to_member} is unknown or inactive",
                400,
                "to_member",
            )
        if to_member == case.member_code:
            raise CaseError(
                "invalid", "不能转给本人", "cannot transfer to the same member", 400, "to_member"
            )
        member_code, rule = to_member, "transfer"
    else:
        station_members = [c for c in candidates(session, to_station) if c.code != case.member_code]
        decision = choose(station_members, catalogue.sectors_for(case.category))
        if decision.member is None:
            raise CaseError(
                "invalid",
                f"工作站 {to_station} 暂无可接收的委员",
                f"station {to_station} has nobody to take it",
                400,
                "to_station",
            )
        case.station_code = to_station
        member_code, rule = decision.member, "transfer"
        reason = f"{reason}; {decision.reason}"
    case.handoffs += 1
    case.accepted_at = case.responded_at = None
    _give(session, case, member_code, rule, reason, actor, "transfer", extra)
    return case


# -- merging (one problem, many voices) -----------------------------------------------------------


def chain_of(session: Session, number: str) -> list[str]:
    """``number`` and the cases it follows, in order: a merged case → its main → … → the root."""
    chain = [number]
    case = session.get(Case, number)
    while case is not None and case.merged_into and len(chain) < MAX_CHAIN:
        if case.merged_into in chain:
            break  # never made by merge_refusal; do not loop on a hand-edited database
        chain.append(case.merged_into)
        case = session.get(Case, case.merged_into)
    return chain


def root_of(session: Session, number: str) -> str:
    return chain_of(session, number)[-1]


def followers(session: Session, number: str) -> list[str]:
    """Every case that follows ``number``, directly or through a chain, oldest first."""
    found, frontier = [], [number]
    while frontier and len(found) < 10_000:
        rows = session.scalars(
            select(Case.tracking_number)
            .where(Case.merged_into.in_(frontier))
            .order_by(Case.received_at, Case.tracking_number)
        ).all()
        rows = [r for r in rows if r not in found and r != number]
        found += rows
        frontier = rows
    return found


def _merge(session: Session, case: Case, actor: str, into, note) -> Case:
    """Merge ``case`` into ``into`` (or the open case ``into`` already follows): it stops being
    worked on by itself and follows that case, its 主案件; its reporter keeps the tracking number."""
    into = str(into).strip() if into else None
    chain = chain_of(session, into) if into else []
    root = session.get(Case, chain[-1], with_for_update=True) if chain else None
    refusal = lifecycle.merge_refusal(
        case.tracking_number, into, chain, root.status if root else None
    )
    if refusal is not None:
        raise refusal
    before = case.status
    after = lifecycle.next_status("merge", before)
    at = now()
    case.status, case.merged_into = after, root.tracking_number
    reason = f"合并到 {root.tracking_number} / merged into {root.tracking_number}"
    if into != root.tracking_number:
        reason += f" ({into} → {root.tracking_number})"
    if note and str(note).strip():
        reason += f"; {str(note).strip()}"
    _audit(
        session,
        tracking_number=case.tracking_number,
        action="merge",
        actor=actor,
        from_status=before,
        to_status=after,
        note=reason,
        at=at,
    )
    _audit(
        session,
        tracking_number=root.tracking_number,
        action="merged_in",
        actor=actor,
        from_status=root.status,
        to_status=root.status,
        note=f"{case.tracking_number} 合并到本案件 / {case.tracking_number} merged into this case",
        at=at,
    )
    session.flush()
    outbox.record(
        session,
        "routing.issue_merged",
        {
            **_common(case),
            "into": root.tracking_number,
            "actor": actor,
            "from_status": before,
            "at": at.isoformat(),
            "received_at": case.received_at.isoformat(),
        },
        SOURCE,
        occurred_at=at,
    )
    return case


def record_refusal(session: Session, case: Case, action: str, actor: str, err: CaseError) -> None:
    """A refused merge, kept in the case's audit trail; the case itself does not change."""
    _audit(
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


# -- deadlines ----------------------------------------------------------------------------------


def colour_of(case: Case, at: datetime, due_soon: timedelta) -> str:
    due = case.resolution_due if case.responded_at else case.response_due
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
    session: Session, at: datetime | None = None, settings: Settings = Settings()
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
            kind = "routing.issue_due_soon" if colour == "yellow" else "routing.issue_overdue"
            due = case.resolution_due if case.responded_at else case.response_due
            outbox.record(
                session,
                kind,
                {
                    **_common(case),
                    "due": due.isoformat(),
                    "stage": "resolution" if case.responded_at else "first_response",
                },
                SOURCE,
                occurred_at=at,
            )
            notify.queue_notice(
                session,
                case.member_code,
                "due_soon" if colour == "yellow" else "overdue",
                case.tracking_number,
                f"{due.isoformat()}:r{case.reopens}",
            )
        if colour == "red" and case.escalated_at is None:
            case.escalated_at = at
            changed["escalated"] += 1
            notify.queue_notice(
                session,
                station_lead(session, case.station_code),
                "escalated",
                case.tracking_number,
                f"r{case.reopens}",
            )
            outbox.record(
                session,
                "routing.issue_escalated",
                {
                    **_common(case),
                    "to": [t for t in (station_lead(session, case.station_code), "office") if t],
                },
                SOURCE,
                occurred_at=at,
            )
    session.flush()
    return changed


# -- views --------------------------------------------------------------------------------------


def case_view(session: Session, number: str) -> dict | None:
    case = session.get(Case, number)
    if case is None:
        return None
    history = session.scalars(
        select(Assignment).where(Assignment.tracking_number == number).order_by(Assignment.id)
    )
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.tracking_number == number).order_by(CaseEvent.id)
    )
    merged_in = followers(session, number)
    return {
        **_summary(case),
        "reason": case.reason,
        "merged_into": case.merged_into,
        "main": root_of(session, number) if case.merged_into else number,
        "merged_in": merged_in,
        "reporters": 1 + len(merged_in),
        "assignments": [
            {
                "member": a.member_code,
                "rule": a.rule,
                "reason": a.reason,
                "assigned_at": a.assigned_at.isoformat(),
            }
            for a in history
        ],
        "history": [
            {
                "action": e.action,
                "actor": e.actor,
                "from": e.from_status,
                "to": e.to_status,
                "note": e.note,
                "at": e.at.isoformat(),
            }
            for e in events
        ],
    }


def _iso(value):
    return value.isoformat() if value else None


def _summary(case: Case) -> dict:
    return {
        "tracking_number": case.tracking_number,
        "station": case.station_code,
        "category": case.category,
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
    cases.sort(
        key=lambda c: (
            order.get(c.colour, 3),
            (c.resolution_due if c.responded_at else c.response_due) or c.received_at,
        )
    )
    return [_summary(c) for c in cases]


def station_cases(session: Session, station: str) -> list[dict]:
    cases = session.scalars(
        select(Case)
        .where(Case.station_code == station)
        .order_by(Case.received_at.desc())
        .limit(500)
    )
    return [_summary(c) for c in cases]


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
    "registry.station_saved": on_station_saved,
    "registry.studio_saved": on_studio_saved,
    "registry.roster_saved": on_roster_saved,
    "intake.issue_received": on_issue_received,
}
