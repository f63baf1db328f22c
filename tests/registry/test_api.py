"""The office's HTTP API and the other services' RPC look-ups, against the real broker."""

import requests

from tests.conftest import auth_headers

OFFICE = auth_headers()  # the office: every registry write is its

SECTOR = {"code": "yiyao", "name": "医药卫生"}
STATION = {
    "code": "gwm",
    "name": "广武门街道委员工作站",
    "district": "城关区",
    "kind": "street",
    "street": "广武门街道",
}
STUDIO = {
    "code": "s-yiyao-1",
    "name": "医药卫生界别委员工作室",
    "district": "城关区",
    "location": "广武门街道社区卫生服务中心",
    "sectors": ["yiyao"],
}
MEMBER = {
    "code": "m100",
    "name": "张志强",
    "level": "county",
    "sector": "yiyao",
    "district": "城关区",
    "phone": "13809310001",
    "expertise": ["义诊", "慢病管理"],
    "term": "2022-2027",
    "stations": [{"station": "gwm", "role": "lead"}],
    "studios": [{"studio": "s-yiyao-1"}],
}


def post(base, path, body):
    return requests.post(f"{base}{path}", json=body, headers=OFFICE, timeout=10)


def seed(base):
    for path, body in (
        ("/sectors", SECTOR),
        ("/sectors", {"code": "jiaoyu", "name": "教育"}),
        ("/stations", STATION),
        ("/studios", STUDIO),
        ("/members", MEMBER),
    ):
        r = post(base, path, body)
        assert r.status_code == 201, r.text


def test_create_read_and_announce_every_kind_without_the_phone(registry_service):
    base, _, tap = registry_service
    seed(base)
    member = requests.get(f"{base}/members/m100", headers=OFFICE, timeout=10).json()
    assert member["phone"] == "13809310001" and member["revision"] == 1
    assert member["studios"] == [{"studio": "s-yiyao-1", "role": "member"}]
    studio = requests.get(f"{base}/studios/s-yiyao-1", headers=OFFICE, timeout=10).json()
    assert studio["sectors"] == ["yiyao"] and studio["location"].startswith("广武门")

    events = tap.drain()
    types = [e["type"] for e in events]
    assert types.count("registry.sector_saved") == 2
    assert {"registry.station_saved", "registry.studio_saved", "registry.member_saved"} <= set(
        types
    )
    [saved] = [e["payload"] for e in events if e["type"] == "registry.member_saved"]
    # what routing reads is still there, and the phone never leaves the registry
    assert saved["stations"] == [{"station": "gwm", "role": "lead"}]
    assert saved["sector"] == "yiyao" and saved["revision"] == 1 and saved["active"] is True
    assert "phone" not in saved
    assert all("13809310001" not in str(e) for e in events)


def test_same_data_again_is_harmless_and_other_data_under_a_used_code_is_refused(
    registry_service,
):
    base, _, tap = registry_service
    seed(base)
    tap.drain()
    again = post(base, "/members", MEMBER)
    assert again.status_code == 200 and again.json()["changed"] is False
    clash = post(base, "/members", {**MEMBER, "name": "另一个人"})
    assert clash.status_code == 409
    error = clash.json()["error"]
    assert error["code"] == "duplicate_code" and "编号已存在" in error["message_zh"]
    assert (
        requests.get(f"{base}/members/m100", headers=OFFICE, timeout=10).json()["name"] == "张志强"
    )
    assert tap.drain(timeout=0.5) == []


def test_bad_input_names_every_bad_field_in_chinese_and_english(registry_service):
    base, _, _ = registry_service
    seed(base)
    r = post(
        base,
        "/members",
        {**MEMBER, "code": "m101", "phone": "12345", "term": "soon", "level": "village"},
    )
    assert r.status_code == 400
    fields = r.json()["error"]["fields"]
    assert set(fields) == {"phone", "term", "level"}
    assert fields["phone"] == ["格式不正确 / invalid"]
    r = post(
        base,
        "/members",
        {
            **MEMBER,
            "code": "m102",
            "sector": "nope",
            "stations": [{"station": "nowhere"}],
            "studios": [{"studio": "no-studio"}],
        },
    )
    assert r.status_code == 400
    fields = r.json()["error"]["fields"]
    assert "未知界别" in fields["sector"][0] and "unknown sector" in fields["sector"][0]
    assert "nowhere" in fields["stations"][0] and "no-studio" in fields["studios"][0]
    r = post(base, "/studios", {**STUDIO, "code": "s2", "sectors": ["yiyao", "nope"]})
    assert r.status_code == 400 and "nope" in r.json()["error"]["fields"]["sectors"][0]
    r = requests.post(f"{base}/stations", data="不是JSON", headers=OFFICE, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"
    assert requests.get(f"{base}/members", headers=OFFICE, timeout=10).json()["total"] == 1


def test_update_bumps_the_revision_and_deactivate_keeps_the_record(registry_service):
    base, _, tap = registry_service
    seed(base)
    tap.drain()
    r = requests.patch(
        f"{base}/members/m100",
        json={"expertise": ["义诊"], "phone": "0931-8123456"},
        headers=OFFICE,
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["changed"] is True
    assert r.json()["saved"]["revision"] == 2
    assert (
        requests.get(f"{base}/members/m100", headers=OFFICE, timeout=10).json()["phone"]
        == "0931-8123456"
    )
    r = requests.patch(f"{base}/members/m100", json={"code": "m999"}, headers=OFFICE, timeout=10)
    assert r.status_code == 400 and "code" in r.json()["error"]["fields"]
    r = requests.patch(f"{base}/members/m404", json={"name": "无"}, headers=OFFICE, timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"

    r = requests.post(f"{base}/stations/gwm/deactivate", headers=OFFICE, timeout=10)
    assert r.status_code == 200 and r.json()["saved"]["active"] is False
    r = requests.post(f"{base}/members/m100/deactivate", headers=OFFICE, timeout=10)
    assert r.json()["saved"]["active"] is False and r.json()["saved"]["revision"] == 3
    events = tap.drain()
    member_events = [e["payload"] for e in events if e["type"] == "registry.member_saved"]
    assert [p["revision"] for p in member_events] == [2, 3]
    assert member_events[-1]["active"] is False
    station = [e["payload"] for e in events if e["type"] == "registry.station_saved"]
    assert station[-1]["active"] is False
    only_active = requests.get(
        f"{base}/members", params={"active": "true"}, headers=OFFICE, timeout=10
    ).json()
    assert only_active["total"] == 0


def test_search_and_filter_members(registry_service):
    base, _, _ = registry_service
    seed(base)
    for i, (level, sector) in enumerate(
        [("municipal", "jiaoyu"), ("provincial", "jiaoyu"), ("county", "yiyao")]
    ):
        body = {
            **MEMBER,
            "code": f"m2{i:02d}",
            "name": f"委员{i}",
            "level": level,
            "sector": sector,
            "expertise": ["校园安全"] if sector == "jiaoyu" else [],
            "stations": [],
            "studios": [],
        }
        assert post(base, "/members", body).status_code == 201

    def codes(**params):
        body = requests.get(f"{base}/members", params=params, headers=OFFICE, timeout=10).json()
        return body["total"], [m["code"] for m in body["members"]]

    assert codes(sector="jiaoyu") == (2, ["m200", "m201"])
    assert codes(level="county") == (2, ["m100", "m202"])
    assert codes(station="gwm") == (1, ["m100"])
    assert codes(studio="s-yiyao-1") == (1, ["m100"])
    assert codes(expertise="校园安全") == (2, ["m200", "m201"])
    assert codes(q="张志") == (1, ["m100"])
    assert codes(limit=2, offset=1) == (4, ["m200", "m201"])
    r = requests.get(f"{base}/members", params={"limit": "lots"}, headers=OFFICE, timeout=10)
    assert r.status_code == 400 and "limit" in r.json()["error"]["fields"]
    listed = requests.get(f"{base}/members", headers=OFFICE, timeout=10).json()["members"]
    assert all("phone" not in m for m in listed)  # the list is for browsing; details show it
    counts = requests.get(f"{base}/counts", headers=OFFICE, timeout=10).json()
    assert counts["members_by_sector"] == {"jiaoyu": 2, "yiyao": 2}
    assert counts["members_by_level"] == {"county": 2, "municipal": 1, "provincial": 1}


def test_rpc_look_ups_for_the_other_services(registry_service, rpc):
    base, _, _ = registry_service
    seed(base)
    [station] = rpc.list_stations()
    assert station["code"] == "gwm" and station["street"] == "广武门街道"
    [member] = rpc.list_members(station="gwm")
    assert member["code"] == "m100" and "phone" not in member
    assert rpc.get_member("m100")["studios"] == [{"studio": "s-yiyao-1", "role": "member"}]
    assert rpc.get_member("m404") is None
    assert rpc.search_members(sector="yiyao")["total"] == 1
    assert [s["code"] for s in rpc.list_studios(sector="yiyao")] == ["s-yiyao-1"]
    assert {s["code"] for s in rpc.list_sectors()} == {"yiyao", "jiaoyu"}
