"""The kernel's access rules: tokens only the key holder can make, expiry, roles and scope,
CSRF tokens bound to the browser's cookie, password hashes, production's refusal of defaults."""

import os
import subprocess
import sys

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.kernel import auth
from services.kernel.config import ROOT
from services.kernel.http import ApiError

CONFIG = {"security": {"secret_key": "k" * 40, "session_hours": 1}}
STATION_ADMIN = auth.Principal("zhang", "station_admin", "张管理", stations=frozenset({"gwm"}))


def request(headers=None, cookies=None) -> Request:
    builder = EnvironBuilder(path="/", headers=headers or {})
    for name, value in (cookies or {}).items():
        builder.headers.add("Cookie", f"{name}={value}")
    return Request(builder.get_environ())


def test_a_token_names_its_principal_until_it_expires():
    token = auth.issue_token(STATION_ADMIN, CONFIG, now=1000)
    who = auth.read_token(token, CONFIG, now=1000 + 3599)
    assert (who.account, who.role, who.stations) == ("zhang", "station_admin", {"gwm"})
    assert auth.read_token(token, CONFIG, now=1000 + 3601) is None


def test_a_token_changed_or_signed_with_another_key_is_refused():
    token = auth.issue_token(STATION_ADMIN, CONFIG, now=1000)
    other = {"security": {"secret_key": "x" * 40}}
    assert auth.read_token(token, other, now=1000) is None
    body, mac = token.split(".")
    forged = auth.sign(
        STATION_ADMIN.to_payload() | {"role": "office", "exp": 10**10}, "guess", "session"
    )
    assert auth.read_token(forged.split(".")[0] + "." + mac, CONFIG) is None
    assert auth.read_token("garbage", CONFIG) is None
    # a CSRF token is not a session token, even with the same key
    assert auth.unsign(auth.sign({"a": 1}, "k" * 40, "csrf"), "k" * 40, "session") is None


def test_require_reads_bearer_or_cookie_and_checks_the_role():
    token = auth.issue_token(STATION_ADMIN, CONFIG)
    assert auth.require(request({"Authorization": f"Bearer {token}"}), CONFIG).account == "zhang"
    assert auth.require(request(cookies={auth.SESSION_COOKIE: token}), CONFIG).role == (
        "station_admin"
    )
    with pytest.raises(ApiError) as nobody:
        auth.require(request(), CONFIG)
    assert nobody.value.status == 401
    with pytest.raises(ApiError) as wrong_role:
        auth.require(request({"Authorization": f"Bearer {token}"}), CONFIG, "office")
    assert wrong_role.value.status == 403


def test_scope_each_role_sees_its_own():
    office = auth.Principal("office", "office")
    member = auth.Principal("li", "member", member="M0001")
    assert STATION_ADMIN.may_station("gwm") and not STATION_ADMIN.may_station("jnl")
    assert not STATION_ADMIN.may_member("M0001")
    assert member.may_member("M0001") and not member.may_member("M0002")
    assert not member.may_station("gwm") and not member.may_member(None)
    assert office.may_station("jnl") and office.may_studio("s1") and office.may_member("M9")


def test_csrf_token_matches_only_its_cookie():
    cookie, token, new = auth.csrf_pair(request(), CONFIG)
    assert new
    assert auth.csrf_ok(request(cookies={auth.CSRF_COOKIE: cookie}), CONFIG, token)
    again, same, new_again = auth.csrf_pair(request(cookies={auth.CSRF_COOKIE: cookie}), CONFIG)
    assert (again, same, new_again) == (cookie, token, False)
    other_cookie, _, _ = auth.csrf_pair(request(), CONFIG)
    assert not auth.csrf_ok(request(cookies={auth.CSRF_COOKIE: other_cookie}), CONFIG, token)
    assert not auth.csrf_ok(request(), CONFIG, token)
    assert not auth.csrf_ok(request(cookies={auth.CSRF_COOKIE: cookie}), CONFIG, "")


def test_password_hash_checks_the_password_and_is_salted():
    stored = auth.hash_password("正确的密码 correct horse")
    assert stored.startswith("scrypt$")
    assert auth.check_password("正确的密码 correct horse", stored)
    assert not auth.check_password("wrong", stored)
    assert stored != auth.hash_password("正确的密码 correct horse")
    assert not auth.check_password("x", None) and not auth.check_password("x", "md5$abc")


def test_production_refuses_default_secrets_development_allows_them():
    dev = {"security": {"environment": "development", "secret_key": auth.DEV_SECRET_KEY}}
    auth.check_production(dev)
    prod = {"security": {"environment": "production", "secret_key": auth.DEV_SECRET_KEY}}
    with pytest.raises(auth.ConfigError, match="security.secret_key"):
        auth.check_production(prod)
    with pytest.raises(auth.ConfigError):
        auth.check_production({"security": {"environment": "production"}})
    auth.check_production(
        {"security": {"environment": "production", "secret_key": SECRET, "pii_key": PII}}
    )


SECRET = "k7Qv2pXz9LmN4rT8wY1bC6dF3gH5jS0aE"
PII = "dGhpcnR5LXR3by1ieXRlcy1vZi1hLXJlYWwtZmVybmV0IQ=="[:43] + "="


def test_production_refuses_weak_secrets_keys_and_broker_accounts():
    def refused(security, amqp=None):
        config = {"security": {"environment": "production", **security}}
        if amqp:
            config["AMQP_URI"] = amqp
        with pytest.raises(auth.ConfigError) as err:
            auth.check_production(config)
        return str(err.value)

    good = {"secret_key": SECRET, "pii_key": PII}
    assert "security.secret_key" in refused(good | {"secret_key": "abcde"})  # 5 characters
    assert "security.secret_key" in refused(good | {"secret_key": "ab" * 24})  # a repeat
    assert "security.pii_key" in refused(good | {"pii_key": "p" * 44})  # not a Fernet key
    for uri in (
        "amqp://guest:guest@rabbitmq:5672/",
        "amqp://lianxin:lianxin@rabbitmq:5672/",  # the shipped password
        "amqp://lianxin:short@rabbitmq:5672/",
        "amqp://lianxin:Long-and-random-2026@a:5672/;amqp://guest:guest@b:5672/",
    ):
        assert "AMQP_URI" in refused(good, uri), uri
    auth.check_production(
        {
            "security": {"environment": "production", **good},
            "AMQP_URI": "amqp://lianxin:Long-and-random-2026@rabbitmq:5672/",
        }
    )


def test_production_refuses_the_default_pii_key_and_the_demo_open311_key_in_intake_only():
    secure = {"environment": "production", "secret_key": SECRET, "pii_key": PII}
    intake = {"open311_api_keys": "a-real-client-key"}
    auth.check_production({"security": secure, "services": {"intake": intake}}, "intake")
    # the default PII key, even second in a rotation's "new,old" list
    with_default = {**secure, "pii_key": PII + "," + auth.DEV_PII_KEY}
    with pytest.raises(auth.ConfigError, match="security.pii_key"):
        auth.check_production({"security": with_default, "services": {"intake": intake}}, "intake")
    demo = {"open311_api_keys": "a-real-client-key, lianxin-demo-key"}
    with pytest.raises(auth.ConfigError, match="open311_api_keys"):
        auth.check_production({"security": secure, "services": {"intake": demo}}, "intake")
    # no Open311 keys at all: Open311 POST is off, nothing insecure
    auth.check_production({"security": secure, "services": {"intake": {}}}, "intake")
    # services that never read personal data need not hold the key (least privilege)
    only_secret = {"environment": "production", "secret_key": SECRET}
    auth.check_production({"security": only_secret, "services": {"intake": demo}}, "routing")


def test_a_production_service_with_the_default_secret_does_not_start():
    env = {k: v for k, v in os.environ.items() if k != "LIANXIN_SECRET_KEY"}
    env["LIANXIN_CONFIG"] = str(ROOT / "deploy/config/compose.yaml")  # environment: production
    run = subprocess.run(
        [sys.executable, "-m", "services.kernel.runner", "registry"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "security.secret_key" in run.stderr and "production" in run.stderr
