"""Who may see and do what, against the running system (docs/security.md, "Roles and sign-in").

Every HTTP route of the four services is found in the code, and each one not public on purpose
must refuse a request without a valid session: a new endpoint without a guard fails here. Then
each role tries another's data through every API: 403, and nothing of the other's in the body.
"""

from urllib.parse import quote

import pytest
import requests

from tests.conftest import auth_headers, delete_vhost
from tests.e2e.conftest import make_stack, wait_case, wait_submission
from tests.e2e.routes import SERVICE_CLASSES, concrete, routes
from tools.client import SubmissionClient

KERNEL_PUBLIC = {("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics")}
# Open to anybody on purpose; a change here is a change to docs/security.md.
PUBLIC = {
    "registry": KERNEL_PUBLIC
    | {
        ("POST", "/auth/sign-in"),
        ("POST", "/auth/sign-out"),
        ("GET", "/sign-in"),
        ("POST", "/sign-in"),
        ("GET", "/qr/<any(member, station, studio):kind>/<code>.<any(png, svg):fmt>"),
        ("GET", "/qr/<any(member, station, studio):kind>/<code>/poster"),
        ("GET", "/finder"),  # the public station finder (issue 19)
        ("GET", "/<any(stations, studios):kind>/<code>/reception.ics"),
    },
    "intake": KERNEL_PUBLIC
    | {
        ("GET", "/categories"),
        ("GET", "/q/<string:kind>/<string:code>"),
        ("POST", "/q/<string:kind>/<string:code>"),
        ("GET", "/q/receipt/<string:submission_id>"),
        ("GET", "/status"),
        ("POST", "/status/action"),
        ("GET", "/api/status"),
        ("GET", "/open311/v2/services.<string:fmt>"),
        ("GET", "/open311/v2/services/<string:code>.<string:fmt>"),
        ("POST", "/open311/v2/requests.<string:fmt>"),
        ("GET", "/open311/v2/requests.<string:fmt>"),
        ("GET", "/open311/v2/requests/<string:number>.<string:fmt>"),
        ("GET", "/open311/v2/tokens/<string:token_id>.<string:fmt>"),
    },
    "routing": KERNEL_PUBLIC,
    "reporting": KERNEL_PUBLIC,
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_databases):
    """One stack (SQLite): who may do what does not depend on the database."""
    stack, vhost, stack.amqp_uri = make_stack(
        tmp_path_factory.mktemp("access"), "sqlite", pg_databases
    )
    yield stack
    stack.stop()
    delete_vhost(vhost)


def test_the_public_routes_are_exactly_those_meant_to_be():
    for service, cls in SERVICE_CLASSES.items():
        public = {
            (m, rule)
            for m, rule, fn in routes(cls)
            if getattr(fn, "lianxin_access", None) == "public"
        }
        assert public == PUBLIC[service], service
        unmarked = [rule for _, rule, fn in routes(cls) if not hasattr(fn, "lianxin_access")]
        assert unmarked == [], f"{service}: neither guarded nor public: {unmarked}"


def test_every_route_not_public_refuses_without_a_valid_session(stack):
    config = stack.config()
    expired = auth_headers(config, expires_in=-1)
    foreign = auth_headers({"security": {"secret_key": "another deployment's key"}})
    checked = 0
    for service, cls in SERVICE_CLASSES.items():
        for method, rule, fn in routes(cls):
            if (method, rule) in PUBLIC[service]:
                continue
            url = stack.url(service, concrete(rule))
            for headers in ({}, expired, foreign):
                r = requests.request(
                    method, url, headers=headers, allow_redirects=False, timeout=10
                )
                if getattr(
                    fn, "lianxin_page", False
                ):  # a page sends the browser to sign in, and back
                    sign_in = f"{config['public_urls']['registry']}/sign-in?next="
                    assert r.status_code == 303, (method, url, r.status_code)
                    assert r.headers["Location"] == sign_in + quote(url, safe=""), url
                else:
                    assert r.status_code == 401, (method, url, r.status_code, r.text[:200])
                    assert r.json()["error"]["code"] == "not_signed_in"
            checked += 1
    assert checked >= 50  # the enumeration found them (54 when this was written)


@pytest.fixture(scope="module")
def world(stack):
    """Two members' cases at two stations, two studios with an activity each."""
    h = stack.headers
    numbers = {}
    with SubmissionClient(stack.amqp_uri) as client:
        for station, text in (("gwm", "楼道堆放杂物"), ("jnl", "路灯不亮")):
            sid = client.submit(station, category="hazard", description=text)
            [submission] = wait_submission(stack, sid)
            numbers[station] = submission["tracking_number"]
    cases = {s: wait_case(stack, n) for s, n in numbers.items()}
    a, b = cases["gwm"]["member"], cases["jnl"]["member"]
    assert a != b
    for code, member in (("st-a", a), ("st-b", b)):
        studio = {"code": code, "name": f"工作室{code}", "district": "城关区", "sectors": ["yiyao"]}
        r = requests.post(stack.url("registry", "/studios"), json=studio, headers=h, timeout=10)
        assert r.ok, r.text
        r = requests.patch(
            stack.url("registry", f"/members/{member}"),
            json={"studios": [{"studio": code}]},
            headers=h,
            timeout=10,
        )
        assert r.ok, r.text
    activity = {
        "kind": "lecture",
        "studio": "st-b",
        "date": "2026-11-20",
        "members": [b],
        "people_served": 12,
    }

    def recorded():
        url = stack.url("intake", "/staff/activities")
        r = requests.post(url, json=activity, headers=h, timeout=30)
        assert r.status_code == 201 or set(r.json()["error"]["fields"]) == {"studio"}, r.text
        return r.status_code == 201

    stack.wait_for(recorded, timeout=30, interval=0.5, what="intake to know the studio")
    r = requests.put(
        stack.url("routing", f"/members/{b}/notifications"),
        json={"channel": "email", "address": "b-member@example.cn"},
        headers=h,
        timeout=10,
    )
    assert r.ok, r.text
    return {"a": a, "b": b, "numbers": numbers}


def refused(r, *secrets):
    """403, and nothing of the other's in the answer."""
    assert r.status_code == 403, (r.request.method, r.url, r.status_code, r.text[:300])
    for secret in secrets:
        assert secret not in r.text, (r.url, secret)
    return True


def call(stack, headers, method, service, path, **kwargs):
    return requests.request(method, stack.url(service, path), headers=headers, timeout=30, **kwargs)


def test_a_member_sees_only_the_own_cases_duty_page_settings_and_record(stack, world):
    config = stack.config()
    a, b = world["a"], world["b"]
    theirs = world["numbers"]["jnl"]
    me = auth_headers(config, "member", member=a)

    def go(method, service, path, **kwargs):
        return call(stack, me, method, service, path, **kwargs)

    for method, service, path, kwargs in (
        ("GET", "routing", f"/members/{b}/cases", {}),
        ("GET", "routing", f"/duty/{b}", {}),
        ("GET", "routing", f"/members/{b}/notifications", {}),
        ("PUT", "routing", f"/members/{b}/notifications", {"json": {"channel": "none"}}),
        ("GET", "routing", f"/cases/{theirs}", {}),
        ("POST", "routing", f"/cases/{theirs}/actions/accept", {"json": {}}),
        ("POST", "routing", f"/cases/{theirs}/actions/transfer", {"json": {"to_member": a}}),
        ("GET", "routing", "/stations/jnl/cases", {}),
        ("GET", "registry", f"/members/{b}", {}),
        ("GET", "registry", "/rosters", {"params": {"member": b}}),
        ("GET", "registry", "/rosters", {}),
        ("GET", "intake", f"/issues/{theirs}", {}),
    ):
        refused(go(method, service, path, **kwargs), theirs, "b***@example.cn")
    assert wait_case(stack, theirs)["status"] == "assigned"  # nothing was done to it
    settings = call(stack, stack.headers, "GET", "routing", f"/members/{b}/notifications")
    assert settings.json()["channel"] == "email"  # unchanged

    # the own things answer
    mine = go("GET", "routing", f"/members/{a}/cases").json()["cases"]
    assert world["numbers"]["gwm"] in [c["tracking_number"] for c in mine]
    assert go("GET", "routing", f"/cases/{world['numbers']['gwm']}").ok
    assert "履职清单" in go("GET", "routing", f"/duty/{a}").text
    assert go("GET", "routing", f"/members/{a}/notifications").ok
    # the notices and activities lists show only the member's own, whatever is asked
    notices = go("GET", "routing", "/notices", params={"member": b}).json()["notices"]
    assert all(n["member"] == a for n in notices)
    activities = go("GET", "intake", "/activities").json()["activities"]
    assert all(a in x["members"] for x in activities) and "st-b" not in str(activities)


def test_a_station_admin_keeps_to_the_own_stations(stack, world):
    config = stack.config()
    theirs = world["numbers"]["jnl"]
    admin = auth_headers(config, "station_admin", stations=["gwm"])
    roster = {"date": "2026-12-01", "slot": "am", "station": "jnl", "members": ["m005"]}
    before = call(stack, stack.headers, "GET", "intake", "/submissions", params={"limit": 1000})
    for method, service, path, kwargs in (
        ("GET", "routing", "/stations/jnl/cases", {}),
        ("GET", "routing", "/duty/station/jnl", {}),
        ("GET", "routing", f"/cases/{theirs}", {}),
        ("POST", "routing", f"/cases/{theirs}/actions/transfer", {"json": {"to_member": "m001"}}),
        ("GET", "routing", f"/members/{world['b']}/cases", {}),
        ("GET", "registry", "/rosters", {"params": {"station": "jnl"}}),
        ("POST", "registry", "/rosters", {"json": roster}),
        ("POST", "registry", "/rosters/rotation", {"json": {"month": "2026-12", "station": "jnl"}}),
        ("GET", "registry", "/on-duty", {"params": {"station": "jnl", "date": "2026-12-01"}}),
        ("GET", "registry", "/members/m005", {}),
        ("GET", "intake", f"/issues/{theirs}", {}),
        ("GET", "intake", "/activities", {"params": {"station": "jnl"}}),
        (
            "POST",
            "intake",
            "/staff/issues",
            {"json": {"station": "jnl", "category": "hazard", "description": "冒名录入"}},
        ),
        (
            "POST",
            "intake",
            "/staff/activities",
            {
                "json": {
                    "kind": "lecture",
                    "station": "jnl",
                    "date": "2026-11-20",
                    "people_served": 1,
                }
            },
        ),
    ):
        refused(call(stack, admin, method, service, path, **kwargs), theirs, "陈立新")
    after = call(stack, stack.headers, "GET", "intake", "/submissions", params={"limit": 1000})
    assert len(after.json()["submissions"]) == len(before.json()["submissions"])
    assert "冒名录入" not in after.text
    assert wait_case(stack, theirs)["status"] == "assigned"

    own = world["numbers"]["gwm"]
    listed = call(stack, admin, "GET", "routing", "/stations/gwm/cases").json()["cases"]
    assert own in [c["tracking_number"] for c in listed] and theirs not in str(listed)
    assert call(stack, admin, "GET", "intake", f"/issues/{own}").ok
    assert call(stack, admin, "GET", "registry", "/rosters", params={"station": "gwm"}).ok
    assert call(stack, admin, "GET", "registry", "/members/m001").json()["code"] == "m001"


def test_a_studio_admin_keeps_to_the_own_studios(stack, world):
    admin = auth_headers(stack.config(), "studio_admin", studios=["st-a"])
    roster = {"date": "2026-12-01", "slot": "am", "studio": "st-b", "members": [world["b"]]}
    activity = {"kind": "lecture", "studio": "st-b", "date": "2026-11-21", "people_served": 1}
    for method, service, path, kwargs in (
        ("GET", "registry", "/rosters", {"params": {"studio": "st-b"}}),
        ("POST", "registry", "/rosters", {"json": roster}),
        ("POST", "registry", "/rosters/rotation", {"json": {"month": "2026-12", "studio": "st-b"}}),
        ("POST", "intake", "/staff/activities", {"json": activity}),
        ("GET", "registry", f"/members/{world['b']}", {}),
        ("GET", "routing", f"/cases/{world['numbers']['jnl']}", {}),
    ):
        refused(call(stack, admin, method, service, path, **kwargs), "b***@example.cn")
    listed = call(stack, admin, "GET", "intake", "/activities").json()["activities"]
    assert "st-b" not in str(listed)
    assert call(stack, admin, "GET", "registry", "/rosters", params={"studio": "st-a"}).ok


def test_office_only_endpoints_refuse_members_and_admins(stack, world):
    config = stack.config()
    others = (
        auth_headers(config, "member", member=world["a"]),
        auth_headers(config, "station_admin", stations=["gwm"]),
        auth_headers(config, "studio_admin", studios=["st-a"]),
    )
    account = {"login": "taken", "name": "x", "role": "office", "password": "take-over-2026"}
    office_only = [
        ("GET", "registry", "/accounts", {}),
        ("POST", "registry", "/accounts", {"json": account}),
        ("POST", "registry", "/accounts/office/password", {"json": {"password": "x" * 12}}),
        ("POST", "registry", "/stations", {"json": {"code": "evil", "name": "x"}}),
        ("PATCH", "registry", "/members/m001", {"json": {"name": "改名"}}),
        ("POST", "registry", "/members/m001/deactivate", {}),
        ("POST", "registry", "/import/members", {"data": b"x"}),
        ("GET", "registry", "/export/members.csv", {}),
        ("GET", "intake", "/submissions", {}),
        ("GET", "intake", "/admin/unrouted", {}),
        ("POST", "intake", "/admin/unrouted/replay", {}),
        ("GET", "reporting", "/reconciliation", {}),
    ]
    for service in SERVICE_CLASSES:
        office_only.append(("GET", service, "/admin/parked", {}))
        office_only.append(("POST", service, "/admin/parked/1/replay", {}))
        office_only.append(("POST", service, "/admin/parked/1/discard", {"json": {"reason": "x"}}))
    for headers in others:
        for method, service, path, kwargs in office_only:
            refused(call(stack, headers, method, service, path, **kwargs), "13", "王建国")
    # members do not read the statistics (admins and the office do)
    refused(call(stack, others[0], "GET", "reporting", "/stats/monthly"))
    assert call(stack, others[1], "GET", "reporting", "/stats/monthly").ok
    member = call(stack, stack.headers, "GET", "registry", "/members/m001").json()
    assert member["name"] == "王建国" and member["active"] is True
