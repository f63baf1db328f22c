"""One problem, many voices, in the figures: thirty reports merged into one case are thirty
issues received, one matter handled, thirty people served; rebuild still equals the live path."""

import random
from datetime import timedelta

from services.reporting import event_store, queries, rebuild
from tests.unit.test_reporting_rules import T0, received, registry, routed


def merged(s, number, into, when):
    routed(s, "merged", number, when, into=into, actor="m1", from_status="assigned")


def test_thirty_reports_merged_are_one_matter_with_thirty_people_served(session_of):
    s = session_of("reporting")
    registry(s)
    for i in range(30):
        received(s, f"LX{i}", when=T0 + timedelta(minutes=i))
        routed(s, "assigned", f"LX{i}", T0 + timedelta(minutes=i, seconds=5))
    for i in range(1, 30):
        # some through a chain: LX2 follows LX1, which follows LX0
        merged(s, f"LX{i}", "LX1" if i == 2 else "LX0", T0 + timedelta(hours=1, minutes=i))
    routed(s, "responded", "LX0", T0 + timedelta(hours=2), on_time=True)
    routed(s, "resolved", "LX0", T0 + timedelta(hours=3), on_time=True)
    city = queries.monthly(s, "2026-03")["city"]
    assert city["issues_received"] == 30
    assert city["issues_merged"] == 29 and city["matters_received"] == 1
    assert city["matters_handled"] == 1 and city["reporters_served"] == 30
    assert city["response_rate"] == 1.0 and city["resolution_rate"] == 1.0
    member = queries.monthly(s, "2026-03")["member"]["m1"]
    assert member["matters_handled"] == 1 and member["reporters_served"] == 30


def test_a_report_merged_after_a_reopening_is_served_when_resolved_again(session_of):
    s = session_of("reporting")
    registry(s)
    for n in ("LX1", "LX2", "LX3"):
        received(s, n)
        routed(s, "assigned", n, T0 + timedelta(seconds=5))
    merged(s, "LX2", "LX1", T0 + timedelta(minutes=1))
    routed(s, "responded", "LX1", T0 + timedelta(minutes=2), on_time=True)
    routed(s, "resolved", "LX1", T0 + timedelta(minutes=3), on_time=True)
    routed(s, "reopened", "LX1", T0 + timedelta(days=1))
    merged(s, "LX3", "LX1", T0 + timedelta(days=1, minutes=1))
    merged(s, "LX3", "LX1", T0 + timedelta(days=1, minutes=2))  # announced twice: counted once
    routed(s, "responded", "LX1", T0 + timedelta(days=2), on_time=True)
    routed(s, "resolved", "LX1", T0 + timedelta(days=2, minutes=1), on_time=True)
    city = queries.monthly(s, "2026-03")["city"]
    assert city["matters_handled"] == 1  # resolved twice, one matter
    assert city["reporters_served"] == 3 and city["issues_merged"] == 2


def test_rebuild_with_merges_gives_exactly_the_live_figures(session_of):
    s = session_of("reporting")
    registry(s)
    rnd = random.Random(10)
    open_mains = []
    for i in range(120):
        when = T0 + timedelta(hours=i * 6)
        number, station = f"LX{i}", rnd.choice(["gwm", "jnl"])
        received(s, number, station, when)
        routed(s, "assigned", number, when + timedelta(minutes=5), station, "m1")
        if open_mains and rnd.random() < 0.5:
            merged(s, number, rnd.choice(open_mains), when + timedelta(minutes=10))
            continue
        open_mains.append(number)
        if rnd.random() < 0.3:
            main = open_mains.pop(0)
            routed(s, "responded", main, when + timedelta(hours=1), on_time=True)
            routed(s, "resolved", main, when + timedelta(hours=2), on_time=rnd.random() < 0.5)
    live = queries.all_figures(s)
    figures = queries.monthly(s, "2026-03")["city"]
    assert (
        figures["issues_merged"] > 20 and figures["reporters_served"] > figures["matters_handled"]
    )
    assert rebuild.rebuild(s) == event_store.event_count(s)
    assert queries.all_figures(s) == live
