"""One problem, many voices, through the real services (issue #10): the QR page asks
"是否与以下问题相同?", thirty reports of one slope become one case with thirty reporters who all
read the member's answer, the figures count one matter and thirty people served, and merges
that make no sense are refused through routing's API.

(The same suggestion in a real browser on a phone is in test_duplicates_browser.py.)
"""

import re
import uuid
from datetime import UTC, datetime

import requests

from services.intake import similar
from services.reporting.projections import month_of
from tests.conftest import auth_headers
from tests.e2e.conftest import Citizen, get, wait_case, wait_figure, wait_submission
from tools.client import SubmissionClient

MONTH = month_of(datetime.now(UTC))
SLOPE = "焦家湾南坡的雨水管道破了，下雨水全冲到边坡上，坡上的土一直往下掉，下面就是居民楼。"
VOICES = (
    "我家住焦家湾{n}号楼，南坡的雨水管道破了，边坡一下雨就往下掉土，太危险了。",
    "焦家湾南坡雨水管破裂好久了，下雨边坡被冲，坡上的土往下掉，{n}号楼的住户很担心。",
    "南坡边坡被雨水冲刷，雨水管道破了没人修，焦家湾{n}号楼下面天天掉土。",
    "焦家湾南坡那根雨水管道漏了，边坡的土一下雨就冲下来，请尽快修（{n}号楼居民）。",
)
ANSWER = "已联系区住建局，雨水管道本周内更换，边坡先覆盖防雨布并设警示带。"
RESULT = "雨水管道已更换，边坡已加固挂网，经现场查看不再冲刷。"


def shown(html: str, element_id: str) -> str | None:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    return found.group(1) if found else None


def post_qr(citizen, **fields):
    """The QR form as the citizen's browser posts it (its CSRF token, its own address)."""
    return citizen.post("/q/station/gwm", **fields)


def report(stack, text, category="hazard", same_as_first=True):
    """A citizen on the QR page: submit; if asked "same as one of these?", choose the first
    offer (or "a new problem"). Returns the number, lookup code and what was offered."""
    form = {
        "submission_id": str(uuid.uuid4()),
        "station": "gwm",
        "category": category,
        "description": text,
        "lang": "zh",
    }
    citizen = Citizen(stack)
    page = post_qr(citizen, **form)
    assert page.status_code == 200, page.text
    offered = re.findall(r'class="suggestion" data-number="([^"]+)"', page.text)
    if offered:
        assert "是否与以下问题相同" in page.text and shown(page.text, "tracking-number") is None
        page = post_qr(citizen, **form, same_as=offered[0] if same_as_first else "")
        assert page.status_code == 200, page.text
    number, code = shown(page.text, "tracking-number"), shown(page.text, "lookup-code")
    assert number and code, page.text
    return number, code, offered


def act(stack, number, action, actor="office", **body):
    """An action on a case, signed in as ``actor`` (a member's code, or the office)."""
    headers = (
        stack.headers if actor == "office" else auth_headers(stack.config(), "member", member=actor)
    )
    return requests.post(
        stack.url("routing", f"/cases/{number}/actions/{action}"),
        json=body,
        headers=headers,
        timeout=10,
    )


def status(stack, number, code):
    return requests.get(
        stack.url("intake", "/api/status"), params={"number": number, "code": code}, timeout=10
    ).json()


def test_thirty_reports_of_one_slope_are_one_case_and_one_matter(stack):
    first, first_code, offered = report(stack, SLOPE)
    assert offered == []  # nothing like it yet
    main = wait_case(stack, first)
    reporters = [(first, first_code)]
    for n in range(1, 30):
        text = VOICES[n % len(VOICES)].format(n=n)
        assert similar.score(text, SLOPE) >= similar.THRESHOLD  # the test's own premise
        number, code, offered = report(stack, text)
        assert offered == [first], f"report {n} was offered {offered}"
        reporters.append((number, code))
    numbers = [n for n, _ in reporters]
    assert len(set(numbers)) == 30  # every reporter has a tracking number of their own

    def all_merged():
        _, view = get(stack, "routing", f"/cases/{first}")
        return view if view["reporters"] == 30 else None

    view = stack.wait_for(all_merged, timeout=60, what="thirty reporters on one case")
    assert sorted(view["merged_in"]) == sorted(numbers[1:])
    _, follower = get(stack, "routing", f"/cases/{numbers[5]}")
    assert follower["status"] == "merged" and follower["merged_into"] == first
    assert [h["action"] for h in follower["history"]] == ["merge"]  # never assigned on its own
    duty = requests.get(
        stack.url("routing", f"/members/{main['member']}/cases"),
        headers=auth_headers(stack.config(), "member", member=main["member"]),
        timeout=10,
    )
    on_duty = [c["tracking_number"] for c in duty.json()["cases"]]
    assert first in on_duty and not set(numbers[1:]) & set(on_duty)  # one case, not thirty

    member = main["member"]
    assert act(stack, first, "respond", actor=member, note=ANSWER).ok

    def everyone_reads(answer):
        def check():
            seen = [status(stack, n, c) for n, c in reporters]
            return seen if all(s.get("answer") == answer for s in seen) else None

        return stack.wait_for(check, timeout=30, what=f"thirty status pages with {answer!r}")

    seen = everyone_reads(ANSWER)
    assert {s["status"] for s in seen} == {"responded"}
    assert {s["reporters"] for s in seen} == {30}
    assert [s["merged"] for s in seen] == [False] + [True] * 29
    assert act(stack, first, "resolve", actor=member, note=RESULT).ok
    seen = everyone_reads(RESULT)
    assert all(s["closed"] for s in seen)

    # Open311 GET of a merged number reports the main case's progress too.
    open311 = requests.get(
        stack.url("intake", f"/open311/v2/requests/{numbers[7]}.json"), timeout=10
    ).json()
    assert open311[0]["status"] == "closed" and open311[0]["service_notice"]

    figures = wait_figure(
        stack, MONTH, "reporters_served", 30, dimension="category", key="hazard", timeout=60
    )
    assert figures["issues_received"] == 30 and figures["issues_merged"] == 29
    assert figures["matters_handled"] == 1 and figures["reporters_served"] == 30
    assert figures["matters_received"] == 1 and figures["resolution_rate"] == 1.0


def new_case(stack, text, category="health"):
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit("jql", category=category, description=text)
    [s] = wait_submission(stack, sid)
    return wait_case(stack, s["tracking_number"])


def refused(response, code, status):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["fields"]["into"], error
    return error


def test_merges_that_make_no_sense_are_refused_and_change_nothing(stack):
    a = new_case(stack, "社区卫生服务中心取药窗口只开一个")
    b = new_case(stack, "家庭医生签约后从未上门")
    c = new_case(stack, "卫生站没有儿科")
    number = a["tracking_number"]

    refused(act(stack, number, "merge", actor="office", into=number), "merge_self", 400)
    refused(act(stack, number, "merge", actor="office", into="LX19990101000001"), "not_found", 400)
    refused(act(stack, number, "merge", actor="office"), "missing", 400)

    assert act(stack, b["tracking_number"], "merge", actor="office", into=number).ok
    assert act(stack, c["tracking_number"], "merge", actor="office", into=b["tracking_number"]).ok
    _, c_view = get(stack, "routing", f"/cases/{c['tracking_number']}")
    assert c_view["merged_into"] == number  # into a merged case = into the case it follows
    # a → b when b already follows a; a → c through the chain c → a
    error = refused(
        act(stack, number, "merge", actor="office", into=b["tracking_number"]), "merge_loop", 409
    )
    assert "已经合并到本案件" in error["message_zh"]
    refused(
        act(stack, number, "merge", actor="office", into=c["tracking_number"]), "merge_loop", 409
    )

    closed = new_case(stack, "慢病老人需要送药上门")
    member = closed["member"]
    assert act(stack, closed["tracking_number"], "respond", actor=member, note="已安排").ok
    assert act(stack, closed["tracking_number"], "resolve", actor=member, note="已送药").ok
    error = refused(
        act(stack, number, "merge", actor="office", into=closed["tracking_number"]),
        "merge_closed",
        409,
    )
    assert "只能合并到未办结的案件" in error["message_zh"]
    # a merged case is not worked on by itself
    assert act(stack, b["tracking_number"], "accept", actor=b["member"]).status_code == 409

    _, after = get(stack, "routing", f"/cases/{number}")
    assert after["status"] == "assigned" and after["merged_into"] is None
    assert after["version"] == a["version"]  # nothing changed on the case itself ...
    refusals = [h for h in after["history"] if h["action"] == "merge_refused"]
    assert len(refusals) == 6 and all(
        h["actor"] == "test-office" for h in refusals
    )  # ... but audited
    assert after["reporters"] == 3


def test_staff_see_similar_open_cases_with_their_scores(stack):
    text = "酒泉路78号巷子里的化粪池满了往外溢，整条巷子都是粪水味。"
    first = new_case(stack, text, category="sanitation")["tracking_number"]
    second = new_case(stack, "78号巷化粪池外溢，污水流到巷口，好几天没人来抽。", "sanitation")
    code, body = get(stack, "intake", f"/staff/issues/{second['tracking_number']}/similar")
    assert code == 200
    [candidate] = body["similar"]
    assert candidate["tracking_number"] == first
    assert candidate["score"] >= similar.THRESHOLD and candidate["description"] == text
    assert get(stack, "intake", "/staff/issues/LX19990101000001/similar")[0] == 404
