"""Intake rules: what becomes an issue, what is a duplicate, what is rejected and why."""

import json
from datetime import UTC, datetime

from sqlalchemy import select

from services.intake import intake, known
from services.intake.models import Issue, Submission
from services.kernel.messaging import Delivery
from services.kernel.models import OutboxMessage


def deliver(session, body, station="gwm"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with session.begin():
        return intake.receive(session, Delivery(queue=f"station.{station}", body=raw))


GOOD = {
    "submission_id": "abc-12345678",
    "station": "gwm",
    "category": "health",
    "description": "需要义诊",
    "channel": "qr",
    "member": "m003",
}


def member_saved(code="m003", stations=("gwm",), revision=1, active=True):
    return {
        "type": "registry.member_saved",
        "occurred_at": "2026-11-27T08:00:00+00:00",
        "payload": {
            "code": code,
            "name": "张志强",
            "level": "county",
            "sector": "yiyao",
            "district": "城关区",
            "active": active,
            "revision": revision,
            "stations": [{"station": s, "role": "member"} for s in stations],
        },
    }


def knows_member(session, code="m003"):
    """Intake's member copy as the registry's event leaves it."""
    with session.begin():
        known.apply_event(session, member_saved(code))


def test_tracking_number_carries_the_beijing_date():
    assert intake.tracking_number(42, datetime(2026, 11, 30, 17, tzinfo=UTC)) == "LX20261201000042"


def test_a_good_submission_becomes_an_issue_and_one_event_without_personal_data(session_of):
    s = session_of("intake")
    knows_member(s)
    result = deliver(s, {**GOOD, "contact": {"name": "李女士", "phone": "13800001234"}})
    assert result["status"] == "accepted"
    issue = s.scalar(select(Issue))
    assert issue.tracking_number == result["tracking_number"]
    assert issue.contact_phone == "13800001234" and len(issue.lookup_code) == 6
    [event] = s.scalars(select(OutboxMessage)).all()
    body = json.loads(event.body)
    assert body["type"] == "intake.issue_received"
    assert body["payload"]["member"] == "m003" and body["payload"]["channel"] == "qr"
    assert "13800001234" not in event.body and "李女士" not in event.body


def test_the_same_submission_id_again_is_a_duplicate_not_a_second_issue(session_of):
    s = session_of("intake")
    knows_member(s)
    first = deliver(s, GOOD)
    again = deliver(s, {**GOOD, "description": "再次提交"})
    assert again == {"status": "duplicate", "tracking_number": first["tracking_number"]}
    assert len(s.scalars(select(Issue)).all()) == 1


def test_rejections_keep_the_raw_body_and_name_each_field(session_of):
    s = session_of("intake")
    assert deliver(s, b"\x00\x01 garbage")["errors"]["_body"][0].startswith("内容不是有效的 JSON")
    r = deliver(
        s, {"submission_id": "short", "station": "gwm", "channel": "pigeon", "description": ""}
    )
    assert set(r["errors"]) == {"submission_id", "channel", "category", "description"}
    knows_member(s)
    r = deliver(s, {**GOOD, "station": "jnl"})
    assert "gwm" in r["errors"]["station"][0]
    rows = s.scalars(select(Submission).order_by(Submission.id)).all()
    assert [row.status for row in rows] == ["rejected"] * 3
    assert rows[0].raw_body == b"\x00\x01 garbage"
    kinds = [json.loads(e.body)["type"] for e in s.scalars(select(OutboxMessage))]
    assert kinds == ["intake.submission_rejected"] * 3
