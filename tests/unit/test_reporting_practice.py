"""Reporting counts the rest of the practice (issue #21): leaders' visits by the month of their
date (withdrawn ones no longer, re-saved ones once), consultations and the cases they settled,
社情民意 reports and their latest outcome in the month they were submitted, and the members who
served, distinct over a month, a range and a year; a rebuild says the same."""

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.reporting import event_store, queries, rebuild
from services.reporting.practice import ReportMissing
from tests.unit.practice_events import (
    T0,
    activity,
    consultation,
    event,
    leader,
    report_reviewed,
    report_submitted,
    visit,
)
from tests.unit.test_reporting_rules import received, registry, routed


def record(s, *events):
    for e in events:
        event_store.record(s, e)


def month(s, m):
    return queries.monthly(s, m)


def test_a_visit_counts_in_the_month_of_its_date_per_leader_station_and_district(session_of):
    s = session_of("reporting")
    registry(s)
    record(s, leader("L1"), leader("L2", "李副主席", ["jnl"]))
    # recorded in March, held on 28 February: February's
    record(s, visit("v1", "L1", "gwm", "2026-02-28", ["m1", "m2"]))
    record(s, visit("v2", "L1", "jnl", "2026-03-02", ["m1"]))
    record(s, visit("v3", "L2", "jnl", "2026-03-20"))
    feb, march = month(s, "2026-02"), month(s, "2026-03")
    assert feb["city"]["leader_visits"] == 1 and feb["leader"]["L1"]["leader_visits"] == 1
    assert feb["station"]["gwm"]["leader_visits"] == 1
    assert feb["district"]["城关区"]["leader_visits"] == 1
    assert march["city"]["leader_visits"] == 2
    assert set(march["leader"]) == {"L1", "L2"}
    assert march["leader"]["L1"]["leader_visits"] == 1 == march["leader"]["L2"]["leader_visits"]
    assert march["station"]["jnl"]["leader_visits"] == 2
    assert march["district"]["安宁区"]["leader_visits"] == 2
    assert feb["member"]["m2"]["leader_visits_joined"] == 1
    assert queries.yearly(s, 2026)["leader"]["L1"]["leader_visits"] == 2
    assert queries.names(s)["leader"] == {"L1": "王副主席", "L2": "李副主席"}


def test_a_visit_saved_again_counts_once_where_it_now_stands_and_withdrawn_not_at_all(session_of):
    s = session_of("reporting")
    registry(s)
    record(s, leader("L1"))
    record(s, visit("v1", "L1", "gwm", "2026-03-02", ["m1"]))
    record(s, visit("v1", "L1", "gwm", "2026-03-02", ["m1"], revision=2))  # saved again
    assert month(s, "2026-03")["city"]["leader_visits"] == 1
    record(s, visit("v1", "L1", "jnl", "2026-04-01", ["m2"], revision=3))  # corrected
    march, april = month(s, "2026-03"), month(s, "2026-04")
    assert march["city"]["leader_visits"] == 0 and april["city"]["leader_visits"] == 1
    assert april["station"]["jnl"]["leader_visits"] == 1
    assert march["station"]["gwm"]["leader_visits"] == 0
    assert march["city"]["members_served"] == 0 and april["city"]["members_served"] == 1
    record(s, visit("v1", "L1", "gwm", "2026-03-02", ["m1"], revision=2))  # a late delivery
    assert month(s, "2026-04")["city"]["leader_visits"] == 1  # revision 3 stands
    record(s, visit("v1", "L1", "jnl", "2026-04-01", ["m2"], active=False, revision=4))
    april = month(s, "2026-04")
    assert april["city"]["leader_visits"] == 0 and april["city"]["members_served"] == 0
    assert queries.yearly(s, 2026)["city"]["leader_visits"] == 0
    live = queries.all_figures(s)
    assert rebuild.rebuild(s) == event_store.event_count(s)
    assert queries.all_figures(s) == live


def test_consultations_count_at_the_convening_place_with_the_cases_they_settled(session_of):
    s = session_of("reporting")
    registry(s)
    record(s, consultation("c1", "2026-03-10", station="gwm", members=["m1", "m2"],
                           cases=["LX1", "LX2", "LX3"], settled=["LX1", "LX2"]))  # fmt: skip
    record(s, consultation("c2", "2026-03-12", studio="st1", district="安宁区", members=["m2"]))
    march = month(s, "2026-03")
    assert march["city"]["consultations_held"] == 2
    assert march["city"]["cases_settled_by_consultation"] == 2
    assert march["station"]["gwm"]["consultations_held"] == 1
    assert march["station"]["gwm"]["cases_settled_by_consultation"] == 2
    assert march["studio"]["st1"]["consultations_held"] == 1
    assert march["district"]["安宁区"]["consultations_held"] == 1
    assert march["member"]["m2"]["consultations_joined"] == 2
    assert march["city"]["members_served"] == 2


def test_reports_count_in_the_month_submitted_with_their_latest_outcome_once(session_of):
    s = session_of("reporting")
    registry(s)
    march_end = T0 + timedelta(days=26, hours=17)  # 2026-03-31 19:00 UTC: 1 April in Beijing
    record(s, report_submitted("r1", "m1", "yiyao", T0))
    record(s, report_submitted("r2", "m1", "yiyao", T0 + timedelta(days=1)))
    record(s, report_submitted("r3", "m2", "jiaoyu", march_end))
    record(s, report_reviewed("r1", "m1", "yiyao", "received", T0 + timedelta(days=40)))
    record(s, report_reviewed("r1", "m1", "yiyao", "adopted", T0 + timedelta(days=41)))
    record(s, report_reviewed("r2", "m1", "yiyao", "adopted", T0 + timedelta(days=41)))
    record(s, report_reviewed("r2", "m1", "yiyao", "forwarded", T0 + timedelta(days=45)))
    march, april = month(s, "2026-03"), month(s, "2026-04")
    assert march["city"]["reports_submitted"] == 2
    assert march["city"]["reports_adopted"] == 1 and march["city"]["reports_forwarded"] == 1
    assert march["member"]["m1"]["reports_submitted"] == 2
    assert march["sector"]["yiyao"]["reports_adopted"] == 1
    assert april["city"]["reports_submitted"] == 1 and "reports_adopted" not in april["city"]
    assert april["sector"]["jiaoyu"]["reports_submitted"] == 1
    assert queries.yearly(s, 2026)["city"]["reports_adopted"] == 1  # reviewed twice: once
    live = queries.all_figures(s)
    assert rebuild.rebuild(s) == event_store.event_count(s)
    assert queries.all_figures(s) == live


def test_the_practice_events_and_a_session_end_are_known_not_unknown(session_of):
    s = session_of("reporting")
    registry(s)
    record(s, leader("L1"), visit("v1", "L1", "gwm", "2026-03-02"))
    record(s, consultation(1, "2026-03-10", station="gwm", cases=["LX1"]))
    record(
        s, report_submitted(1, "m1", "yiyao", T0), report_reviewed(1, "m1", "yiyao", "adopted", T0)
    )
    ended = {"login": "li", "ended_ms": 1}
    record(s, event("registry.sessions_ended", ended))
    assert event_store.unknown_events(s) == {}


def test_a_review_before_its_report_is_retried_not_counted_alone(session_of):
    s = session_of("reporting")
    with pytest.raises(ReportMissing):
        record(s, report_reviewed("r9", "m1", "yiyao", "adopted", T0))


def test_members_served_counts_each_member_once_over_a_month_a_range_and_a_year(session_of):
    s = session_of("reporting")
    registry(s)
    record(s, leader("L1"))
    # m1: a case answered in March as its holder, a report in April
    received(s, "LX1")
    routed(s, "assigned", "LX1", T0)
    routed(s, "responded", "LX1", T0 + timedelta(hours=2), on_time=True)
    record(s, report_submitted("r1", "m1", "yiyao", T0 + timedelta(days=31)))
    # m2: a reception day in March and in May; m3: a visit in May; m4: only a clinic (not served)
    record(s, activity("a1", "reception_day", "gwm", "2026-03-09", ["m2"], 10))
    record(s, activity("a2", "reception_day", "gwm", "2026-05-09", ["m2"], 10))
    record(s, visit("v1", "L1", "gwm", "2026-05-20", ["m3"]))
    record(s, activity("a3", "clinic", "gwm", "2026-05-21", ["m4"], 5))
    assert month(s, "2026-03")["city"]["members_served"] == 2  # m1, m2
    assert month(s, "2026-04")["city"]["members_served"] == 1  # m1
    assert month(s, "2026-05")["city"]["members_served"] == 2  # m2, m3 (m4: a clinic only)
    assert month(s, "2026-05")["city"]["members_active"] == 2  # m2, m4: activities of any kind
    spring = queries.over_months(s, ["2026-03", "2026-04", "2026-05"])
    assert spring["city"]["members_served"] == 3  # not 2 + 1 + 2
    year = queries.yearly(s, 2026)
    assert year["city"]["members_served"] == 3
    assert year["member"]["m2"]["reception_days_joined"] == 2
    assert year["member"]["m2"]["members_served"] is None  # city only: blank per row
    assert year["registry"]["members"] == 2  # the head count, beside it


LEDGER: dict = {}
DAYS = ["01-15", "02-10", "02-27", "06-30", "12-31"]


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    visits=st.lists(  # deliveries of saves of a few visits: (visit, revision, day, active, who)
        st.tuples(
            st.integers(0, 3),
            st.integers(1, 4),
            st.sampled_from(DAYS),
            st.booleans(),
            st.lists(st.sampled_from(["m1", "m2", "m3"]), max_size=2),
        ),
        max_size=10,
    ),
    reports=st.lists(  # per report: its day, then the outcomes of its reviews in order
        st.tuples(
            st.sampled_from(DAYS),
            st.lists(st.sampled_from(["received", "adopted", "forwarded"]), max_size=3),
        ),  # fmt: skip
        max_size=4,
    ),
    batched=st.booleans(),
)
def test_each_record_counts_once_as_it_last_stands_whatever_the_order(
    session_of, visits, reports, batched
):
    """Saves of visits delivered in any order (revisions late, repeated, withdrawn and back) and
    reports reviewed any number of times: the year's figures are those of each visit's highest
    revision (the last delivered of equal ones) and each report's latest outcome, live and after
    a rebuild."""
    if LEDGER.get("factory") is not session_of:  # one database for every example (see rules)
        LEDGER.update(factory=session_of, s=session_of("reporting"), n=0)
        registry(LEDGER["s"])
        record(LEDGER["s"], leader("L1"))
    s = LEDGER["s"]
    LEDGER["n"] += 1
    year = 2000 + LEDGER["n"]  # each example its own year
    stands: dict = {}
    for i, (v, revision, day, active, who) in enumerate(visits):
        event = visit(f"y{year}v{v}", "L1", "gwm", f"{year}-{day}", who, active, revision)
        event_store.record(s, event, batch=batched and i % 3 != 2)
        if v not in stands or revision >= stands[v][0]:
            stands[v] = (revision, day, active, set(who))
    for r, (day, outcomes) in enumerate(reports):
        at = datetime.fromisoformat(f"{year}-{day}T04:00:00+00:00")
        event_store.record(s, report_submitted(year * 10 + r, "m1", "yiyao", at), batch=batched)
        for k, outcome in enumerate(outcomes):
            reviewed = report_reviewed(year * 10 + r, "m1", "yiyao", outcome, at + timedelta(k))
            event_store.record(s, reviewed, batch=batched)
    event_store.flush(s)
    counted = [x for x in stands.values() if x[2]]
    latest = [outcomes[-1] if outcomes else None for _, outcomes in reports]
    figures = queries.yearly(s, year)["city"]
    assert figures.get("leader_visits", 0) == len(counted)
    assert figures.get("reports_submitted", 0) == len(reports)
    assert figures.get("reports_adopted", 0) == latest.count("adopted")
    assert figures.get("reports_forwarded", 0) == latest.count("forwarded")
    served = set().union(*(x[3] for x in counted)) | ({"m1"} if reports else set())
    assert figures["members_served"] == len(served)
    for day in {x[1] for x in counted}:
        month = queries.monthly(s, f"{year}-{day[:2]}")["city"]
        assert month["leader_visits"] == sum(1 for x in counted if x[1][:2] == day[:2])
    live = queries.all_figures(s)
    assert rebuild.rebuild(s) == event_store.event_count(s)
    assert queries.all_figures(s) == live


def test_the_dashboard_block_links_each_number_to_its_records_for_the_year(session_of):
    from services.reporting import dashboard

    s = session_of("reporting")
    registry(s)
    record(s, leader("L1"), visit("v1", "L1", "gwm", "2026-03-02", ["m1"]))
    record(
        s, report_submitted(4, "m1", "yiyao", T0), report_reviewed(4, "m1", "yiyao", "adopted", T0)
    )
    view = dashboard.View(year=2026, month=3, cases_url="http://rt.example/office/cases")
    view.registry_url, view.names = "http://rg.example", queries.names(s)
    html = dashboard.page(queries.monthly(s, "2026-03"), ["2026-03"], {}, None, view)
    block = html[html.index("<section id=practice>") : html.index("</section>")]
    assert '<a href="http://rg.example/office/visits?year=2026">1</a>' in block
    # routing's address from its case list's when none is given
    assert '<a href="http://rt.example/reports/page?status=adopted&amp;year=2026">1</a>' in block
    assert 'href="http://rg.example/office/visits?leader=L1&amp;year=2026">1</a>' in block
    assert (
        'href="http://rt.example/reports/page?member=m1&amp;status=adopted&amp;year=2026"' in block
    )
    assert "2026 年全年的记录" in block  # a month's numbers open the year: said
    served = block[block.index('data-key="members_served"') :]
    assert "<div class=value>1</div>" in served[:400]
    assert html.index("id=practice") < html.index("问题办理")  # under the headline row
