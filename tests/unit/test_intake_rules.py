"""Intake rules: what becomes an issue, what is a duplicate, what is rejected and why."""

import json
from datetime import UTC, datetime

from sqlalchemy import select

from services.intake import intake, known
from services.intake.models import Issue, IssueStep, Submission
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


# -- the citizen's status: routing's steps, public words, the actions legal now ------------------

CITIZEN_ROAD = [  # (who acts, action, params): the whole road of issue #17, and beyond
    ("m1", "respond", {"note": "已联系物业"}),
    ("m1", "resolve", {"note": "路灯已修好"}),
    ("citizen", "rate", {"rating": "unsatisfied", "note": "还是不亮"}),
    ("m1", "accept", {}),
    ("m1", "respond", {"note": "再次联系物业"}),
    ("m1", "resolve", {"note": "已更换灯具"}),
    ("citizen", "reopen", {}),
    ("m1", "close_unresolved", {"note": "需市政立项"}),
    ("citizen", "reopen", {}),
]


def test_citizen_actions_copy_routings_lifecycle():
    """Intake cannot import routing: its copy of the two citizen actions' states is held here to
    routing's table, so the two cannot drift apart unnoticed."""
    from services.intake import progress
    from services.routing import lifecycle, service

    assert set(progress.CITIZEN_ACTIONS) == set(service.CITIZEN_ACTIONS)
    for action, states in progress.CITIZEN_ACTIONS.items():
        assert set(states) == set(lifecycle.TRANSITIONS[action][0]), action
    # every routing state a public status stands for is one of routing's
    for public in progress.PUBLIC_STATUS:
        assert progress.ROUTING_STATUS.get(public, public) in lifecycle.STATUS_NAMES, public


def test_the_status_page_offers_exactly_what_routing_accepts(session_of):
    """Routing's real actions on a real case, its events fed to intake's copy after each: the
    public status follows every step (the reopen after 不满意 included), and the actions intake
    offers are exactly those routing accepts at that moment (each tried in a savepoint)."""
    from datetime import timedelta

    from services.intake import progress
    from services.routing import actions
    from services.routing.lifecycle import CaseError
    from services.routing.models import Case
    from services.routing.settings import RoutingSettings

    routing, intake_db = session_of("routing"), session_of("intake")
    at = datetime.now(UTC) - timedelta(hours=1)
    with routing.begin():
        routing.add(
            Case(
                tracking_number="LX1",
                station_code="gwm",
                category="health",
                status="assigned",
                member_code="m1",
                received_at=at,
                assigned_at=at,
                response_due=at + timedelta(days=3),
                resolution_due=at + timedelta(days=10),
            )
        )
    with intake_db.begin():
        known.apply_event(
            intake_db,
            {
                "type": "routing.issue_assigned",
                "occurred_at": at.isoformat(),
                "payload": {"tracking_number": "LX1", "member": "m1"},
            },
        )
    seen_events = 0

    def feed() -> list[str]:
        nonlocal seen_events
        with routing.begin():
            rows = routing.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
            bodies = [json.loads(r.body) for r in rows[seen_events:]]
            seen_events = len(rows)
        with intake_db.begin():
            for body in bodies:
                known.apply_event(intake_db, body)
            steps = intake_db.scalars(
                select(IssueStep.step)
                .where(IssueStep.tracking_number == "LX1")
                .order_by(IssueStep.occurred_at, IssueStep.id)
            ).all()
        return ["intake.issue_received", *steps]

    def routing_accepts(action: str) -> bool:
        with routing.begin():
            savepoint = routing.begin_nested()
            try:
                params = {"rating": "satisfied"} if action == "rate" else {}
                actions.act(routing, "LX1", action, "citizen", settings=RoutingSettings(), **params)
                return True
            except CaseError:
                return False
            finally:
                savepoint.rollback()

    statuses = []
    for actor, action, params in CITIZEN_ROAD:
        note = params.get("note")
        rest = {k: v for k, v in params.items() if k != "note"}
        with routing.begin():
            actions.act(routing, "LX1", action, actor, note=note, **rest)
        steps = feed()
        status = progress.status_of(steps)
        statuses.append(status)
        offered = progress.citizen_actions(steps)
        assert status in progress.PUBLIC_STATUS
        for citizen_action in progress.CITIZEN_ACTIONS:
            assert (citizen_action in offered) == routing_accepts(citizen_action), (
                action,
                citizen_action,
                steps,
            )
    assert statuses == [
        "responded",
        "resolved",
        "reopened",  # 不满意: routing reopened the case, the citizen reads it so
        "accepted",
        "responded",
        "resolved",  # answered again: rated again or reopened, as routing accepts
        "reopened",
        "closed_unresolved",
        "reopened",
    ]
    assert [s for s in feed() if s in ("routing.issue_rated", "routing.issue_reopened")] == [
        "routing.issue_rated",
        "routing.issue_reopened",
        "routing.issue_reopened",
        "routing.issue_reopened",
    ]


def test_the_member_page_shows_the_posters_data_from_intakes_copies(session_of):
    """Level and sector (with the sector's name), studios and the next duty day: the copies
    kept from the registry's announcements, as they come (a sector has no active flag)."""
    from datetime import date, timedelta

    from services.intake import qr_page
    from services.intake.intake import CHINA

    s = session_of("intake")
    today = datetime.now(CHINA).date()

    def announce(kind, payload):
        with s.begin():
            known.apply_event(
                s, {"type": kind, "occurred_at": "2026-11-27T08:00:00+00:00", "payload": payload}
            )

    announce(
        "registry.station_saved", {"code": "gwm", "name": "广武门", "revision": 1, "active": True}
    )
    with s.begin():
        known.apply_event(s, member_saved())
        page = qr_page.target(s, "member", "m003")
    assert (page["level"], page["sector"], page["duty"]) == ("county", "yiyao", None)
    announce("registry.sector_saved", {"code": "yiyao", "name": "医药卫生", "revision": 1})
    roster = {"slot": "pm", "station": "gwm", "studio": None, "active": True, "revision": 1}
    announce(
        "registry.roster_saved",
        {
            **roster,
            "code": "r-past",
            "members": ["m003"],
            "date": (today - timedelta(days=1)).isoformat(),
        },
    )
    announce(
        "registry.roster_saved",
        {**roster, "code": "r-other", "members": ["m0031"], "date": today.isoformat()},
    )
    announce(
        "registry.roster_saved",
        {
            **roster,
            "code": "r-next",
            "members": ["m003"],
            "date": (today + timedelta(days=2)).isoformat(),
        },
    )
    with s.begin():
        page = qr_page.target(s, "member", "m003")
    assert page["sector"] == "医药卫生"
    assert page["duty"]["day"] == today + timedelta(days=2) and page["duty"]["place"] == "广武门"
    announce(
        "registry.roster_saved",
        {
            **roster,
            "code": "r-next",
            "members": ["m003"],
            "date": date(2000, 1, 1).isoformat(),
            "revision": 2,
            "active": False,
        },
    )
    with s.begin():
        assert qr_page.target(s, "member", "m003")["duty"] is None
