"""Intake rules (plain Python): a station message becomes an issue, or a rejected submission.

Nothing that reached a queue is dropped: a body that is not JSON, misses fields or has a wrong
type is stored as a rejected submission with a field-level reason (Chinese / English) and
announced as ``intake.submission_rejected``. A submission id seen before gives no second issue.
"""

from __future__ import annotations

import codecs
import json
import secrets
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from marshmallow import ValidationError
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from services.intake.models import (
    CopyRevisions,
    Issue,
    IssueStep,
    KnownCategory,
    KnownMember,
    KnownStation,
    KnownStudio,
    Submission,
)
from services.intake.personal import masked_contact
from services.intake.schemas import IssueReceivedSchema, SubmissionSchema, bilingual
from services.kernel import copies, logs, outbox
from services.kernel.copies import CopyMemo
from services.kernel.messaging import Delivery

SOURCE = "intake"
CHINA = ZoneInfo("Asia/Shanghai")
# A submission is a few kilobytes of text; anything far bigger is refused (and kept as rejected).
MAX_BODY_BYTES = 64 * 1024


def tracking_number(issue_id: int, received_at: datetime) -> str:
    """``LX`` + the Beijing-time date + the issue's number: LX20261127000042."""
    return f"LX{received_at.astimezone(CHINA):%Y%m%d}{issue_id:06d}"


def station_of_queue(queue: str) -> str:
    return queue.removeprefix("station.")


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a content type (``application/json; charset=gbk`` → gbk)."""
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"').lower()
    return None


def decode_body(body: bytes, content_type: str | None) -> tuple[object, dict | None]:
    """The body as JSON, decoded with the charset the message names (UTF-8 if none).

    Returns ``(data, None)`` or ``(None, errors)`` with the reason under ``_body``.
    """
    if len(body) > MAX_BODY_BYTES:
        return None, {
            "_body": [
                f"内容过大（{len(body)} 字节，上限 {MAX_BODY_BYTES}）/ "
                f"body too large ({len(body)} bytes, limit {MAX_BODY_BYTES})"
            ]
        }
    charset = charset_of(content_type)
    if charset is not None:
        try:
            codecs.lookup(charset)
        except LookupError:
            return None, {"_body": [f"未知字符集 {charset} / unknown charset {charset}"]}
    try:
        text = body.decode(charset or "utf-8")
    except UnicodeDecodeError:
        if charset is None:
            reason = (
                "内容不是 UTF-8，且消息未声明字符集 / body is not UTF-8 and the message names no "
                "charset (send content_type 'application/json; charset=gbk')"
            )
        else:
            reason = f"内容不是有效的 {charset} 编码 / body is not valid {charset}"
        return None, {"_body": [reason]}
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, {"_body": [f"内容不是有效的 JSON / body is not JSON: {exc}"]}


def check_references(session: Session, sub: dict) -> dict:
    """Field errors for codes intake's copies do not know (member, studio, category)."""
    errors = {}
    member = sub.get("member")
    if member is not None:
        row = session.get(KnownMember, member)
        if row is None or not row.active:
            errors["member"] = [f"没有编号为 {member} 的在任委员 / no active member {member}"]
    studio = sub.get("studio")
    if studio is not None:
        row = session.get(KnownStudio, studio)
        if row is None or not row.active:
            errors["studio"] = [f"没有编号为 {studio} 的委员工作室 / no active studio {studio}"]
    same_as = sub.get("same_as")
    if same_as is not None and (
        session.scalar(select(Issue.id).where(Issue.tracking_number == same_as)) is None
    ):
        errors["same_as"] = [f"没有受理编号为 {same_as} 的问题 / no issue {same_as}"]
    # Until routing's catalogue has reached intake, any code is taken (routing checks it again).
    known = category_codes(session)
    if known and sub["category"] not in known:
        errors["category"] = [
            f"问题类别 {sub['category']} 不在目录中 / unknown category {sub['category']}"
        ]
    return errors


def receive(session: Session, delivery: Delivery) -> dict:
    """Turn one station-queue message into an issue, a duplicate, or a rejected submission."""
    station = station_of_queue(delivery.queue)
    data, body_errors = decode_body(delivery.body, delivery.content_type)
    if body_errors is not None:
        return _reject(session, delivery, None, body_errors)
    if not isinstance(data, dict):
        return _reject(
            session,
            delivery,
            None,
            {"_body": ["内容必须是 JSON 对象 / body must be a JSON object"]},
        )
    submission_id = (
        data.get("submission_id") if isinstance(data.get("submission_id"), str) else None
    )
    if submission_id is not None and len(submission_id) > 64:
        submission_id = None  # too long to be one; the field error says so
    try:
        sub = _SUBMISSION.load(data)
    except ValidationError as err:
        return _reject(session, delivery, submission_id, bilingual(err.messages))
    if sub["station"] != station:
        return _reject(
            session,
            delivery,
            submission_id,
            {
                "station": [
                    f"与队列的工作站 {station} 不一致 / does not match the queue's station {station}"
                ]
            },
        )
    reference_errors = check_references(session, sub)
    if reference_errors:
        return _reject(session, delivery, submission_id, reference_errors)

    # The hot path (every issue): plain statements on the session's connection, no ORM objects.
    conn = session.connection()
    existing = conn.execute(_NUMBER_OF_SUBMISSION, {"sid": sub["submission_id"]}).scalar()
    if existing is not None:
        session.add(
            Submission(
                submission_id=sub["submission_id"],
                queue=delivery.queue,
                status="duplicate",
                raw_body=delivery.body,
                tracking_number=existing,
            )
        )
        return {"status": "duplicate", "tracking_number": existing}

    now = datetime.now(UTC)
    contact = sub.get("contact") or {}
    issue = {
        "lookup_code": f"{secrets.randbelow(10**6):06d}",
        "submission_id": sub["submission_id"],
        "station_code": station,
        "channel": sub["channel"],
        "category": sub["category"],
        "description": sub["description"],
        "place": sub.get("place"),
        "member_code": sub.get("member"),
        "studio_code": sub.get("studio"),
        "activity_id": sub.get("activity"),
        "contact_name": contact.get("name"),
        "contact_phone": contact.get("phone"),
        "submitted_at": sub.get("submitted_at") or now,
        "received_at": now,
        "same_as": sub.get("same_as"),
    }
    issue_id = conn.execute(_INSERT_ISSUE, issue).inserted_primary_key[0]
    number = issue["tracking_number"] = tracking_number(issue_id, now)  # the id makes it
    conn.execute(_SET_NUMBER, {"issue_id": issue_id, "number": number})
    logs.bind(tracking_number=number)
    conn.execute(
        _INSERT_SUBMISSION,
        {
            "submission_id": sub["submission_id"],
            "queue": delivery.queue,
            "status": "accepted",
            "errors": None,
            "raw_body": delivery.body,
            "tracking_number": number,
            "received_at": now,
        },
    )
    outbox.record(
        session,
        "intake.issue_received",
        _ISSUE_RECEIVED.dump(SimpleNamespace(**issue)),
        SOURCE,
        occurred_at=now,
    )
    return {"status": "accepted", "tracking_number": number}


_ISSUES = Issue.__table__
_NUMBER_OF_SUBMISSION = select(_ISSUES.c.tracking_number).where(
    _ISSUES.c.submission_id == bindparam("sid")
)
_INSERT_ISSUE = insert(_ISSUES)
_SET_NUMBER = (
    update(_ISSUES)
    .where(_ISSUES.c.id == bindparam("issue_id"))
    .values(tracking_number=bindparam("number"))
)
_INSERT_SUBMISSION = insert(Submission.__table__)
_ISSUE_RECEIVED = IssueReceivedSchema()
_SUBMISSION = SubmissionSchema()


def _reject(session, delivery, submission_id, errors: dict) -> dict:
    now = datetime.now(UTC)
    session.add(
        Submission(
            submission_id=submission_id,
            queue=delivery.queue,
            status="rejected",
            errors=json.dumps(errors, ensure_ascii=False),
            raw_body=delivery.body,
            received_at=now,
        )
    )
    outbox.record(
        session,
        "intake.submission_rejected",
        {
            "station": station_of_queue(delivery.queue),
            "submission_id": submission_id,
            "errors": errors,
            "received_at": now.isoformat(),
        },
        SOURCE,
        occurred_at=now,
    )
    return {"status": "rejected", "errors": errors}


def apply_catalogue(session: Session, event: dict) -> None:
    """Keep the category copy: the announced catalogue replaces the last one whole."""
    categories = event["payload"]["categories"]
    announced = {c["code"] for c in categories}
    copies.bump(session, CopyRevisions, "catalogue")
    for row in session.scalars(select(KnownCategory)):
        row.active = row.code in announced
    for position, c in enumerate(categories):
        row = session.get(KnownCategory, c["code"]) or KnownCategory(code=c["code"])
        row.name, row.name_en, row.position, row.active = c["name"], c["name_en"], position, True
        session.add(row)


_CATALOGUE = CopyMemo(CopyRevisions, "catalogue")
_ACTIVE_CODES = select(KnownCategory.__table__.c.code).where(KnownCategory.__table__.c.active)


def category_codes(session: Session) -> frozenset[str]:
    """The active category codes, read again only when the catalogue copy changed."""
    return _CATALOGUE.get(
        session, "codes", lambda: frozenset(session.connection().execute(_ACTIVE_CODES).scalars())
    )


def categories(session: Session) -> list[dict]:
    """The categories a citizen may choose, in the catalogue's order."""
    return [
        {"code": c.code, "name": c.name, "name_en": c.name_en}
        for c in session.scalars(
            select(KnownCategory).where(KnownCategory.active).order_by(KnownCategory.position)
        )
    ]


def apply_event(session: Session, event: dict) -> str | None:
    """Keep intake's copies; returns the code of a station that is new or changed."""
    kind, p = event["type"], event["payload"]
    if kind == "routing.catalogue_published":
        apply_catalogue(session, event)
        return None
    if kind.startswith("routing.") and p.get("tracking_number"):
        _record_step(session, event)
        if kind == "routing.issue_merged":
            issue = session.scalar(
                select(Issue).where(Issue.tracking_number == p["tracking_number"])
            )
            if issue is not None:
                issue.merged_into = p["into"]
        return None
    if kind == "registry.member_saved":
        row = _newer(session, KnownMember, p)
        if row is not None:
            row.name, row.active, row.revision = p["name"], p["active"], p["revision"]
            row.stations = json.dumps([s["station"] for s in p.get("stations", [])])
        return None
    if kind == "registry.studio_saved":
        row = _newer(session, KnownStudio, p)
        if row is not None:
            row.name, row.active, row.revision = p["name"], p["active"], p["revision"]
            row.station_code = p.get("station")
        return None
    if kind != "registry.station_saved":
        return None
    row = _newer(session, KnownStation, p)
    if row is None:
        return None  # an older or repeated announcement
    row.name, row.active, row.revision = p["name"], p["active"], p["revision"]
    row.district = p.get("district")
    return row.code


def _newer(session: Session, model, payload: dict):
    """The copy row to update, or None when the announcement is not newer than what we have."""
    row = session.get(model, payload["code"])
    if row is not None and row.revision >= payload["revision"]:
        return None
    if row is None:
        row = model(code=payload["code"])
        session.add(row)
    return row


def _record_step(session: Session, event: dict) -> None:
    occurred = event["occurred_at"]  # parse_event gives a datetime; a plain dict gives text
    if isinstance(occurred, str):
        occurred = datetime.fromisoformat(occurred)
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    session.connection().execute(
        _INSERT_STEP,
        {
            "tracking_number": event["payload"]["tracking_number"],
            "step": event["type"],
            "occurred_at": occurred,
            "answer": event["payload"].get("answer"),
            "member_code": event["payload"].get("member"),
        },
    )


_INSERT_STEP = insert(IssueStep.__table__)  # one per progress event: a plain INSERT


def known_station_codes(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(KnownStation.code).where(KnownStation.active).order_by(KnownStation.code)
        )
    )


def issue_status(session: Session, number: str) -> dict | None:
    """An issue for staff: the contact masked (whole only through POST /issues/<n>/contact)."""
    issue = session.scalar(select(Issue).where(Issue.tracking_number == number))
    if issue is None:
        return None
    return {
        "tracking_number": issue.tracking_number,
        "station": issue.station_code,
        "category": issue.category,
        "received_at": issue.received_at.isoformat(),
        "contact": masked_contact(issue),
    }


# What each step of routing's case lifecycle means to the citizen (services/routing/lifecycle.py);
# a step routing adds later shows as "处理中 / in progress".
STEP_LABELS = {
    "intake.issue_received": ("已受理", "received"),
    "routing.issue_waiting": ("等待分派委员", "waiting for a member"),
    "routing.issue_assigned": ("已派给委员办理", "assigned to a member"),
    "routing.issue_accepted": ("委员已接单", "accepted by the member"),
    "routing.issue_responded": ("委员已答复", "the member replied"),
    "routing.issue_resolved": ("已办结", "resolved"),
    "routing.issue_closed_unresolved": ("已关闭（未解决）", "closed, not resolved"),
    "routing.issue_transferred": ("已转交办理", "transferred"),
    "routing.issue_reopened": ("重新办理", "reopened"),
    "routing.issue_escalated": ("已督办", "escalated"),
    "routing.issue_rated": ("已评价", "rated"),
    "routing.issue_merged": (
        "已与其他群众反映的同一问题合并办理",
        "merged with the same problem others reported: handled as one",
    ),
}
ANSWER_STEPS = {
    "routing.issue_responded",
    "routing.issue_resolved",
    "routing.issue_closed_unresolved",
}
MAX_CHAIN = 50
# Deadline reminders are the office's business, not progress the citizen needs to read.
HIDDEN_STEPS = {"routing.issue_due_soon", "routing.issue_overdue"}
CLOSING_STEPS = {"routing.issue_resolved", "routing.issue_closed_unresolved"}
REOPENING_STEPS = {"routing.issue_reopened", "routing.issue_transferred", "routing.issue_assigned"}


def has_step(session: Session, number: str, step: str) -> bool:
    return (
        session.scalar(
            select(IssueStep.id)
            .where(IssueStep.tracking_number == number, IssueStep.step == step)
            .limit(1)
        )
        is not None
    )


def is_closed(steps: list[str]) -> bool:
    """Closed once resolved or closed unresolved, until reopened (rating keeps it closed)."""
    closed = False
    for step in steps:
        if step in CLOSING_STEPS:
            closed = True
        elif step in REOPENING_STEPS:
            closed = False
    return closed


def main_of(session: Session, issue: Issue) -> Issue:
    """The issue whose case ``issue`` follows once merged (主案件); the issue itself if never."""
    seen = {issue.tracking_number}
    current = issue
    while current.merged_into and len(seen) < MAX_CHAIN:
        following = session.scalar(
            select(Issue).where(Issue.tracking_number == current.merged_into)
        )
        if following is None or following.tracking_number in seen:
            break
        seen.add(following.tracking_number)
        current = following
    return current


def followers(session: Session, number: str) -> list[str]:
    """The issues that follow ``number``, directly or through others, as intake heard of them."""
    found: list[str] = []
    frontier = [number]
    while frontier and len(found) < 10_000:
        rows = [
            n
            for n in session.scalars(
                select(Issue.tracking_number).where(Issue.merged_into.in_(frontier))
            )
            if n not in found and n != number
        ]
        found += rows
        frontier = rows
    return found


def case_to_act_on(session: Session, number: str) -> str:
    """A citizen's rating or reopening of a merged issue is about the case it follows."""
    issue = session.scalar(select(Issue).where(Issue.tracking_number == number))
    return main_of(session, issue).tracking_number if issue is not None else number


def _steps(session: Session, issue: Issue) -> list[tuple[str, datetime, str | None]]:
    steps = [("intake.issue_received", issue.received_at, None)]
    steps += [
        (s.step, s.occurred_at, s.answer)
        for s in session.scalars(
            select(IssueStep)
            .where(IssueStep.tracking_number == issue.tracking_number)
            .order_by(IssueStep.occurred_at, IssueStep.id)
        )
        if s.step not in HIDDEN_STEPS
    ]
    return steps


def public_status(session: Session, number: str, lookup_code: str) -> dict | None:
    """A case's progress for whoever holds its tracking number and lookup code; nothing else.

    No names, phone numbers, member codes or reasons: only what happened and when, and the
    member's answer. A merged issue shows its own steps up to the merge, then the progress of
    the case it follows (its status, its answer): every reporter of one problem reads the same.
    """
    issue = session.scalar(select(Issue).where(Issue.tracking_number == number))
    given = (lookup_code or "").encode("utf-8")
    if issue is None or not secrets.compare_digest(issue.lookup_code.encode("utf-8"), given):
        return None
    own = _steps(session, issue)
    main = main_of(session, issue)
    if main is issue:
        timeline = progress = own
    else:
        progress = _steps(session, main)
        merged_at = max((at for step, at, _ in own if step == "routing.issue_merged"), default=None)
        timeline = own + [s for s in progress[1:] if merged_at is None or s[1] > merged_at]
    shown = []
    for step, at, answer in timeline:
        zh, en = STEP_LABELS.get(step, ("处理中", "in progress"))
        shown.append(
            {"step": step, "label_zh": zh, "label_en": en, "at": at.isoformat(), "answer": answer}
        )
    current, current_at, _ = progress[-1]
    zh, en = STEP_LABELS.get(current, ("处理中", "in progress"))
    answers = [(at, answer) for step, at, answer in progress if step in ANSWER_STEPS and answer]
    return {
        "tracking_number": issue.tracking_number,
        "category": issue.category,
        "received_at": issue.received_at.isoformat(),
        "status": current,
        "status_zh": zh,
        "status_en": en,
        "closed": is_closed([step for step, _, _ in progress]),
        "answer": answers[-1][1] if answers else None,
        "answered_at": answers[-1][0].isoformat() if answers else None,
        "merged": main is not issue,
        "reporters": 1 + len(followers(session, main.tracking_number)),
        "steps": shown,
    }


def submission_result(session: Session, submission_id: str) -> dict | None:
    """What became of a submission, for the channel that sent it (HTTP waits on this).

    An accepted or duplicate one comes with the tracking number and its lookup code.
    """
    sub = session.scalar(
        select(Submission)
        .where(Submission.submission_id == submission_id)
        .order_by(Submission.id)
        .limit(1)
    )
    if sub is None:
        return None
    if sub.status == "rejected":
        return {"status": "rejected", "errors": json.loads(sub.errors) if sub.errors else {}}
    issue = session.scalar(select(Issue).where(Issue.tracking_number == sub.tracking_number))
    return {
        "status": sub.status,
        "tracking_number": sub.tracking_number,
        "lookup_code": issue.lookup_code,
    }


def known_member(session: Session, code: str) -> dict | None:
    row = session.get(KnownMember, code)
    if row is None or not row.active:
        return None
    return {"code": row.code, "name": row.name, "stations": json.loads(row.stations)}


def known_studio(session: Session, code: str) -> dict | None:
    row = session.get(KnownStudio, code)
    if row is None or not row.active:
        return None
    return {"code": row.code, "name": row.name, "station": row.station_code}


def known_station(session: Session, code: str) -> dict | None:
    row = session.get(KnownStation, code)
    if row is None or not row.active:
        return None
    return {"code": row.code, "name": row.name}


def submission_view(s: Submission) -> dict:
    return {
        "id": s.id,
        "submission_id": s.submission_id,
        "station": station_of_queue(s.queue),
        "status": s.status,
        "tracking_number": s.tracking_number,
        "errors": json.loads(s.errors) if s.errors else None,
        "received_at": s.received_at.isoformat(),
    }


def submissions(
    session: Session, submission_id: str | None = None, status: str | None = None, limit: int = 100
) -> list[dict]:
    """Submissions as received, newest first: how a channel learns what became of its message."""
    query = select(Submission).order_by(Submission.id.desc()).limit(limit)
    if submission_id:
        query = query.where(Submission.submission_id == submission_id)
    if status:
        query = query.where(Submission.status == status)
    return [submission_view(s) for s in session.scalars(query)]


def counts(session: Session) -> dict:
    rows = session.execute(select(Submission.status, func.count()).group_by(Submission.status))
    return {status: n for status, n in rows}
