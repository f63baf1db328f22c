"""The spine end to end: a channel's message becomes an issue, a case with a member, a figure.

Every service runs as its own process, started as `make run` starts it, against the real
RabbitMQ (a private vhost) and real databases (SQLite files, then PostgreSQL).
"""

import json
import uuid
from datetime import UTC, datetime

import requests

from services.reporting.projections import month_of
from tests.conftest import get_messages
from tests.e2e.conftest import get, pause, wait_case, wait_figure, wait_submission
from tools.client import SubmissionClient

MONTH = month_of(datetime.now(UTC))


def test_every_service_answers_health(stack):
    for service in ("registry", "intake", "routing", "reporting"):
        code, body = get(stack, service, "/health")
        assert code == 200
        assert body["service"] == service and body["status"] == "ok"
        assert body["parked"] == 0


def test_intake_offers_the_routing_catalogue_in_its_order(stack):
    _, published = get(stack, "routing", "/catalogue")
    expected = [(c["code"], c["name"]) for c in published["categories"]]
    assert ("health", "医疗健康") in expected

    def offered():
        _, body = get(stack, "intake", "/categories")
        return [(c["code"], c["name"]) for c in body["categories"]]

    assert stack.wait_for(lambda: offered() == expected, timeout=10, what="the catalogue copy")


def test_a_message_becomes_an_issue_assigned_by_sector_and_counted(stack):
    _, before = get(stack, "reporting", "/stats/monthly", month=MONTH)
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit(
            "gwm",
            category="health",
            description="独居老人需要上门问诊",
            place="广武门街道某小区",
            contact={"name": "李女士", "phone": "13800001234"},
        )
    [submission] = wait_submission(stack, sid)
    assert submission["status"] == "accepted"
    number = submission["tracking_number"]
    assert number.startswith("LX") and len(number) == 16

    code, issue = get(stack, "intake", f"/issues/{number}")
    assert code == 200 and issue["station"] == "gwm" and issue["category"] == "health"

    case = wait_case(stack, number)
    # 医药卫生 (yiyao) is the catalogue's sector for health; m003 is gwm's yiyao member.
    assert case["member"] == "m003"
    assert [a["rule"] for a in case["assignments"]] == ["sector"]
    assert "yiyao" in case["reason"]

    city_before = before["city"]
    figures = wait_figure(
        stack, MONTH, "issues_assigned", city_before.get("issues_assigned", 0) + 1
    )
    assert figures["issues_received"] == city_before.get("issues_received", 0) + 1
    _, month = get(stack, "reporting", "/stats/monthly", month=MONTH)
    assert month["member"]["m003"]["issues_assigned"] >= 1
    assert month["category"]["health"]["issues_received"] >= 1


def test_a_station_without_a_matching_sector_goes_to_its_lead(stack):
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit("sp", category="school_safety", description="校门口上下学拥堵")
    [submission] = wait_submission(stack, sid)
    case = wait_case(stack, submission["tracking_number"])
    assert case["member"] == "m012"  # 树屏产业园's lead; no 教育 member there
    assert case["assignments"][0]["rule"] == "station_lead"


def test_the_same_message_twice_gives_one_issue_and_one_assignment(stack):
    sid = str(uuid.uuid4())
    body = json.dumps(
        {
            "submission_id": sid,
            "station": "jnl",
            "category": "hazard",
            "description": "护坡雨污水管道渗漏，存在安全隐患",
        }
    ).encode()
    with SubmissionClient(stack.amqp_uri) as client:
        client.publish_raw("jnl", body, message_id=sid)  # the same message, delivered twice
        client.publish_raw("jnl", body, message_id=sid)
        # and once more under a new message id, as a client retrying after a lost confirm would
        client.publish_raw("jnl", body, message_id=str(uuid.uuid4()))
    wait_submission(stack, sid)
    pause(2)
    _, found = get(stack, "intake", "/submissions", submission_id=sid)
    statuses = sorted(s["status"] for s in found["submissions"])
    assert statuses == ["accepted", "duplicate"]
    numbers = {s["tracking_number"] for s in found["submissions"]}
    assert len(numbers) == 1
    case = wait_case(stack, numbers.pop())
    assert len(case["assignments"]) == 1


def test_malformed_bodies_are_kept_as_rejected_with_field_reasons(stack):
    sid_missing, sid_types, sid_station = (str(uuid.uuid4()) for _ in range(3))
    bad = {
        "not json": b"\xe9\x97\xae\xe9\xa2\x98 {not json",
        "missing": json.dumps({"submission_id": sid_missing, "station": "jql"}).encode(),
        "types": json.dumps(
            {
                "submission_id": sid_types,
                "station": "jql",
                "category": "health",
                "description": 12345,
                "submitted_at": "yesterday",
                "contact": {"phone": "call me"},
            }
        ).encode(),
        "station": json.dumps(
            {
                "submission_id": sid_station,
                "station": "gwm",
                "category": "health",
                "description": "走错了队列",
            }
        ).encode(),
        "array": b"[1, 2, 3]",
    }
    with SubmissionClient(stack.amqp_uri) as client:
        for body in bad.values():
            client.publish_raw("jql", body)
        good = client.submit("jql", category="ethnic", description="民族美食品鉴会场地")
    # Nothing crashed: the good message behind the bad ones is handled.
    [accepted] = wait_submission(stack, good)
    assert accepted["status"] == "accepted"

    [missing] = wait_submission(stack, sid_missing)
    assert missing["status"] == "rejected"
    assert set(missing["errors"]) == {"category", "description"}
    [types] = wait_submission(stack, sid_types)
    assert set(types["errors"]) == {"description", "submitted_at", "contact"}
    assert "电话格式不正确" in types["errors"]["contact"]["phone"][0]
    [station] = wait_submission(stack, sid_station)
    assert "gwm" not in station["errors"]["station"][0] or "jql" in station["errors"]["station"][0]

    _, rejected = get(stack, "intake", "/submissions", status="rejected")
    body_errors = [
        r["errors"]["_body"][0]
        for r in rejected["submissions"]
        if r["station"] == "jql" and "_body" in r["errors"]
    ]
    assert any("不是有效的 JSON" in e for e in body_errors)
    assert any("JSON 对象" in e for e in body_errors)

    figures = wait_figure(stack, MONTH, "submissions_rejected", 5, dimension="station", key="jql")
    assert figures["submissions_rejected"] == 5
    _, health = get(stack, "intake", "/health")
    assert health["parked"] == 0


def test_a_message_for_an_unknown_station_is_kept_in_unrouted(stack):
    marker = f"unknown-station-{uuid.uuid4()}"
    with SubmissionClient(stack.amqp_uri) as client:
        client.submit("no-such-station", category="health", description=marker)
    found = stack.wait_for(
        lambda: [
            m for m in get_messages(stack.vhost, "intake.unrouted", 50) if marker in m["payload"]
        ],
        timeout=10,
        what="the unrouted message",
    )
    assert found[0]["routing_key"] == "station.no-such-station"


def test_a_member_added_in_the_registry_is_assigned_by_routing(stack):
    member = {
        "code": f"m9{uuid.uuid4().hex[:4]}",
        "name": "新委员",
        "level": "county",
        "sector": "yiyao",
        "district": "永登县",
        "stations": [{"station": "sp"}],
    }
    r = requests.post(
        stack.url("registry", "/members"), json=member, headers=stack.headers, timeout=10
    )
    assert r.status_code == 201, r.text
    bad = requests.post(
        stack.url("registry", "/members"),
        headers=stack.headers,
        timeout=10,
        json={**member, "level": "village", "sector": "nope"},
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"level"}

    def assigned_to_new_member():
        with SubmissionClient(stack.amqp_uri) as client:
            sid = client.submit("sp", category="health", description="园区职工体检咨询")
        [s] = wait_submission(stack, sid)
        case = wait_case(stack, s["tracking_number"])
        return case["member"] == member["code"]

    # The registry's event reaches routing's copy within moments; the next case is the proof.
    stack.wait_for(assigned_to_new_member, timeout=30, interval=0.5, what="the new member")


def test_a_message_sent_before_its_station_existed_is_delivered_once_it_does(stack):
    code = f"new-{uuid.uuid4().hex[:6]}"
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit(code, category="greening", description="新小区路灯不亮")
    stack.wait_for(
        lambda: [
            m for m in get_messages(stack.vhost, "intake.unrouted", 50) if sid in m["payload"]
        ],
        timeout=10,
        what="the message to wait",
    )

    station = {"code": code, "name": "新建委员工作站", "district": "兰州新区", "kind": "community"}
    r = requests.post(
        stack.url("registry", "/stations"), json=station, headers=stack.headers, timeout=10
    )
    assert r.status_code == 201, r.text
    [submission] = wait_submission(stack, sid)
    assert submission["status"] == "accepted" and submission["station"] == code
    # Nobody serves the new station yet: the case waits, and says why.
    case = wait_case(stack, submission["tracking_number"], status="waiting")
    assert "暂无在岗委员" in case["reason"]

    member = {
        "code": f"m8{uuid.uuid4().hex[:4]}",
        "name": "新站长",
        "level": "county",
        "sector": "kexie",
        "district": "兰州新区",
        "stations": [{"station": code, "role": "lead"}],
    }
    assert requests.post(
        stack.url("registry", "/members"), json=member, headers=stack.headers, timeout=10
    ).ok
    case = wait_case(stack, submission["tracking_number"])
    assert case["member"] == member["code"] and len(case["assignments"]) == 1


def test_statistics_over_a_range_and_bad_periods_get_field_level_errors(stack):
    first = f"{MONTH}-01"

    def month_and_range():
        # read together once reporting has counted what the tests before this one sent (their
        # last events may still be on the way): then a one-month range is that month
        month = get(stack, "reporting", "/stats/monthly", month=MONTH)[1]
        code, body = get(stack, "reporting", "/stats/range", **{"from": first, "to": MONTH})
        again = get(stack, "reporting", "/stats/monthly", month=MONTH)[1]
        return (month, code, body) if month == again else None

    month, code, body = stack.wait_for(month_and_range, timeout=20, what="reporting settled")
    assert code == 200 and body["from"] == first and body["months"] == [MONTH]
    assert body["city"].get("issues_received") == month["city"].get("issues_received")
    code, body = get(
        stack, "reporting", "/stats/range", breakdown="station", **{"from": MONTH, "to": MONTH}
    )
    assert code == 200 and set(body) == {"from", "to", "months", "station"}

    for path, params, field in (
        ("/stats/monthly", {"month": "2024-13"}, "month"),
        ("/stats/monthly", {"month": MONTH, "breakdown": "planet"}, "breakdown"),
        ("/stats/yearly", {"year": "20x4"}, "year"),
        ("/stats/range", {"from": "2024-05-01", "to": "2024-03-31"}, "to"),  # backwards
        ("/stats/range", {"from": "2024-02-30", "to": "2024-03-31"}, "from"),  # no such day
        ("/stats/range", {"from": "2023-01-01", "to": "2024-03-31"}, "to"),  # over 366 days
    ):
        code, body = get(stack, "reporting", path, **params)
        assert code == 400, (path, params)
        error = body["error"]
        assert error["code"] == "invalid" and error["message_zh"] and error["message"]
        assert field in error["fields"], (path, params, error)
