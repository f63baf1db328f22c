"""Grassroots consultations (有事好商量 / 基层协商): a station or studio takes open cases to a
meeting of the units concerned, and the cases it settles are resolved with the agreement.

:func:`record` in one transaction, in this order:

1. the body is typed and bounded (:class:`ConsultationBody`); exactly one of ``station`` and
   ``studio`` convenes it; ``date`` is a day that has come (a past year is fine: the 2024 replay);
2. the convener is in the caller's scope (the office: any; a station admin: its stations; a
   studio admin: its studios), else 400 ``not_found`` on that field, as an unknown one;
3. every member present is known to routing (400 ``not_found`` on ``members``);
4. every case named is locked and in the caller's reach (``office.reach_of``, the one case
   scope of the console), else 400 ``not_found`` on ``cases``/``settled``, exactly as a case
   that does not exist (``lifecycle.unknown_case``); a case it settles must still be worked on
   by a member (assigned, accepted, responded), else 409 on ``settled``;
5. the record, ``routing.consultation_recorded``, a "协商议定" / "纳入协商" step in each case's
   history (its note names the consultation: :func:`consultation_in` reads it back for the
   pages' link), and each settled case resolved through ``actions.act`` with the agreement as
   its answer (``respond`` first when it has no reply yet): the member, the citizen's status
   page and reporting see an ordinary resolution, with the usual ``routing.issue_resolved``.

The cases are resolved at the moment of recording (the consultation's ``date`` is when the
meeting was held; a case's resolution time is never back-dated).
"""

from __future__ import annotations

import re
from datetime import date, datetime

from marshmallow import fields, validate
from sqlalchemy.orm import Session

from services.kernel import outbox
from services.kernel.auth import Principal
from services.kernel.http import invalid
from services.routing import access, actions, lifecycle, office
from services.routing.consultation_models import (
    Consultation,
    ConsultationCase,
    ConsultationMember,
)
from services.routing.consultation_views import FIRST_YEAR, view
from services.routing.inputs import CODE_MAX, NOTE_MAX, NUMBER_MAX, TYPE_MESSAGES, Body, text
from services.routing.lifecycle import CaseError
from services.routing.models import Case, MemberCopy, StationCopy, StudioCopy
from services.routing.records import SOURCE, audit, now
from services.routing.settings import RoutingSettings
from services.routing.workdays import CHINA

EVENT = "routing.consultation_recorded"
SETTLED, LINKED = "consult_settled", "consult_linked"  # the steps in a case's history
STEP_NAMES = {SETTLED: "协商议定", LINKED: "纳入协商"}
LIST_MAX = 50  # cases, members or units named in one consultation
UNIT_MAX = 100
_STEP_NOTE = re.compile(r"^协商 #(\d+)")


def _names(what_zh: str, what: str, length: int) -> fields.List:
    return fields.List(
        fields.String(
            validate=validate.Length(
                min=1, max=length, error=f"每项 1–{length} 字 / 1-{length} characters each"
            ),
            error_messages=TYPE_MESSAGES,
        ),
        load_default=list,
        validate=validate.Length(
            max=LIST_MAX, error=f"{what_zh}最多 {LIST_MAX} 项 / at most {LIST_MAX} {what}"
        ),
        error_messages={**TYPE_MESSAGES, "invalid": "必须是列表 / must be a list"},
    )


def _required(max_len: int, zh: str, en: str) -> fields.String:
    return fields.String(
        required=True,
        validate=validate.Length(
            min=1, max=max_len, error=f"{zh}为 1–{max_len} 字 / {en}: 1-{max_len} characters"
        ),
        error_messages=TYPE_MESSAGES,
    )


class ConsultationBody(Body):
    """``POST /consultations`` (docs/routing.md, "Consultations")."""

    topic = _required(200, "议题", "the topic")
    station = text(CODE_MAX, "工作站编号", "station")
    studio = text(CODE_MAX, "工作室编号", "studio")
    date = _required(10, "日期", "the date")
    units_invited = _names("受邀单位", "units", UNIT_MAX)
    units_present = _names("到会单位", "units", UNIT_MAX)
    members = _names("到会委员", "members", CODE_MAX)
    agreement = _required(NOTE_MAX, "议定事项", "the agreement")
    follow_up_owner = _required(200, "跟进责任人", "the follow-up owner")
    cases = _names("关联案件", "cases", NUMBER_MAX)
    settled = _names("议定办结的案件", "cases", NUMBER_MAX)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i.strip() for i in items if i.strip()))


def read_body(data, today: date | None = None) -> dict:
    """The body, checked: every field's mistake at once, as one ``invalid`` answer."""
    body = ConsultationBody().load(data)
    errors: dict = {}
    for name in ("topic", "agreement", "follow_up_owner"):
        body[name] = body[name].strip()
        if not body[name]:
            errors[name] = ["必填 / required"]
    body["station"] = (body["station"] or "").strip() or None
    body["studio"] = (body["studio"] or "").strip() or None
    if bool(body["station"]) == bool(body["studio"]):
        errors["station"] = [
            "请指定召集的工作站或工作室（二选一）/ give station or studio, not both"
        ]
    try:
        if len(body["date"]) != 10:
            raise ValueError(body["date"])
        body["date"] = date.fromisoformat(body["date"])
        today = today or now().astimezone(CHINA).date()
        if body["date"] > today or body["date"].year < FIRST_YEAR:
            errors["date"] = [f"日期须在 {FIRST_YEAR} 年至今天之间 / from {FIRST_YEAR} to today"]
    except ValueError:
        errors["date"] = ["日期应为 YYYY-MM-DD / a date YYYY-MM-DD"]
    for name in ("units_invited", "units_present", "members", "cases", "settled"):
        body[name] = _unique(body[name])
    if not body["settled"] and not body["cases"]:
        errors["cases"] = ["请至少关联一件案件 / link at least one case"]
    if errors:
        raise invalid(errors)
    body["cases"] = _unique(body["cases"] + body["settled"])  # a case it settles is linked
    return body


# --- who may convene, and whose cases ---------------------------------------------------------


def _unseen(field: str, code: str) -> CaseError:
    return CaseError("not_found", f"未找到 {code}", f"no {field} {code}", 400, field)


def _convener(session: Session, who: Principal, body: dict) -> str | None:
    """The convening station's or studio's district; 400 ``not_found`` on its field when it is
    unknown or outside the caller's scope (the same answer)."""
    if body["station"]:
        row = session.get(StationCopy, body["station"])
        if row is None or not who.may_station(row.code):
            raise _unseen("station", body["station"])
        return row.district
    row = session.get(StudioCopy, body["studio"])
    if row is None or not who.may_studio(row.code):
        raise _unseen("studio", body["studio"])
    return row.district


def _known_members(session: Session, codes: list[str]) -> None:
    for code in codes:
        if session.get(MemberCopy, code) is None:
            raise CaseError("not_found", f"未找到委员 {code}", f"no member {code}", 400, "members")


def _cases(session: Session, who: Principal, body: dict) -> dict[str, Case]:
    """Each named case, locked (in a fixed order: two recordings never wait on each other),
    in the caller's reach, and each it settles still being worked on."""
    reach = office.reach_of(session, who)
    settled = set(body["settled"])
    found = {}
    for number in sorted(body["cases"]):
        field = "settled" if number in settled else "cases"
        case = session.get(Case, number, with_for_update=True)
        if case is None or not reach.may_see(case):
            raise lifecycle.unknown_case(number, field)
        if number in settled and case.status not in lifecycle.ACTIVE:
            name = lifecycle.STATUS_NAMES.get(case.status, case.status)
            raise CaseError(
                "not_open",
                f"案件 {number} 当前为“{name}”，不能由协商办结",
                f"case {number} is {case.status}: only a case being worked on can be settled",
                409,
                "settled",
            )
        found[number] = case
    return found


# --- recording --------------------------------------------------------------------------------


def record(
    session: Session,
    who: Principal,
    data,
    settings: RoutingSettings = RoutingSettings(),
    at: datetime | None = None,
) -> Consultation:
    """Record a consultation and settle its cases (module docstring); the new record."""
    body = read_body(data)
    at = at or now()
    district = _convener(session, who, body)
    _known_members(session, body["members"])
    cases = _cases(session, who, body)
    actor = access.actor_of(who)
    row = Consultation(
        topic=body["topic"],
        station_code=body["station"],
        studio_code=body["studio"],
        district=district,
        day=body["date"],
        units_invited=body["units_invited"],
        units_present=body["units_present"],
        agreement=body["agreement"],
        follow_up_owner=body["follow_up_owner"],
        actor=actor,
        recorded_at=at,
    )
    session.add(row)
    session.flush()
    session.add_all(
        ConsultationMember(consultation_id=row.id, member_code=m) for m in body["members"]
    )
    settled = set(body["settled"])
    session.add_all(
        ConsultationCase(consultation_id=row.id, tracking_number=n, settles=n in settled)
        for n in body["cases"]
    )
    session.flush()
    outbox.record(session, EVENT, view(session, row, with_cases=False), SOURCE, occurred_at=at)
    for number in body["cases"]:
        case, step = cases[number], SETTLED if number in settled else LINKED
        audit(
            session,
            tracking_number=number,
            action=step,
            actor=actor,
            from_status=case.status,
            to_status=case.status,
            note=f"协商 #{row.id}：{row.topic}",
            at=at,
        )
        if number in settled:
            _settle(session, case, actor, row.agreement, settings)
    return row


def _settle(session, case: Case, actor: str, agreement: str, settings) -> None:
    """Resolve ``case`` with ``agreement`` through the lifecycle's own actions (at their own
    time, now: never back-dated)."""
    given = {"note": agreement, "settings": settings}
    if case.status != "responded":  # its first answer is the agreement too
        actions.act(session, case.tracking_number, "respond", actor, **given)
    actions.act(session, case.tracking_number, "resolve", actor, **given)


def consultation_in(step: dict) -> int | None:
    """The consultation a history step (``views._step``) names, None for any other step."""
    if step.get("action") not in STEP_NAMES:
        return None
    found = _STEP_NOTE.match(step.get("note") or "")
    return int(found.group(1)) if found else None
