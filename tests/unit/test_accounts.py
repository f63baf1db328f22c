"""Accounts and signing in (registry rules), and the kernel's guards around them: field errors
the office can act on, the throttle on wrong passwords, the first office account, safe
``next`` addresses, the client address behind a proxy."""

from datetime import UTC, datetime, timedelta

import pytest
from marshmallow import ValidationError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.kernel import auth
from services.registry import accounts, demo, first_accounts
from services.registry.throttle import Throttle, Throttled

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
GOOD = "长城-correct-horse"


@pytest.fixture
def s(session_of):
    session = session_of("registry")
    with session.begin():
        demo.load(session)  # stations gwm, jnl…; members m001…
    return session


def errors_of(s, data):
    with pytest.raises(ValidationError) as err:
        with s.begin():
            accounts.create(s, data)
    return err.value.messages


def test_the_office_gets_an_error_per_field(s):
    with s.begin():
        accounts.create(
            s,
            {
                "login": "zhang.gwm",
                "name": "张管理",
                "role": "station_admin",
                "stations": ["gwm"],
                "password": GOOD,
            },
        )
    fields = errors_of(
        s,
        {
            "login": "zhang.gwm",
            "name": "",
            "role": "station_admin",
            "stations": ["gwm", "nowhere"],
            "password": "12345678901",
        },
    )
    assert "已存在" in fields["login"][0] and "zhang.gwm" in fields["login"][0]
    assert "nowhere" in fields["stations"][0] and "gwm" not in fields["stations"][0][-5:]
    assert any("数字" in p for p in fields["password"]) and "name" in fields
    fields = errors_of(s, {"login": "l", "name": "李", "role": "member", "password": "short"})
    assert "login" in fields  # too short
    assert fields["member"] == ["该角色必填 / required for this role"]
    assert "至少 10 个字符" in fields["password"][0]
    fields = errors_of(
        s, {"login": "li3", "name": "李", "role": "member", "member": "m404", "password": GOOD}
    )
    assert fields == {"member": ["未知的委员编号 / unknown member code: m404"]}
    fields = errors_of(
        s,
        {"login": "boss", "name": "办", "role": "office", "stations": ["gwm"], "password": GOOD},
    )
    assert fields == {"stations": ["该角色不用填 / not for this role"]}
    assert errors_of(s, {"login": "x1y", "name": "x", "role": "king", "password": GOOD})["role"]
    fields = errors_of(
        s, {"login": "wang", "name": "王", "role": "office", "password": "wang-and-more-1"}
    )
    assert "太容易被猜到 / too easy to guess" in fields["password"]


def test_a_wrong_type_in_any_field_is_that_fields_error_never_a_crash(s):
    """A list or object where text or a code belongs, text where a list does (issue 20)."""
    base = {"login": "zz1", "name": "某", "role": "station_admin", "stations": ["gwm"]}
    for field, value in (
        ("login", ["zz1"]),
        ("name", {"zh": "某"}),
        ("role", ["office"]),  # was a TypeError (unhashable) in the scope check
        ("role", {"office": 1}),
        ("stations", "gwm"),
        ("stations", [["gwm"]]),
        ("stations", ["gwm"] * 51),
        ("stations", ["GWM\x00"]),
        ("password", ["long-enough-2026"]),
        ("password", "长城-horse" * 40),
    ):
        fields = errors_of(s, {**base, "password": GOOD, field: value})
        assert field in fields and all(" / " in m for m in fields[field]), (field, fields)
    fields = errors_of(
        s, {**base, "role": "member", "stations": None, "member": ["m003"], "password": GOOD}
    )
    assert list(fields) == ["member"]
    with s.begin():
        assert accounts.list_accounts(s) == []  # nothing was made


def test_a_control_character_in_a_login_signs_nobody_in_and_breaks_nothing(s):
    with s.begin():
        accounts.create(s, {"login": "li", "name": "李", "role": "office", "password": GOOD})
    with s.begin():  # the NUL is dropped before the throttle's table (PostgreSQL refuses it)
        assert accounts.sign_in(s, "li\x00", "guess", "10.0.0.1", now=NOW) is None
        assert accounts.sign_in(s, "li", "x" * 10_000, "10.0.0.1", now=NOW) is None


def test_sign_in_checks_the_password_and_the_account_being_active(s):
    with s.begin():
        accounts.create(
            s, {"login": "li", "name": "李", "role": "member", "member": "m003", "password": GOOD}
        )
    with s.begin():
        account = accounts.sign_in(s, "LI ", GOOD, "10.0.0.1", now=NOW)
        who = accounts.principal(account)
        assert account.last_sign_in_at == NOW
    assert (who.account, who.role, who.member) == ("li", "member", "m003")
    with s.begin():
        assert accounts.sign_in(s, "li", "wrong", "10.0.0.1", now=NOW) is None
        assert accounts.sign_in(s, "nobody", GOOD, "10.0.0.1", now=NOW) is None
    with s.begin():
        accounts.deactivate(s, "li")
    with s.begin():
        assert accounts.sign_in(s, "li", GOOD, "10.0.0.1", now=NOW) is None
        assert "password_hash" not in accounts.view(accounts.get(s, "li"))


def test_wrong_passwords_are_slowed_down_per_login_and_per_address(s):
    throttle = Throttle(max_failures=3, max_failures_per_address=5, window_s=600)
    with s.begin():
        accounts.create(s, {"login": "boss", "name": "办", "role": "office", "password": GOOD})
    for i in range(3):
        with s.begin():
            at = NOW + timedelta(seconds=i)
            assert accounts.sign_in(s, "boss", "guess", "10.0.0.9", throttle, at) is None
    # the fourth try, even with the right password, waits until the first failure is 600 s old
    with pytest.raises(Throttled) as waited, s.begin():
        accounts.sign_in(s, "boss", GOOD, "10.0.0.8", throttle, NOW + timedelta(seconds=100))
    assert waited.value.retry_after == 501
    later = NOW + timedelta(seconds=603)  # every failure above is 600 s old
    with s.begin():
        assert accounts.sign_in(s, "boss", GOOD, "10.0.0.8", throttle, later) is not None

    # one address guessing many logins is slowed down too
    for i in range(5):
        with s.begin():
            assert accounts.sign_in(s, f"who{i}", "x", "10.0.0.9", throttle, later) is None
    with pytest.raises(Throttled), s.begin():
        accounts.sign_in(s, "who9", "x", "10.0.0.9", throttle, later)
    with s.begin():  # another address is not held up
        assert accounts.sign_in(s, "boss", GOOD, "10.0.0.7", throttle, later) is not None


def test_the_first_office_account_is_made_once_and_its_password_can_be_reset(s):
    with s.begin():
        [office, station, member] = first_accounts.first_accounts(s, None, demo=True)
    assert office["login"] == "office" and len(office["password"]) >= 16
    assert (station["role"], station["stations"]) == ("station_admin", ["gwm"])
    assert (member["role"], member["member"]) == ("member", "m003")
    with s.begin():
        again = first_accounts.first_accounts(s, None, demo=False)
    assert again == [{"login": "office", "password": None, "role": "office"}]
    with s.begin():
        first_accounts.first_accounts(s, "lanzhou-yellow-river-26", demo=False)
    with s.begin():
        assert accounts.sign_in(s, "office", "lanzhou-yellow-river-26", "::1") is not None
    with s.begin():
        assert accounts.sign_in(s, "demo-member", "m003-lvzhi-2026", "::1").member_code == "m003"


def test_an_update_changes_role_and_scope_together(s):
    with s.begin():
        accounts.create(
            s, {"login": "li", "name": "李", "role": "member", "member": "m003", "password": GOOD}
        )
    with s.begin():
        account = accounts.update(s, "li", {"role": "station_admin", "stations": ["jnl"]})
        assert (account.member_code, account.stations, account.revision) == (None, ["jnl"], 2)
    with pytest.raises(ValidationError) as err, s.begin():
        accounts.update(s, "li", {"password": "x", "stations": ["nowhere"]})
    assert set(err.value.messages) == {"password", "stations"}


CONFIG = {
    "public_urls": {"routing": "https://lianxin.example.gov.cn/routing"},
    "security": {"trusted_proxies": "10.0.0.0/8"},
}


def test_next_is_only_ever_this_site():
    assert auth.safe_next("/duty/m003?x=1", CONFIG) == "/duty/m003?x=1"
    routing = "https://lianxin.example.gov.cn/routing/duty/m003"
    assert auth.safe_next(routing, CONFIG) == routing
    for bad in (
        "//evil.example.com/x",
        "/\\evil.example.com",
        "https://evil.example.com/",
        "https://lianxin.example.gov.cn/routing.evil.com/",
        "https://lianxin.example.gov.cn/routingx",
        "javascript:alert(1)",
        "",
        None,
    ):
        assert auth.safe_next(bad, CONFIG) is None, bad


def request(remote, forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return Request(
        EnvironBuilder(headers=headers, environ_base={"REMOTE_ADDR": remote}).get_environ()
    )


def test_the_client_address_believes_only_a_trusted_proxy():
    assert auth.client_address(request("10.1.2.3", "1.1.1.1, 203.0.113.5"), CONFIG) == (
        "203.0.113.5"
    )
    assert auth.client_address(request("198.51.100.7", "203.0.113.5"), CONFIG) == "198.51.100.7"
    assert auth.client_address(request("10.1.2.3"), {}) == "10.1.2.3"


def test_a_new_role_a_deactivation_or_the_offices_reset_ends_the_sessions_held(s):
    """kernel/sessions.py: each such change ends the account's sessions (the registry's own
    record and the ``registry.sessions_ended`` event for the other services); a new name, a
    reactivation or a password changed by its owner does not."""
    from sqlalchemy import select

    from services.kernel.models import OutboxMessage, SessionEnd

    def ended():
        with s.begin():
            rows = s.scalars(select(SessionEnd.login)).all()
            events = s.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.routing_key == "registry.sessions_ended"
                )
            ).all()
        return sorted(rows), len(events)

    with s.begin():
        accounts.create(
            s, {"login": "li", "name": "李", "role": "member", "member": "m003", "password": GOOD}
        )
    with s.begin():
        accounts.update(s, "li", {"name": "李四"})
        accounts.set_password(s, "li", "长城-another-horse")  # by its owner
    assert ended() == ([], 0)
    with s.begin():
        accounts.update(s, "li", {"role": "station_admin", "stations": ["jnl"]})
    assert ended() == (["li"], 1)
    with s.begin():
        accounts.deactivate(s, "li")
        accounts.deactivate(s, "li")  # already inactive: nothing more
        accounts.update(s, "li", {"active": True})
    assert ended() == (["li"], 2)
    with s.begin():
        accounts.set_password(s, "li", "长城-third-horse", end=True)  # the office's reset
    assert ended() == (["li"], 3)


def test_a_token_issued_before_its_accounts_end_is_refused_to_the_millisecond(s):
    """EndedSessions.check: a token of the same second but a moment before the end is refused
    (a whole-second rule let it live for a session), one issued after is taken; a token made
    before ``iat_ms`` was kept is judged by its expiry."""
    from contextlib import contextmanager

    from services.kernel import sessions
    from services.kernel.http import ApiError

    config = {"security": {"session_hours": 8}}
    checker = sessions.EndedSessions()

    class Db:
        @contextmanager
        def transaction(self):
            with s.begin():
                yield s

    checker.db = Db()
    with s.begin():
        sessions.end(s, "li", now=1_800_000_000.500)

    def token(issued_ms, **kw):
        expires = issued_ms // 1000 + 8 * 3600
        return auth.Principal("li", "member", member="m003", expires=expires, issued_ms=issued_ms, **kw)  # fmt: skip

    for issued_ms in (1_800_000_000_499, 1_800_000_000_500, 1_799_999_000_000):
        with pytest.raises(ApiError) as err:
            checker.check(config, token(issued_ms))
        assert err.value.status == 401 and err.value.code == "session_ended"
    checker.check(config, token(1_800_000_000_501))  # signed in again after: taken
    old = auth.Principal("li", "member", member="m003", expires=1_800_000_000 + 8 * 3600)
    with pytest.raises(ApiError):  # no iat_ms: issued at its expiry − 8 h, before the end
        checker.check(config, old)
    other = auth.Principal("wang", "member", member="m001", expires=1_800_000_000, issued_ms=1)
    checker.check(config, other)  # another account: nothing ended
