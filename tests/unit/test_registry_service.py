"""The registry service class without a container (nameko's ``worker_factory``): who may read
and change what, and bad input answered in the one error format (a field per mistake), on a
real (SQLite) registry database with the small demo set. The end-to-end tests in
tests/registry keep what needs RabbitMQ and the HTTP server."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import select

from services.kernel.models import OutboxMessage
from services.registry import accounts, demo
from services.registry.service import RegistryService
from services.registry.settings import RegistrySettings
from services.registry.throttle import Throttle
from tests.conftest import auth_headers
from tests.unit import workers
from tests.unit.workers import Db, error


def request(*args, **kwargs):
    """From one client address (the sign-in throttle counts per address)."""
    return workers.request(*args, remote_addr="10.0.0.9", **kwargs)


OFFICE = auth_headers(role="office")
GWM_ADMIN = auth_headers(role="station_admin", stations=["gwm"])
JNL_ADMIN = auth_headers(role="station_admin", stations=["jnl"])
M003 = auth_headers(role="member", member="m003")
M001 = auth_headers(role="member", member="m001")
GOOD = "长城-correct-horse"


@pytest.fixture
def db(migrated):
    db = Db(migrated("registry"))
    with db.transaction() as s:
        demo.load(s)
    return db


SETTINGS = RegistrySettings(
    intake_url="http://intake.example.cn",
    routing_url="http://routing.example.cn",
    throttle=Throttle(max_failures=2, max_failures_per_address=10, window_s=60),
)


@pytest.fixture
def service(db):
    # config {}: tokens signed with the development key, as auth_headers(None) signs them
    return worker_factory(RegistryService, config={}, db=db, settings=SETTINGS)


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def test_settings_are_parsed_once_with_the_defaults_in_one_place():
    config = {"public_urls": {"intake": "http://i.cn/"}, "security": {"sign_in_window_s": "30"}}
    settings = RegistrySettings.from_config(config)
    assert settings.intake_url == "http://i.cn"
    assert settings.throttle == Throttle(window_s=30)
    assert RegistrySettings.from_config({}) == RegistrySettings()


def test_nobody_signed_in_and_a_wrong_role_are_refused(service):
    assert error(service.http_sectors(request("/sectors")), 401)["code"] == "not_signed_in"
    body = {"code": "x1", "name": "某界别"}
    refused = service.http_create(request("/sectors", M003, "POST", body), "sectors")
    assert error(refused, 403)["code"] == "forbidden"
    assert error(service.http_accounts(request("/accounts", GWM_ADMIN)), 403)["code"] == "forbidden"


def test_a_members_whole_record_only_for_the_office_the_member_or_its_stations_admin(service):
    def get(headers):
        return service.http_get(request("/members/m003", headers), "members", "m003")

    assert ok(get(OFFICE))["phone"] == ""
    assert ok(get(M003))["code"] == "m003"
    assert ok(get(GWM_ADMIN))["code"] == "m003"  # m003 serves at gwm
    assert error(get(JNL_ADMIN), 403)["code"] == "forbidden"
    assert error(get(M001), 403)["code"] == "forbidden"
    missing = service.http_get(request("/members/m404", OFFICE), "members", "m404")
    assert error(missing, 404)["code"] == "not_found"


def test_bad_integers_flags_and_dates_name_their_field(service):
    bad = error(service.http_members(request("/members", OFFICE, limit="zero")), 400)
    assert bad["code"] == "invalid"
    assert bad["fields"] == {"limit": ["应为1到1000的整数 / must be an integer 1–1000"]}
    bad = error(service.http_members(request("/members", OFFICE, offset="-1")), 400)
    assert list(bad["fields"]) == ["offset"]
    bad = error(service.http_stations(request("/stations", OFFICE, active="maybe")), 400)
    assert bad["fields"] == {"active": ["应为 true 或 false / must be true or false"]}
    bad = error(service.http_rosters(request("/rosters", OFFICE, **{"from": "2026-13-01"})), 400)
    assert list(bad["fields"]) == ["from"]
    bad = error(service.http_on_duty(request("/on-duty", OFFICE, date="2026-12-02")), 400)
    assert list(bad["fields"]) == ["station"]
    bad = error(service.http_on_duty(request("/on-duty", OFFICE, station="gwm")), 400)
    assert bad["fields"] == {"date": ["必填 / required"]}
    page = ok(service.http_members(request("/members", OFFICE, limit="2", offset="1")))
    assert page["total"] == 14 and [m["code"] for m in page["members"]] == ["m002", "m003"]


def test_a_bad_body_answers_every_bad_field_and_writes_nothing(service, db):
    def announced():
        with db.transaction() as s:
            return len(s.scalars(select(OutboxMessage)).all())

    before = announced()
    not_json = service.http_create(request("/members", OFFICE, "POST", data="{"), "members")
    assert error(not_json, 400)["code"] == "bad_json"
    body = {"code": "M 9", "name": "", "level": "mayor", "sector": "nowhere", "district": "城关区"}
    bad = error(service.http_create(request("/members", OFFICE, "POST", body), "members"), 400)
    assert bad["code"] == "invalid" and {"code", "name", "level"} <= set(bad["fields"])
    taken = {"code": "minjian", "name": "别的名字"}
    conflict = service.http_create(request("/sectors", OFFICE, "POST", taken), "sectors")
    assert error(conflict, 409)["fields"] == {"code": ["编号已存在 / code already exists: minjian"]}
    assert announced() == before


def test_a_station_admin_keeps_only_its_own_stations_rosters(service):
    roster = {"date": "2026-12-02", "station": "gwm", "members": ["m003"]}
    saved = ok(service.http_save_roster(request("/rosters", GWM_ADMIN, "POST", roster)), 201)
    assert saved["saved"]["code"] == "station-gwm-20261202-am"
    other = {**roster, "station": "jnl", "members": ["m005"]}
    refused = service.http_save_roster(request("/rosters", GWM_ADMIN, "POST", other))
    assert error(refused, 403)["code"] == "forbidden"
    assert error(service.http_rosters(request("/rosters", GWM_ADMIN)), 403)["code"] == "forbidden"
    mine = ok(service.http_rosters(request("/rosters", GWM_ADMIN, station="gwm")))
    assert [r["code"] for r in mine["rosters"]] == ["station-gwm-20261202-am"]
    on_duty = service.http_on_duty(request("/on-duty", JNL_ADMIN, station="gwm", date="2026-12-02"))
    assert error(on_duty, 403)["code"] == "forbidden"


def test_a_rotations_weekdays_and_per_day_are_checked(service):
    def rotate(headers=OFFICE, **body):
        return service.http_rotation(request("/rosters/rotation", headers, "POST", body))

    bad = error(rotate(station="gwm", month="2026-12", weekdays=[7]), 400)
    assert list(bad["fields"]) == ["weekdays"]
    bad = error(rotate(station="gwm", month="2026-12", per_day=0), 400)
    assert bad["fields"] == {"per_day": ["应为1到20的整数 / must be an integer 1–20"]}
    assert error(rotate(JNL_ADMIN, station="gwm", month="2026-12"), 403)["code"] == "forbidden"
    made = ok(rotate(station="gwm", month="2026-12", per_day=1), 201)
    assert len(made["rosters"]) == 5  # the Wednesdays of December 2026


def test_signing_in_is_throttled_with_retry_after_in_the_one_format(service, db):
    with db.transaction() as s:
        accounts.create(s, {"login": "li", "name": "李", "role": "office", "password": GOOD})

    def sign_in(password, mimetype="application/json"):
        body = {"login": "li", "password": password}
        if mimetype != "application/json":
            return service.http_sign_in(request("/auth/sign-in", None, "POST", data="login=li"))
        return service.http_sign_in(request("/auth/sign-in", None, "POST", body))

    assert error(sign_in(GOOD, "form"), 415)["code"] == "bad_json"
    answer = ok(sign_in(GOOD))
    assert answer["account"]["login"] == "li" and answer["token"]
    for _ in range(2):
        assert error(sign_in("guess"), 401)["code"] == "sign_in_failed"
    throttled = sign_in(GOOD)  # the right password waits too
    assert error(throttled, 429)["code"] == "too_many_attempts"
    assert 0 < int(throttled.headers["Retry-After"]) <= 60


def test_the_sign_in_page_answers_wrong_passwords_and_throttling_as_pages(service, db):
    with db.transaction() as s:
        accounts.create(s, {"login": "li", "name": "李", "role": "office", "password": GOOD})
    page = service.page_sign_in(request("/sign-in", next="http://evil.example/x"))
    assert page.status_code == 200 and 'name=next value=""' in page.get_data(as_text=True)
    stale = service.page_sign_in_post(
        request("/sign-in", None, "POST", data={"login": "li", "password": GOOD})
    )
    assert stale.status_code == 403 and "页面已过期" in stale.get_data(as_text=True)


def test_the_own_password_needs_the_current_one(service, db):
    with db.transaction() as s:
        accounts.create(s, {"login": "li", "name": "李", "role": "office", "password": GOOD})
    li = auth_headers(role="office", account="li")
    body = {"current_password": "not-it-at-all", "password": "黄河-new-horse-2026"}
    bad = error(service.http_own_password(request("/auth/password", li, "POST", body)), 400)
    assert list(bad["fields"]) == ["current_password"]
    body["current_password"] = GOOD
    assert ok(service.http_own_password(request("/auth/password", li, "POST", body)))["changed"]
    with db.transaction() as s:
        now = datetime.now(UTC) + timedelta(seconds=1)
        assert accounts.sign_in(s, "li", "黄河-new-horse-2026", "10.0.0.1", now=now) is not None
