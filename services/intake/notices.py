"""Notices to citizens (办理结果通知): only with the citizen's consent, written with routing's
event, never lost, never twice.

On the QR form a citizen may tick "办理有结果时通知我" (:func:`form_errors`, :func:`record_consent`):
SMS to the phone given on the form, and/or e-mail to an address given for notices only. The
consent is kept under the submission id (``notice_consents``; the e-mail sealed).

When routing says the member answered (``routing.issue_responded``), the case was reopened
(``routing.issue_reopened``, or a 不满意 rating that reopened it) or closed
(``routing.issue_resolved``, ``routing.issue_closed_unresolved``), :func:`on_event` writes one
notice row per channel for the issue and for every issue merged into it whose citizen consented,
in the same transaction as the event's inbox record (``intake.events``). The key (kind, issue,
channel, event id) is unique: a replayed event gives no second notice.

:func:`deliver_due` (intake's notice timer) sends what is due through the kernel's channels
(``services.kernel.delivery``: the SMS gateway, SMTP), outside quiet hours (Beijing time,
``notice_quiet_hours``), retries with back-off and records every attempt; after the last retry
the notice is ``failed``. The address is read from the issue (its sealed phone) or the consent
when it is sent, never copied into the notice. The text names the tracking number and the
status page, nothing about the member.
"""

from __future__ import annotations

import re
import time as time_module
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.intake import progress
from services.intake.models import CitizenNotice, Issue, NoticeConsent
from services.kernel import delivery
from services.kernel.db import insert_on_conflict
from services.kernel.delivery import Outcome

# routing's event → the notice it gives (a rating gives one only when it reopened the case)
KINDS = {
    "routing.issue_responded": "answered",
    "routing.issue_reopened": "reopened",
    "routing.issue_resolved": "closed",
    "routing.issue_closed_unresolved": "closed",
    "routing.issue_rated": "reopened",
}

TEXT = {
    "answered": "【连心】您反映的问题（受理编号 {number}）委员已答复，请查看：{link} / "
    "Lianxin: the member has answered your issue {number}: {link}",
    "reopened": "【连心】您反映的问题（受理编号 {number}）已重新办理，请留意进度：{link} / "
    "Lianxin: your issue {number} is being handled again: {link}",
    "closed": "【连心】您反映的问题（受理编号 {number}）已办结，欢迎查看结果并评价：{link} / "
    "Lianxin: your issue {number} is closed; see the result and rate it: {link}",
}

ROUND_S = 2  # how often intake's timer sends what is due
LEASE_S = 120  # a notice being sent is not sent by another process for this long

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_MAX = 200


# -- the consent, from the QR form ----------------------------------------------------------------


def form_errors(form) -> dict[str, list[str]]:
    """The notice fields of a posted QR form (``notify``, ``email``), checked; errors keyed by
    field, "中文 / English". A tick needs a phone or an e-mail to send to; an e-mail is taken
    only with the tick (it is asked for notices and nothing else)."""
    email = (form.get("email") or "").strip()
    ticked = bool(form.get("notify"))
    if email and (len(email) > EMAIL_MAX or not EMAIL.match(email)):
        return {"email": ["邮箱格式不正确 / invalid e-mail address"]}
    if email and not ticked:
        return {"notify": ["留下邮箱须勾选通知 / to leave an e-mail, tick the notice line"]}
    if ticked and not (email or (form.get("phone") or "").strip()):
        return {
            "notify": ["请填写电话或邮箱，才能通知您 / give a phone or an e-mail for the notice"]
        }
    return {}


def record_consent(session: Session, submission_id: str, form) -> None:
    """Keep the tick of a posted form (checked by :func:`form_errors`) under its submission id;
    without the tick nothing is kept (a form sent again without it withdraws it)."""
    row = session.get(NoticeConsent, submission_id)
    if not form.get("notify"):
        if row is not None:
            session.delete(row)
        return
    row = row or NoticeConsent(submission_id=submission_id)
    row.sms = bool((form.get("phone") or "").strip())
    row.email = (form.get("email") or "").strip() or None
    row.given_at = datetime.now(UTC)
    session.add(row)


OPEN311_FLAG = "attribute[notify]"
TRUE, FALSE = ("true", "1", "yes"), ("", "false", "0", "no")


def open311_problems(form) -> list[str]:
    """Open311 POST: notices (by e-mail only) when the client passes ``email`` and
    ``attribute[notify]=true``; a flag that is not a boolean, or true without an e-mail to send
    to, is a 400 on its field. Without the flag the e-mail is not kept for notices."""
    flag = (form.get(OPEN311_FLAG) or "").strip().lower()
    if flag not in TRUE + FALSE:
        return [f"{OPEN311_FLAG}: 须为 true 或 false / must be true or false"]
    if flag in FALSE:
        return []
    email = (form.get("email") or "").strip()
    if not email:
        return [f"{OPEN311_FLAG}: 须同时提供 email / needs an email to send the notices to"]
    if len(email) > EMAIL_MAX or not EMAIL.match(email):
        return ["email: 邮箱格式不正确 / invalid e-mail address"]
    return []


def open311_consent(form) -> dict | None:
    """The consent an Open311 POST (checked by :func:`open311_problems`) gives, for
    :func:`record_consent`; None without the flag."""
    if (form.get(OPEN311_FLAG) or "").strip().lower() not in TRUE:
        return None
    return {"notify": "1", "email": (form.get("email") or "").strip()}


# -- routing's events -----------------------------------------------------------------------------


def kind_of(event: dict) -> str | None:
    """The notice an event gives, or None."""
    kind = KINDS.get(event["type"])
    if kind is None or not event["payload"].get("tracking_number"):
        return None
    if event["type"] == "routing.issue_rated":
        p = event["payload"]
        reopened = p.get("reopened") or p.get("to_status") not in (None, p.get("from_status"))
        return kind if reopened else None
    return kind


def on_event(session: Session, event: dict, status_url: str) -> int:
    """Write the notices ``event`` gives, in the caller's transaction; how many are new.

    ``status_url`` is the public status page (``public_url(config, "intake") + "/status"``)."""
    kind = kind_of(event)
    if kind is None:
        return 0
    number = event["payload"]["tracking_number"]
    numbers = [number, *progress.followers(session, number)]
    rows = session.execute(
        select(
            Issue.tracking_number,
            Issue.submission_id,
            NoticeConsent.sms,
            NoticeConsent.email.is_not(None),
            Issue.contact_phone.is_not(None),
        )
        .join(NoticeConsent, NoticeConsent.submission_id == Issue.submission_id)
        .where(Issue.tracking_number.in_(numbers))
    ).all()
    made, now, connection = 0, datetime.now(UTC), session.connection()
    for tracking, submission_id, sms, has_email, has_phone in rows:
        link = f"{status_url}?number={quote(tracking)}"
        text = TEXT[kind].format(number=tracking, link=link)
        for channel in [c for c, on in (("sms", sms and has_phone), ("email", has_email)) if on]:
            made += connection.execute(
                _INSERT_NOTICE,
                {
                    "key": f"{kind}:{tracking}:{channel}:{event['event_id']}",
                    "tracking_number": tracking,
                    "submission_id": submission_id,
                    "kind": kind,
                    "channel": channel,
                    "text": text,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": None,
                    "created_at": now,
                    "sent_at": None,
                },
            ).rowcount
    return made


# A plain INSERT that does nothing when the key is there already (notices only grow).
_INSERT_NOTICE = insert_on_conflict(CitizenNotice.__table__, ["key"])


# -- delivery -------------------------------------------------------------------------------------


def deliver_due(
    session_factory, settings, quiet: tuple[str, str] | None, now=None, limit: int = 200
) -> Outcome:
    """Send the citizens' notices that are due, up to ``limit`` a round.

    ``settings``: the kernel's :class:`~services.kernel.delivery.DeliverySettings`; ``quiet``:
    the quiet hours ("HH:MM", Beijing time) or None. Inside them every due notice waits for
    their end. Each notice is sent outside any transaction and its attempt recorded after."""
    now = now or datetime.now(UTC)
    out = Outcome()
    with session_factory() as session:
        to_send = _due(session, now, limit, quiet, out)
    for notice_id, channel, address, text, key in to_send:
        time_module.sleep(0)  # under nameko a green thread: let waiting messages in between
        error = delivery.attempt(settings, channel, address, text, key)
        with session_factory() as session:
            notice = session.get(CitizenNotice, notice_id)
            delivery.record_attempt(notice, channel, error, settings.retry_s, now, out)
    return out


def _due(session: Session, now, limit: int, quiet, out: Outcome) -> list[tuple]:
    """Defer all due notices to the end of quiet hours, or the ones to send with addresses."""
    table = CitizenNotice.__table__
    due = table.c.status == "pending", table.c.next_attempt_at <= now
    until = delivery.quiet_until(*quiet, now) if quiet else None
    if until is not None:
        out.deferred = session.execute(
            update(table).where(*due).values(next_attempt_at=until)
        ).rowcount
        return []
    rows = session.execute(
        select(CitizenNotice, Issue.contact_phone, NoticeConsent.email)
        .join(Issue, Issue.tracking_number == CitizenNotice.tracking_number)
        .outerjoin(NoticeConsent, NoticeConsent.submission_id == CitizenNotice.submission_id)
        .where(*due)
        .order_by(CitizenNotice.id)
        .limit(limit)
    ).all()
    to_send, lease = [], now + timedelta(seconds=LEASE_S)
    for notice, phone, email in rows:
        address = phone if notice.channel == "sms" else email
        if not address:  # the consent was withdrawn or the contact erased since
            notice.status, notice.last_error = "skipped", "没有地址 / no address"
            out.skipped += 1
        elif _claim(session, notice.id, now, lease):
            to_send.append((notice.id, notice.channel, address, notice.text, notice.key))
    return to_send


def _claim(session: Session, notice_id: int, now, lease) -> bool:
    """Take a due notice for this process: several intake processes run the timer, and the one
    whose UPDATE finds it still due sends it (the others' find it leased). A process that dies
    while sending leaves it to be sent again once the lease ends (the key keeps it one SMS)."""
    table = CitizenNotice.__table__
    taken = session.execute(
        update(table)
        .where(table.c.id == notice_id, table.c.status == "pending")
        .where(table.c.next_attempt_at <= now)
        .values(next_attempt_at=lease)
    )
    return taken.rowcount == 1


def list_notices(
    session: Session, number: str | None = None, status: str | None = None, limit: int = 200
) -> list[dict]:
    """The notices, newest first (no address: it is the citizen's): ``GET /admin/notices``."""
    query = select(CitizenNotice).order_by(CitizenNotice.id.desc()).limit(limit)
    if number:
        query = query.where(CitizenNotice.tracking_number == number)
    if status:
        query = query.where(CitizenNotice.status == status)
    return [
        {
            "id": n.id,
            "tracking_number": n.tracking_number,
            "kind": n.kind,
            "channel": n.channel,
            "status": n.status,
            "attempts": n.attempts,
            "last_error": n.last_error,
            "created_at": n.created_at.isoformat(),
            "sent_at": n.sent_at.isoformat() if n.sent_at else None,
        }
        for n in session.scalars(query)
    ]
