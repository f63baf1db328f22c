"""Intake's scope, end to end (issue 20, items 1, 2, 4, 5, 8): receipts only behind an id no one
can guess, ids smuggled in bodies never reveal another's record, staff see similar cases of their
own scope only, studio admins enter no station's issues, members record only their own
activities where they serve, and type confusion in a body is a field error. Each refusal is
checked as a user would: the status, none of the other record's data in the body, nothing made.
"""

import re
import uuid

import pytest
import requests

from services.intake import qr_page
from services.intake.schemas import PEOPLE_SERVED_MAX
from tests.conftest import auth_headers
from tests.e2e.conftest import Citizen, get

PRIVATE_NOTE = "私密备注：接待室钥匙在门卫处"
PRIVATE_TEXT = "建宁路社区私密问题：楼道里堆放杂物多年"
SIMILAR_TEXT = "3号楼前路灯坏了，晚上很黑，老人出门不方便"


def call(stack, headers, method, path, **kwargs):
    return requests.request(
        method, stack.url("intake", path), headers=headers, timeout=30, **kwargs
    )


def counts(stack) -> tuple[int, int]:
    """How many submissions and activities intake holds (the office's view)."""
    _, subs = get(stack, "intake", "/submissions", limit=1000)
    _, acts = get(stack, "intake", "/activities", limit=1000)
    return len(subs["submissions"]), len(acts["activities"])


def messages(found) -> list[str]:
    """Every message under a field (a nested field's are under its own keys)."""
    if isinstance(found, dict):
        return [m for v in found.values() for m in messages(v)]
    return [m for v in found for m in messages(v)] if isinstance(found, list) else [found]


def nothing_of(r, *secrets):
    for secret in secrets:
        assert secret not in r.text, (r.request.method, r.url, secret, r.text[:300])
    return True


@pytest.fixture(scope="module")
def world(stack):
    """Another station's records: an activity at jnl with a private note and an issue raised at
    it (its id ``<activity_id>.1`` follows the documented pattern), and an open case at jql
    (the same district as gwm) that gwm's staff might find similar."""
    activity_id = f"jnl-2026-11-20-am-{uuid.uuid4().hex[:6]}"
    r = call(
        stack,
        stack.headers,
        "POST",
        "/staff/activities",
        json={
            "activity_id": activity_id,
            "kind": "reception_day",
            "station": "jnl",
            "date": "2026-11-20",
            "members": ["m005"],
            "people_served": 9,
            "note": PRIVATE_NOTE,
            "issues": [{"category": "property", "description": PRIVATE_TEXT}],
        },
    )
    assert r.status_code == 201, r.text
    [issue] = r.json()["issues"]
    assert issue["status"] == "accepted", issue
    r = call(
        stack,
        stack.headers,
        "POST",
        "/staff/issues",
        json={"station": "jql", "category": "property", "description": SIMILAR_TEXT},
    )
    assert r.status_code == 201, r.text
    return {
        "activity_id": activity_id,
        "sid": f"{activity_id}.1",
        "number": issue["tracking_number"],
        "code": issue["lookup_code"],
        "jql": r.json()["tracking_number"],
    }


def test_a_receipt_is_not_reached_by_a_guessed_id_and_guesses_are_slowed(stack, world):
    secrets = (world["number"], world["code"])
    guesser = Citizen(stack)
    r = guesser.get(f"/q/receipt/{world['sid']}")
    assert r.status_code == 404 and nothing_of(r, *secrets)
    answers = [guesser.get(f"/q/receipt/{world['activity_id']}.{n}") for n in range(1, 15)]
    assert all(a.status_code in (404, 429) for a in answers)
    assert answers[-1].status_code == 429 and int(answers[-1].headers["Retry-After"]) > 0
    assert all(nothing_of(a, *secrets) for a in answers)
    # Open311's token look-up is no way round: another channel's id is no token
    r = requests.get(stack.url("intake", f"/open311/v2/tokens/{world['sid']}.json"), timeout=10)
    assert r.status_code == 200 and r.json()[0]["service_request_id"] is None
    assert nothing_of(r, world["number"])


def test_the_qr_form_posted_with_another_submission_s_id_makes_its_own_issue(stack, world):
    citizen = Citizen(stack)
    citizen.get("/q/station/jnl")
    r = citizen.post(
        "/q/station/jnl",
        submission_id=world["sid"],
        category="property",
        description="小区门口的垃圾桶满了没人清",
        same_as="",
    )
    assert r.status_code in (200, 202), r.text[:300]
    assert nothing_of(r, world["number"], PRIVATE_TEXT)
    shown = re.search(r'id="lookup-code">([^<]*)<', r.text)
    assert shown is None or shown.group(1) != world["code"]
    # the activity's issue is still the only one with its id; the citizen's has another
    _, found = get(stack, "intake", "/submissions", submission_id=world["sid"])
    assert [s["tracking_number"] for s in found["submissions"]] == [world["number"]]

    # the form's own id, sent again (a double tap), answers with the citizen's own issue,
    # and the receipt the result page links to shows it
    page = citizen.get("/q/station/gwm")
    sid = re.search(r'name="submission_id" value="([^"]+)"', page.text).group(1)
    assert qr_page.is_issued(stack.config(), sid)
    form = {
        "submission_id": sid,
        "category": "property",
        "description": "路口红绿灯坏了",
        "same_as": "",
    }
    first = citizen.post("/q/station/gwm", **form)
    again = citizen.post("/q/station/gwm", **form)
    number = re.search(r'id="tracking-number">([^<]*)<', again.text).group(1)
    assert number in first.text or first.status_code == 202
    receipt = citizen.get(f"/q/receipt/{qr_page.receipt_id(stack.config(), sid)}")
    assert receipt.status_code == 200 and number in receipt.text


def test_a_station_admin_reaches_no_other_station_s_record_by_ids_in_bodies(stack, world):
    admin = auth_headers(stack.config(), "station_admin", stations=["gwm"])
    secrets = (world["number"], world["code"], PRIVATE_NOTE, PRIVATE_TEXT, "m005")
    before = counts(stack)

    def go(path, body):
        return call(stack, admin, "POST", path, json=body)

    activity = {"kind": "reception_day", "date": "2026-11-20", "people_served": 1}
    issue = {"category": "property", "description": PRIVATE_TEXT}
    for path, body, status in (
        (
            "/staff/activities",
            {**activity, "activity_id": world["activity_id"], "station": "gwm"},
            409,
        ),
        (
            "/staff/activities",
            {**activity, "activity_id": world["activity_id"], "station": "jnl"},
            403,
        ),
        ("/staff/issues", {**issue, "submission_id": world["sid"], "station": "gwm"}, 409),
        ("/staff/issues", {**issue, "submission_id": world["sid"], "station": "jnl"}, 403),
        # an activity id in a body that names gwm's issue as raised at jnl's activity
        (
            "/staff/activities",
            {**activity, "station": "gwm", "activity_id": world["activity_id"], "issues": [issue]},
            409,
        ),
    ):
        r = go(path, body)
        assert r.status_code == status, (path, body, r.text)
        assert set(r.json()["error"]) == {"code", "message_zh", "message", "fields"}
        assert nothing_of(r, *secrets)
    # a case or an activity of another station named in a body is as unknown as a made-up one
    for field, value in (("same_as", world["jql"]), ("activity", world["activity_id"])):
        r = go(
            "/staff/issues",
            {"station": "gwm", "category": "property", "description": "x", field: value},
        )
        assert r.status_code == 400 and set(r.json()["error"]["fields"]) == {field}
    # members of another station named at gwm's activity or for gwm's issue: a field error
    for path, body, field in (
        (
            "/staff/activities",
            {**activity, "station": "gwm", "members": ["m001", "m005"]},
            "members",
        ),
        (
            "/staff/activities",
            {**activity, "station": "gwm", "issues": [{**issue, "member": "m005"}]},
            "issues",
        ),
        ("/staff/issues", {**issue, "station": "gwm", "member": "m005"}, "member"),
    ):
        r = go(path, body)
        assert r.status_code == 400 and set(r.json()["error"]["fields"]) == {field}, r.text
    assert counts(stack) == before  # nothing was made
    r = call(stack, admin, "GET", f"/staff/issues/{world['number']}/similar")
    assert r.status_code == 403 and nothing_of(r, *secrets[1:])

    # its own: a re-send answers the same issue; the same id with another text is refused
    sid = f"gwm-own-{uuid.uuid4().hex[:8]}"
    own = {
        "submission_id": sid,
        "station": "gwm",
        "category": "property",
        "description": "物业费不公示",
    }
    first, again = go("/staff/issues", own), go("/staff/issues", own)
    assert first.status_code == again.status_code == 201, again.text
    assert first.json()["tracking_number"] == again.json()["tracking_number"]
    other = go("/staff/issues", {**own, "description": "另一件事"})
    assert other.status_code == 409 and nothing_of(other, first.json()["tracking_number"])
    own_activity = {**activity, "station": "gwm", "activity_id": f"gwm-{uuid.uuid4().hex[:8]}"}
    assert go("/staff/activities", own_activity).status_code == 201
    assert go("/staff/activities", own_activity).status_code == 201  # the same again
    changed = go("/staff/activities", {**own_activity, "people_served": 2})
    assert changed.status_code == 409


def test_similar_cases_are_only_those_in_the_caller_s_scope(stack, world):
    admin = auth_headers(stack.config(), "station_admin", stations=["gwm"])
    r = call(
        stack,
        admin,
        "POST",
        "/staff/issues",
        json={"station": "gwm", "category": "property", "description": "3号楼路灯不亮，晚上太黑了"},
    )
    assert r.status_code == 201, r.text
    number = r.json()["tracking_number"]
    assert all(c["station"] == "gwm" for c in r.json()["similar"])
    assert nothing_of(r, world["jql"], SIMILAR_TEXT)
    # the office sees the jql case as similar: the filter, not its absence, kept it out
    _, office = get(stack, "intake", f"/staff/issues/{number}/similar")
    assert world["jql"] in [c["tracking_number"] for c in office["similar"]]
    r = call(stack, admin, "GET", f"/staff/issues/{number}/similar")
    assert r.status_code == 200 and nothing_of(r, world["jql"], SIMILAR_TEXT)


def test_a_studio_admin_enters_no_issue_at_a_station_its_studio_is_not_linked_to(stack, world):
    code = f"st-{uuid.uuid4().hex[:5]}"
    studio = {"code": code, "name": f"工作室{code}", "district": "城关区", "sectors": ["yiyao"]}
    r = requests.post(
        stack.url("registry", "/studios"), json=studio, headers=stack.headers, timeout=10
    )
    assert r.status_code == 201, r.text
    stack.wait_for(
        lambda: (
            "暂未开通线上受理"
            in requests.get(stack.url("intake", f"/q/studio/{code}"), timeout=5).text
        ),
        timeout=30,
        what="intake to know the studio",
    )
    admin = auth_headers(stack.config(), "studio_admin", studios=[code])
    before = counts(stack)
    for body in (
        {"station": "gwm", "studio": code},
        {"station": "gwm"},
        {"station": "jql", "studio": code, "submission_id": world["sid"]},
    ):
        body = {**body, "category": "property", "description": "3号楼路灯不亮，晚上太黑了"}
        r = call(stack, admin, "POST", "/staff/issues", json=body)
        assert r.status_code == 403, r.text
        assert nothing_of(r, world["number"], world["code"], world["jql"], SIMILAR_TEXT)
    r = call(stack, admin, "GET", f"/staff/issues/{world['jql']}/similar")
    assert r.status_code == 403 and nothing_of(r, SIMILAR_TEXT)
    assert counts(stack) == before


def test_a_member_records_only_its_own_activities_where_it_serves(stack, world):
    me = auth_headers(stack.config(), "member", member="m003")  # serves gwm and jql
    base = {
        "kind": "visit",
        "station": "gwm",
        "date": "2026-11-22",
        "members": ["m003"],
        "people_served": 3,
    }
    before = counts(stack)
    refused_ids = []
    for change, status in (
        ({"station": "jnl"}, 403),  # a station it does not serve
        ({"members": ["m003", "m001"]}, 403),  # another member named
        ({"members": ["m001"]}, 403),  # not taking part
        ({"issues": [{"category": "property", "description": "路灯坏了", "member": "m001"}]}, 403),
        ({"people_served": 5000}, 400),
        ({"activity_id": world["activity_id"]}, 409),  # another station's activity id
    ):
        activity_id = change.get("activity_id") or f"m003-{uuid.uuid4().hex[:8]}"
        refused_ids.append(activity_id)
        r = call(
            stack,
            me,
            "POST",
            "/staff/activities",
            json={**base, "activity_id": activity_id, **change},
        )
        assert r.status_code == status, (change, r.text)
        assert nothing_of(r, world["number"], world["code"], PRIVATE_NOTE)
    assert counts(stack) == before
    _, listed = get(stack, "intake", "/activities", limit=1000)
    stored = {a["activity_id"]: a for a in listed["activities"]}
    assert not set(refused_ids[:-1]) & set(stored)
    assert stored[world["activity_id"]]["members"] == ["m005"]  # untouched

    r = call(stack, me, "POST", "/staff/activities", json={**base, "station": "jql"})
    assert r.status_code == 201, r.text
    mine = call(stack, me, "GET", "/activities").json()["activities"]
    assert r.json()["activity_id"] in [a["activity_id"] for a in mine]
    assert all(a["members"] == ["m003"] or "m003" in a["members"] for a in mine)
    assert nothing_of(call(stack, me, "GET", "/activities"), PRIVATE_NOTE)


@pytest.mark.parametrize("role", ["office", "station_admin"])
def test_type_confusion_in_intake_bodies_is_a_field_error(stack, role):
    who = (
        stack.headers if role == "office" else auth_headers(stack.config(), role, stations=["gwm"])
    )
    issue = {"station": "gwm", "category": "property", "description": "路灯坏了"}
    activity = {"kind": "visit", "station": "gwm", "date": "2026-11-22", "people_served": 3}
    before = counts(stack)
    for path, body, field in (
        ("/staff/issues", {**issue, "station": ["gwm"]}, "station"),
        ("/staff/issues", {**issue, "station": {"code": "gwm"}}, "station"),
        ("/staff/issues", {**issue, "studio": ["x"]}, "studio"),
        ("/staff/issues", {**issue, "submission_id": {"a": 1}}, "submission_id"),
        ("/staff/issues", {**issue, "contact": ["王"]}, "contact"),
        ("/staff/issues", {**issue, "place": "长" * 201}, "place"),
        ("/staff/activities", {**activity, "station": ["gwm"]}, "station"),
        ("/staff/activities", {**activity, "station": {"x": "gwm"}}, "station"),
        ("/staff/activities", {**activity, "members": "m003"}, "members"),
        ("/staff/activities", {**activity, "people_served": "3"}, "people_served"),
        (
            "/staff/activities",
            {**activity, "people_served": PEOPLE_SERVED_MAX + 1},
            "people_served",
        ),
        ("/staff/activities", {**activity, "people_served": 10**20}, "people_served"),
        ("/staff/activities", {**activity, "issues": {"a": 1}}, "issues"),
        ("/staff/activities", {**activity, "note": "长" * 2001}, "note"),
    ):
        r = call(stack, who, "POST", path, json=body)
        assert r.status_code == 400, (path, body, r.status_code, r.text[:300])
        error = r.json()["error"]
        assert error["code"] == "invalid" and field in error["fields"], (path, body, error)
        assert all(" / " in m for m in messages(error["fields"][field])), error
    assert counts(stack) == before
