"""Each member's open cases and last assignment (member_loads) stay equal to what counting the
cases and assignments gives, through every way a case changes hands or status."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from services.routing import actions, lifecycle
from services.routing.models import Assignment, Case, MemberLoad
from tests.unit.test_routing_rules import issue, member


def counted(s) -> dict:
    """What the loads must be: open cases counted from ``cases``, times from ``assignments``."""
    open_cases = dict(
        s.execute(
            select(Case.member_code, func.count())
            .where(Case.status.in_(lifecycle.ACTIVE))
            .group_by(Case.member_code)
        ).all()
    )
    last = dict(
        s.execute(
            select(Assignment.member_code, func.max(Assignment.assigned_at)).group_by(
                Assignment.member_code
            )
        ).all()
    )
    return {
        m: (open_cases.get(m, 0), datetime.fromisoformat(str(last[m])).replace(tzinfo=UTC))
        for m in last
    }


def kept(s) -> dict:
    s.flush()
    return {
        row.member_code: (row.open_cases, row.last_assigned_at)
        for row in s.scalars(select(MemberLoad))
        if row.open_cases or row.last_assigned_at
    }


def test_loads_follow_assignment_transfer_resolution_reopening_and_merging(session_of):
    s = session_of("routing")
    member(s, "doc", "yiyao")
    member(s, "doc2", "yiyao")
    member(s, "teacher", "jiaoyu")
    member(s, "lead", "jingji", role="lead")
    for n in range(1, 7):
        issue(s, f"LX{n}")
    assert kept(s) == counted(s)
    assert sorted(n for n, _ in kept(s).values()) == [3, 3]  # balanced between doc and doc2

    first = s.get(Case, "LX1")
    actions.act(s, "LX1", "accept", first.member_code)
    actions.act(s, "LX1", "transfer", first.member_code, note="更懂儿科", to_member="teacher")
    actions.act(s, "LX2", "respond", s.get(Case, "LX2").member_code, note="答复")
    actions.act(s, "LX2", "resolve", s.get(Case, "LX2").member_code, note="办结")
    s.commit()  # attributes expire: the next changes must still know what they were
    actions.act(s, "LX2", "rate", "citizen", rating="unsatisfied", note="没解决")  # reopens
    actions.act(s, "LX3", "close_unresolved", s.get(Case, "LX3").member_code, note="无法解决")
    actions.act(s, "LX4", "merge", s.get(Case, "LX4").member_code, into="LX5", note="同一件事")
    s.commit()
    assert kept(s) == counted(s)
    assert kept(s)["teacher"][0] == 1

    # and the balancing reads them: the next issue goes to whoever has fewer open cases
    loads = kept(s)
    fewer = min(("doc", "doc2"), key=lambda m: (loads[m][0], loads[m][1]))
    assert issue(s, "LX9", received=datetime.now(UTC) + timedelta(minutes=1)).member_code == fewer
    assert kept(s) == counted(s)
