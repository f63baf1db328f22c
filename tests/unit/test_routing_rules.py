"""Routing rules on a real (SQLite) database: assignment, every action, deadlines, refusals."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.kernel.events import new_event, parse_event
from services.kernel.models import OutboxMessage
from services.routing import actions, deadlines, handlers, views
from services.routing.lifecycle import CaseError
from services.routing.models import Assignment, Case, CaseEvent

T0 = datetime(2026, 11, 25, 2, tzinfo=UTC)  # a Wednesday, 10:00 in Beijing


def feed(s, kind, payload):
    handlers.handle_event(s, parse_event(new_event(kind, payload, kind.split(".")[0])))
    s.flush()


def member(s, code, sector, station="gwm", role="member", active=True, revision=1):
    feed(
        s,
        "registry.member_saved",
        {
            "code": code,
            "name": code,
            "level": "county",
            "sector": sector,
            "district": "城关区",
            "active": active,
            "revision": revision,
            "stations": [{"station": station, "role": role}],
        },
    )


def issue(s, number, category="health", station="gwm", member_hint=None, received=T0):
    feed(
        s,
        "intake.issue_received",
        {
            "tracking_number": number,
            "station": station,
            "channel": "qr",
            "category": category,
            "member": member_hint,
            "submitted_at": received.isoformat(),
            "received_at": received.isoformat(),
        },
    )
    return s.get(Case, number)


def events(s):
    return [json.loads(e.body) for e in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


@pytest.fixture
def s(session_of):
    s = session_of("routing")
    member(s, "lead", "jingji", role="lead")
    member(s, "doc", "yiyao")
    member(s, "doc2", "yiyao")
    member(s, "teacher", "jiaoyu")
    return s


def test_deadlines_come_from_the_catalogue_in_working_days(s):
    case = issue(s, "LX1", category="property")  # complaint: 3 and 13 working days
    # Wed 25 Nov + 3 working days: Thu, Fri, Mon 30 Nov → due at the end of Monday (Beijing).
    assert case.response_due == datetime(2026, 11, 30, 16, tzinfo=UTC)
    # + 13 working days → the end of Mon 14 Dec.
    assert case.resolution_due == datetime(2026, 12, 14, 16, tzinfo=UTC)
    urgent = issue(s, "LX2", category="hazard")
    assert urgent.resolution_due == datetime(2026, 11, 25, 16, tzinfo=UTC)  # same day


def test_sector_then_fairness_then_lead(s):
    first = issue(s, "LX1")
    second = issue(s, "LX2")
    assert {first.member_code, second.member_code} == {"doc", "doc2"}
    assert issue(s, "LX3", category="business").member_code == "lead"  # no jingji/gongshanglian
    assert issue(s, "LX4", member_hint="teacher").member_code == "teacher"


def test_the_whole_life_of_a_case_with_audit_and_events(s):
    case = issue(s, "LX1", received=datetime.now(UTC))
    doc = case.member_code
    actions.act(s, "LX1", "accept", doc)
    actions.act(s, "LX1", "respond", doc, note="已电话联系，明天上门", version=case.version)
    actions.act(s, "LX1", "resolve", doc, note="已上门问诊并开具处方")
    actions.act(s, "LX1", "rate", "citizen", rating="satisfied", note="谢谢委员")
    assert case.status == "resolved" and case.rating == "satisfied"
    trail = [
        (e.action, e.actor, e.to_status)
        for e in s.scalars(select(CaseEvent).order_by(CaseEvent.id))
    ]
    assert trail == [
        ("assign", "system", "assigned"),
        ("accept", doc, "accepted"),
        ("respond", doc, "responded"),
        ("resolve", doc, "resolved"),
        ("rate", "citizen", "resolved"),
    ]
    kinds = [e["type"] for e in events(s) if e["payload"].get("tracking_number") == "LX1"]
    assert kinds == [
        "routing.issue_assigned",
        "routing.issue_accepted",
        "routing.issue_responded",
        "routing.issue_resolved",
        "routing.issue_rated",
    ]
    responded = [e for e in events(s) if e["type"] == "routing.issue_responded"][0]
    assert responded["payload"]["on_time"] is True


def test_refusals_leave_the_case_unchanged(s):
    case = issue(s, "LX1")
    version = case.version
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX1", "resolve", "doc", note="x")
    assert err.value.code == "illegal_transition"
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX1", "respond", "doc", note="  ")
    assert err.value.field == "note"
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX1", "rate", "citizen", rating="satisfied")
    assert err.value.code == "illegal_transition"  # not resolved yet
    actions.act(s, "LX1", "accept", "doc")
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX1", "respond", "doc", note="答复", version=version)
    assert err.value.code == "stale"
    with pytest.raises(CaseError) as err:
        actions.act(s, "NOPE", "accept", "doc")
    assert err.value.status == 404
    assert case.status == "accepted"


def test_transfer_to_a_member_or_a_station_counts_a_handoff(s):
    member(s, "gone", "yiyao", active=False)
    member(s, "far-doc", "yiyao", station="jnl")
    case = issue(s, "LX1")
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX1", "transfer", "doc", note="换人", to_member="gone")
    assert err.value.field == "to_member"
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX1", "transfer", "doc", to_member="teacher")
    assert err.value.field == "note"
    actions.act(s, "LX1", "transfer", "doc", note="更懂儿科", to_member="teacher")
    assert (case.member_code, case.handoffs, case.status) == ("teacher", 1, "assigned")
    actions.act(s, "LX1", "transfer", "teacher", note="属安宁区", to_station="jnl")
    assert (case.station_code, case.member_code, case.handoffs) == ("jnl", "far-doc", 2)
    transferred = [e for e in events(s) if e["type"] == "routing.issue_transferred"]
    assert [e["payload"]["from_station"] for e in transferred] == ["gwm", "gwm"]


def test_rating_twice_unsatisfied_reopens_and_the_reopen_window(s):
    case = issue(s, "LX1")
    actions.act(s, "LX1", "respond", case.member_code, note="答复")
    actions.act(s, "LX1", "resolve", case.member_code, note="办结")
    actions.act(s, "LX1", "rate", "citizen", rating="unsatisfied", note="没解决")
    assert (case.status, case.reopens) == ("assigned", 1)
    actions.act(s, "LX1", "respond", case.member_code, note="再次答复")
    actions.act(s, "LX1", "resolve", case.member_code, note="已解决")
    actions.act(s, "LX1", "rate", "citizen", rating="satisfied")  # one rating per answer
    assert (case.status, case.rating) == ("resolved", "satisfied")
    with pytest.raises(CaseError) as err:  # but not two for the same answer
        actions.act(s, "LX1", "rate", "citizen", rating="unsatisfied")
    assert err.value.code == "already_rated"
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX1", "rate", "citizen", rating="great")
    case.resolved_at = datetime.now(UTC) - timedelta(days=16)
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX1", "reopen", "citizen")
    assert err.value.code == "window_closed"
    case.resolved_at = datetime.now(UTC) - timedelta(days=2)
    actions.act(s, "LX1", "reopen", "citizen")
    assert (case.status, case.reopens) == ("assigned", 2)


def test_deadline_colours_and_a_single_escalation(s):
    case = issue(s, "LX1", category="health", received=T0)  # first response due Thu 00:00 BJ
    due = case.response_due
    assert deadlines.check_deadlines(s, due - timedelta(hours=30)) == {
        "yellow": 0,
        "red": 0,
        "escalated": 0,
    }
    assert deadlines.check_deadlines(s, due - timedelta(hours=2))["yellow"] == 1
    assert case.colour == "yellow"
    assert deadlines.check_deadlines(s, due + timedelta(minutes=1)) == {
        "yellow": 0,
        "red": 1,
        "escalated": 1,
    }
    assert deadlines.check_deadlines(s, due + timedelta(hours=5))["escalated"] == 0
    escalated = [e for e in events(s) if e["type"] == "routing.issue_escalated"]
    assert len(escalated) == 1 and escalated[0]["payload"]["to"] == ["lead", "office"]
    assert views.duty_list(s, case.member_code)[0]["colour"] == "red"


def test_a_duty_list_puts_red_first_then_the_nearest_deadline(s):
    issue(s, "LX1", category="utilities", member_hint="doc")  # help: 1 working day
    issue(s, "LX2", category="hazard", member_hint="doc")  # urgent: the same day
    late = issue(s, "LX3", category="property", member_hint="doc")  # complaint: 3 days
    late.colour = "red"  # as the deadline check leaves an overdue case
    assert [c["tracking_number"] for c in views.duty_list(s, "doc")] == ["LX3", "LX2", "LX1"]


def test_the_roster_and_the_district_studios_from_registry_events(s):
    feed(
        s,
        "registry.station_saved",
        {
            "code": "gwm",
            "name": "广武门",
            "district": "城关区",
            "kind": "street",
            "active": True,
            "revision": 1,
        },
    )
    feed(
        s,
        "registry.roster_saved",
        {
            "code": "station-gwm-20261125-am",
            "date": "2026-11-25",
            "slot": "am",
            "station": "gwm",
            "studio": None,
            "members": ["doc2"],
            "active": True,
            "revision": 1,
        },
    )
    # doc has fewer open cases than doc2 would after this, but doc2 is on duty that day.
    assert issue(s, "LX1", received=T0).member_code == "doc2"
    assert issue(s, "LX2", received=T0 + timedelta(days=1)).member_code == "doc"  # not on duty

    feed(
        s,
        "registry.studio_saved",
        {
            "code": "st1",
            "name": "社科工作室",
            "district": "城关区",
            "location": "",
            "sectors": ["shehuikexue", "qingnian"],
            "active": True,
            "revision": 1,
        },
    )
    feed(
        s,
        "registry.member_saved",
        {
            "code": "scholar",
            "name": "scholar",
            "level": "municipal",
            "sector": "shehuikexue",
            "district": "城关区",
            "active": True,
            "revision": 1,
            "stations": [],
            "studios": [{"studio": "st1", "role": "member"}],
        },
    )
    # childcare → jiaoyu, qingnian: the teacher at the station first, then the studio's member.
    assert issue(s, "LX3", category="childcare").member_code == "teacher"
    member(s, "teacher", "jiaoyu", active=False, revision=2)
    case = issue(s, "LX4", category="childcare")
    assert (
        case.member_code,
        s.scalar(select(Assignment.rule).where(Assignment.tracking_number == "LX4")),
    ) == ("scholar", "studio")
