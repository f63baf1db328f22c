"""Intake's channels through the real services: the QR form and status page over plain HTTP,
staff entry and activities, bad input of every kind, GBK bodies, the admin listings.

(The same QR flow in a real browser on a phone-sized window is in test_qr_browser.py.)
"""

import json
import re
import uuid

import requests

from tests.conftest import message_count
from tests.e2e.conftest import Citizen, get, wait_case, wait_submission
from tools.client import SubmissionClient


def qr_url(stack, kind, code):
    return stack.url("intake", f"/q/{kind}/{code}")


def shown(html: str, element_id: str) -> str | None:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    return found.group(1) if found else None


def post_form(stack, kind, code, **fields):
    """A citizen (each time another) posts the QR form, CSRF token and all."""
    return Citizen(stack).post(f"/q/{kind}/{code}", **fields)


def test_a_citizen_reports_to_a_member_and_follows_the_case(stack):
    page = requests.get(qr_url(stack, "member", "m003"), timeout=10)
    assert page.status_code == 200
    assert "张志强" in page.text and "医疗健康" in page.text  # the member, the catalogue
    sid = re.search(r'name="submission_id" value="([^"]+)"', page.text).group(1)

    answer = post_form(
        stack,
        "member",
        "m003",
        submission_id=sid,
        station="jql",
        category="property",
        description="楼道灯坏了两周，老人夜里摔倒过",
        place="酒泉路 12 号",
        name="王先生",
        phone="13900001111",
        consent="1",
    )
    assert answer.status_code == 200, answer.text
    number, code = shown(answer.text, "tracking-number"), shown(answer.text, "lookup-code")
    assert number.startswith("LX") and re.fullmatch(r"\d{6}", code)

    # The member whose code was scanned gets the case, at the station the citizen chose.
    case = wait_case(stack, number)
    assert case["member"] == "m003" and case["station"] == "jql"

    # Sending the same form again (a double tap, a reload) answers the same number.
    again = post_form(
        stack,
        "member",
        "m003",
        submission_id=sid,
        station="jql",
        category="property",
        description="楼道灯坏了两周，老人夜里摔倒过",
    )
    assert shown(again.text, "tracking-number") == number

    def progressed():
        r = requests.get(
            stack.url("intake", "/api/status"), params={"number": number, "code": code}, timeout=10
        )
        return r.json() if r.json().get("status") == "assigned" else None

    status = stack.wait_for(progressed, timeout=30, what="the assignment on the status page")
    assert [s["step"] for s in status["steps"]] == ["received", "assigned"]
    page = requests.get(
        stack.url("intake", "/status"), params={"number": number, "code": code}, timeout=10
    )
    assert page.status_code == 200 and "已派给委员办理" in page.text
    # the member's public name (as on the poster), nothing else of the member or the citizen
    assert "张志强" in page.text and status["member"] == "张志强"
    for private in ("m003", "王先生", "13900001111", "酒泉路 12 号"):
        assert private not in page.text and private not in json.dumps(status, ensure_ascii=False)

    # and no service wrote the citizen's name or phone to its log
    for log in stack.log_dir.glob("*.log"):
        text = log.read_text(encoding="utf-8", errors="replace")
        assert "13900001111" not in text and "王先生" not in text, log.name

    wrong = requests.get(
        stack.url("intake", "/status"),
        params={"number": number, "code": "000000" if code != "000000" else "111111"},
        timeout=10,
    )
    assert wrong.status_code == 404 and "status-none" in wrong.text and "已派" not in wrong.text


def test_an_anonymous_report_to_a_station_in_english(stack):
    page = requests.get(qr_url(stack, "station", "ytl"), params={"lang": "en"}, timeout=10)
    assert "Report an issue to the member workstation" in page.text
    answer = post_form(
        stack,
        "station",
        "ytl",
        category="health",
        description="Clinic hours too short",
        lang="en",
    )
    assert answer.status_code == 200 and "Tracking number" in answer.text
    [submission] = wait_submission(stack, shown_sid(stack, shown(answer.text, "tracking-number")))
    assert submission["station"] == "ytl"


def shown_sid(stack, number):
    _, body = get(stack, "intake", "/submissions", limit=50)
    return next(s["submission_id"] for s in body["submissions"] if s["tracking_number"] == number)


def test_bad_qr_input_gets_field_errors_and_html_comes_back_as_text(stack):
    assert requests.get(qr_url(stack, "station", "nowhere"), timeout=10).status_code == 404
    assert requests.get(qr_url(stack, "member", "m999"), timeout=10).status_code == 404
    assert requests.get(qr_url(stack, "robot", "gwm"), timeout=10).status_code == 404

    script = "<script>alert('x')</script><b>灯</b>"
    answer = post_form(
        stack, "station", "gwm", category="nope", description=script, phone="call me", extra="1"
    )
    assert answer.status_code == 400
    errors = dict(re.findall(r'data-field="([^"]+)">([^<]*)<', answer.text))
    assert set(errors) == {"_form", "category", "phone", "consent"}
    assert "extra" in errors["_form"] and errors["phone"].startswith("电话格式不正确")
    assert "<script>alert" not in answer.text and "&lt;script&gt;" in answer.text

    too_long = post_form(stack, "station", "gwm", category="health", description="长" * 4001)
    assert too_long.status_code == 400
    assert (
        "1–4000" in dict(re.findall(r'data-field="([^"]+)">([^<]*)<', too_long.text))["description"]
    )
    huge = post_form(stack, "station", "gwm", category="health", description="x" * 200_000)
    assert huge.status_code == 413


def test_staff_enter_a_phone_call_and_bad_requests_say_which_field(stack):
    url = stack.url("intake", "/staff/issues")
    r = requests.post(
        url,
        json={
            "station": "jnl",
            "channel": "phone",
            "category": "hazard",
            "description": "护坡渗水",
        },
        headers=stack.headers,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "accepted" and r.json()["tracking_number"].startswith("LX")

    r = requests.post(
        url,
        json={
            "station": "nowhere",
            "channel": "pigeon",
            "category": "hazard",
            "description": "x" * 4001,
            "member": "m999",
            "colour": "red",
        },
        headers=stack.headers,
        timeout=30,
    )
    assert r.status_code == 400
    fields = r.json()["error"]["fields"]
    assert set(fields) == {"channel", "description", "colour"}  # schema first
    assert fields["colour"] == ["未知字段 / unknown field"]
    r = requests.post(
        url,
        json={"station": "nowhere", "category": "hazard", "description": "x", "member": "m999"},
        headers=stack.headers,
        timeout=30,
    )
    assert set(r.json()["error"]["fields"]) == {"station", "member"}

    gbk = json.dumps(
        {
            "station": "jnl",
            "channel": "letter",
            "category": "hazard",
            "description": "来信：路灯不亮",
        },
        ensure_ascii=False,
    ).encode("gbk")
    r = requests.post(
        url,
        data=gbk,
        headers={**stack.headers, "Content-Type": "application/json; charset=gbk"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    r = requests.post(
        url, data=gbk, headers={**stack.headers, "Content-Type": "application/json"}, timeout=30
    )
    assert r.status_code == 400 and "UTF-8" in r.json()["error"]["fields"]["_body"][0]
    r = requests.post(url, data=b"{" + b" " * 70_000 + b"}", headers=stack.headers, timeout=30)
    assert r.status_code == 413


def test_gbk_and_unknown_codes_over_amqp(stack):
    sid_gbk, sid_raw, sid_member = (str(uuid.uuid4()) for _ in range(3))

    def body(sid, **extra):
        return json.dumps(
            {
                "submission_id": sid,
                "station": "sp",
                "category": "business",
                "description": "园区企业用电报装慢",
                **extra,
            },
            ensure_ascii=False,
        ).encode("gbk")

    with SubmissionClient(stack.amqp_uri) as client:
        client.publish_raw(
            "sp", body(sid_gbk), message_id=sid_gbk, content_type="application/json; charset=gbk"
        )
        client.publish_raw("sp", body(sid_raw), message_id=sid_raw)
        member_sid = client.submit(
            "sp", category="business", description="找委员", member="m999", submission_id=sid_member
        )
    [gbk] = wait_submission(stack, sid_gbk)
    assert gbk["status"] == "accepted"

    def raw_rejected():  # it has no readable submission id: found among the rejected
        _, rejected = get(stack, "intake", "/submissions", status="rejected", limit=200)
        return [
            s
            for s in rejected["submissions"]
            if s["station"] == "sp" and "未声明字符集" in (s["errors"].get("_body") or [""])[0]
        ]

    assert stack.wait_for(raw_rejected, timeout=30, what="the GBK body without a charset rejected")
    [member] = wait_submission(stack, member_sid)
    assert member["status"] == "rejected" and "m999" in member["errors"]["member"][0]


def test_the_unrouted_queue_is_listed_without_taking_anything(stack):
    marker = f"ghost-{uuid.uuid4().hex[:6]}"
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit(
            marker, category="health", description="无此工作站", contact={"phone": "13811112222"}
        )

    def listed():
        _, body = get(stack, "intake", "/admin/unrouted")
        return body if body["by_station"].get(marker) == 1 else None

    body = stack.wait_for(listed, timeout=10, what="the unrouted listing")
    [entry] = [m for m in body["messages"] if m["station"] == marker]
    assert entry["message_id"] == sid
    assert "13811112222" not in json.dumps(body)
    assert message_count(stack.amqp_uri, "intake.unrouted") >= 1
    _, again = get(stack, "intake", "/admin/unrouted")
    assert again["by_station"].get(marker) == 1  # still there


def test_staff_record_a_reception_day_with_the_issues_raised(stack):
    activity_id = f"act-{uuid.uuid4().hex[:8]}"
    activity = {
        "activity_id": activity_id,
        "kind": "reception_day",
        "station": "gwm",
        "date": "2026-11-20",
        "members": ["m001", "m003"],
        "people_served": 23,
        "issues": [
            {"category": "health", "description": "社区义诊次数太少"},
            {"category": "property", "description": "物业费公示不清", "member": "m001"},
        ],
    }
    url = stack.url("intake", "/staff/activities")
    r = requests.post(url, json=activity, headers=stack.headers, timeout=30)
    assert r.status_code == 201, r.text
    numbers = [i["tracking_number"] for i in r.json()["issues"]]
    assert [i["status"] for i in r.json()["issues"]] == ["accepted", "accepted"]
    assert wait_case(stack, numbers[1])["member"] == "m001"

    # Sent again (a retry after a lost answer): the same activity, the same two issues.
    again = requests.post(url, json=activity, headers=stack.headers, timeout=30)
    assert [i["tracking_number"] for i in again.json()["issues"]] == numbers
    _, listed = get(stack, "intake", "/activities", station="gwm")
    [mine] = [a for a in listed["activities"] if a["activity_id"] == activity_id]
    assert mine["people_served"] == 23 and mine["kind_zh"] == "委员接待日"
    # the two issues are handled by concurrent workers: either may get its number first
    assert sorted(mine["issues"]) == sorted(numbers)

    bad = requests.post(
        url,
        json={"kind": "party", "date": "someday", "people_served": -1, "members": ["m999"]},
        headers=stack.headers,
        timeout=30,
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"kind", "date", "people_served"}
    bad = requests.post(
        url,
        json={"kind": "lecture", "date": "2026-11-21", "people_served": 5, "members": ["m999"]},
        headers=stack.headers,
        timeout=30,
    )
    assert set(bad.json()["error"]["fields"]) == {"station", "members"}


def test_when_the_broker_refuses_the_citizen_keeps_the_text_and_can_send_again(stack):
    from urllib.parse import quote

    from tests.conftest import AUTH, RABBIT_MGMT

    vhost = quote(stack.vhost, safe="")
    limit = f"{RABBIT_MGMT}/api/vhost-limits/{vhost}/max-connections"
    # No new connections, and the existing ones closed: intake cannot publish until it lifts.
    requests.put(limit, auth=AUTH, json={"value": 0}, timeout=10).raise_for_status()
    form = {
        "submission_id": f"refused-{uuid.uuid4().hex[:8]}",
        "category": "business",
        "description": "园区门口路灯坏了 <i>很久</i>",
        # the duplicate question answered up front ("a new problem"): the posts that went
        # through before the refusal took hold would otherwise make the next ones ask it
        "same_as": "",
    }
    try:

        def refused():
            # the management API lists connections a moment late: close whatever it shows
            for conn in requests.get(
                f"{RABBIT_MGMT}/api/vhosts/{vhost}/connections", auth=AUTH, timeout=10
            ).json():
                requests.delete(
                    f"{RABBIT_MGMT}/api/connections/{quote(conn['name'], safe='')}",
                    auth=AUTH,
                    timeout=10,
                )
            form["submission_id"] = f"refused-{uuid.uuid4().hex[:8]}"
            answer = post_form(stack, "station", "sp", **form)
            return [answer] if answer.status_code == 503 else None  # a 503 Response is falsy

        [answer] = stack.wait_for(refused, timeout=30, interval=1, what="intake to be refused")
        assert "暂时无法提交，您填写的内容已保留" in answer.text
        kept = re.search(r"<textarea[^>]*>([^<]*)</textarea>", answer.text).group(1)
        assert kept == "园区门口路灯坏了 &lt;i&gt;很久&lt;/i&gt;"
        assert form["submission_id"] in answer.text  # sending again stays one issue
        r = requests.post(
            stack.url("intake", "/staff/issues"),
            json={"station": "sp", "category": "business", "description": "来电"},
            headers=stack.headers,
            timeout=30,
        )
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_queued"
    finally:
        requests.delete(limit, auth=AUTH, timeout=10)

    def sent():
        answer = post_form(stack, "station", "sp", **form)
        return answer if answer.status_code == 200 else None

    answer = stack.wait_for(sent, timeout=60, interval=1, what="intake to publish again")
    assert shown(answer.text, "tracking-number").startswith("LX")
    _, found = get(stack, "intake", "/submissions", submission_id=form["submission_id"])
    assert [s["status"] for s in found["submissions"]] == ["accepted"]
