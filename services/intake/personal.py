"""A citizen's name and phone (个人信息): masked wherever listed, whole only to those who must call
back, and every such view written to the audit log.

Stored sealed (``services.kernel.sealed``: issues.contact_name/contact_phone, submissions.raw_body,
parked station messages); they never leave intake (no event carries them, docs/messages.md).
Shown whole (``reveal``) only to the office, the station admin of the issue's station, and the
member the case is assigned to now (the member named by routing's latest event, mirrored in
``issue_steps``). ``python -m services.intake.personal rotate`` re-seals everything under the
first key of ``LIANXIN_PII_KEY`` (docs/security.md).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.models import ContactView, Issue, IssueStep, NoticeConsent, Submission
from services.kernel import auth, sealed
from services.kernel.http import not_found
from services.kernel.inbox import clip, json_bounds_error
from services.kernel.masking import mask_name, mask_phone

FIELDS = ("name", "phone")


def masked_contact(issue: Issue) -> dict | None:
    """The contact as every list and page shows it; None when the citizen left none."""
    if issue.contact_name is None and issue.contact_phone is None:
        return None
    return {"name": mask_name(issue.contact_name), "phone": mask_phone(issue.contact_phone)}


# What the parked list opens of a sealed station message to mask it: anything larger or deeper
# is not parsed at all (a body nested thousands of levels made json.loads raise RecursionError and
# took the whole list down, issue #20).
REDACT_MAX_BYTES = 64 * 1024
REDACT_MAX_DEPTH = 32


def redact_message(body: bytes) -> str:
    """A station message with its contact masked (what the parked list shows of it).

    Bounded whatever the body: its size and nesting are read from the bytes before it is parsed
    (:func:`services.kernel.inbox.json_bounds_error`, iterative); a body too large or too deep,
    or not JSON, is described, never shown (it is sealed: it may hold a name and a phone)."""
    too = json_bounds_error(body, REDACT_MAX_BYTES, REDACT_MAX_DEPTH)
    if too is not None:
        return f"(sealed, {len(body)} bytes, not shown: {too})"
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return f"(not JSON, {len(body)} bytes, sealed)"
    if isinstance(data, dict) and isinstance(data.get("contact"), dict):
        c = data["contact"]
        data["contact"] = {
            "name": mask_name(c.get("name")) if isinstance(c.get("name"), str) else None,
            "phone": mask_phone(c.get("phone")) if isinstance(c.get("phone"), str) else None,
        }
    elif isinstance(data, dict) and "contact" in data:
        data["contact"] = "(masked)"  # a contact of another shape: shown by no one
    return clip(json.dumps(data, ensure_ascii=False))


def assigned_member(session: Session, number: str) -> str | None:
    """Who has the case now, as routing's events told intake (None while it waits)."""
    member = None
    for step in session.scalars(
        select(IssueStep)
        .where(IssueStep.tracking_number == number)
        .order_by(IssueStep.occurred_at, IssueStep.id)
    ):
        if step.step == "routing.issue_waiting":
            member = None
        elif step.member_code:
            member = step.member_code
    return member


def may_reveal(session: Session, who: auth.Principal, issue: Issue) -> bool:
    """The office, the issue's station admin, the member who has the case: nobody else."""
    if who.may_station(issue.station_code):
        return True
    if who.role == "member" and who.member:
        return assigned_member(session, issue.tracking_number) == who.member
    return False


def may_call(session: Session, who: auth.Principal, number: str) -> None:
    """404 for an unknown number, 403 for anyone who may not reveal its contact."""
    issue = session.scalar(select(Issue).where(Issue.tracking_number == number))
    if issue is None:
        raise not_found(number)
    if not may_reveal(session, who, issue):
        raise auth.forbidden()


def reveal(
    session: Session,
    who: auth.Principal,
    number: str,
    address: str | None,
    reason: str | None = None,
) -> dict:
    """The citizen's name and phone, whole, for ``who`` to call back; written to the audit log.

    Raises 404 for an unknown number and 403 for anyone who may not see it (nothing is logged
    then: nothing was shown).
    """
    may_call(session, who, number)
    issue = session.scalar(select(Issue).where(Issue.tracking_number == number))
    shown = [f for f, v in zip(FIELDS, (issue.contact_name, issue.contact_phone), strict=True) if v]
    now = datetime.now(UTC)
    session.add(
        ContactView(
            account=who.account,
            role=who.role,
            tracking_number=number,
            fields=",".join(shown) or "-",
            reason=(reason or "").strip()[:200] or None,
            address=(address or "")[:64] or None,
            viewed_at=now,
        )
    )
    return {
        "tracking_number": number,
        "contact": {"name": issue.contact_name, "phone": issue.contact_phone},
        "logged_at": now.isoformat(),
    }


def audit_log(
    session: Session,
    number: str | None = None,
    account: str | None = None,
    limit: int = 100,
) -> list[dict]:
    """Who saw which personal data, when, from where: newest first."""
    query = select(ContactView).order_by(ContactView.id.desc()).limit(limit)
    if number:
        query = query.where(ContactView.tracking_number == number)
    if account:
        query = query.where(ContactView.account == account)
    return [
        {
            "account": v.account,
            "role": v.role,
            "tracking_number": v.tracking_number,
            "fields": [f for f in v.fields.split(",") if f in FIELDS],
            "reason": v.reason,
            "address": v.address,
            "viewed_at": v.viewed_at.isoformat(),
        }
        for v in session.scalars(query)
    ]


# -- key rotation ---------------------------------------------------------------------------------


def rotate(session: Session) -> dict:
    """Re-seal every sealed value under the current (first) key; returns how many of each."""
    from services.kernel.models import ParkedMessage

    counts = {"issues": 0, "submissions": 0, "parked": 0}
    for issue in session.scalars(select(Issue)):
        if issue.contact_name is not None or issue.contact_phone is not None:
            # reading opened them with any key; marked changed, they are written under the first
            _touch(issue, "contact_name", "contact_phone")
            counts["issues"] += 1
    for sub in session.scalars(select(Submission)):
        _touch(sub, "raw_body")
        counts["submissions"] += 1
    for consent in session.scalars(select(NoticeConsent).where(NoticeConsent.email.is_not(None))):
        _touch(consent, "email")  # the e-mail a citizen gave for notices (notices.py)
        counts["notice_emails"] = counts.get("notice_emails", 0) + 1
    ring = sealed.current()
    for p in session.scalars(select(ParkedMessage)):
        if sealed.is_sealed_body(p.body):
            p.body = sealed.BODY_MARK + ring.reseal(p.body[len(sealed.BODY_MARK) :])
            counts["parked"] += 1
    return counts


def _touch(row, *names) -> None:
    from sqlalchemy.orm.attributes import flag_modified

    for name in names:
        flag_modified(row, name)


def main(argv=None) -> int:
    """``python -m services.intake.personal rotate``: re-seal intake's personal data."""
    from services.kernel import config
    from services.kernel.db import make_engine

    argv = sys.argv[1:] if argv is None else argv
    if argv != ["rotate"]:
        print("usage: python -m services.intake.personal rotate", file=sys.stderr)
        return 2
    whole = config.load()
    sealed.configure(whole)
    engine = make_engine(whole["services"]["intake"]["db_url"])
    with Session(engine) as session, session.begin():
        counts = rotate(session)
    engine.dispose()
    print(json.dumps({"resealed": counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
