"""The actions on a case (members, the office, citizens), one function each, chosen by name
through :data:`ACTIONS`.

:func:`act` finds the case (locked), checks its version and that the lifecycle allows the action
now (``lifecycle.py``), then runs the action's function. Most actions are a *step*: they set a
few fields, and :func:`_finish` moves the status, the member's open-case count, the audit row
and the ``routing.issue_<action>`` event, in the same transaction. A transfer gives the case to
another member (``opening.give``); a merge makes it follow another case (``merging.merge``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from services.kernel import backdating, logs, outbox
from services.routing import access, catalogue, deciding, lifecycle, loads, merging, opening
from services.routing.assignment import choose
from services.routing.lifecycle import CaseError
from services.routing.models import Case, MemberCopy
from services.routing.records import PAST, SOURCE, audit, common, now
from services.routing.settings import RoutingSettings

RATINGS = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}


@dataclass
class Request:
    """One action on one case, as :func:`act` found it."""

    session: Session
    case: Case
    action: str
    actor: str
    note: str | None
    params: dict
    settings: RoutingSettings
    scope: access.Scope | None = None  # whose scope the ids in ``params`` must be in
    at: datetime = field(default_factory=now)
    after: str = ""  # the status after a step (``lifecycle.next_status``)


ACTIONS: dict[str, Callable[[Request], None]] = {}


def act(
    session: Session,
    number: str,
    action: str,
    actor: str,
    *,
    note: str | None = None,
    version: int | None = None,
    settings: RoutingSettings = RoutingSettings(),
    scope: access.Scope | None = None,
    at: datetime | None = None,
    **params,
) -> Case:
    """Apply one member, office or citizen action to a case; CaseError if it is not allowed.

    ``scope``: the signed-in caller's (``access.Scope``); every case or member the action names
    besides the case itself must be in it, else it answers as an unknown one.
    None for a caller inside the system (the citizen's RPC, the rules).

    ``at``: when the action happened, if not now: operator-only back-dating (a replay of a past
    year, docs/security.md): taken only with ``settings.backdating`` on and from the office (or
    a caller inside the system), never before the case's receipt or last step, never in the
    future; otherwise a 400 on ``at``."""
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
    after = lifecycle.next_status(action, case.status)
    if action not in ACTIONS:  # "assign" is the rules' own, never asked for
        raise CaseError("unknown_action", f"未知操作: {action}", f"unknown action: {action}", 400)
    r = Request(session, case, action, actor, note, params, settings, scope, after=after)
    if at is not None:
        if action not in lifecycle.BACKDATABLE:
            raise backdating.refused(
                "at", f"“{action}”不能补记时间", f"{action!r} cannot be back-dated"
            )
        may = settings.backdating and (scope is None or scope.who.is_office)
        r.at = backdating.check(at, lifecycle.earliest_at(case), may)
    ACTIONS[action](r)
    return case


def step(fn: Callable[[Request], dict]) -> Callable[[Request], dict]:
    """Registers ``fn`` as the action of its name: it sets the case's own fields and returns
    what the event adds; :func:`_finish` does the rest."""
    ACTIONS[fn.__name__.strip("_")] = lambda r: _finish(r, fn(r))
    return fn


def _finish(r: Request, extra: dict) -> None:
    """The status, the member's load, the audit row and the event of a step."""
    case, moved = r.case, {"from_status": r.case.status, "to_status": r.after}
    held = loads.holder(case.status, case.member_code)
    case.status = r.after
    loads.moved(r.session, held, loads.holder(case.status, case.member_code))
    who = {"tracking_number": case.tracking_number, "action": r.action, "actor": r.actor}
    audit(r.session, **who, **moved, note=r.note, at=r.at)
    r.session.flush()
    payload = {**common(case), "actor": r.actor, **moved, "at": r.at.isoformat()}
    payload |= {"received_at": case.received_at.isoformat(), **extra}
    event = f"routing.issue_{PAST[r.action]}"
    outbox.record(r.session, event, payload, SOURCE, occurred_at=r.at)


def _required(value, field: str, zh: str, en: str) -> str:
    if not value or not str(value).strip():
        raise CaseError("missing", f"请填写{zh}", f"{en} is required", 400, field)
    return str(value).strip()


@step
def _accept(r: Request) -> dict:
    r.case.accepted_at = r.at
    return {}


@step
def _respond(r: Request) -> dict:
    r.note = _required(r.note, "note", "答复内容", "the reply")
    r.case.accepted_at = r.case.accepted_at or r.at  # replying is taking the case
    r.case.responded_at = r.at
    # the answer is what the citizen reads on the status page
    return {"on_time": r.at <= r.case.response_due, "answer": r.note}


@step
def _resolve(r: Request) -> dict:
    r.note = _required(r.note, "note", "办理结果", "what was done")
    r.case.resolved_at = r.at
    return {"on_time": r.at <= r.case.resolution_due, "answer": r.note}


@step
def _close_unresolved(r: Request) -> dict:
    r.note = _required(r.note, "note", "未解决的原因", "the reason")
    r.case.closed_at, r.case.close_reason = r.at, r.note
    return {"answer": r.note}


@step
def _reopen(r: Request) -> dict:
    ended = r.case.resolved_at or r.case.closed_at
    days = r.settings.reopen_window_days
    if ended and r.at - ended > timedelta(days=days):
        raise CaseError(
            "window_closed",
            f"已超过 {days} 天的重新办理期限",
            f"cases can be reopened within {days} days",
        )
    reopen(r.case, r.at)
    return {}


@step
def _rate(r: Request) -> dict:
    rating = r.params.get("rating")
    if not isinstance(rating, str) or rating not in RATINGS:
        raise CaseError(
            "invalid",
            "评价须为 满意/基本满意/不满意",
            f"rating must be one of {', '.join(RATINGS)}",
            400,
            "rating",
        )
    ended = r.case.resolved_at or r.case.closed_at
    if r.case.rating is not None and (ended is None or r.case.rated_at >= ended):
        # one rating per answer: a case reopened and answered again may be rated again (the
        # figures' cohort keeps the first rating, rated_* count each: docs/statistics.md)
        raise CaseError("already_rated", "该案件已评价过", "this case was already rated")
    r.case.rating, r.case.rating_comment, r.case.rated_at = rating, r.note, r.at
    if rating == "unsatisfied" and r.settings.reopen_on_unsatisfied:
        r.after = "assigned"
        reopen(r.case, r.at)
        return {"rating": rating, "reopened": True}
    return {"rating": rating}


def reopen(case: Case, at: datetime) -> None:
    """A case worked on again: its deadlines start anew from ``at``."""
    first, resolution = catalogue.limits_for(case.category)
    cal = catalogue.calendar()
    case.reopens += 1
    case.resolved_at = case.closed_at = case.close_reason = None
    case.responded_at = case.accepted_at = None
    case.response_due, case.resolution_due = cal.due(at, first), cal.due(at, resolution)
    case.colour, case.escalated_at = "green", None


def _transfer(r: Request) -> None:
    """To a member by name, or to a station (its members by the rules, not the one who has it)."""
    reason = _required(r.note, "note", "转办原因", "the reason for the transfer")
    to_member, to_station = r.params.get("to_member"), r.params.get("to_station")
    if bool(to_member) == bool(to_station):
        raise CaseError(
            "invalid",
            "请指定转给的委员或工作站（二选一）",
            "give either to_member or to_station",
            400,
            "to_member",
        )
    case = r.case
    extra = {"from_member": case.member_code, "from_station": case.station_code}
    if to_member:
        member = _member_for(r, str(to_member).strip())
    else:
        to_station = str(to_station).strip()  # a referral: its rules pick (access.py)
        member, why = _station_member_for(r.session, case, to_station)
        case.station_code = to_station
        reason = f"{reason}; {why}"
    case.handoffs += 1
    case.accepted_at = case.responded_at = None
    opening.give(r.session, case, member, "transfer", reason, r.actor, "transfer", extra)


def _member_for(r: Request, code: str) -> str:
    """The member a transfer names: active and within the caller's scope (``access.Scope``),
    else the same answer as for a member that does not exist."""
    session, case = r.session, r.case
    member = session.get(MemberCopy, code)
    if member is None or not member.active:
        raise access.unseen_member(code)
    if r.scope is not None and not r.scope.may_give_to(session, case, member):
        raise access.unseen_member(code)
    if code == case.member_code:
        raise CaseError(
            "invalid", "不能转给本人", "cannot transfer to the same member", 400, "to_member"
        )
    return code


def _station_member_for(session: Session, case: Case, station: str) -> tuple[str, str]:
    """The member of ``station`` the rules pick (not the case's own), and the reason."""
    others = [c for c in deciding.candidates(session, station) if c.code != case.member_code]
    decision = choose(others, catalogue.sectors_for(case.category))
    if decision.member is None:
        raise CaseError(
            "invalid",
            f"工作站 {station} 暂无可接收的委员",
            f"station {station} has nobody to take it",
            400,
            "to_station",
        )
    return decision.member, decision.reason


def _merge(r: Request) -> None:
    may_see = r.scope.may_cases if r.scope is not None else None
    merging.merge(r.session, r.case, r.actor, r.params.get("into"), r.note, may_see)


ACTIONS["transfer"] = _transfer
ACTIONS["merge"] = _merge


def perform(transaction, number: str, action: str, actor: str, **kwargs) -> None:
    """:func:`act` in a transaction of its own. A refused merge is kept in the case's audit
    trail, in a second transaction (the first rolled back), and the refusal raised again."""
    try:
        with transaction() as session:
            act(session, number, action, actor, **kwargs)
    except CaseError as err:
        if action == "merge":
            with transaction() as session:
                merging.refuse(session, number, action, actor, err)
        raise
