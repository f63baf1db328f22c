"""Notices to members (提醒): written with the change, delivered by a channel, never lost,
never twice.

A case assigned or transferred to a member, due soon or overdue, gives that member a notice; an
escalation gives one to the station lead. Each notice is a row written in the same transaction
as the change (so it is as durable as the case) with a unique key per cause (so a replayed event
gives no second notice). :func:`deliver_due` sends what is due through the member's preferred
channel, honouring quiet hours and the daily digest, retries with back-off and records every
attempt; after the last retry the notice is ``failed`` and listed for the office.

Channels: e-mail over SMTP, and an HTTP gateway for SMS and WeChat (``POST`` JSON
``{"channel", "to", "text", "key"}``; the gateway is expected to treat ``key`` as idempotent,
which is what makes a retry after a lost answer safe). The sending itself, the retry bookkeeping
and the quiet-hour rule are the kernel's (``services.kernel.delivery``), shared with intake's
notices to citizens.
"""

from __future__ import annotations

import time as time_module
from datetime import UTC, datetime

from marshmallow import ValidationError, fields, validate, validates_schema
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.kernel import delivery
from services.kernel.db import insert_on_conflict
from services.kernel.delivery import Outcome
from services.kernel.masking import mask_address
from services.routing.inputs import TYPE_MESSAGES, Body
from services.routing.models import Notice, NotificationSetting
from services.routing.settings import NotifySettings
from services.routing.workdays import CHINA

KIND_TEXT = {
    "assigned": "【连心】您有新的群众问题待办理：{number}，请及时接单答复。",
    "transferred": "【连心】有一件转办的群众问题交给您：{number}，请及时接单答复。",
    "due_soon": "【连心】问题 {number} 即将到期，请尽快答复或办结。",
    "overdue": "【连心】问题 {number} 已超期，请立即办理。",
    "escalated": "【连心】督办：本站问题 {number} 已超期，请督促办理。",
    "reminded": "【连心】工作站催办：问题 {number} 请尽快办理答复。",
}


def queue_notice(session: Session, member: str | None, kind: str, number: str, cause: str):
    """Write a notice in the caller's transaction; a cause already noticed adds nothing."""
    if not member:
        return
    key = f"{kind}:{number}:{member}:{cause}"
    connection = session.connection()
    at = datetime.now(UTC)
    connection.execute(
        _INSERT_NOTICE,
        {
            "key": key,
            "member_code": member,
            "kind": kind,
            "tracking_number": number,
            "text": KIND_TEXT[kind].format(number=number),
            "status": "pending",
            "channel": None,
            "attempts": 0,
            "next_attempt_at": at,
            "last_error": None,
            "created_at": at,
            "sent_at": None,
        },
    )


# A plain INSERT that does nothing when the key is there already (notices only grow).
_INSERT_NOTICE = insert_on_conflict(Notice.__table__, ["key"])


def quiet_until(setting: NotificationSetting, now: datetime) -> datetime | None:
    """The end of the member's quiet hours if ``now`` falls inside them, else None."""
    return delivery.quiet_until(setting.quiet_from, setting.quiet_to, now)


def send_round(session_factory, settings: NotifySettings) -> Outcome:
    """What the notice timer does: the digests (at their hour), then whatever is due."""
    with session_factory() as session:
        make_digests(session, settings)
    return deliver_due(session_factory, settings)


def deliver_due(
    session_factory, settings: NotifySettings, now: datetime | None = None, limit: int = 1000
) -> Outcome:
    """Send the notices that are due, up to ``limit`` a round.

    What becomes of each is decided for all of them in one transaction (:func:`_sort_due`):
    skipped (the member set no channel), folded into the digest, or deferred to the end of
    quiet hours. Only those left are sent, each in its own short transactions around the I/O.
    (A member with no channel is the common case: deciding those one transaction each capped a
    round at 100 notices, 20 a second, under a busy day's assignments.)
    """
    now = now or datetime.now(UTC)
    out = Outcome()
    with session_factory() as session:
        to_send = _sort_due(session, now, limit, out)
    for notice_id, channel, address, text, key in to_send:
        time_module.sleep(0)  # under nameko a green thread: let waiting messages in between
        error = delivery.attempt(settings, channel, address, text, key)
        with session_factory() as session:
            _record_attempt(session.get(Notice, notice_id), channel, error, settings, now, out)
    return out


def _sort_due(session: Session, now: datetime, limit: int, out: Outcome) -> list[tuple]:
    """Skip, fold into the digest or defer each due notice; the ones to send now."""
    due = session.execute(
        select(Notice.id, Notice.kind, Notice.text, Notice.key, NotificationSetting)
        .outerjoin(NotificationSetting, NotificationSetting.member_code == Notice.member_code)
        .where(Notice.status == "pending", Notice.next_attempt_at <= now)
        .order_by(Notice.id)
        .limit(limit)
    ).all()
    skipped, digested, deferred, to_send = [], [], {}, []
    for notice_id, kind, text, key, setting in due:
        if setting is None or setting.channel == "none":
            skipped.append(notice_id)
        elif setting.digest and kind != "digest":
            digested.append(notice_id)
        elif (until := quiet_until(setting, now)) is not None:
            deferred.setdefault(until, []).append(notice_id)
        else:
            to_send.append((notice_id, setting.channel, setting.address, text, key))
    _set(session, skipped, status="skipped", last_error="没有提醒方式 / no channel set")
    _set(session, digested, status="digested")
    for until, ids in deferred.items():
        _set(session, ids, next_attempt_at=until)
    out.skipped, out.digested = len(skipped), len(digested)
    out.deferred = sum(len(ids) for ids in deferred.values())
    return to_send


def _set(session: Session, ids: list[int], **values) -> None:
    if ids:
        notices = Notice.__table__
        session.execute(update(notices).where(notices.c.id.in_(ids)).values(**values))


def _record_attempt(notice, channel, error, settings: NotifySettings, now, out: Outcome) -> None:
    """One delivery attempt: sent, retried later (back-off), or failed after the last retry."""
    delivery.record_attempt(notice, channel, error, settings.retry_s, now, out)


def make_digests(session: Session, settings: NotifySettings, now: datetime | None = None) -> int:
    """At the digest hour (Beijing), gather each digest member's waiting notices into one."""
    now = now or datetime.now(UTC)
    local = now.astimezone(CHINA)
    if local.hour != settings.digest_hour:
        return 0
    made = 0
    waiting = session.scalars(select(Notice).where(Notice.status == "digested")).all()
    by_member: dict[str, list[Notice]] = {}
    for n in waiting:
        by_member.setdefault(n.member_code, []).append(n)
    for member, notices in by_member.items():
        key = f"digest:{member}:{local.date().isoformat()}"
        if session.scalar(select(Notice.id).where(Notice.key == key)) is not None:
            continue
        lines = "\n".join(f"- {n.text}" for n in notices)
        session.add(
            Notice(
                key=key,
                member_code=member,
                kind="digest",
                tracking_number=None,
                text=f"【连心】今日提醒汇总（{len(notices)} 条）：\n{lines}",
                status="pending",
                next_attempt_at=now,
            )
        )
        for n in notices:
            n.status = "in_digest"
        made += 1
    return made


class SettingSchema(Body):
    """``PUT /members/<code>/notifications``: unknown fields and wrong types refused, bilingual."""

    channel = fields.String(
        required=True,
        error_messages=TYPE_MESSAGES,
        validate=validate.OneOf(
            ("email", "sms", "wechat", "none"),
            error="须为 email/sms/wechat/none / must be one of {choices}",
        ),
    )
    address = fields.String(
        load_default="",
        validate=validate.Length(max=200, error="最多 200 字 / at most 200 characters"),
        error_messages=TYPE_MESSAGES,
    )
    quiet_from = fields.String(
        load_default=None,
        allow_none=True,
        error_messages=TYPE_MESSAGES,
        validate=validate.Regexp(
            r"^([01]\d|2[0-3]):[0-5]\d$", error="格式应为 HH:MM / must be HH:MM"
        ),
    )
    quiet_to = fields.String(
        load_default=None,
        allow_none=True,
        error_messages=TYPE_MESSAGES,
        validate=validate.Regexp(
            r"^([01]\d|2[0-3]):[0-5]\d$", error="格式应为 HH:MM / must be HH:MM"
        ),
    )
    digest = fields.Boolean(
        load_default=False,
        error_messages={**TYPE_MESSAGES, "invalid": "须为 true 或 false / must be true or false"},
    )

    @validates_schema
    def _address(self, data, **kwargs):
        channel, address = data["channel"], data.get("address", "")
        if channel == "email" and "@" not in address:
            raise ValidationError({"address": ["邮箱格式不正确 / invalid e-mail address"]})
        if channel in ("sms", "wechat") and not address:
            raise ValidationError(
                {"address": ["请填写手机号或微信号 / give the phone or WeChat id"]}
            )
        if bool(data.get("quiet_from")) != bool(data.get("quiet_to")):
            raise ValidationError({"quiet_to": ["请同时填写开始和结束 / give both ends"]})


def save_setting(session: Session, member: str, data: dict) -> NotificationSetting:
    d = SettingSchema().load(data)
    row = session.get(NotificationSetting, member) or NotificationSetting(member_code=member)
    row.channel, row.address, row.digest = d["channel"], d["address"], d["digest"]
    row.quiet_from, row.quiet_to = d["quiet_from"], d["quiet_to"]
    session.add(row)
    return row


def setting_view(session: Session, member: str) -> dict:
    row = session.get(NotificationSetting, member)
    if row is None:
        return {"member": member, "channel": "none"}
    return {
        "member": member,
        "channel": row.channel,
        "address": mask_address(row.address),
        "quiet_from": row.quiet_from,
        "quiet_to": row.quiet_to,
        "digest": row.digest,
    }


def list_notices(
    session: Session, status: str | None = None, member: str | None = None, limit: int = 200
) -> list[dict]:
    query = select(Notice).order_by(Notice.id.desc()).limit(limit)
    if status:
        query = query.where(Notice.status == status)
    if member:
        query = query.where(Notice.member_code == member)
    return [
        {
            "id": n.id,
            "member": n.member_code,
            "kind": n.kind,
            "tracking_number": n.tracking_number,
            "status": n.status,
            "channel": n.channel,
            "attempts": n.attempts,
            "last_error": n.last_error,
            "sent_at": n.sent_at.isoformat() if n.sent_at else None,
        }
        for n in session.scalars(query)
    ]
