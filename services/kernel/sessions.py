"""Sessions that end before their tokens expire (issue 18): an account deactivated, or its role,
scope or password changed, stops working at once in every service.

Each service checks a session token on its own (``auth.read_token``: signature and expiry), so
the registry's change has to reach the others. The registry calls :func:`end` in the
transaction of the change (its own ``kernel_sessions_ended`` row) and announces
``registry.sessions_ended`` ``{login, ended_ms}`` through its outbox; every other service
records it with :func:`on_event` in the transaction that handles the event (intake, routing and
reporting already consume the registry's events). ``@guard`` then asks :func:`check`: a token
issued at or before the account's ``ended_ms`` (the token's ``iat_ms``, to the millisecond; a
token made before that was kept: its expiry − the session length) is refused with 401
``session_ended``, and a page sends the browser to sign in again.

"At once": for the registry, the next request; for the others, as soon as the event is handled
(the outbox relay and one consumer: well under a second on a healthy system). The login is no
secret from the other services: routing's case history already names the account that acted.
"""

from __future__ import annotations

import time

from nameko.extensions import DependencyProvider
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel import auth
from services.kernel.db import SharedEngine
from services.kernel.models import SessionEnd

EVENT = "registry.sessions_ended"
_ENDED = select(SessionEnd.__table__.c.ended_ms)


def end(session: Session, login: str, now: float | None = None) -> dict:
    """End ``login``'s sessions issued until now, in ``session``; the event's payload."""
    payload = {"login": login, "ended_ms": int((time.time() if now is None else now) * 1000)}
    _record(session, payload)
    return payload


def _record(session: Session, payload: dict) -> None:
    """Keep the latest end per account (an older event arriving late changes nothing)."""
    row = session.get(SessionEnd, payload["login"])
    if row is None:
        session.add(SessionEnd(**payload))
    elif payload["ended_ms"] > row.ended_ms:
        row.ended_ms = payload["ended_ms"]
    session.flush()


def on_event(session: Session, event: dict) -> bool:
    """Record a ``registry.sessions_ended`` event; False for any other event."""
    if event.get("type") != EVENT:
        return False
    payload = event.get("payload") or {}
    login, at = payload.get("login"), payload.get("ended_ms")
    if isinstance(login, str) and 0 < len(login) <= 100 and isinstance(at, int):
        _record(session, {"login": login, "ended_ms": at})
    return True


def session_ended() -> auth.ApiError:
    return auth.ApiError(
        "session_ended",
        "账号已变更或停用，请重新登录",
        "the account was changed or deactivated: sign in again",
        status=401,
    )


class EndedSessions(DependencyProvider):
    """What ``@guard`` asks (every service has it through ``ServiceBase``): on the kernel's
    shared engine, the service's own database."""

    db = SharedEngine()

    def get_dependency(self, worker_ctx):
        return self

    def check(self, config: dict, who: auth.Principal) -> None:
        """Refuse ``who`` if its account's sessions ended after its token was issued."""
        issued = who.issued_ms or (who.expires - auth.session_seconds(config)) * 1000
        with self.db.transaction() as session:
            ended = session.scalar(_ENDED.where(SessionEnd.__table__.c.login == who.account))
        if ended is not None and issued <= ended:
            raise session_ended()
