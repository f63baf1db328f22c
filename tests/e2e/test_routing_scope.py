"""Routing's scope for ids smuggled in bodies, through the real services (issue 20, item 3): a
station admin cannot merge its case into another station's case (and so cannot read that
station's answer through its own lookup code, nor reopen that case with a 不满意 rating), nor
name another station's member in a transfer (a referral to the station is allowed); the refusal is the same as for a case that
does not exist, and nothing of the other case is in it or changed. Bad input on a case action is
a 400 on its field (items 8 and 9): a 60 KB note is neither stored nor shown to the citizen."""

import json
import re
import uuid

import requests

from tests.conftest import auth_headers
from tests.e2e.conftest import Citizen, get, wait_case

THEIR_ANSWER = "已联系安宁区住建局，建宁路路灯线路本周内检修。"


def shown(html: str, element_id: str) -> str | None:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    return found.group(1) if found else None


def report(stack, station: str, text: str) -> tuple[str, str]:
    """A citizen on the station's QR page: the tracking number and lookup code it is shown."""
    citizen = Citizen(stack)
    form = {
        "submission_id": str(uuid.uuid4()),
        "station": station,
        "category": "hazard",
        "description": text,
        "lang": "zh",
    }
    page = citizen.post(f"/q/station/{station}", **form)
    if shown(page.text, "tracking-number") is None:  # "the same as one of these?": a new one
        page = citizen.post(f"/q/station/{station}", **form, same_as="")
    number, code = shown(page.text, "tracking-number"), shown(page.text, "lookup-code")
    assert page.status_code == 200 and number and code, page.text[:500]
    return number, code


def post(stack, headers, number, action, **body):
    """As a browser sends it: JSON in UTF-8 (not \\u-escaped, so 60 KB of text is 60 KB)."""
    return requests.post(
        stack.url("routing", f"/cases/{number}/actions/{action}"),
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        headers={**headers, "Content-Type": "application/json; charset=utf-8"},
        timeout=30,
    )


def status(stack, number, code) -> dict:
    r = requests.get(
        stack.url("intake", "/api/status"), params={"number": number, "code": code}, timeout=10
    )
    assert r.status_code == 200, r.text
    return r.json()


def case(stack, number) -> dict:
    code, body = get(stack, "routing", f"/cases/{number}")
    assert code == 200, body
    return body


def unchanged(before: dict, after: dict) -> None:
    keys = ("status", "member", "station", "merged_into", "merged_in", "version", "reopens")
    assert {k: after[k] for k in keys} == {k: before[k] for k in keys}


def refusal(r, field: str, *secrets) -> dict:
    """400 not_found on ``field``, in the one format, with nothing of the other's in it."""
    assert r.status_code == 400, (r.status_code, r.text[:300])
    error = r.json()["error"]
    assert set(error) == {"code", "message_zh", "message", "fields"}
    assert error["code"] == "not_found" and list(error["fields"]) == [field], error
    for secret in secrets:
        assert secret not in r.text, secret
    return error


def test_a_station_admin_cannot_reach_another_stations_case_through_a_body(stack):
    config = stack.config()
    admin = auth_headers(config, "station_admin", stations=["gwm"])
    mine, my_code = report(stack, "gwm", "广武门小区三号楼楼道灯坏了一个月")
    theirs, _ = report(stack, "jnl", "建宁路社区东口路灯整排不亮")
    wait_case(stack, mine)
    their_member = wait_case(stack, theirs)["member"]
    member_b = auth_headers(config, "member", member=their_member)
    assert post(stack, member_b, theirs, "respond", note=THEIR_ANSWER).ok
    before_theirs, before_mine = case(stack, theirs), case(stack, mine)
    secrets = (their_member, "jnl", THEIR_ANSWER, "安宁区")

    # merge into another station's case: refused exactly as into a case that does not exist
    hidden = refusal(post(stack, admin, mine, "merge", into=theirs), "into", *secrets)
    nowhere = "LX19990101000001"
    unknown = refusal(post(stack, admin, mine, "merge", into=nowhere), "into")
    assert json.loads(json.dumps(hidden).replace(theirs, nowhere)) == unknown
    unchanged(before_theirs, case(stack, theirs))
    after = case(stack, mine)
    assert after["status"] == "assigned" and after["merged_into"] is None
    # the citizen's lookup code shows its own case, not the other station's answer
    seen = status(stack, mine, my_code)
    assert seen["answer"] is None and not seen["merged"] and THEIR_ANSWER not in json.dumps(seen)

    # naming another station's member: refused as an unknown member
    refusal(post(stack, admin, mine, "transfer", note="转办", to_member=their_member), "to_member")
    unchanged(before_mine, case(stack, mine))
    assert case(stack, mine)["handoffs"] == 0

    # their case is resolved; an unsatisfied rating through my lookup code does not reopen it
    assert post(stack, member_b, theirs, "resolve", note="路灯已修复").ok
    resolved = case(stack, theirs)
    citizen = Citizen(stack)
    citizen.get("/status", number=mine, code=my_code)
    page = citizen.post(
        "/status/action", number=mine, code=my_code, action="rate", rating="unsatisfied", lang="zh"
    )
    assert page.status_code == 200 and THEIR_ANSWER not in page.text
    unchanged(resolved, case(stack, theirs))
    assert case(stack, theirs)["status"] == "resolved"

    # a referral to the other station is allowed (its rules pick); then the case is theirs
    referred = post(stack, admin, mine, "transfer", note="居民住在建宁路", to_station="jnl")
    assert referred.ok and referred.json()["station"] == "jnl", referred.text
    again = requests.get(stack.url("routing", f"/cases/{mine}"), headers=admin, timeout=10)
    assert again.status_code == 403


def test_bad_input_on_a_case_action_is_a_400_on_the_field_and_changes_nothing(stack):
    number, code = report(stack, "gwm", "广武门菜市场门口井盖松动")
    holder = wait_case(stack, number)
    member = auth_headers(stack.config(), "member", member=holder["member"])
    for body, field in (
        ({"version": "abc"}, "version"),
        ({"version": 10**20}, "version"),
        ({"note": ["答复"], "version": holder["version"]}, "note"),
        ({"note": {"zh": "答复"}}, "note"),
        ({"into": ["x"]}, "into"),
        ({"note": "长" * 20_000}, "note"),  # 60 KB of UTF-8, under the body cap
    ):
        r = post(stack, member, number, "respond", **body)
        assert r.status_code == 400, (body if len(str(body)) < 200 else field, r.text[:300])
        error = r.json()["error"]
        assert error["code"] == "invalid" and list(error["fields"]) == [field], error
    unchanged(holder, case(stack, number))
    assert status(stack, number, code)["answer"] is None
    answer = "已联系市政维修" + "。" * 1993  # at the cap, 2000 characters
    assert post(stack, member, number, "respond", note=answer).ok

    def shown_to_citizen():
        return status(stack, number, code)["answer"] == answer

    stack.wait_for(shown_to_citizen, timeout=30, what="the answer on the status page")
