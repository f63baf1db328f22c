"""Merging cases (one problem, many voices): routing's rules on a real (SQLite) database."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.routing import actions, lifecycle, merging, views
from services.routing.lifecycle import CaseError
from services.routing.models import Case, CaseEvent
from tests.unit.test_routing_rules import T0, events, feed, issue, member


@pytest.fixture
def s(session_of):
    s = session_of("routing")
    member(s, "lead", "jingji", role="lead")
    member(s, "doc", "yiyao")
    member(s, "doc2", "yiyao")
    return s


def trail(s, number):
    return [
        (e.action, e.actor, e.from_status, e.to_status)
        for e in s.scalars(
            select(CaseEvent).where(CaseEvent.tracking_number == number).order_by(CaseEvent.id)
        )
    ]


def test_a_merged_case_follows_the_main_one(s):
    main = issue(s, "LX1")
    dup = issue(s, "LX2")
    actions.act(s, "LX2", "merge", "doc", into="LX1", note="同一处路灯")
    assert dup.status == "merged" and dup.merged_into == "LX1"
    assert trail(s, "LX2")[-1] == ("merge", "doc", "assigned", "merged")
    assert trail(s, "LX1")[-1] == ("merged_in", "doc", "assigned", "assigned")
    [merged] = [e for e in events(s) if e["type"] == "routing.issue_merged"]
    assert merged["payload"]["tracking_number"] == "LX2"
    assert merged["payload"]["into"] == "LX1" and merged["payload"]["actor"] == "doc"
    view = views.case_view(s, "LX1")
    assert view["reporters"] == 2 and view["merged_in"] == ["LX2"]
    assert views.case_view(s, "LX2")["main"] == "LX1"
    # the merged case leaves its member's duty list and is never acted on by itself again
    assert "LX2" not in [c["tracking_number"] for c in views.duty_list(s, dup.member_code)]
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX2", "accept", dup.member_code)
    assert err.value.code == "illegal_transition"
    assert main.status == "assigned"


def test_merging_into_a_merged_case_follows_its_main_one(s):
    issue(s, "LX1")
    issue(s, "LX2")
    issue(s, "LX3")
    actions.act(s, "LX2", "merge", "doc", into="LX1")
    actions.act(s, "LX3", "merge", "doc", into="LX2")
    assert s.get(Case, "LX3").merged_into == "LX1"
    assert views.case_view(s, "LX1")["reporters"] == 3


def test_a_main_case_merged_on_takes_its_followers_along(s):
    for n in ("LX1", "LX2", "LX3"):
        issue(s, n)
    actions.act(s, "LX2", "merge", "doc", into="LX1")
    actions.act(s, "LX1", "merge", "doc", into="LX3")
    assert merging.chain_of(s, "LX2") == ["LX2", "LX1", "LX3"]
    assert views.case_view(s, "LX3")["merged_in"] == ["LX1", "LX2"]
    assert views.case_view(s, "LX3")["reporters"] == 3


@pytest.mark.parametrize(
    "into, code, status",
    [("LX1", "merge_self", 400), ("LX404", "not_found", 400), ("", "missing", 400)],
)
def test_bad_targets_are_refused_on_the_into_field(s, into, code, status):
    case = issue(s, "LX1")
    version = case.version
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX1", "merge", "doc", into=into)
    assert (err.value.code, err.value.status, err.value.field) == (code, status, "into")
    assert case.status == "assigned" and case.version == version and case.merged_into is None


def test_merging_into_a_closed_case_is_refused(s):
    done = issue(s, "LX1", received=datetime.now(UTC))
    issue(s, "LX2")
    actions.act(s, "LX1", "respond", done.member_code, note="已处理")
    actions.act(s, "LX1", "resolve", done.member_code, note="已修好")
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX2", "merge", "doc", into="LX1")
    assert err.value.code == "merge_closed" and err.value.field == "into"
    assert "只能合并到未办结的案件" in err.value.message_zh
    assert s.get(Case, "LX2").status == "assigned"


def test_loops_are_refused_directly_and_through_a_chain(s):
    for n in ("LX1", "LX2", "LX3"):
        issue(s, n)
    actions.act(s, "LX2", "merge", "doc", into="LX1")  # LX2 follows LX1
    actions.act(s, "LX3", "merge", "doc", into="LX2")  # LX3 → LX1
    before = [e["type"] for e in events(s)]
    # LX1 into LX2: LX2 already follows LX1
    assert lifecycle.merge_refusal("LX1", "LX2", ["LX2", "LX1"], "assigned").code == "merge_loop"
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX1", "merge", "doc", into="LX2")
    assert err.value.code == "merge_loop" and err.value.field == "into"
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX1", "merge", "doc", into="LX3")
    assert err.value.code == "merge_loop"
    assert s.get(Case, "LX1").status == "assigned"
    assert [e["type"] for e in events(s)] == before  # nothing announced


def test_a_refusal_is_kept_in_the_audit_trail(s):
    case = issue(s, "LX1")
    with pytest.raises(CaseError) as err:
        actions.act(s, "LX1", "merge", "doc", into="LX1")
    merging.refuse(s, "LX1", "merge", "doc", err.value)
    action, actor, before, after = trail(s, "LX1")[-1]
    assert (action, actor, before, after) == ("merge_refused", "doc", "assigned", "assigned")
    assert s.get(Case, "LX1").version == case.version


def same_as(s, number, main, received=T0):
    feed(
        s,
        "intake.issue_received",
        {
            "tracking_number": number,
            "station": "gwm",
            "channel": "qr",
            "category": "health",
            "member": None,
            "same_as": main,
            "submitted_at": received.isoformat(),
            "received_at": received.isoformat(),
        },
    )
    return s.get(Case, number)


def test_the_citizens_choice_merges_on_arrival_when_the_main_case_is_open(s):
    issue(s, "LX1")
    case = same_as(s, "LX2", "LX1")
    assert case.status == "merged" and case.merged_into == "LX1" and case.member_code is None
    assert trail(s, "LX2") == [("merge", "citizen", "waiting", "merged")]
    kinds = [e["type"] for e in events(s) if e["payload"].get("tracking_number") == "LX2"]
    assert kinds == ["routing.issue_merged"]  # never assigned, no member disturbed


def test_the_citizens_choice_of_a_closed_case_opens_a_case_of_its_own(s):
    done = issue(s, "LX1", received=datetime.now(UTC))
    actions.act(s, "LX1", "respond", done.member_code, note="已处理")
    actions.act(s, "LX1", "resolve", done.member_code, note="已修好")
    case = same_as(s, "LX2", "LX1")
    assert case.status == "assigned" and case.merged_into is None
    assert [a for a, *_ in trail(s, "LX2")] == ["merge_refused", "assign"]


def station(s, code, district):
    feed(
        s,
        "registry.station_saved",
        {"code": code, "name": code, "district": district, "active": True, "revision": 1},
    )


def test_the_citizens_choice_is_followed_only_within_its_stations_district(s):
    station(s, "gwm", "城关区")
    station(s, "jql", "城关区")
    station(s, "jnl", "安宁区")
    member(s, "far", "yiyao", station="jnl")
    member(s, "near", "yiyao", station="jql")
    issue(s, "LX1", station="jql")  # 城关区, as gwm
    issue(s, "LX9", station="jnl")  # 安宁区
    assert same_as(s, "LX2", "LX1").merged_into == "LX1"  # the district's case: followed
    before = (s.get(Case, "LX9").status, s.get(Case, "LX9").member_code)
    case = same_as(s, "LX3", "LX9")  # another district's case named in the message
    assert case.status == "assigned" and case.merged_into is None and case.station_code == "gwm"
    assert [a for a, *_ in trail(s, "LX3")] == ["merge_refused", "assign"]
    assert (s.get(Case, "LX9").status, s.get(Case, "LX9").member_code) == before
    assert merging.followers(s, "LX9") == []
