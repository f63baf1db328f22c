"""The sign-in throttle: wrong passwords slow down the guessing, not the honest.

After ``max_failures`` failures for one login, or ``max_failures_per_address`` from one
address, within ``window_s`` seconds, every attempt for that login or from that address is
refused with "try again in N seconds" until the oldest failure leaves the window, even with
the right password (else the throttle would only slow the honest). Failures are rows of
``sign_in_failures`` keyed ``login:<x>`` or ``addr:<ip>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.kernel.http import ApiError
from services.registry.models import SignInFailure


@dataclass(frozen=True)
class Throttle:
    """The limits (``security.sign_in_*`` in the deployment file; these are the defaults)."""

    max_failures: int = 5  # per login
    max_failures_per_address: int = 20
    window_s: int = 900


def wait(seconds: int) -> tuple[str, str]:
    """'Try again in N minutes', Chinese and English."""
    minutes = max(1, (seconds + 59) // 60)
    return (
        f"尝试次数过多，请 {minutes} 分钟后再试",
        f"too many attempts, try again in {minutes} min",
    )


class Throttled(ApiError):
    """Too many wrong passwords: 429, try again in ``retry_after`` seconds (``Retry-After``)."""

    def __init__(self, retry_after: int):
        super().__init__("too_many_attempts", *wait(retry_after), status=429)
        self.retry_after = retry_after

    def response(self):
        response = super().response()
        response.headers["Retry-After"] = str(self.retry_after)
        return response


def keys(login: str, address: str, throttle: Throttle) -> dict[str, int]:
    """The failure keys an attempt counts against, each with its limit."""
    return {
        f"login:{login}": throttle.max_failures,
        f"addr:{address}": throttle.max_failures_per_address,
    }


def _retry_after(session: Session, key: str, limit: int, throttle: Throttle, now: datetime):
    """Seconds until ``key`` may try again, or None while it has failures to spare."""
    since = now - timedelta(seconds=throttle.window_s)
    recent = session.execute(
        select(func.count(), func.min(SignInFailure.at)).where(
            SignInFailure.key == key, SignInFailure.at > since
        )
    ).one()
    if recent[0] < limit:
        return None
    oldest = recent[1] if recent[1].tzinfo else recent[1].replace(tzinfo=UTC)
    return max(1, int((oldest - since).total_seconds()) + 1)


def check(session: Session, limits: dict[str, int], throttle: Throttle, now: datetime) -> None:
    """:class:`Throttled` while any of ``limits`` (see :func:`keys`) has no failure to spare."""
    waits = [_retry_after(session, k, limit, throttle, now) for k, limit in limits.items()]
    waits = [w for w in waits if w]
    if waits:
        raise Throttled(max(waits))


def failed(session: Session, limits: dict[str, int], throttle: Throttle, now: datetime) -> None:
    """Record a failure against every key (and forget the ones out of the window)."""
    session.execute(
        delete(SignInFailure).where(SignInFailure.at < now - timedelta(seconds=throttle.window_s))
    )
    session.add_all(SignInFailure(key=k, at=now) for k in limits)


def forget(session: Session, login: str) -> None:
    """A login's failures no longer count (it signed in, or its password was reset)."""
    session.execute(delete(SignInFailure).where(SignInFailure.key == f"login:{login}"))
