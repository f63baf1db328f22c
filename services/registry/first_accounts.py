"""`make run`'s first accounts: the office's, and the demo accounts of the demo registry.

``python -m services.registry.first_accounts [--demo] <db_url>`` (also reachable as
``python -m services.registry.accounts``) prints :func:`first_accounts` as JSON.
"""

from __future__ import annotations

import secrets

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.registry import accounts
from services.registry.models import Account, Member, Station

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


def ensure_office(session: Session, password: str | None = None, login: str = "office"):
    """Create an office account when there is none: ``(login, password)`` of the new account,
    or None when an office account exists already. ``password`` defaults to a random one."""
    if session.scalar(select(Account).where(Account.role == "office").limit(1)) is not None:
        return None
    password = password or secrets.token_urlsafe(12)
    accounts.create(
        session, {"login": login, "name": "政协办公室", "role": "office", "password": password}
    )
    return login, password


def ensure_account(session: Session, data: dict):
    """Create the account ``data`` describes unless its login exists: its password, or None."""
    if session.get(Account, data["login"]) is not None:
        return None
    accounts.create(session, data)
    return data["password"]


def _fits(session: Session, data: dict) -> bool:
    """Whether a demo account's stations and member are in this registry."""
    return all(session.get(Station, c) for c in data.get("stations", [])) and (
        "member" not in data or session.get(Member, data["member"]) is not None
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
            accounts.set_password(session, office.login, password)
        made = (office.login, password)
    found = [{"login": made[0], "password": made[1], "role": "office"}]
    for data in DEMO_ACCOUNTS if demo else ():
        if _fits(session, data):
            ensure_account(session, data)
            found.append(data)
    return found


def main(argv=None) -> int:
    """:func:`first_accounts` as JSON (the office password from ``LIANXIN_ADMIN_PASSWORD``,
    else random when new)."""
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
