"""Duty rosters over HTTP and RPC: the month's rotation, refusals, who is on duty."""

from collections import Counter

import requests

from tests.registry.test_api import MEMBER, OFFICE, post, seed


def add_members(base, n):
    for i in range(n):
        body = {**MEMBER, "code": f"m3{i:02d}", "name": f"值班委员{i}", "phone": "", "studios": []}
        body["stations"] = [{"station": "gwm"}]
        assert post(base, "/members", body).status_code == 201


def test_a_months_rotation_is_fair_and_on_duty_answers_by_sector(registry_service, rpc):
    base, _, tap = registry_service
    seed(base)
    add_members(base, 4)
    r = post(
        base,
        "/rosters/rotation",
        {"station": "gwm", "month": "2026-12", "weekdays": [2, 5], "per_day": 2},
    )
    assert r.status_code == 201, r.text
    rosters = r.json()["rosters"]
    assert [x["date"] for x in rosters][:3] == ["2026-12-02", "2026-12-05", "2026-12-09"]
    counts = Counter(m for x in rosters for m in x["members"])
    assert len(counts) == 5 and max(counts.values()) - min(counts.values()) <= 1

    listed = requests.get(
        f"{base}/rosters",
        params={"station": "gwm", "from": "2026-12-01", "to": "2026-12-31"},
        headers=OFFICE,
        timeout=10,
    ).json()["rosters"]
    assert listed == rosters
    # the office prints one station's month
    sheet = requests.get(
        f"{base}/export/rosters.csv",
        params={"station": "gwm", "from": "2026-12-01", "to": "2026-12-15"},
        headers=OFFICE,
        timeout=10,
    ).content.decode("utf-8-sig")
    lines = sheet.strip().split("\r\n")
    assert lines[0] == "日期,时段,工作站,工作室,值班委员,状态"
    assert len(lines) == 1 + len([x for x in rosters if x["date"] <= "2026-12-15"])
    assert lines[1].startswith("2026-12-02,上午,gwm,,") and lines[1].endswith(",有效")
    day = rosters[0]
    on_duty = requests.get(
        f"{base}/on-duty",
        params={"station": "gwm", "date": day["date"]},
        headers=OFFICE,
        timeout=10,
    ).json()["members"]
    assert sorted(m["code"] for m in on_duty) == day["members"]
    assert rpc.on_duty("gwm", day["date"], "yiyao") == on_duty  # every seeded member is yiyao
    assert rpc.on_duty("gwm", day["date"], "jiaoyu") == []
    assert [e["type"] for e in tap.drain()].count("registry.roster_saved") == len(rosters)
    r = requests.get(
        f"{base}/on-duty", params={"station": "gwm", "date": "明天"}, headers=OFFICE, timeout=10
    )
    assert r.status_code == 400 and "date" in r.json()["error"]["fields"]


def test_a_roster_day_for_a_deactivated_member_is_refused(registry_service):
    base, _, _ = registry_service
    seed(base)
    assert requests.post(f"{base}/members/m100/deactivate", headers=OFFICE, timeout=10).ok
    r = post(base, "/rosters", {"date": "2026-12-02", "station": "gwm", "members": ["m100"]})
    assert r.status_code == 400
    [message] = r.json()["error"]["fields"]["members"]
    assert "委员已停用" in message and "deactivated" in message and "m100" in message
    r = post(base, "/rosters/rotation", {"station": "gwm", "month": "2026-12"})
    assert r.status_code == 400  # nobody active serves gwm now
    assert "members" in r.json()["error"]["fields"]
    assert requests.get(f"{base}/rosters", headers=OFFICE, timeout=10).json()["rosters"] == []
