"""社情民意信息 (social-opinion reports): a member turns recurring problems from its cases into a
report sent up to the CPPCC office, which marks it 已收悉 / 已采用 / 已转送有关部门 with a note.

    draft ─submit (the member)→ submitted ─review (the office)→ received | adopted | forwarded
                                                  (a later review may change the outcome)

Who may do what (one rule, applied to reads, writes and the case ids of a body alike):

- **write a draft, edit it, submit it**: the member whose report it is (a draft is private to
  it; once submitted it is read-only). The cases it names must be the member's own: cases it
  holds, open or closed, not one merged into another (:func:`own_cases`). Any other case id,
  known or not, answers exactly as an unknown one: 400 ``not_found`` on ``cases``, checked in
  the transaction that writes the report.
- **review**: the office only.
- **read**: the member, its own reports (drafts too); the office, every submitted report; a
  station or studio admin, the submitted reports with a case in its reach (the office console's
  reach, :func:`services.routing.office.reach_of`), and of their cases only those in its reach.

A report in a path that does not exist is 404; one the caller may not read is 403. Naming a
member outside the caller's reach in the list's filters is 403, as in the office's case list.

Events (docs/messages.md): ``routing.report_submitted`` and ``routing.report_reviewed``, in the
transaction of the change (outbox).
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from services.kernel import auth, outbox
from services.kernel.auth import Principal
from services.kernel.http import ApiError, int_arg, invalid, not_found
from services.routing.models import (
    Case,
    MemberCopy,
    OpinionReport,
    OpinionReportCase,
    SectorCopy,
)
from services.routing.records import SOURCE, now

OUTCOMES = {
    "received": ("已收悉", "received"),
    "adopted": ("已采用", "adopted"),
    "forwarded": ("已转送有关部门", "forwarded to the departments concerned"),
}
STATUS_NAMES = {"draft": ("草稿", "draft"), "submitted": ("已报送", "submitted"), **OUTCOMES}
TITLE_MAX = 100
TEXT_MAX = 5000
NOTE_MAX = 1000
CASES_MAX = 50
CODE_MAX = 40
YEARS = (2000, 2100)


# --- reading a body --------------------------------------------------------------------------


def _text(body: dict, name: str, limit: int, errors: dict, required: bool) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[name] = ["必填 / required"]
        return None
    if not isinstance(value, str):
        errors[name] = ["应为文字 / must be text"]
        return None
    value = value.strip()
    if len(value) > limit:
        errors[name] = [f"最多{limit}个字 / at most {limit} characters"]
    return value


def _cases(value, errors: dict) -> list[str] | None:
    if value is None:
        errors["cases"] = ["至少选择一件案件 / choose at least one case"]
        return None
    if not isinstance(value, list) or not all(isinstance(n, str) and n for n in value):
        errors["cases"] = ["应为案件编号列表 / a list of tracking numbers"]
        return None
    numbers = list(dict.fromkeys(n.strip() for n in value if n.strip()))
    if not numbers:
        errors["cases"] = ["至少选择一件案件 / choose at least one case"]
    elif len(numbers) > CASES_MAX:
        errors["cases"] = [f"最多{CASES_MAX}件 / at most {CASES_MAX} cases"]
    return numbers


def read_draft(body: dict, partial: bool = False) -> dict:
    """A draft's fields from a body: ``title`` (≤100), ``text`` (≤5000), ``sector`` (a code;
    the member's own when left out), ``cases`` (1–50 tracking numbers). ``partial``: an edit,
    where each field left out keeps its value. An ``invalid`` answer names every bad field."""
    errors: dict = {}
    found: dict = {}
    unknown = sorted(set(body) - {"title", "text", "sector", "cases"})
    for name in unknown:
        errors[name] = ["不认识的字段 / unknown field"]
    for name, limit in (("title", TITLE_MAX), ("text", TEXT_MAX)):
        if name in body or not partial:
            found[name] = _text(body, name, limit, errors, required=True)
    if body.get("sector") not in (None, ""):
        found["sector"] = _text(body, "sector", CODE_MAX, errors, required=False)
    if "cases" in body or not partial:
        found["cases"] = _cases(body.get("cases"), errors)
    if errors:
        raise invalid(errors)
    return found


def read_review(body: dict) -> dict:
    """The office's review: ``outcome`` (received | adopted | forwarded) and ``note`` (≤1000;
    required when forwarded: to whom)."""
    errors: dict = {}
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        errors["outcome"] = ["应为 received、adopted 或 forwarded / received, adopted or forwarded"]
    note = _text(body, "note", NOTE_MAX, errors, required=outcome == "forwarded")
    for name in sorted(set(body) - {"outcome", "note"}):
        errors[name] = ["不认识的字段 / unknown field"]
    if errors:
        raise invalid(errors)
    return {"outcome": outcome, "note": note}


def read_filters(args) -> dict:
    """The list's filters (``member``, ``sector``, ``year``, ``status``), each checked."""
    errors: dict = {}
    found: dict = {}
    for name in ("member", "sector"):
        value = (args.get(name) or "").strip() or None
        if value is not None and (len(value) > CODE_MAX or not value.isprintable()):
            errors[name] = ["编号无效 / not a code"]
        found[name] = value
    status = args.get("status") or None
    if status is not None and status not in STATUS_NAMES:
        errors["status"] = ["没有这个状态 / no such status"]
    found["status"] = status
    try:
        found["year"] = int_arg(args.get("year"), "year", minimum=YEARS[0], maximum=YEARS[1])
    except ApiError as err:
        errors.update(err.fields)
    if errors:
        raise invalid(errors)
    return found


def report_id(text: str) -> int:
    """A report id from a path: ASCII digits, else no such report (404)."""
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        raise not_found(text[:CODE_MAX])
    return int(text)


# --- errors ----------------------------------------------------------------------------------


def unknown_cases(numbers: list[str]) -> ApiError:
    """The one answer for case ids a member may not put in a report, whether they exist or not."""
    shown = "、".join(numbers[:5])
    return ApiError(
        "not_found",
        f"未找到您名下的案件 {shown}",
        f"no case of yours: {', '.join(numbers[:5])}",
        fields={"cases": [f"未找到您名下的案件 {shown} / no case of yours: {shown}"]},
        status=400,
    )


def not_a_draft() -> ApiError:
    return ApiError(
        "submitted",
        "已报送的社情民意信息不能再修改",
        "a submitted report can no longer be changed",
        status=409,
    )


# --- the member's cases ----------------------------------------------------------------------


def own_cases(session: Session, member: str, limit: int = 200) -> list[Case]:
    """The cases a member may put in a report: those it holds (open or closed), newest first;
    not one merged into another (its 主案件 is the one to name)."""
    return list(
        session.scalars(
            select(Case)
            .where(Case.member_code == member, Case.status != "merged")
            .order_by(Case.received_at.desc())
            .limit(limit)
        )
    )


def _check_cases(session: Session, member: str, numbers: list[str]) -> None:
    # locked: a transfer of one of them waits for the report (or the report for the transfer)
    rows = session.scalars(
        select(Case.tracking_number)
        .where(
            Case.tracking_number.in_(numbers), Case.member_code == member, Case.status != "merged"
        )
        .order_by(Case.tracking_number)  # one lock order: two reports never deadlock
        .with_for_update()
    )
    missing = sorted(set(numbers) - set(rows))
    if missing:
        raise unknown_cases(missing)


def _check_sector(session: Session, member: MemberCopy, sector: str) -> None:
    if sector != member.sector and session.get(SectorCopy, sector) is None:
        raise invalid({"sector": [f"没有这个界别 {sector} / no sector {sector}"]})


def _member(session: Session, who: Principal) -> MemberCopy:
    member = session.get(MemberCopy, who.member or "")
    if member is None:  # a member account routing has not heard of yet
        raise ApiError(
            "unknown_member",
            "尚未收到您的委员信息，请稍后再试",
            "routing has not heard of your member record yet; try again shortly",
            status=409,
        )
    return member


# --- writes ----------------------------------------------------------------------------------


def _set_cases(session: Session, report: OpinionReport, numbers: list[str]) -> None:
    session.execute(delete(OpinionReportCase).where(OpinionReportCase.report_id == report.id))
    session.execute(
        insert(OpinionReportCase),
        [{"report_id": report.id, "tracking_number": n} for n in numbers],
    )


def create(session: Session, who: Principal, fields: dict) -> OpinionReport:
    """A member's new draft; the sector is the member's own unless it names another."""
    member = _member(session, who)
    sector = fields.get("sector") or member.sector
    _check_sector(session, member, sector)
    _check_cases(session, member.code, fields["cases"])
    at = now()
    report = OpinionReport(
        member_code=member.code,
        sector=sector,
        title=fields["title"],
        text=fields["text"],
        status="draft",
        created_at=at,
        updated_at=at,
    )
    session.add(report)
    session.flush()
    _set_cases(session, report, fields["cases"])
    return report


def _mine(session: Session, who: Principal, number: int) -> OpinionReport:
    """The caller's own report, locked: 404 if none, 403 if another's, 409 if submitted."""
    report = session.get(OpinionReport, number, with_for_update=True)
    if report is None:
        raise not_found(str(number))
    if who.role != "member" or report.member_code != who.member:
        raise auth.forbidden()
    if report.status != "draft":
        raise not_a_draft()
    return report


def update(session: Session, who: Principal, number: int, fields: dict) -> OpinionReport:
    """An edit of a draft: each field given replaces its value (``cases``: the whole list)."""
    report = _mine(session, who, number)
    if "sector" in fields:
        _check_sector(session, _member(session, who), fields["sector"])
        report.sector = fields["sector"]
    if "cases" in fields:
        _check_cases(session, report.member_code, fields["cases"])
        _set_cases(session, report, fields["cases"])
    for name in ("title", "text"):
        if name in fields:
            setattr(report, name, fields[name])
    report.updated_at = now()
    return report


def case_numbers(session: Session, number: int) -> list[str]:
    return list(
        session.scalars(
            select(OpinionReportCase.tracking_number)
            .where(OpinionReportCase.report_id == number)
            .order_by(OpinionReportCase.tracking_number)
        )
    )


def _common(session: Session, report: OpinionReport) -> dict:
    return {
        "report_id": report.id,
        "member": report.member_code,
        "sector": report.sector,
        "title": report.title,
        "cases": case_numbers(session, report.id),
    }


def submit(session: Session, who: Principal, number: int) -> OpinionReport:
    """The member sends its draft to the office: read-only from now; ``routing.report_submitted``."""
    report = _mine(session, who, number)
    at = now()
    report.status, report.submitted_at, report.updated_at = "submitted", at, at
    payload = {**_common(session, report), "submitted_at": at.isoformat()}
    outbox.record(session, "routing.report_submitted", payload, SOURCE, occurred_at=at)
    return report


def review(session: Session, who: Principal, number: int, given: dict) -> OpinionReport:
    """The office's outcome and note (a later review may change them); ``routing.report_reviewed``."""
    report = session.get(OpinionReport, number, with_for_update=True)
    if report is None or report.status == "draft":  # a draft is its member's alone
        raise not_found(str(number))
    if not who.is_office:
        raise auth.forbidden()
    at = now()
    actor = who.account
    report.status, report.note = given["outcome"], given["note"]
    report.reviewed_by, report.reviewed_at, report.updated_at = actor, at, at
    payload = {**_common(session, report), "outcome": report.status, "note": report.note}
    payload |= {"actor": actor, "at": at.isoformat()}
    outbox.record(session, "routing.report_reviewed", payload, SOURCE, occurred_at=at)
    return report
