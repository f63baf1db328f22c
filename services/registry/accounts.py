"""Accounts (账号): who may sign in, in which role, over which stations; and signing in.

The office creates accounts, resets passwords and deactivates them; a password is kept only as
its scrypt hash (``services.kernel.auth``). Signing in checks the password and gives the
session's :class:`~services.kernel.auth.Principal`; wrong passwords are slowed down by the
throttle (``throttle.py``). The first office account and the demo accounts: ``first_accounts``.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel import auth, outbox, sessions
from services.kernel.http import not_found
from services.kernel.models import utcnow
from services.registry import throttle as throttling
from services.registry.models import Account, Member, Station, Studio
from services.registry.passwords import PASSWORD_MAX, password_problems
from services.registry.saving import SOURCE
from services.registry.schemas import CODE
from services.registry.throttle import Throttle

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]{1,59}")
# What each role's scope is made of: a member account names its member, an admin its places.
SCOPE_FIELDS = {
    "office": (),
    "station_admin": ("stations",),
    "studio_admin": ("studios",),
    "member": ("member",),
}
# Checked when the login is unknown, so a wrong login takes as long as a wrong password.
_DUMMY_HASH = auth.hash_password(secrets.token_urlsafe(16))


# -- reading ------------------------------------------------------------------------------------


def described(login, name, role, member, stations, studios) -> dict:
    """Who an account is, as the office's view and `/auth/me` both begin."""
    return {
        "login": login,
        "name": name,
        "role": role,
        "role_name": auth.ROLE_NAMES[role][0],
        "member": member,
        "stations": stations,
        "studios": studios,
    }


def view(a: Account) -> dict:
    """An account as the office sees it (never the password hash)."""
    return described(
        a.login, a.name, a.role, a.member_code, list(a.stations or []), list(a.studios or [])
    ) | {
        "active": a.active,
        "created_at": a.created_at.isoformat(),
        "last_sign_in_at": a.last_sign_in_at.isoformat() if a.last_sign_in_at else None,
        "revision": a.revision,
    }


def principal(a: Account) -> auth.Principal:
    return auth.Principal(
        account=a.login,
        role=a.role,
        name=a.name,
        member=a.member_code,
        stations=frozenset(a.stations or ()),
        studios=frozenset(a.studios or ()),
    )


def list_accounts(
    session: Session, role: str | None = None, active: bool | None = None, q: str | None = None
):
    """Accounts by login, of ``role``, ``active`` or not, with ``q`` in the login or name."""
    query = select(Account).order_by(Account.login)
    if role:
        query = query.where(Account.role == role)
    if q:
        query = query.where(
            Account.login.contains(q.lower(), autoescape=True)
            | Account.name.contains(q, autoescape=True)
        )
    if active is not None:
        query = query.where(Account.active == active)
    return [view(a) for a in session.scalars(query)]


def get(session: Session, login: str) -> Account:
    could_be = isinstance(login, str) and LOGIN.fullmatch(login) is not None
    account = session.get(Account, login) if could_be else None
    if account is None:
        raise not_found(f"account {login}")
    return account


# -- checking what the office typed -------------------------------------------------------------


MAX_SCOPE = 50  # stations or studios one account may hold


def _codes(value, field: str, errors: dict) -> list[str]:
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > MAX_SCOPE
        or not all(isinstance(v, str) and CODE.regex.fullmatch(v) for v in value)
    ):
        errors[field] = [
            f"应为编号列表（最多{MAX_SCOPE}个） / must be a list of codes (≤ {MAX_SCOPE})"
        ]
        return []
    return sorted(set(value))


def _scope(session: Session, data: dict, errors: dict) -> dict:
    """Role, member, stations and studios from ``data``, each checked against the registry."""
    role = data.get("role")
    if not isinstance(role, str) or role not in auth.ROLES:
        errors["role"] = [f"可选 / one of: {', '.join(auth.ROLES)}"]
        role = None
    member = data.get("member") or None
    if member is not None and not (isinstance(member, str) and CODE.regex.fullmatch(member)):
        errors["member"] = ["应为委员编号 / must be a member code"]
        member = None
    stations = _codes(data.get("stations"), "stations", errors)
    studios = _codes(data.get("studios"), "studios", errors)
    unknown = [c for c in stations if session.get(Station, c) is None]
    if unknown:
        errors["stations"] = [f"未知的工作站 / unknown station: {', '.join(unknown)}"]
    unknown = [c for c in studios if session.get(Studio, c) is None]
    if unknown:
        errors["studios"] = [f"未知的工作室 / unknown studio: {', '.join(unknown)}"]
    if member is not None and session.get(Member, member) is None:
        errors["member"] = [f"未知的委员编号 / unknown member code: {member}"]
    values = {"member": member, "stations": stations, "studios": studios}
    for field in SCOPE_FIELDS.get(role, ()):
        if not values[field] and field not in errors:
            errors.setdefault(field, []).append("该角色必填 / required for this role")
    for field, value in values.items():
        if value and role in SCOPE_FIELDS and field not in SCOPE_FIELDS[role]:
            errors.setdefault(field, []).append("该角色不用填 / not for this role")
    return {"role": role, "member_code": member, "stations": stations, "studios": studios}


def _name(data: dict, errors: dict) -> str:
    name = data.get("name")
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 100 or CONTROL.search(name):
        errors["name"] = ["必填，最多100字 / required, at most 100 characters"]
    return name


def _login(session: Session, data: dict, errors: dict) -> str:
    login = data.get("login")
    login = login.strip().lower() if isinstance(login, str) else ""
    if not LOGIN.fullmatch(login):
        errors["login"] = [
            "2–60 个小写字母、数字或 . _ - / 2–60 lowercase letters, digits or . _ -"
        ]
    elif session.get(Account, login) is not None:
        errors["login"] = [f"账号已存在 / login already taken: {login}"]
    return login


# -- changing -----------------------------------------------------------------------------------


def create(session: Session, data: dict, now: datetime | None = None) -> Account:
    errors: dict = {}
    login = _login(session, data, errors)
    name = _name(data, errors)
    scope = _scope(session, data, errors)
    problems = password_problems(data.get("password"), login)
    if problems:
        errors["password"] = problems
    if errors:
        raise ValidationError(errors)
    account = Account(
        login=login,
        name=name,
        password_hash=auth.hash_password(data["password"]),
        active=True,
        created_at=now or utcnow(),
        revision=1,
        **scope,
    )
    session.add(account)
    session.flush()
    return account


def update(session: Session, login: str, data: dict) -> Account:
    """Change the name, role and scope, or reactivate; the password has its own call."""
    account = get(session, login)
    errors: dict = {}
    unknown = set(data) - {"name", "role", "member", "stations", "studios", "active"}
    for field in unknown:
        errors[field] = ["不能在这里修改 / cannot be changed here"]
    merged = {"name": account.name, "role": account.role}
    if data.get("role", account.role) == account.role:  # a new role starts from an empty scope
        merged |= {
            "member": account.member_code,
            "stations": list(account.stations or []),
            "studios": list(account.studios or []),
        }
    merged |= data
    name = _name(merged, errors)
    scope = _scope(session, merged, errors)
    active = merged.get("active", account.active)
    if not isinstance(active, bool):
        errors["active"] = ["应为 true 或 false / must be true or false"]
    if errors:
        raise ValidationError(errors)
    before = (account.role, account.member_code, account.stations, account.studios)
    ends = account.active and not active
    account.name, account.active = name, active
    for key, value in scope.items():
        setattr(account, key, value)
    if ends or before != (account.role, account.member_code, account.stations, account.studios):
        end_sessions(session, login)  # a new role or scope: its old tokens say the old one
    account.revision += 1
    return account


def end_sessions(session: Session, login: str) -> None:
    """End every session ``login`` holds, in every service, at once (``kernel/sessions.py``):
    the registry's own record now, the others' through ``registry.sessions_ended``."""
    outbox.record(session, sessions.EVENT, sessions.end(session, login), SOURCE)


def deactivate(session: Session, login: str) -> Account:
    account = get(session, login)
    if account.active:
        account.active = False
        account.revision += 1
        end_sessions(session, login)
    return account


def set_password(session: Session, login: str, password, end: bool = False) -> Account:
    """Set ``login``'s password; ``end``: the office reset it, so the sessions it holds end
    too (a password changed by its owner keeps the owner signed in)."""
    account = get(session, login)
    problems = password_problems(password, login)
    if problems:
        raise ValidationError({"password": problems})
    account.password_hash = auth.hash_password(password)
    account.revision += 1
    throttling.forget(session, login)
    if end:
        end_sessions(session, login)
    return account


# -- signing in ---------------------------------------------------------------------------------


def sign_in(
    session: Session,
    login: str,
    password: str,
    address: str,
    throttle: Throttle = Throttle(),
    now: datetime | None = None,
) -> Account | None:
    """The active account ``login`` if ``password`` is its password, else None (the failure is
    recorded: commit the session); :class:`~services.registry.throttle.Throttled` while too
    many failures are recent."""
    now = now or utcnow()
    # a NUL would not even reach PostgreSQL's throttle table; no login holds a control character
    login = CONTROL.sub("", str(login or "")).strip().lower()[:60]
    limits = throttling.keys(login, address, throttle)
    throttling.check(session, limits, throttle, now)
    account = session.get(Account, login) if login else None
    password = str(password or "")
    if len(password) > PASSWORD_MAX:  # never a password of ours: hash only a short prefix
        password, account = password[:PASSWORD_MAX], None
    good = auth.check_password(password, account.password_hash if account else _DUMMY_HASH)
    if account is None or not account.active or not good:
        throttling.failed(session, limits, throttle, now)
        return None
    throttling.forget(session, login)
    account.last_sign_in_at = now
    return account
