"""Rules of intake's channels without a broker: body decoding, codes the copies do not know,
the QR form, the public status, staff activities."""

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.intake import activities, intake, known, progress, qr_page
from services.intake.models import Issue
from services.kernel import auth
from services.kernel.messaging import Delivery
from services.kernel.models import OutboxMessage
from tests.unit.test_intake_rules import member_saved


def event(kind, payload, occurred_at="2026-11-27T08:00:00+00:00"):
    return {"type": kind, "occurred_at": occurred_at, "payload": payload}


@pytest.fixture
def s(session_of):
    session = session_of("intake")
    with session.begin():
        for code, name in (("gwm", "广武门街道委员工作站"), ("jql", "酒泉路街道委员工作站")):
            known.apply_event(
                session,
                event(
                    "registry.station_saved",
                    {
                        "code": code,
                        "name": name,
                        "district": "城关区",
                        "kind": "street",
                        "active": True,
                        "revision": 1,
                    },
                ),
            )
        known.apply_event(session, member_saved("m003", stations=("gwm", "jql")))
        known.apply_event(
            session,
            event(
                "routing.catalogue_published",
                {"categories": [{"code": "health", "name": "医疗健康", "name_en": "Health"}]},
            ),
        )
    return session


def deliver(session, raw: bytes, content_type="application/json", station="gwm"):
    with session.begin():
        return intake.receive(
            session, Delivery(queue=f"station.{station}", body=raw, content_type=content_type)
        )


def good(**extra):
    return {
        "submission_id": "sub-00000001",
        "station": "gwm",
        "category": "health",
        "description": "需要义诊",
        **extra,
    }


def test_a_gbk_body_is_read_when_the_message_names_its_charset(s):
    raw = json.dumps(good(), ensure_ascii=False).encode("gbk")
    assert deliver(s, raw, "application/json; charset=GBK")["status"] == "accepted"
    assert s.scalar(select(Issue)).description == "需要义诊"


def test_a_gbk_body_without_a_charset_is_rejected_with_the_reason(s):
    raw = json.dumps(good(), ensure_ascii=False).encode("gbk")
    reason = deliver(s, raw)["errors"]["_body"][0]
    assert reason.startswith("内容不是 UTF-8，且消息未声明字符集") and "charset=gbk" in reason
    assert (
        "未知字符集" in deliver(s, raw, "application/json; charset=klingon")["errors"]["_body"][0]
    )


def test_an_oversized_body_is_rejected_but_kept(s):
    raw = json.dumps(good(description="长" * 30000), ensure_ascii=False).encode()
    assert "内容过大" in deliver(s, raw)["errors"]["_body"][0]
    assert s.scalar(select(Issue)) is None


def test_description_cap_unknown_fields_and_unknown_codes_are_field_errors(s):
    r = deliver(s, json.dumps(good(description="长" * 4001, colour="red")).encode())
    assert r["errors"] == {
        "description": ["问题描述须为 1–4000 字 / description must be 1-4000 characters"],
        "colour": ["未知字段 / unknown field"],
    }
    assert deliver(s, json.dumps(good(description="长" * 4000)).encode())["status"] == "accepted"
    r = deliver(
        s, json.dumps(good(submission_id="sub-00000002", member="m999", category="x")).encode()
    )
    assert set(r["errors"]) == {"member", "category"} and "m999" in r["errors"]["member"][0]


def test_html_in_the_text_is_stored_as_written(s):
    text = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    deliver(s, json.dumps(good(description=text)).encode())
    assert s.scalar(select(Issue)).description == text


def test_the_qr_form_of_a_member_makes_a_message_for_the_chosen_station(s):
    page = qr_page.target(s, "member", "m003")
    assert [st["code"] for st in page["stations"]] == ["gwm", "jql"]
    cats = known.categories(s)
    message, errors = qr_page.submission_from_form(
        {
            "station": "jql",
            "category": "health",
            "description": "  门诊排队长  ",
            "name": "李",
            "phone": "13800001234",
            "consent": "1",
            "submission_id": "form-0000001",
        },
        page,
        cats,
    )
    assert errors == {}
    assert message == {
        "submission_id": "form-0000001",
        "station": "jql",
        "channel": "qr",
        "category": "health",
        "description": "门诊排队长",
        "member": "m003",
        "contact": {"name": "李", "phone": "13800001234"},
    }
    _, errors = qr_page.submission_from_form(
        {"station": "sp", "category": "health", "description": "x", "phone": "1380000"},
        page,
        cats,
    )
    assert set(errors) == {"station", "consent"}
    assert qr_page.target(s, "member", "m999") is None
    assert qr_page.target(s, "studio", "anything") is None


def test_the_public_status_needs_both_codes_and_shows_only_steps(s):
    result = deliver(
        s, json.dumps(good(contact={"name": "李女士", "phone": "13800001234"})).encode()
    )
    number = result["tracking_number"]
    with s.begin():
        issue = s.scalar(select(Issue))
        assert progress.public_status(s, number, "wrong") is None
        assert progress.public_status(s, number, "查询码") is None
        known.apply_event(
            s,
            event(
                "routing.issue_assigned",
                {"tracking_number": number, "member": "m003", "reason": "医药卫生界别委员"},
                occurred_at=datetime.now(UTC).isoformat(),
            ),
        )
        status = progress.public_status(s, number, issue.lookup_code)
    assert (status["status"], status["status_zh"]) == ("assigned", "已派单")
    assert [x["step"] for x in status["steps"]] == ["received", "assigned"]
    assert status["closed"] is False
    with s.begin():
        for kind in (
            "routing.issue_overdue",
            "routing.issue_responded",
            "routing.issue_resolved",
            "routing.issue_rated",
        ):
            known.apply_event(
                s,
                event(
                    kind,
                    {"tracking_number": number, "actor": "m003", "note": "已联系物业"},
                    occurred_at=datetime.now(UTC).isoformat(),
                ),
            )
        later = progress.public_status(s, number, issue.lookup_code)
    assert [x["label_zh"] for x in later["steps"]][-3:] == ["委员已答复", "已办结", "已评价"]
    assert later["closed"] is True and "overdue" not in str(later)
    assert "routing." not in str(later) and later["status"] == "resolved"
    assert progress.is_closed(["routing.issue_resolved", "routing.issue_reopened"]) is False
    text = json.dumps([status, later], ensure_ascii=False)
    for private in ("m003", "李女士", "13800001234", "医药卫生", "需要义诊", "已联系物业"):
        assert private not in text


def test_an_activity_is_recorded_once_and_announced_without_personal_data(s):
    data = {
        "activity_id": "act-00000001",
        "kind": "free_clinic",
        "station": "gwm",
        "date": "2026-11-20",
        "members": ["m003"],
        "people_served": 40,
        "issues": [
            {
                "category": "health",
                "description": "慢病复诊难",
                "contact": {"name": "王大爷", "phone": "13900002222"},
            }
        ],
    }
    office = auth.Principal("office", "office")
    with s.begin():
        activity, messages = activities.record_activity(s, office, activities.load_activity(data))
    with s.begin():
        _, again = activities.record_activity(s, office, activities.load_activity(data))
    assert again == messages and messages[0]["submission_id"] == "act-00000001.1"
    assert messages[0]["activity"] == "act-00000001" and messages[0]["station"] == "gwm"
    [outbox] = s.scalars(select(OutboxMessage)).all()
    body = json.loads(outbox.body)
    assert body["type"] == "intake.activity_recorded"
    assert body["payload"]["people_served"] == 40 and body["payload"]["issues_raised"] == 1
    assert "王大爷" not in outbox.body and "13900002222" not in outbox.body
    with pytest.raises(activities.Invalid) as bad:
        activities.record_activity(
            s,
            office,
            activities.load_activity(
                {"kind": "visit", "date": "2026-11-20", "people_served": 1, "studio": "nope"}
            ),
        )
    assert set(bad.value.errors) == {"studio"}


def test_a_studio_page_sends_issues_to_the_studio_station(s):
    with s.begin():
        assert qr_page.target(s, "studio", "st01") is None
        known.apply_event(
            s,
            event(
                "registry.studio_saved",
                {
                    "code": "st01",
                    "name": "医药卫生界委员工作室",
                    "sectors": ["yiyao"],
                    "district": "城关区",
                    "active": True,
                    "revision": 1,
                    "station": "gwm",
                },
            ),
        )
        page = qr_page.target(s, "studio", "st01")
        message, errors = qr_page.submission_from_form(
            {"category": "health", "description": "义诊"}, page, known.categories(s)
        )
    assert errors == {} and message["station"] == "gwm" and message["studio"] == "st01"
    assert deliver(s, json.dumps(message).encode())["status"] == "accepted"
