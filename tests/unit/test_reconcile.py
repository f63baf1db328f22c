"""Reconciliation: settled figures agree exactly; a gap is explained by what is in flight or
parked, or reported; a service that does not answer makes the answer unknown, not 'fine'."""

from services.reporting import dashboard
from services.reporting.reconcile import reconcile


def intake(accepted=10, backlog=0, parked=0):
    return {
        "submissions": {"accepted": accepted, "rejected": 2, "duplicate": 1},
        "outbox_backlog": backlog,
        "parked": parked,
    }


def routing(cases=10, waiting=1, depth=0, backlog=0, parked=0):
    return {
        "cases": {"waiting": waiting, "assigned": cases - waiting},
        "outbox_backlog": backlog,
        "parked": parked,
        "queues": {"routing.events": depth},
    }


def reporting(issues=10, depth=0, parked=0):
    return {"issues": issues, "parked": parked, "queues": {"reporting.events": depth}}


def test_settled_figures_hold_exactly():
    r = reconcile(intake(), routing(), reporting())
    assert r["holds"] is True
    assert r["submissions"] == {"received": 13, "accepted": 10, "duplicates": 1, "rejected": 2}
    assert r["cases"] == {"total": 10, "waiting": 1, "assigned_or_further": 9}


def test_in_flight_explains_a_gap_and_nothing_else_does():
    assert reconcile(intake(backlog=3), routing(cases=7), reporting(issues=7))["holds"] is True
    lost = reconcile(intake(), routing(cases=7), reporting())
    assert lost["holds"] is False
    assert [c["gap"] for c in lost["checks"]] == [3, 0]
    assert (
        reconcile(
            intake(),
            routing(cases=8),
            reporting(),
        )["holds"]
        is False
    )
    parked = reconcile(intake(), routing(cases=8, parked=2), reporting())
    assert parked["holds"] is True and parked["parked"]["routing"] == 2


def test_more_cases_than_issues_does_not_hold():
    assert reconcile(intake(), routing(cases=11), reporting())["holds"] is False


def test_a_silent_service_makes_it_unknown_and_the_dashboard_says_so():
    r = reconcile(None, routing(), reporting())
    assert r["holds"] is None and r["unavailable"] == ["intake"]
    page = dashboard.page(
        {"month": "2026-11", "city": {}}, ["2026-11"], {"issues_received": [0]}, r
    )
    assert "对账不平" in page and "intake" in page
    fine = dashboard.page(
        {"month": "2026-11", "city": {}},
        ["2026-11"],
        {"issues_received": [0]},
        reconcile(intake(), routing(), reporting()),
    )
    assert "对账不平" not in fine


def test_unknown_event_types_are_counted_and_the_dashboard_warns():
    mine = {**reporting(), "unknown_events": {"intake.issue_merged": 2, "x.y": 1}}
    r = reconcile(intake(), routing(), mine)
    assert r["holds"] is True  # not a break in the equalities ...
    assert r["unknown_events"] == {"total": 3, "by_type": {"intake.issue_merged": 2, "x.y": 1}}
    page = dashboard.page({"month": "2026-11", "city": {}}, ["2026-11"], {}, r)
    assert "未知类型的事件" in page and "intake.issue_merged</code> 2" in page  # ... but a warning
    assert reconcile(None, routing(), mine)["unknown_events"]["total"] == 3
    quiet = dashboard.page(
        {"month": "2026-11", "city": {}},
        ["2026-11"],
        {},
        reconcile(intake(), routing(), reporting()),
    )
    assert "未知类型" not in quiet
