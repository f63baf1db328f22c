"""Leader liaison over HTTP against the real broker, on SQLite and PostgreSQL (issue 21): the
office saves a leader and records visits (``POST /leaders/<code>/visits``, the body the 2024
replay sends), each change announced once on ``lianxin.events``; field errors in the one format;
a station's admin reads its own station's visits and no other's; the pages' forms."""

import re

import requests

from tests.conftest import auth_headers
from tests.registry.test_api import OFFICE, STATION, post, seed
from tests.registry.test_office_pages import office_browser, submit

JNL = {**STATION, "code": "jnl", "name": "培黎街道建宁路社区委员工作站", "district": "安宁区",
       "kind": "community", "street": "培黎街道"}  # fmt: skip
LEADER = {"code": "ldr-zhang", "name": "张明远", "title": "主席", "stations": ["gwm", "jnl"]}
VISIT = {"station": "gwm", "date": "2024-06-12", "purpose": "现场推进委员码上见",
         "members": ["m100"], "others": "城关区政协副主席"}  # fmt: skip
GWM_ADMIN = auth_headers(role="station_admin", stations=["gwm"])
JNL_ADMIN = auth_headers(role="station_admin", stations=["jnl"])


def setup(base):
    seed(base)
    assert post(base, "/stations", JNL).status_code == 201
    r = post(base, "/leaders", LEADER)
    assert r.status_code == 201, r.text
    return r.json()["saved"]


def get(base, path, headers=OFFICE, **params):
    return requests.get(f"{base}{path}", params=params, headers=headers, timeout=10)


def test_the_office_saves_a_leader_and_records_visits_each_announced_once(registry_service):
    base, _, tap = registry_service
    assert setup(base) == {**LEADER, "active": True, "revision": 1}
    assert post(base, "/leaders", LEADER).json()["changed"] is False  # the same again
    r = requests.put(f"{base}/leaders/ldr-zhang", json={"title": "党组书记、主席"},
                     headers=OFFICE, timeout=10)  # fmt: skip
    assert r.status_code == 200 and r.json()["saved"]["revision"] == 2, r.text

    r = post(base, "/leaders/ldr-zhang/visits", {**VISIT, "visit_id": "r2024-gwm-1"})
    assert r.status_code == 201, r.text
    saved = r.json()["saved"]
    assert saved["visit_id"] == "r2024-gwm-1" and saved["members"] == ["m100"]
    retry = post(base, "/leaders/ldr-zhang/visits", {**VISIT, "visit_id": "r2024-gwm-1"})
    assert retry.status_code == 200 and retry.json()["changed"] is False
    second = post(base, "/leaders/ldr-zhang/visits", {**VISIT, "station": "jnl", "members": []})
    assert second.status_code == 201
    r = requests.post(f"{base}/visits/r2024-gwm-1/withdraw", headers=OFFICE, timeout=10)
    assert r.status_code == 200 and r.json()["saved"]["active"] is False

    events = [e for e in tap.drain() if e["type"].startswith("registry.leader")]
    kinds = [(e["type"], e["payload"].get("revision")) for e in events]
    assert kinds == [
        ("registry.leader_saved", 1),
        ("registry.leader_saved", 2),
        ("registry.leader_visit_saved", 1),
        ("registry.leader_visit_saved", 1),
        ("registry.leader_visit_saved", 2),
    ]
    first = events[2]["payload"]
    assert set(first) == {"visit_id", "leader", "station", "date", "purpose", "members",
                          "others", "active", "revision", "recorded_at"}  # fmt: skip
    assert (first["leader"], first["date"], first["others"]) == ("ldr-zhang", "2024-06-12",
                                                                 "城关区政协副主席")  # fmt: skip
    found = get(base, "/visits", leader="ldr-zhang", year=2024).json()
    assert found["total"] == 2 and {v["active"] for v in found["visits"]} == {True, False}
    assert get(base, "/visits", member="m100").json()["total"] == 1
    assert get(base, "/visits", year=2025).json()["total"] == 0


def test_client_mistakes_are_field_errors_in_the_one_format(registry_service):
    base, _, _ = registry_service
    setup(base)
    r = post(base, "/leaders/ldr-zhang/visits",
             {**VISIT, "station": "nowhere", "members": ["m404"], "date": "2100-01-01"})  # fmt: skip
    assert r.status_code == 400
    fields = r.json()["error"]["fields"]
    assert set(fields) == {"station", "members", "date"}
    assert "m404" in fields["members"][0] and "未知委员" in fields["members"][0]
    r = post(base, "/leaders", {**LEADER, "code": "ldr-li", "stations": ["gwm", "zz"]})
    assert r.status_code == 400 and "zz" in r.json()["error"]["fields"]["stations"][0]
    r = post(base, "/leaders/ldr-zhang/visits", {**VISIT, "members": "m100", "date": "June"})
    assert r.status_code == 400 and set(r.json()["error"]["fields"]) == {"members", "date"}
    assert post(base, "/leaders/nobody/visits", VISIT).status_code == 404
    r = post(base, "/leaders", {**LEADER, "name": "另一个人"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_code"
    assert get(base, "/visits", year="24x").status_code == 400


def test_a_station_admin_reads_its_own_stations_visits_and_no_other(registry_service):
    base, _, _ = registry_service
    setup(base)
    at_gwm = post(base, "/leaders/ldr-zhang/visits", VISIT).json()["saved"]["visit_id"]
    at_jnl = post(base, "/leaders/ldr-zhang/visits", {**VISIT, "station": "jnl"}).json()
    at_jnl = at_jnl["saved"]["visit_id"]

    mine = get(base, "/visits", GWM_ADMIN).json()
    assert [v["visit_id"] for v in mine["visits"]] == [at_gwm]
    assert get(base, f"/visits/{at_gwm}", GWM_ADMIN).status_code == 200
    for path, params in ((f"/visits/{at_jnl}", {}), ("/visits", {"station": "jnl"})):
        r = get(base, path, GWM_ADMIN, **params)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert get(base, "/visits/nothing-here", GWM_ADMIN).status_code == 404
    assert [ld["code"] for ld in get(base, "/leaders", JNL_ADMIN).json()["leaders"]] == [
        "ldr-zhang"
    ]
    other = auth_headers(role="station_admin", stations=["sp"])
    assert get(base, "/leaders", other).json()["leaders"] == []
    assert get(base, "/leaders/ldr-zhang", other).status_code == 403
    # writes are the office's
    r = requests.post(f"{base}/leaders/ldr-zhang/visits", json=VISIT, headers=GWM_ADMIN,
                      timeout=10)  # fmt: skip
    assert r.status_code == 403
    member = auth_headers(role="member", member="m100")
    assert get(base, "/visits", member).status_code == 403


TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_the_office_adds_a_leader_and_records_a_visit_from_the_pages(registry_service):
    base, _, _ = registry_service
    seed(base)
    assert post(base, "/stations", JNL).status_code == 201
    browser, token = office_browser(base)

    r = submit(browser, base, "leaders", token, code="ldr-wang", name="", title="副主席",
               stations=["gwm", "zz"])  # fmt: skip
    assert r.status_code == 400 and 'id="error-name"' in r.text and 'value="ldr-wang"' in r.text
    r = submit(browser, base, "leaders", token, code="ldr-wang", name="王慧敏", title="副主席",
               stations=["gwm", "zz"])  # fmt: skip
    assert r.status_code == 400 and 'id="error-stations"' in r.text and "zz" in r.text
    r = submit(browser, base, "leaders", token, code="ldr-wang", name="王慧敏", title="副主席",
               stations=["gwm", "jnl"])  # fmt: skip
    assert r.status_code == 200 and "已添加" in r.text, r.text
    assert get(base, "/leaders/ldr-wang").json()["stations"] == ["gwm", "jnl"]

    r = submit(browser, base, "visits", token, leader="ldr-wang", station="gwm",
               date="2100-01-01", purpose="", members="m100, m999")  # fmt: skip
    assert r.status_code == 400
    for field in ("date", "purpose", "members"):
        assert f'id="error-{field}"' in r.text
    assert "m999" in r.text and "m100, m999" in r.text  # what was typed is kept
    r = submit(browser, base, "visits", token, leader="ldr-wang", station="jnl",
               date="2026-03-05", purpose="调研培黎街道工作室建设", members="m100",
               others="安宁区政协")  # fmt: skip
    assert r.status_code == 200 and "已记录" in r.text, r.text
    [visit] = get(base, "/visits", leader="ldr-wang").json()["visits"]
    assert (visit["station"], visit["members"], visit["others"]) == ("jnl", ["m100"], "安宁区政协")

    r = submit(browser, base, "leaders/ldr-wang", token, name="王慧敏", title="副主席",
               stations=["gwm"], active=["false", "true"])  # fmt: skip
    assert r.status_code == 200 and "已保存" in r.text
    page = browser.get(f"{base}/office/leaders/ldr-wang", timeout=10)
    assert "调研培黎街道工作室建设" in page.text and 'href="../../auth/sign-out"' not in page.text
    assert 'action="../../auth/sign-out"' in page.text and 'href="../accounts"' in page.text

    r = submit(browser, base, "visit-withdraw", token, visit_id=visit["visit_id"])
    assert r.status_code == 200 and "已撤销" in r.text
    assert get(base, f"/visits/{visit['visit_id']}").json()["active"] is False
