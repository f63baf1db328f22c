"""Accounts (账号) and signing in: who may sign in, in which role, over which stations.

The office creates accounts, resets passwords and deactivates them; a password is kept only as
its scrypt hash (``services.kernel.auth``). Signing in checks the password and gives the
session's :class:`~services.kernel.auth.Principal`. Wrong passwords are slowed down: after
``sign_in_max_failures`` failures for one login, or ``sign_in_max_failures_per_address`` from
one address, within ``sign_in_window_s`` seconds, every attempt for that login or from that
address is refused with "try again in N seconds" until the oldest failure leaves the window,
even with the right password (else the throttle would only slow the honest).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from marshmallow import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.kernel import auth
from services.registry.models import Account, Member, SignInFailure, Station, Studio

LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")
PASSWORD_MIN = 10
# Passwords people pick first; refused whatever their length.
COMMON_PASSWORDS = {
    "1234567890",
    "12345678910",
    "0123456789",
    "1111111111",
    "password123",
    "password1234",
    "qwertyuiop",
    "1q2w3e4r5t",
    "abcdefghij",
    "lianxin123",
    "lianxin1234",
    "admin12345",
    "admin123456",
}
# What each role's scope is made of: a member account names its member, an admin its places.
SCOPE_FIELDS = {
    "office": (),
    "station_admin": ("stations",),
    "studio_admin": ("studios",),
    "member": ("member",),
}
# Checked when the login is unknown, so a wrong login takes as long as a wrong password.
_DUMMY_HASH = auth.hash_password(secrets.token_urlsafe(16))


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Throttle:
    max_failures: int = 5  # per login
    max_failures_per_address: int = 20
    window_s: int = 900

    @classmethod
    def from_config(cls, config: dict) -> Throttle:
        section = auth.security(config)
        return cls(
            int(section.get("sign_in_max_failures", cls.max_failures)),
            int(section.get("sign_in_max_failures_per_address", cls.max_failures_per_address)),
            int(section.get("sign_in_window_s", cls.window_s)),
        )


class Throttled(Exception):
    """Too many wrong passwords: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"try again in {retry_after}s")
        self.retry_after = retry_after


# -- reading ------------------------------------------------------------------------------------


def view(a: Account) -> dict:
    """An account as the office sees it (never the password hash)."""
    return {
        "login": a.login,
        "name": a.name,
        "role": a.role,
        "role_name": auth.ROLE_NAMES[a.role][0],
        "member": a.member_code,
        "stations": list(a.stations or []),
        "studios": list(a.studios or []),
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


def list_accounts(session: Session, role: str | None = None, active: bool | None = None):
    query = select(Account).order_by(Account.login)
    if role:
        query = query.where(Account.role == role)
    if active is not None:
        query = query.where(Account.active == active)
    return [view(a) for a in session.scalars(query)]


def get(session: Session, login: str) -> Account:
    account = session.get(Account, login)
    if account is None:
        from services.kernel.http import not_found

        raise not_found(f"account {login}")
    return account


# -- checking what the office typed -------------------------------------------------------------


def password_problems(password, login: str = "") -> list[str]:
    if not isinstance(password, str) or not password:
        return ["必填 / required"]
    problems = []
    if len(password) < PASSWORD_MIN:
        problems.append(f"至少 {PASSWORD_MIN} 个字符 / at least {PASSWORD_MIN} characters")
    if password.isdigit() or len(set(password)) < 4:
        problems.append("不能只用数字或重复字符 / not only digits or repeated characters")
    if password.lower() in COMMON_PASSWORDS or (login and login.lower() in password.lower()):
        problems.append("太容易被猜到 / too easy to guess")
    return problems


def _codes(value, field: str, errors: dict) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors[field] = ["应为编号列表 / must be a list of codes"]
        return []
    return sorted(set(value))


def _scope(session: Session, data: dict, errors: dict) -> dict:
    """Role, member, stations and studios from ``data``, each checked against the registry."""
    role = data.get("role")
    if role not in auth.ROLES:
        errors["role"] = [f"可选 / one of: {', '.join(auth.ROLES)}"]
    member = data.get("member") or None
    stations = _codes(data.get("stations"), "stations", errors)
    studios = _codes(data.get("studios"), "studios", errors)
    unknown = [c for c in stations if session.get(Station, c) is None]
    if unknown:
        errors["stations"] = [f"未知的工作站 / unknown station: {', '.join(unknown)}"]
    unknown = [c for c in studios if session.get(Studio, c) is None]
    if unknown:
        errors["studios"] = [f"未知的工作室 / unknown studio: {', '.join(unknown)}"]
    if member is not None and session.get(Member, str(member)) is None:
        errors["member"] = [f"未知的委员编号 / unknown member code: {member}"]
    values = {"member": member, "stations": stations, "studios": studios}
    for field in SCOPE_FIELDS.get(role, ()):
        if not values[field]:
            errors.setdefault(field, []).append("该角色必填 / required for this role")
    for field, value in values.items():
        if value and role in SCOPE_FIELDS and field not in SCOPE_FIELDS[role]:
            errors.setdefault(field, []).append("该角色不用填 / not for this role")
    return {"role": role, "member_code": member, "stations": stations, "studios": studios}


def _name(data: dict, errors: dict) -> str:
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        errors["name"] = ["必填，最多100字 / required, at most 100 characters"]
    return name


# -- changing -----------------------------------------------------------------------------------


def create(session: Session, data: dict, now: datetime | None = None) -> Account:
    errors: dict = {}
    login = str(data.get("login") or "").strip().lower()
    if not LOGIN.match(login):
        errors["login"] = [
            "2–60 个小写字母、数字或 . _ - / 2–60 lowercase letters, digits or . _ -"
        ]
    elif session.get(Account, login) is not None:
        errors["login"] = [f"账号已存在 / login already taken: {login}"]
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
    account.name, account.active = name, active
    for key, value in scope.items():
        setattr(account, key, value)
    account.revision += 1
    return account


def deactivate(session: Session, login: str) -> Account:
    account = get(session, login)
    if account.active:
        account.active = False
        account.revision += 1
    return account


def set_password(session: Session, login: str, password) -> Account:
    account = get(session, login)
    problems = password_problems(password, login)
    if problems:
        raise ValidationError({"password": problems})
    account.password_hash = auth.hash_password(password)
    account.revision += 1
    session.execute(delete(SignInFailure).where(SignInFailure.key == f"login:{login}"))
    return account


# -- signing in ---------------------------------------------------------------------------------


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


def sign_in(
    session: Session,
    login: str,
    password: str,
    address: str,
    throttle: Throttle = Throttle(),
    now: datetime | None = None,
) -> Account | None:
    """The active account ``login`` if ``password`` is its password, else None (the failure is
    recorded: commit the session); :class:`Throttled` while too many failures are recent."""
    now = now or utcnow()
    login = str(login or "").strip().lower()[:60]
    keys = {
        f"login:{login}": throttle.max_failures,
        f"addr:{address}": throttle.max_failures_per_address,
    }
    waits = [_retry_after(session, k, limit, throttle, now) for k, limit in keys.items()]
    waits = [w for w in waits if w]
    if waits:
        raise Throttled(max(waits))
    account = session.get(Account, login) if login else None
    good = auth.check_password(
        str(password or ""), account.password_hash if account else _DUMMY_HASH
    )
    if account is None or not account.active or not good:
        session.execute(
            delete(SignInFailure).where(
                SignInFailure.at < now - timedelta(seconds=throttle.window_s)
            )
        )
        session.add_all(SignInFailure(key=k, at=now) for k in keys)
        return None
    session.execute(delete(SignInFailure).where(SignInFailure.key == f"login:{login}"))
    account.last_sign_in_at = now
    return account


# -- the first office account -------------------------------------------------------------------


def ensure_office(session: Session, password: str | None = None, login: str = "office"):
    """Create an office account when there is none: ``(login, password)`` of the new account,
    or None when an office account exists already. ``password`` defaults to a random one."""
    if session.scalar(select(Account).where(Account.role == "office").limit(1)) is not None:
        return None
    password = password or secrets.token_urlsafe(12)
    create(session, {"login": login, "name": "政协办公室", "role": "office", "password": password})
    return login, password


def ensure_account(session: Session, data: dict):
    """Create the account ``data`` describes unless its login exists: its password, or None."""
    if session.get(Account, data["login"]) is not None:
        return None
    create(session, data)
    return data["password"]


# -- `make run`: the first office account and the demo accounts ----------------------------------

# Demo accounts for trying the duty pages (`make run` with the demo registry only). Their
# passwords are printed and known: never load them into a real registry.
DEMO_ACCOUNTS = (
    {
        "login": "demo-station",
        "name": "演示工作站管理员",
        "role": "station_admin",
        "stations": ["gwm"],
        "password": "gwm-zhanwu-2026",
    },
    {
        "login": "demo-member",
        "name": "演示委员",
        "role": "member",
        "member": "m003",
        "password": "m003-lvzhi-2026",
    },
)


def first_accounts(session: Session, password: str | None, demo: bool) -> list[dict]:
    """The accounts `make run` prints: the office's (created when there is none, its password
    reset to ``password`` when one is given) and, with ``demo``, the demo accounts that fit the
    registry. ``password`` is None for an existing account whose password stays unknown."""
    made = ensure_office(session, password)
    if made is None:
        office = session.scalar(
            select(Account).where(Account.role == "office").order_by(Account.login).limit(1)
        )
        if password:
            set_password(session, office.login, password)
        made = (office.login, password)
    found = [{"login": made[0], "password": made[1], "role": "office"}]
    for data in DEMO_ACCOUNTS if demo else ():
        fits = all(session.get(Station, c) for c in data.get("stations", [])) and (
            "member" not in data or session.get(Member, data["member"]) is not None
        )
        if fits:
            ensure_account(session, data)
            found.append(data)
    return found


def main(argv=None) -> int:
    """``python -m services.registry.accounts [--demo] <db_url>``: :func:`first_accounts` as
    JSON (the office password from ``LIANXIN_ADMIN_PASSWORD``, else random when new)."""
    import argparse
    import json
    import os

    from services.kernel.db import make_engine

    parser = argparse.ArgumentParser(description="the first office account / 首个办公室账号")
    parser.add_argument("db_url")
    parser.add_argument("--demo", action="store_true", help="and the demo accounts")
    args = parser.parse_args(argv)
    engine = make_engine(args.db_url)
    try:
        with Session(engine) as session, session.begin():
            found = first_accounts(session, os.environ.get("LIANXIN_ADMIN_PASSWORD"), args.demo)
    except ValidationError as err:
        print(json.dumps({"error": err.messages}, ensure_ascii=False))
        return 1
    finally:
        engine.dispose()
    print(json.dumps(found, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
