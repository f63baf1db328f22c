"""Slowing abuse of the public channels: who the client is, and how many tries it has left.

Counters live in intake's database (``throttle_hits``), so the limits hold across every intake
process behind the proxy. Two kinds:

- Lookups (status page, /api/status, /status/action): each wrong tracking number/lookup code
  pair counts against the tracking number and against the client address. After
  ``LOOKUP_FREE`` failures in ``LOOKUP_WINDOW`` (per address: ``LOOKUP_FREE_ADDRESS``), the next
  try waits ``LOOKUP_FIRST_WAIT`` after the last failure, doubling with each further failure up
  to ``LOOKUP_MAX_WAIT``: 429 with Retry-After, the code not even checked meanwhile.
- Receipts (``/q/receipt/<id>``): each id that is not one the form was given counts against
  the client address, like a wrong lookup code (:func:`check_receipt`).
- Submissions (QR form, Open311 POST): at most ``limit_per_address`` per client address and
  ``limit_per_code`` per QR code (``limit_per_api_key`` per Open311 key) in ``limit_window_s``.
  Only submissions let through count against the code, so one address's flood cannot use up a
  code's allowance and shut out the citizens behind it. The limits are intake's settings
  (``IntakeSettings.limits``, defaults in ``services/intake/settings.py``).

The client address is the kernel's ``auth.client_address``: the socket's, or the X-Forwarded-For
address the trusted proxy (``security.trusted_proxies``) saw, never what a client claims.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from services.intake.models import ThrottleHit

LOOKUP_WINDOW = timedelta(hours=24)
LOOKUP_FREE = 5  # wrong codes per tracking number before the waits begin
LOOKUP_FREE_ADDRESS = 10  # per client address (many citizens may share one carrier address)
LOOKUP_FIRST_WAIT = 60  # seconds, doubling with each further failure
LOOKUP_MAX_WAIT = 3600


class Slowed(Exception):
    """Too many tries: wait ``retry_after`` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


# -- counters -------------------------------------------------------------------------------------


def _count(session: Session, bucket: str, key: str, since: datetime) -> tuple[int, datetime | None]:
    n, last = session.execute(
        select(func.count(), func.max(ThrottleHit.at)).where(
            ThrottleHit.bucket == bucket, ThrottleHit.key == key, ThrottleHit.at >= since
        )
    ).one()
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return n, last


_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def _serialize(session: Session, bucket: str, key: str) -> None:
    """On PostgreSQL, count-then-add for one counter takes turns across every intake process
    (until the transaction ends), so a burst cannot slip past a limit between the two."""
    if session.bind.dialect.name == "postgresql":
        session.execute(_LOCK, {"key": f"throttle:{bucket}:{key}"})


def _hit(session: Session, bucket: str, key: str, now: datetime) -> None:
    session.add(ThrottleHit(bucket=bucket, key=key[:200], at=now))


def prune(session: Session, now: datetime | None = None) -> int:
    """Forget hits older than any window (run now and then; the counts ignore them anyway)."""
    now = now or datetime.now(UTC)
    oldest = now - max(LOOKUP_WINDOW, timedelta(days=1))
    return session.execute(delete(ThrottleHit).where(ThrottleHit.at < oldest)).rowcount or 0


def lookup_wait(failures: int, last: datetime | None, free: int, now: datetime) -> int:
    """Seconds still to wait before the next lookup try (0: go ahead)."""
    if failures < free or last is None:
        return 0
    wait = min(LOOKUP_FIRST_WAIT * 2 ** (failures - free), LOOKUP_MAX_WAIT)
    left = (last + timedelta(seconds=wait) - now).total_seconds()
    return max(int(left + 0.999), 0)


def check_lookup(session: Session, number: str, address: str, now: datetime | None = None):
    """Raise :class:`Slowed` while the tracking number or the address must wait."""
    now = now or datetime.now(UTC)
    since = now - LOOKUP_WINDOW
    _serialize(session, "lookup_number", number)  # always the number first: no deadlock
    _serialize(session, "lookup_address", address)
    waits = [
        lookup_wait(*_count(session, "lookup_number", number, since), LOOKUP_FREE, now),
        lookup_wait(*_count(session, "lookup_address", address, since), LOOKUP_FREE_ADDRESS, now),
    ]
    if max(waits) > 0:
        raise Slowed(max(waits))


def lookup_failed(session: Session, number: str, address: str, now: datetime | None = None):
    now = now or datetime.now(UTC)
    _hit(session, "lookup_number", number or "-", now)
    _hit(session, "lookup_address", address, now)


def check_receipt(session: Session, address: str, now: datetime | None = None) -> None:
    """Receipts (``/q/receipt/<id>``) answer only to an id the form was given (signed): a wrong
    one is a guess, counted against the address like a wrong lookup code (the same free tries
    and doubling waits). Raise :class:`Slowed` while the address must wait."""
    now = now or datetime.now(UTC)
    _serialize(session, "receipt_address", address)
    failures, last = _count(session, "receipt_address", address, now - LOOKUP_WINDOW)
    wait = lookup_wait(failures, last, LOOKUP_FREE_ADDRESS, now)
    if wait > 0:
        raise Slowed(wait)


def receipt_failed(session: Session, address: str, now: datetime | None = None) -> None:
    _hit(session, "receipt_address", address, now or datetime.now(UTC))


def fingerprint(secret: str) -> str:
    """What a counter keeps of a secret it counts by (an Open311 api_key): not the secret."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:24]


def admit_submission(
    session: Session,
    channel: str,
    address: str,
    code: str,
    settings: Mapping[str, int],
    now: datetime | None = None,
) -> None:
    """Count one public submission, or raise :class:`Slowed` (nothing counted) when the address
    or the code (QR code, Open311 api_key) used up its allowance for the window."""
    now = now or datetime.now(UTC)
    window = timedelta(seconds=settings["limit_window_s"])
    per_code = settings["limit_per_api_key" if channel == "open311" else "limit_per_code"]
    for bucket, key, limit in (
        (f"{channel}_address", address, settings["limit_per_address"]),  # always first
        (f"{channel}_code", code, per_code),
    ):
        _serialize(session, bucket, key)
        n, _ = _count(session, bucket, key, now - window)
        if n >= limit:
            first = session.scalar(
                select(func.min(ThrottleHit.at)).where(
                    ThrottleHit.bucket == bucket,
                    ThrottleHit.key == key,
                    ThrottleHit.at >= now - window,
                )
            )
            first = first if first is None or first.tzinfo else first.replace(tzinfo=UTC)
            left = (first + window - now).total_seconds() if first else window.total_seconds()
            raise Slowed(max(int(left + 0.999), 1))
    _hit(session, f"{channel}_address", address, now)
    _hit(session, f"{channel}_code", code, now)
