"""`make run`'s preparation: the full demo set goes into an empty registry, and only there."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel.db import make_engine
from services.registry.models import Member, Station, Studio
from tests.e2e.conftest import free_ports, stack_env
from tools.stack import Stack


def counts(url):
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return tuple(
                s.scalar(select(func.count()).select_from(m)) for m in (Station, Studio, Member)
            )
    finally:
        engine.dispose()


def prepared(tmp_path, name, demo_set="lanzhou"):
    urls = {
        s: f"sqlite:///{tmp_path}/{name}-{s}.db"
        for s in ("registry", "intake", "routing", "reporting")
    }
    env = stack_env("amqp://guest:guest@127.0.0.1:5672/", urls, free_ports(4))
    Stack(env=env, log_dir=tmp_path / "log").prepare(demo=True, demo_set=demo_set)
    return Stack(env=env, log_dir=tmp_path / "log"), urls["registry"]


def test_make_run_loads_the_full_set_into_an_empty_registry_once(tmp_path):
    stack, url = prepared(tmp_path, "full")
    assert counts(url) == (126, 133, 2200)
    stack.prepare(demo=True)  # a second start leaves the registry as the office left it
    assert counts(url) == (126, 133, 2200)


def test_a_registry_in_use_is_left_alone(tmp_path):
    stack, url = prepared(tmp_path, "small", demo_set="small")
    assert counts(url) == (5, 0, 14)
    stack.prepare(demo=True)  # the default (full) set does not go over data already there
    assert counts(url) == (5, 0, 14)


def test_make_run_creates_the_first_office_account_once_and_prints_how_to_sign_in(tmp_path, capsys):
    from services.registry import accounts
    from tools.stack import print_accounts

    stack, url = prepared(tmp_path, "accounts", demo_set="small")
    found = stack.first_accounts(demo=True)
    assert [(a["login"], a["role"]) for a in found] == [
        ("office", "office"),
        ("demo-station", "station_admin"),
        ("demo-member", "member"),
    ]
    office_password = found[0]["password"]
    print_accounts(stack, stack.config(), found)
    printed = capsys.readouterr().out
    assert "http://127.0.0.1:" in printed and "/sign-in" in printed
    assert office_password in printed and "m003-lvzhi-2026" in printed
    engine = make_engine(url)
    try:
        with Session(engine) as s, s.begin():
            assert accounts.sign_in(s, "office", office_password, "127.0.0.1") is not None
    finally:
        engine.dispose()

    again = stack.first_accounts(demo=True)  # a second start: nobody new, no password shown
    assert again[0] == {"login": "office", "password": None, "role": "office"}
    stack.env["LIANXIN_ADMIN_PASSWORD"] = "gansu-lanzhou-reset-2026"  # a forgotten password
    assert stack.first_accounts(demo=False)[0]["password"] == "gansu-lanzhou-reset-2026"
    stack.env["LIANXIN_ADMIN_PASSWORD"] = "123"
    with pytest.raises(SystemExit, match="password"):
        stack.first_accounts(demo=False)
