"""Intake's side of duplicates: which open cases a report is offered, what a citizen sees of
them, and how a merged tracking number shows the main case's progress and answer."""

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.intake import duplicates, known, progress
from services.intake.models import Issue
from tests.unit import test_intake_channels_rules as channels
from tests.unit.test_intake_channels_rules import deliver, event, good

s = channels.s  # the fixture: a migrated intake database with stations, a member, categories

LIGHT = "庆阳路188号院3号楼前面的路灯坏了一个多月了，晚上黑乎乎的，老人出门不敢走。"
SAME = "我们188号院3号楼那儿的路灯一直不亮，已经好几个星期了，谁来管一下？"


def at(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def report(s, sid, text, station="gwm", category="health", **extra):
    body = good(submission_id=sid, station=station, category=category, description=text, **extra)
    result = deliver(s, json.dumps(body, ensure_ascii=False).encode(), station=station)
    assert result["status"] == "accepted", result
    return result["tracking_number"]


def routing_says(s, kind, number, minutes=1, **payload):
    with s.begin():
        known.apply_event(
            s, event(kind, {"tracking_number": number, **payload}, occurred_at=at(minutes))
        )


def offered(s, text, station="gwm", category="health"):
    with s.begin():
        found = duplicates.for_citizen(
            s, {"station": station, "category": category, "description": text}
        )
    return [c["tracking_number"] for c in found], found


def test_open_cases_of_the_district_and_category_are_offered(s):
    with s.begin():
        known.apply_event(
            s,
            event(
                "registry.station_saved",
                {
                    "code": "jnl",
                    "name": "建宁路社区委员工作站",
                    "district": "安宁区",
                    "kind": "community",
                    "active": True,
                    "revision": 1,
                },
            ),
        )
    here = report(s, "sub-gwm-00001", LIGHT + " 电话13800001234", contact={"name": "李女士"})
    near = report(s, "sub-jql-00001", LIGHT, station="jql")  # same district
    far = report(s, "sub-jnl-00001", LIGHT, station="jnl")  # 安宁区
    numbers, found = offered(s, SAME)
    assert set(numbers) == {here, near} and far not in numbers
    # a citizen sees a masked snippet, the station's name, the day: never contact data
    text = json.dumps(found, ensure_ascii=False)
    assert "13800001234" not in text and "李女士" not in text
    assert {c["station_name"] for c in found} == {"广武门街道委员工作站", "酒泉路街道委员工作站"}
    assert offered(s, "社区卫生服务站没有儿科")[0] == []  # not similar
    assert offered(s, SAME, category="property")[0] == []  # another category


def test_closed_and_merged_cases_are_not_offered_reopened_ones_are(s):
    main = report(s, "sub-main-0001", LIGHT)
    dup = report(s, "sub-dup-00001", LIGHT)
    routing_says(s, "routing.issue_merged", dup, into=main)
    assert offered(s, SAME)[0] == [main]
    routing_says(s, "routing.issue_resolved", main, minutes=2, answer="已换灯泡")
    assert offered(s, SAME)[0] == []
    routing_says(s, "routing.issue_reopened", main, minutes=3)
    assert offered(s, SAME)[0] == [main]
    new = report(s, "sub-new-00001", SAME)
    with s.begin():
        staff = duplicates.for_staff(s, new)
    assert [c["tracking_number"] for c in staff] == [main]
    assert staff[0]["score"] > 0 and staff[0]["reporters"] == 2
    with s.begin():
        assert duplicates.for_staff(s, "LX-nope") is None


def test_a_merged_number_shows_the_main_cases_progress_and_answer(s):
    main = report(s, "sub-main-0001", LIGHT)
    dup = report(s, "sub-dup-00001", SAME, same_as=main)
    with s.begin():
        issue = s.scalar(select(Issue).where(Issue.tracking_number == dup))
        assert issue.same_as == main
        code, main_code = (
            issue.lookup_code,
            s.scalar(select(Issue.lookup_code).where(Issue.tracking_number == main)),
        )
    routing_says(s, "routing.issue_assigned", main, minutes=1, member="m003")
    routing_says(s, "routing.issue_merged", dup, minutes=2, into=main)
    routing_says(s, "routing.issue_responded", main, minutes=3, answer="已报路灯所，三天内修好")
    with s.begin():
        mine = progress.public_status(s, dup, code)
        theirs = progress.public_status(s, main, main_code)
    assert mine["answer"] == theirs["answer"] == "已报路灯所，三天内修好"
    assert mine["status"] == theirs["status"] == "responded"
    assert mine["merged"] is True and theirs["merged"] is False
    assert mine["reporters"] == theirs["reporters"] == 2
    assert [x["step"] for x in mine["steps"]] == ["received", "merged", "responded"]
    assert mine["tracking_number"] == dup and main not in json.dumps(mine)
    with s.begin():
        assert progress.case_to_act_on(s, dup) == main


def test_same_as_must_name_an_issue_intake_made(s):
    body = good(submission_id="sub-bad-00001", same_as="LX20260101999999")
    result = deliver(s, json.dumps(body).encode())
    assert result["status"] == "rejected" and "same_as" in result["errors"]


def test_the_question_on_the_form_escapes_what_others_wrote_and_defaults_to_a_new_problem():
    from services.intake import pages, qr_page

    page = {"kind": "station", "code": "gwm", "name": "广武门", "stations": [{"code": "gwm"}]}
    html = pages.render(
        "form.html",
        "zh",
        page=page,
        categories=[],
        form={"submission_id": "x"},
        errors={},
        action="/q/station/gwm",
        description_max=4000,
        switch_url="?lang=en",
        suggestions=[
            {
                "tracking_number": "LX1",
                "snippet": "<script>alert(1)</script>路灯坏了",
                "station_name": "广武门",
                "received_on": "2026-11-27",
                "reporters": 3,
            }
        ],
    )
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert "是否与以下问题相同？" in html and "已有 3 人反映" in html
    # the first submit button (what Enter presses) is "a new problem", and there is no plain 提交
    assert html.index('id="new-problem"') < html.index('id="same-1"')
    assert 'id="submit"' not in html
    assert qr_page.choice({"same_as": " LX1 "}) == "LX1"
    assert qr_page.choice({"same_as": ""}) == "" and qr_page.choice({}) is None


def test_a_form_sent_again_is_not_asked_about_its_own_issue(s):
    first = report(s, "sub-first-001", LIGHT)
    with s.begin():
        again = duplicates.for_citizen(
            s,
            {
                "submission_id": "sub-first-001",
                "station": "gwm",
                "category": "health",
                "description": LIGHT,
            },
        )
        other = duplicates.for_citizen(
            s,
            {
                "submission_id": "sub-other-001",
                "station": "gwm",
                "category": "health",
                "description": LIGHT,
            },
        )
    assert again == [] and [c["tracking_number"] for c in other] == [first]
