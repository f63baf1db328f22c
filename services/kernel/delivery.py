"""Delivering a text through a channel (e-mail over SMTP, SMS/WeChat through an HTTP gateway),
and the bookkeeping of a notice row's attempts: written once, used by routing's notices to
members (``services.routing.notify``) and intake's notices to citizens
(``services.intake.notices``).

The gateway is ``POST`` JSON ``{"channel", "to", "text", "key"}``; it is expected to treat
``key`` as idempotent, which is what makes a retry after a lost answer safe. An e-mail carries
the key as its Message-ID.

A notice row, whatever its table, has ``attempts``, ``channel``, ``status`` (pending, sent,
failed, …), ``next_attempt_at``, ``last_error`` and ``sent_at``: :func:`record_attempt` writes
one attempt's outcome on it (sent; retried after the next back-off step; failed after the last).
Quiet hours (:func:`quiet_until`) are read in Beijing time.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage

import requests

from services.kernel.dates import CHINA

SUBJECT = "连心 Lianxin 提醒"


@dataclass(frozen=True)
class DeliverySettings:
    """How texts leave the system: SMTP, an SMS/WeChat gateway, the retries (the ``notify``
    section of a service's settings; routing's ``NotifySettings`` adds its digest hour)."""

    smtp_host: str | None = None
    smtp_port: int = 25
    sender: str = "lianxin@localhost"
    gateway_url: str | None = None
    gateway_token: str | None = None
    retry_s: tuple[int, ...] = (10, 60, 300, 1800)
    timeout_s: float = 10

    @classmethod
    def from_section(cls, section: dict | None) -> DeliverySettings:
        """From a ``notify`` section; an empty value (``${SMTP_HOST:}``) is the default."""
        s = {k: v for k, v in (section or {}).items() if v not in (None, "", [], ())}
        d = cls()
        return cls(
            s.get("smtp_host", d.smtp_host),
            int(s.get("smtp_port", d.smtp_port)),
            s.get("sender", d.sender),
            s.get("gateway_url", d.gateway_url),
            s.get("gateway_token", d.gateway_token),
            tuple(int(x) for x in s.get("retry_s", d.retry_s)),
            float(s.get("timeout_s", d.timeout_s)),
        )


@dataclass
class Outcome:
    """What one delivery round did (each service's round fills the counts it knows)."""

    sent: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    digested: int = 0
    errors: list = field(default_factory=list)


def send(settings, channel: str, address: str, text: str, key: str, subject: str = SUBJECT):
    """Deliver one text through one channel; raises on any failure (the caller retries).

    ``settings`` is a :class:`DeliverySettings` or anything with the same names."""
    if channel == "email":
        if not settings.smtp_host:
            raise RuntimeError("no SMTP server configured")
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = settings.sender, address, subject
        msg["Message-ID"] = f"<{key.replace(':', '.')}@lianxin>"
        msg.set_content(text)
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.timeout_s
        ) as smtp:
            smtp.send_message(msg)
        return
    if not settings.gateway_url:
        raise RuntimeError("no SMS/WeChat gateway configured")
    headers = (
        {"Authorization": f"Bearer {settings.gateway_token}"} if settings.gateway_token else {}
    )
    r = requests.post(
        settings.gateway_url,
        timeout=settings.timeout_s,
        headers=headers,
        json={"channel": channel, "to": address, "text": text, "key": key},
    )
    if r.status_code >= 300:
        raise RuntimeError(f"gateway answered {r.status_code}: {r.text[:200]}")


def attempt(settings, channel: str, address: str, text: str, key: str) -> str | None:
    """:func:`send`, the error as text (None when it went out): the caller records it."""
    try:
        send(settings, channel, address, text, key)
    except Exception as exc:  # recorded and retried; the notice is kept either way
        return f"{type(exc).__name__}: {exc}"
    return None


def record_attempt(notice, channel: str, error: str | None, retry_s, now, out: Outcome) -> None:
    """One delivery attempt on a notice row: sent, retried later (back-off ``retry_s``), or
    failed after the last retry."""
    notice.attempts += 1
    notice.channel = channel
    if error is None:
        notice.status, notice.sent_at, notice.last_error = "sent", datetime.now(UTC), None
        out.sent += 1
        return
    out.errors.append(error)
    if notice.attempts > len(retry_s):
        notice.status, notice.last_error = "failed", error
        out.failed += 1
    else:
        notice.last_error = error
        notice.next_attempt_at = now + timedelta(seconds=retry_s[notice.attempts - 1])
        out.retried += 1


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def quiet_until(quiet_from: str | None, quiet_to: str | None, now: datetime) -> datetime | None:
    """The end of quiet hours (``"HH:MM"``, Beijing time, may span midnight) if ``now`` falls
    inside them, else None (also when either end is unset)."""
    if not (quiet_from and quiet_to):
        return None
    local = now.astimezone(CHINA)
    minute = local.hour * 60 + local.minute
    start, end = _minutes(quiet_from), _minutes(quiet_to)
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    until = datetime.combine(local.date(), time(end // 60, end % 60), CHINA)
    if until <= local:
        until += timedelta(days=1)
    return until.astimezone(UTC)
