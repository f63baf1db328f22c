"""Issue 20 in the registry: every bad input a 4xx in the one error format naming the field, never
a 500, and nothing written; every write scoped like the read; sign-out only from this site.

The registry service class without a container (nameko's ``worker_factory``), on a real (SQLite)
registry database with the small demo set and one studio. PostgreSQL, RabbitMQ and a browser:
tests/e2e/test_registry_inputs.py."""

import json

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import func, select

from services.kernel import auth
from services.kernel.models import OutboxMessage
from services.registry import accounts, demo, members, places
from services.registry.models import Account, RosterDay
from services.registry.service import RegistryService
from services.registry.settings import RegistrySettings
from tests.conftest import auth_headers
from tests.unit import workers
from tests.unit.workers import Db, error

OFFICE = auth_headers(role="office")
GWM_ADMIN = auth_headers(role="station_admin", stations=["gwm"])
JNL_ADMIN = auth_headers(role="station_admin", stations=["jnl"])
STUDIO_ADMIN = auth_headers(role="studio_admin", studios=["yiyao-s"])
OTHER_STUDIO_ADMIN = auth_headers(role="studio_admin", studios=["jiaoyu-s"])
M003 = auth_headers(role="member", member="m003")
GOOD = "长城-correct-horse"
HUGE = str(10**20)


def request(*args, **kwargs):
    return workers.request(*args, remote_addr="10.0.0.7", **kwargs)


@pytest.fixture
def db(migrated):
    db = Db(migrated("registry"))
    with db.transaction() as s:
        demo.load(s)
        for code, sector in (("yiyao-s", "yiyao"), ("jiaoyu-s", "jiaoyu")):
            places.save_studio(
                s,
                {"code": code, "name": f"{code}工作室", "district": "城关区", "sectors": [sector]},
            )
        # m003 (gwm, jql) serves at the yiyao studio too; m009 at the jiaoyu one
        for code, studio in (("m003", "yiyao-s"), ("m009", "jiaoyu-s")):
            m = demo.MEMBERS[int(code[1:]) - 1]
            members.save_member(
                s,
                {
                    "code": code,
                    "name": m[1],
                    "level": m[2],
                    "sector": m[3],
                    "district": m[4],
                    "stations": [{"station": st, "role": r} for st, r in m[5]],
                    "studios": [{"studio": studio}],
                },
            )
        accounts.create(s, {"login": "li", "name": "李", "role": "office", "password": GOOD})
    return db


@pytest.fixture
def service(db):
    settings = RegistrySettings(intake_url="http://intake.example.cn")
    return worker_factory(RegistryService, config={}, db=db, settings=settings)


def written(db) -> tuple:
    """What a refused request must leave as it was: announcements, duty days, accounts."""
    with db.transaction() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(model))
            for model in (OutboxMessage, RosterDay, Account)
        ) + (s.get(Account, "li").revision,)


def refused(response, *fields, status=400) -> dict:
    """A 4xx in the one error format; with ``fields``, exactly those named."""
    body = error(response, status)
    if fields:
        assert set(body["fields"]) == set(fields), body
    return body


# -- paging and query arguments -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, value",
    [("limit", v) for v in ("abc", "1e3", "-1", "0", "1001", HUGE, "+5", "1_0", "٥", " 5", "5.0")]
    + [("offset", v) for v in ("abc", "-1", "100001", HUGE, "1e3", "0x10")],
)
def test_every_paging_argument_is_a_strict_bounded_integer(service, name, value):
    bad = refused(service.http_members(request("/members", OFFICE, **{name: value})), name)
    assert bad["code"] == "invalid" and "整数" in bad["fields"][name][0]


def test_the_page_bounds_themselves_are_accepted(service):
    page = json.loads(
        service.http_members(request("/members", OFFICE, limit="1000", offset="100000")).data
    )
    assert page == {"total": 14, "members": []}
    page = json.loads(service.http_members(request("/members", OFFICE, limit="1")).data)
    assert [m["code"] for m in page["members"]] == ["m001"]


@pytest.mark.parametrize(
    "call, path, query, field",
    [
        ("http_members", "/members", {"q": "x" * 101}, "q"),
        ("http_members", "/members", {"station": "g\x00wm"}, "station"),
        ("http_stations", "/stations", {"district": "城\x00"}, "district"),
        ("http_studios", "/studios", {"sector": "s" * 500}, "sector"),
        ("http_rosters", "/rosters", {"station": "gwm\x00"}, "station"),
        ("http_rosters", "/rosters", {"from": "1900-01-01"}, "from"),
        ("http_rosters", "/rosters", {"to": "+02026-01-01"}, "to"),
        (
            "http_on_duty",
            "/on-duty",
            {"station": "gwm", "date": "2026-12-02", "sector": "\x00"},
            "sector",
        ),
        ("http_accounts", "/accounts", {"role": "r" * 101}, "role"),
    ],
)
def test_query_text_is_bounded_and_free_of_control_characters(service, call, path, query, field):
    refused(getattr(service, call)(request(path, OFFICE, **query)), field)


@pytest.mark.parametrize("code", ["m\x00", "m" * 5000, "M003", "m003\n", "../m003"])
def test_a_code_in_the_path_that_cannot_be_one_is_not_found(service, code):
    assert error(service.http_get(request("/members/x", OFFICE), "members", code), 404)
    assert error(service.http_qr(request("/qr/x"), "member", code, "svg"), 404)
    patched = service.http_update(request("/m", OFFICE, "PATCH", {"name": "x"}), "members", code)
    assert error(patched, 404)
    assert error(service.http_account(request("/accounts/x", OFFICE), code), 404)


# -- bodies: type confusion, bounds, size and depth ---------------------------------------------

BAD_BODIES = [
    # (entrypoint, path args, body, the field named)
    ("http_create", ("sectors",), {"code": ["x1"], "name": "某"}, "code"),
    ("http_create", ("sectors",), {"code": "x1", "name": {"zh": "某"}}, "name"),
    ("http_create", ("sectors",), {"code": "x1", "name": "某" * 101}, "name"),
    ("http_create", ("sectors",), {"code": "x1", "name": "某\x00"}, "name"),
    ("http_create", ("sectors",), {"code": "x1\n", "name": "某"}, "code"),
    (
        "http_create",
        ("stations",),
        {"code": "s1", "name": "站", "district": ["城关区"], "kind": "park"},
        "district",
    ),
    (
        "http_create",
        ("stations",),
        {"code": "s1", "name": "站", "district": "城关区", "kind": "park", "street": "街" * 101},
        "street",
    ),
    (
        "http_create",
        ("studios",),
        {"code": "t1", "name": "室", "district": "城关区", "sectors": "yiyao"},
        "sectors",
    ),
    (
        "http_create",
        ("studios",),
        {"code": "t1", "name": "室", "district": "城关区", "sectors": ["yiyao"] * 51},
        "sectors",
    ),
    (
        "http_create",
        ("members",),
        {
            "code": "m99",
            "name": "某",
            "level": "county",
            "sector": "yiyao",
            "district": "城关区",
            "phone": 13800000000,
        },
        "phone",
    ),
    (
        "http_create",
        ("members",),
        {"code": "m99", "name": "某", "level": ["county"], "sector": "yiyao", "district": "城关区"},
        "level",
    ),
    (
        "http_create",
        ("members",),
        {
            "code": "m99",
            "name": "某",
            "level": "county",
            "sector": "yiyao",
            "district": "城关区",
            "expertise": ["医"] * 21,
        },
        "expertise",
    ),
    (
        "http_create",
        ("members",),
        {
            "code": "m99",
            "name": "某",
            "level": "county",
            "sector": "yiyao",
            "district": "城关区",
            "stations": "gwm",
        },
        "stations",
    ),
    (
        "http_create",
        ("members",),
        {
            "code": "m99",
            "name": "某",
            "level": "county",
            "sector": "yiyao",
            "district": "城关区",
            "stations": [{"station": ["gwm"]}],
        },
        "stations",
    ),
    (
        "http_create",
        ("members",),
        {
            "code": "m99",
            "name": "某",
            "level": "county",
            "sector": "yiyao",
            "district": "城关区",
            "stations": [{"station": f"s{i}"} for i in range(51)],
        },
        "stations",
    ),
    ("http_update", ("members", "m003"), {"name": ["张"]}, "name"),
    ("http_update", ("members", "m003"), {"code": ["m003"]}, "code"),
    ("http_update", ("stations", "gwm"), {"active": "maybe"}, "active"),
    ("http_save_roster", (), {"date": "2026-12-02", "station": ["gwm"]}, "station"),
    ("http_save_roster", (), {"date": "2026-12-02", "station": {"code": "gwm"}}, "station"),
    (
        "http_save_roster",
        (),
        {"date": "2026-12-02", "station": "gwm", "members": "m003"},
        "members",
    ),
    ("http_save_roster", (), {"date": "2026-12-02", "station": "gwm", "members": [3]}, "members"),
    (
        "http_save_roster",
        (),
        {"date": "2026-12-02", "station": "gwm", "members": ["m003"] * 51},
        "members",
    ),
    ("http_save_roster", (), {"date": 20261202, "station": "gwm"}, "date"),
    ("http_save_roster", (), {"date": "9999-12-02", "station": "gwm"}, "date"),
    ("http_save_roster", (), {"date": "2026-12-02", "station": "gwm", "slot": ["am"]}, "slot"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-12", "per_day": 1000000000}, "per_day"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-12", "per_day": 21}, "per_day"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-12", "per_day": "3"}, "per_day"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-12", "per_day": 2.5}, "per_day"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-12", "per_day": True}, "per_day"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-12", "per_day": None}, "per_day"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-12", "per_day": int(HUGE)}, "per_day"),
    ("http_rotation", (), {"station": "gwm", "month": ["2026-12"]}, "month"),
    ("http_rotation", (), {"station": "gwm", "month": "99999-12"}, "month"),
    ("http_rotation", (), {"station": "gwm", "month": "0000-12"}, "month"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-13"}, "month"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-12", "weekdays": [True]}, "weekdays"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-12", "weekdays": [2, 2]}, "weekdays"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-12", "weekdays": []}, "weekdays"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-12", "weekdays": "2"}, "weekdays"),
    ("http_rotation", (), {"station": ["gwm"], "month": "2026-12"}, "station"),
    ("http_rotation", (), {"station": {"a": 1}, "month": "2026-12"}, "station"),
    ("http_rotation", (), {"studio": "GWM!", "month": "2026-12"}, "studio"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-12", "slot": "noon"}, "slot"),
    ("http_rotation", (), {"station": "gwm", "month": "2026-12", "per_week": 2}, "per_week"),
    (
        "http_create_account",
        (),
        {"login": ["x"], "name": "某", "role": "office", "password": GOOD},
        "login",
    ),
    (
        "http_create_account",
        (),
        {"login": "zz", "name": ["某"], "role": "office", "password": GOOD},
        "name",
    ),
    (
        "http_create_account",
        (),
        {"login": "zz", "name": "某", "role": ["office"], "password": GOOD},
        "role",
    ),
    (
        "http_create_account",
        (),
        {"login": "zz", "name": "某", "role": {"office": 1}, "password": GOOD},
        "role",
    ),
    (
        "http_create_account",
        (),
        {"login": "zz", "name": "某", "role": "member", "member": ["m003"], "password": GOOD},
        "member",
    ),
    (
        "http_create_account",
        (),
        {"login": "zz", "name": "某", "role": "member", "member": 3, "password": GOOD},
        "member",
    ),
    (
        "http_create_account",
        (),
        {"login": "zz", "name": "某", "role": "station_admin", "stations": "gwm", "password": GOOD},
        "stations",
    ),
    (
        "http_create_account",
        (),
        {
            "login": "zz",
            "name": "某",
            "role": "station_admin",
            "stations": [["gwm"]],
            "password": GOOD,
        },
        "stations",
    ),
    (
        "http_create_account",
        (),
        {"login": "zz", "name": "某", "role": "office", "password": ["x" * 12]},
        "password",
    ),
    (
        "http_create_account",
        (),
        {"login": "zz", "name": "某", "role": "office", "password": "长城-horse" * 40},
        "password",
    ),
    ("http_update_account", ("li",), {"role": ["office"]}, "role"),
    ("http_update_account", ("li",), {"active": "yes"}, "active"),
    ("http_reset_password", ("li",), {"password": {"p": GOOD}}, "password"),
    ("http_own_password", (), {"current_password": [GOOD], "password": GOOD}, "current_password"),
    ("http_own_password", (), {"current_password": GOOD, "password": 12345678901}, "password"),
]


@pytest.mark.parametrize("call, path_args, body, field", BAD_BODIES)
def test_type_confusion_and_out_of_bounds_values_are_field_errors(
    service, db, call, path_args, body, field
):
    before = written(db)
    li = auth_headers(role="office", account="li")
    answer = getattr(service, call)(request("/x", li, "POST", body), *path_args)
    bad = refused(answer)
    assert bad["code"] == "invalid" and field in bad["fields"], bad
    assert written(db) == before


@pytest.mark.parametrize(
    "call, path_args",
    [
        ("http_create", ("members",)),
        ("http_update", ("members", "m003")),
        ("http_save_roster", ()),
        ("http_rotation", ()),
        ("http_create_account", ()),
        ("http_sign_in", ()),
        ("http_own_password", ()),
        ("http_reset_password", ("li",)),
    ],
)
def test_huge_deep_and_non_object_bodies_are_refused_in_the_one_format(
    service, db, call, path_args
):
    before = written(db)
    li = auth_headers(role="office", account="li")
    deep = "[" * 5000 + "]" * 5000
    nested = '{"name": ' + "[" * 9 + "]" * 9 + "}"
    for raw, status, code in (
        (deep, 400, "bad_json"),
        ('{"a": ' * 5000 + "1" + "}" * 5000, 400, "bad_json"),
        (nested, 400, "bad_json"),
        ("[1, 2]", 400, "bad_json"),
        ('{"x": "' + "长" * 40000 + '"}', 413, "too_large"),
        ("{" + "\x00", 400, "bad_json"),
    ):
        answer = getattr(service, call)(request("/x", li, "POST", raw), *path_args)
        assert error(answer, status)["code"] == code, raw[:30]
    assert written(db) == before


def test_an_import_file_is_capped(service, db):
    before = written(db)
    big = b"code,name\n" + b"x" * (5 * 1024 * 1024)
    answer = service.http_import(request("/import/sectors", OFFICE, "POST", data=big), "sectors")
    assert error(answer, 413)["code"] == "too_large"
    assert written(db) == before


def test_a_sign_in_with_the_wrong_types_names_the_field_and_counts_no_failure(service, db):
    for body, field in (
        ({"login": ["li"], "password": GOOD}, "login"),
        ({"login": "li", "password": {"p": GOOD}}, "password"),
        ({"login": "li", "password": "x" * 257}, "password"),
        ({"login": "l" * 61, "password": GOOD}, "login"),
    ):
        refused(service.http_sign_in(request("/auth/sign-in", None, "POST", body)), field)
    signed_in = service.http_sign_in(
        request("/auth/sign-in", None, "POST", {"login": "li", "password": GOOD})
    )
    assert signed_in.status_code == 200


# -- scope: writes as the reads, codes inside bodies too ---------------------------------------


def roster(**fields):
    return {"date": "2026-12-02", **fields}


@pytest.mark.parametrize(
    "who, body",
    [
        (GWM_ADMIN, roster(station="jnl", members=["m005"])),  # another station
        (GWM_ADMIN, roster(station="gwm", members=["m005"])),  # jnl's member at its own
        (GWM_ADMIN, roster(station="gwm", members=["m003", "m009"])),  # one of them jql's
        (GWM_ADMIN, roster(studio="yiyao-s", members=["m003"])),  # a studio: not a station's
        (JNL_ADMIN, roster(station="gwm", members=[])),
        (STUDIO_ADMIN, roster(studio="jiaoyu-s", members=["m009"])),  # another studio
        (STUDIO_ADMIN, roster(studio="yiyao-s", members=["m001"])),  # gwm's member, not its
        (STUDIO_ADMIN, roster(station="gwm", members=["m003"])),  # a station
        (OTHER_STUDIO_ADMIN, roster(studio="yiyao-s", members=["m003"])),
    ],
)
def test_a_roster_naming_a_place_or_member_outside_the_scope_is_forbidden(service, db, who, body):
    before = written(db)
    answer = service.http_save_roster(request("/rosters", who, "POST", body))
    bad = refused(answer, status=403)
    assert bad["code"] == "forbidden" and "m0" not in json.dumps(bad)
    assert written(db) == before


@pytest.mark.parametrize(
    "who, body",
    [
        (GWM_ADMIN, roster(station="gwm", members=["m001", "m003"])),
        (STUDIO_ADMIN, roster(studio="yiyao-s", members=["m003"])),
        (OFFICE, roster(station="jnl", members=["m005", "m003"])),
    ],
)
def test_a_roster_of_ones_own_place_and_members_is_saved(service, who, body):
    assert service.http_save_roster(request("/rosters", who, "POST", body)).status_code == 201


@pytest.mark.parametrize(
    "who, place",
    [
        (JNL_ADMIN, {"station": "gwm"}),
        (GWM_ADMIN, {"studio": "yiyao-s"}),
        (STUDIO_ADMIN, {"studio": "jiaoyu-s"}),
        (STUDIO_ADMIN, {"station": "gwm"}),
    ],
)
def test_a_rotation_of_another_place_is_forbidden(service, db, who, place):
    before = written(db)
    body = {**place, "month": "2026-12", "per_day": 1}
    bad = refused(
        service.http_rotation(request("/rosters/rotation", who, "POST", body)), status=403
    )
    assert bad["code"] == "forbidden"
    assert written(db) == before


def test_a_rotation_of_ones_own_studio_puts_only_its_members_on_duty(service):
    body = {"studio": "yiyao-s", "month": "2026-12", "per_day": 20}
    made = json.loads(service.http_rotation(request("/r", STUDIO_ADMIN, "POST", body)).data)
    assert {tuple(r["members"]) for r in made["rosters"]} == {("m003",)}


@pytest.mark.parametrize(
    "who, query",
    [
        (STUDIO_ADMIN, {"studio": "jiaoyu-s"}),
        (STUDIO_ADMIN, {"station": "gwm"}),
        (GWM_ADMIN, {"station": "jnl"}),
        (GWM_ADMIN, {"member": "m003"}),
        (M003, {"member": "m001"}),
        (M003, {"station": "gwm"}),
    ],
)
def test_reading_rosters_follows_the_same_rule(service, who, query):
    refused(service.http_rosters(request("/rosters", who, **query)), status=403)


# -- signing out --------------------------------------------------------------------------------


def test_sign_out_only_as_json_bearer_or_from_this_sites_page(service):
    config = {}
    session = auth.issue_token(auth.Principal(account="li", role="office"), config)
    cookie = {"Cookie": f"lx_session={session}"}

    def sign_out(headers=None, **kwargs):
        return service.http_sign_out(request("/auth/sign-out", headers, "POST", **kwargs))

    def forgets(response) -> bool:
        return "lx_session=;" in response.headers.get("Set-Cookie", "")

    # a cross-site form: no token, a wrong one, text/plain, an empty POST; the cookie stays
    for answer in (
        sign_out(cookie, data={"go": "1"}),
        sign_out(
            {**cookie, "Cookie": cookie["Cookie"] + "; lx_csrf=" + "c" * 32},
            data={"csrf_token": "forged"},
        ),
        sign_out({**cookie, "Content-Type": "text/plain"}, data="csrf_token=x"),
        sign_out(cookie),
    ):
        assert answer.status_code == 403 and not forgets(answer)
    page = sign_out(cookie, data={"go": "1"})
    assert "页面已过期" in page.get_data(as_text=True) and "id=sign-out" in page.get_data(
        as_text=True
    )
    assert error(sign_out(cookie), 403)["code"] == "csrf"

    # from the page: its token, matching the browser's lx_csrf cookie
    signed_in = service.page_sign_in(request("/sign-in", cookie))
    csrf_cookie = signed_in.headers["Set-Cookie"].split(";")[0]  # lx_csrf=…
    html = signed_in.get_data(as_text=True)
    assert "id=sign-out" in html and 'action="auth/sign-out"' in html
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    browser = {"Cookie": f"{cookie['Cookie']}; {csrf_cookie}"}
    answer = sign_out(browser, data={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["Location"] == "../sign-in"
    assert forgets(answer)

    # an API: JSON with the cookie, or a Bearer header with no body at all
    assert forgets(sign_out(cookie, body={})) and sign_out(cookie, body={}).status_code == 200
    bearer = sign_out({"Authorization": f"Bearer {session}"})
    assert bearer.status_code == 200 and forgets(bearer)


def test_the_sign_in_page_offers_sign_out_only_to_someone_signed_in(service):
    html = service.page_sign_in(request("/sign-in")).get_data(as_text=True)
    assert "id=sign-out" not in html
