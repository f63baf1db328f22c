"""Reporting: each event counted once, months in Beijing time, cohorts and rates, breakdowns,
rebuild equal to the live path, and exports that say what the API says."""

import io
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from services.kernel.events import new_event, parse_event
from services.reporting import event_store, exports, projections, queries, rebuild
from services.reporting.projections import month_of
from services.reporting.statistics import COLUMNS

T0 = datetime(2026, 3, 5, 2, tzinfo=UTC)


def event(kind, payload, when):
    return parse_event(new_event(kind, payload, kind.split(".")[0], occurred_at=when))


def registry(s):
    for code, district in (("gwm", "城关区"), ("jnl", "安宁区")):
        event_store.record(
            s,
            event(
                "registry.station_saved",
                {
                    "code": code,
                    "name": code,
                    "district": district,
                    "kind": "street",
                    "active": True,
                    "revision": 1,
                },
                T0,
            ),
        )
    for code, level, sector in (("m1", "municipal", "yiyao"), ("m2", "county", "jiaoyu")):
        event_store.record(
            s,
            event(
                "registry.member_saved",
                {
                    "code": code,
                    "name": code,
                    "level": level,
                    "sector": sector,
                    "district": "城关区",
                    "active": True,
                    "revision": 1,
                    "stations": [],
                },
                T0,
            ),
        )


def received(s, number, station="gwm", when=T0, category="health"):
    event_store.record(
        s,
        event(
            "intake.issue_received",
            {
                "tracking_number": number,
                "station": station,
                "channel": "qr",
                "category": category,
                "member": None,
                "submitted_at": when.isoformat(),
                "received_at": when.isoformat(),
            },
            when,
        ),
    )


def routed(s, kind, number, when, station="gwm", member="m1", **extra):
    event_store.record(
        s,
        event(
            f"routing.issue_{kind}",
            {
                "tracking_number": number,
                "station": station,
                "category": "health",
                "member": member,
                "at": when.isoformat(),
                "received_at": T0.isoformat(),
                **extra,
            },
            when,
        ),
    )


def test_month_is_the_calendar_month_in_beijing_time():
    assert month_of(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == "2026-11"
    assert month_of(datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == "2026-12"  # 00:00 in Beijing


def test_an_event_recorded_twice_counts_once(session_of):
    s = session_of("reporting")
    registry(s)
    e = event(
        "intake.issue_received",
        {
            "tracking_number": "LX1",
            "station": "gwm",
            "channel": "qr",
            "category": "health",
            "received_at": T0.isoformat(),
        },
        T0,
    )
    assert event_store.record(s, e) is True
    assert event_store.record(s, e) is False
    assert queries.monthly(s, "2026-03")["city"]["issues_received"] == 1


def test_a_routing_event_before_its_issue_is_retried_not_lost(session_of):
    s = session_of("reporting")
    with pytest.raises(projections.FactMissing):
        routed(s, "assigned", "LX9", T0)


def test_cohorts_rates_and_breakdowns(session_of):
    s = session_of("reporting")
    registry(s)
    for n in ("LX1", "LX2", "LX3", "LX4"):
        received(s, n)
        routed(s, "assigned", n, T0 + timedelta(minutes=1))
    april = T0 + timedelta(days=30)
    routed(s, "responded", "LX1", T0 + timedelta(minutes=61), on_time=True)
    routed(s, "responded", "LX2", april, on_time=False)  # answered in April: March's cohort
    routed(s, "resolved", "LX1", T0 + timedelta(days=1), on_time=True)
    routed(s, "rated", "LX1", T0 + timedelta(days=2), rating="basically_satisfied")
    routed(
        s,
        "transferred",
        "LX3",
        T0 + timedelta(hours=3),
        station="jnl",
        member="m2",
        from_station="gwm",
    )
    routed(s, "resolved", "LX3", T0 + timedelta(days=1), station="jnl", member="m2", on_time=False)

    march = queries.monthly(s, "2026-03")
    city = march["city"]
    assert city["issues_received"] == 4 and city["issues_assigned"] == 4
    assert city["issues_responded"] == 1  # April's response is April's count ...
    assert city["cohort_responded"] == 2  # ... but March's cohort
    assert city["response_rate"] == 0.5 and city["resolution_rate"] == 0.5
    assert city["on_time_rate"] == 0.5 and city["satisfaction_rate"] == 1.0
    assert city["median_minutes_to_first_response"] == (61 + 30 * 24 * 60) / 2
    assert march["district"]["城关区"]["issues_received"] == 4
    assert march["district"]["安宁区"]["issues_resolved"] == 1  # after the transfer
    assert march["station"]["gwm"]["cases_transferred"] == 1
    assert march["level"]["county"]["issues_resolved"] == 1
    assert march["sector"]["yiyao"]["issues_assigned"] == 4
    assert queries.monthly(s, "2026-04")["city"]["issues_responded"] == 1
    assert march["registry"] == {
        "stations": 2,
        "studios": 0,
        "members": 2,
        "members_by_level": {"county": 1, "municipal": 1},
    }


def test_rebuild_from_the_store_gives_exactly_the_live_figures(session_of):
    s = session_of("reporting")
    registry(s)
    rnd = random.Random(7)
    for i in range(150):
        when = T0 + timedelta(hours=rnd.randrange(24 * 60))
        number, station = f"LX{i}", rnd.choice(["gwm", "jnl"])
        received(s, number, station, when)
        routed(
            s, "assigned", number, when + timedelta(minutes=5), station, rnd.choice(["m1", "m2"])
        )
        if rnd.random() < 0.7:
            routed(
                s,
                "responded",
                number,
                when + timedelta(hours=rnd.randrange(1, 100)),
                station,
                on_time=rnd.random() < 0.8,
            )
            if rnd.random() < 0.7:
                routed(
                    s,
                    "resolved",
                    number,
                    when + timedelta(days=rnd.randrange(1, 20)),
                    station,
                    on_time=rnd.random() < 0.7,
                )
                routed(
                    s,
                    "rated",
                    number,
                    when + timedelta(days=21),
                    station,
                    rating=rnd.choice(["satisfied", "basically_satisfied", "unsatisfied"]),
                )
    live = queries.all_figures(s)
    assert rebuild.rebuild(s) == event_store.event_count(s)
    assert queries.all_figures(s) == live


def test_the_workbook_and_csv_say_what_the_api_says(session_of):
    s = session_of("reporting")
    registry(s)
    received(s, "LX1")
    routed(s, "assigned", "LX1", T0)
    report = queries.monthly(s, "2026-03")
    book = load_workbook(io.BytesIO(exports.workbook(report)))
    assert book.sheetnames == [
        "全市",
        "区县",
        "委员工作站",
        "界别",
        "委员层级",
        "委员",
        "渠道",
        "问题类别",
        "委员工作室",
        "活动类型",
        "联系领导",
    ]
    header, *rows = list(book["委员工作站"].values)
    assert header[1] == f"{COLUMNS[0].name_zh} {COLUMNS[0].name_en}"
    keys = [c.key for c in COLUMNS]
    [row] = rows
    gwm = report["station"]["gwm"]
    assert row[0] == "gwm" and row[1 + keys.index("issues_received")] == 1
    assert all(row[1 + i] == gwm[k] for i, k in enumerate(keys) if k in gwm)
    # nobody rated, nothing resolved: the rates are blank (undefined), the counts 0
    assert row[1 + keys.index("satisfaction_rate")] is None
    assert row[1 + keys.index("issues_resolved")] == 0
    text = exports.csv_text(report, "district")
    import csv

    header, row = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert text.startswith("\ufeff区县 District,")
    column = header.index("受理问题数 Issues received")
    assert row[0] == "城关区" and row[column] == "1"
    assert row[header.index("满意率 Satisfaction rate")] == ""  # a blank, not "0"
    assert row[header.index("已办结 Issues resolved")] == "0"


def _facts(s):
    from sqlalchemy import select

    from services.reporting.models import CaseFact

    return [
        (f.tracking_number, f.received_month, f.station, f.district, f.member, f.member_level)
        + (f.first_response_minutes, f.rated, f.handled, f.merged_into, f.served)
        for f in s.scalars(select(CaseFact).order_by(CaseFact.tracking_number))
    ]


def _rollups(s):
    import orjson
    from sqlalchemy import select

    from services.reporting.models import MonthlyRollup

    rows = s.execute(select(MonthlyRollup.month, MonthlyRollup.dimension, MonthlyRollup.key,
                            MonthlyRollup.figures))  # fmt: skip
    return {(m, d, k): orjson.loads(f) for m, d, k, f in rows}


def _rollups_of(figures):
    out = {}
    for month, metric, dimension, key, value in figures:
        out.setdefault((month, dimension, key), {})[metric] = value
    return out


def test_rebuild_equals_live_for_every_kind_of_event_on_both_backends(db_url):
    """Activities, rejections, waiting, transfers, reopenings, ratings, overdue, merges (some in
    chains, some after the main case was resolved), leaders' visits (saved again, withdrawn,
    late), consultations, reports reviewed again, an unknown type, a duplicate: the batched
    rebuild (COPY on PostgreSQL) gives the live figures exactly."""
    from sqlalchemy.orm import Session

    from services.kernel.db import make_engine
    from services.kernel.migrations import upgrade

    upgrade("reporting", db_url)
    engine = make_engine(db_url)
    s = Session(engine)
    try:
        registry(s)
        event_store.record(
            s,
            event(
                "registry.studio_saved",
                {"code": "st1", "name": "医药界别工作室", "district": "城关区", "active": True},
                T0,
            ),
        )
        rnd = random.Random(11)
        for i in range(120):
            when = T0 + timedelta(hours=rnd.randrange(24 * 50))
            number, station = f"LX{i:04d}", rnd.choice(["gwm", "jnl", "nowhere"])
            received(s, number, station, when, rnd.choice(["health", "property"]))
            if rnd.random() < 0.1:
                routed(s, "waiting", number, when, station)
            routed(s, "assigned", number, when + timedelta(minutes=5), station, "m1")
            if i >= 10 and rnd.random() < 0.2:  # into an earlier report: open, resolved or merged
                into = f"LX{rnd.randrange(i):04d}"
                merged = when + timedelta(minutes=10)
                routed(s, "merged", number, merged, station, into=into, from_status="assigned")
                continue
            if rnd.random() < 0.25:  # more reports of this one before it is handled: a chain
                for follower, into in ((f"{number}b", number), (f"{number}c", f"{number}b")):
                    received(s, follower, station, when + timedelta(minutes=1))
                    routed(s, "assigned", follower, when + timedelta(minutes=6), station, "m1")
                    merged = when + timedelta(minutes=10)
                    routed(
                        s, "merged", follower, merged, station, into=into, from_status="assigned"
                    )
            step = when + timedelta(hours=rnd.randrange(1, 90))
            if rnd.random() < 0.15:
                routed(s, "transferred", number, step, "jnl", "m2", from_station=station)
                station = "jnl"
            if rnd.random() < 0.2:
                routed(s, "overdue", number, step, station, stage="first_response")
            if rnd.random() < 0.1:
                routed(s, "closed_unresolved", number, step, station)
                continue
            routed(s, "responded", number, step, station, on_time=rnd.random() < 0.8)
            resolved = step + timedelta(days=rnd.randrange(1, 40))
            routed(s, "resolved", number, resolved, station, on_time=rnd.random() < 0.7)
            rating = rnd.choice(["satisfied", "basically_satisfied", "unsatisfied"])
            later = resolved + timedelta(days=2)
            reopened = rating == "unsatisfied"
            routed(s, "rated", number, later, station, rating=rating, reopened=reopened)
            if reopened:
                routed(s, "reopened", number, later, station)
                routed(s, "resolved", number, later + timedelta(days=1), station, on_time=True)
        for i in range(30):
            day = (T0 + timedelta(days=rnd.randrange(60))).date().isoformat()
            at_studio = i % 5 == 0
            activity = event(
                "intake.activity_recorded",
                {
                    "activity_id": f"a{i}",
                    "kind": rnd.choice(["reception_day", "visit", "clinic"]),
                    "station": None if at_studio else rnd.choice(["gwm", "jnl"]),
                    "studio": "st1" if at_studio else None,
                    "date": day,
                    "people_served": rnd.randrange(0, 30),
                },
                T0,
            )
            event_store.record(s, activity)
            event_store.record(s, activity)  # the same event again
        _practice(s, rnd)
        event_store.record(
            s,
            event(
                "intake.submission_rejected",
                {"station": "gwm", "submission_id": None, "errors": {"x": ["bad"]}},
                T0,
            ),
        )
        event_store.record(s, event("intake.issue_merged", {"tracking_number": "LX0001"}, T0))
        s.commit()
        live, live_facts = queries.all_figures(s), _facts(s)
        live_report = queries.monthly(s, "2026-03")
        live_practice = _practice_rows(s)
        practice = queries.yearly(s, 2026)["city"]
        assert practice["leader_visits"] > 5 and practice["consultations_held"] > 3
        assert practice["reports_submitted"] > 5 and practice["reports_adopted"] > 0
        assert 0 < practice["members_served"] <= 6
        assert live_report["city"]["issues_received"] > 50
        assert live_report["studio"]["st1"]["activities_held"] >= 1
        city = {}  # every month's city figures, summed
        for _, metric, dimension, _, value in live:
            if dimension == "city":
                city[metric] = city.get(metric, 0) + value
        assert city["issues_merged"] > 5 and city["reporters_served"] > city["matters_handled"]

        live_rollups = _rollups(s)
        assert live_rollups == _rollups_of(live)  # each key's figures of a month, as one row
        assert rebuild.rebuild(s, chunk=37) == event_store.event_count(s)
        s.commit()
        assert queries.all_figures(s) == live
        assert _facts(s) == live_facts
        assert _rollups(s) == live_rollups
        assert queries.monthly(s, "2026-03") == live_report
        assert _practice_rows(s) == live_practice

        # the same, replayed by three processes, each its share of the cases (merge chains kept
        # whole), the figures added up
        assert rebuild.rebuild(s, chunk=37, workers=3) == event_store.event_count(s)
        s.commit()
        assert queries.all_figures(s) == live
        assert _facts(s) == live_facts
        assert _rollups(s) == live_rollups
        assert queries.monthly(s, "2026-03") == live_report
        assert _practice_rows(s) == live_practice
    finally:
        s.close()
        engine.dispose()


def _practice(s, rnd):
    """Leaders' visits (some saved again, moved, withdrawn, or delivered late), consultations
    settling cases, reports reviewed once or twice, reception days with their members; some in
    one batch (one transaction, as the inbox records them), some one by one."""
    from tests.unit import practice_events as pe

    members = ["m1", "m2", "m3", "m4", "m5", "m6"]
    events = [pe.leader("L1"), pe.leader("L2", "李副主席", ["jnl"])]
    for i in range(25):
        day = (T0 + timedelta(days=rnd.randrange(-20, 60))).date().isoformat()
        who = rnd.sample(members, rnd.randrange(0, 3))
        where = rnd.choice(["gwm", "jnl", "nowhere"])
        events.append(pe.visit(f"v{i}", rnd.choice(["L1", "L2"]), where, day, who))
        if rnd.random() < 0.4:  # saved again: the same, or moved to another day and station
            moved = (T0 + timedelta(days=rnd.randrange(60))).date().isoformat()
            events.append(pe.visit(f"v{i}", "L1", "gwm", moved, who[:1], revision=2))
        if rnd.random() < 0.2:  # withdrawn
            events.append(pe.visit(f"v{i}", "L1", where, day, who, active=False, revision=3))
        if rnd.random() < 0.1:  # an old revision delivered late
            events.append(pe.visit(f"v{i}", "L2", "jnl", day, members, revision=1))
    for i in range(8):
        day = (T0 + timedelta(days=rnd.randrange(60))).date().isoformat()
        cases = [f"LX{rnd.randrange(100):04d}" for _ in range(3)]
        place = {"station": "gwm"} if i % 3 else {"studio": "st1"}
        events.append(pe.consultation(i + 1, day, members=rnd.sample(members, 2), cases=cases,
                                      settled=cases[: rnd.randrange(3)], **place))  # fmt: skip
    for i in range(15):
        at = T0 + timedelta(days=rnd.randrange(60), hours=rnd.randrange(24))
        member, sector = rnd.choice([("m1", "yiyao"), ("m2", "jiaoyu"), ("m5", "jiaoyu")])
        events.append(pe.report_submitted(i + 1, member, sector, at))
        for k in range(rnd.randrange(3)):
            outcome = rnd.choice(["received", "adopted", "forwarded"])
            events.append(
                pe.report_reviewed(i + 1, member, sector, outcome, at + timedelta(days=k + 1))
            )
    for i in range(6):
        day = (T0 + timedelta(days=rnd.randrange(60))).date().isoformat()
        events.append(pe.activity(f"rd{i}", "reception_day", "gwm", day, rnd.sample(members, 2), 9))
    batch = rnd.random
    for e in events:
        event_store.record(s, e, batch=batch() < 0.6)
    event_store.flush(s)


def _practice_rows(s):
    from sqlalchemy import select

    from services.reporting.models import LeaderDim, PracticeFact

    rows = s.execute(select(PracticeFact.kind, PracticeFact.record_id, PracticeFact.revision,
                            PracticeFact.state, PracticeFact.counted)).all()  # fmt: skip
    leaders = s.execute(select(LeaderDim.code, LeaderDim.name, LeaderDim.stations)).all()
    return sorted(map(tuple, rows)), sorted(map(tuple, leaders))


def test_an_event_of_an_unknown_type_is_kept_and_reported(session_of):
    s = session_of("reporting")
    registry(s)
    received(s, "LX1")
    for _ in range(2):
        event_store.record(s, event("intake.issue_merged", {"tracking_number": "LX1"}, T0))
    event_store.record(s, event("routing.issue_accepted", {"tracking_number": "LX1"}, T0))
    assert event_store.unknown_events(s) == {"intake.issue_merged": 2}  # accepted is known
    assert queries.monthly(s, "2026-03")["city"]["issues_received"] == 1
    assert rebuild.rebuild(s) == event_store.event_count(s) == 8  # still in the store


def test_a_split_rebuild_replays_what_its_own_transaction_sees(session_of):
    """Helper processes read what is committed: events recorded in the rebuilding transaction
    and not committed yet are still counted (that process then replays the store alone)."""
    s = session_of("reporting")
    registry(s)
    received(s, "LX1")
    s.commit()
    received(s, "LX2")  # not committed
    routed(s, "assigned", "LX2", T0)
    live = queries.all_figures(s)
    assert rebuild.rebuild(s, workers=2) == event_store.event_count(s)
    assert queries.all_figures(s) == live
    assert queries.monthly(s, "2026-03")["city"]["issues_received"] == 2


def test_a_rebuild_whose_helper_fails_changes_nothing_and_the_command_redoes_it_alone(
    tmp_path, monkeypatch
):
    from sqlalchemy.orm import Session

    from services.kernel.db import make_engine
    from services.kernel.migrations import upgrade
    from services.reporting import rebuild as command

    url = f"sqlite:///{tmp_path}/reporting.db"
    upgrade("reporting", url)
    engine = make_engine(url)
    with Session(engine) as s:
        registry(s)
        received(s, "LX1")
        routed(s, "assigned", "LX1", T0)
        s.commit()
        live = queries.all_figures(s)
    monkeypatch.setattr(rebuild, "PARALLEL_FROM", 0)  # split even this small store
    monkeypatch.setattr(rebuild.sys, "executable", "/bin/false")  # helpers that cannot start
    with pytest.raises(rebuild.HelperFailed), Session(engine) as s, s.begin():
        rebuild.rebuild(s)
    with Session(engine) as s:
        assert queries.all_figures(s) == live  # rolled back: the old figures
        events = event_store.event_count(s)
    assert command.main(url) == events
    with Session(engine) as s:
        assert queries.all_figures(s) == live
    engine.dispose()


@pytest.mark.parametrize(
    "payload, number",
    [
        ('{"tracking_number": "LX1", "station": "gwm"}', "LX1"),
        ('{ "tracking_number" :"LX2"}', "LX2"),
        ('{"station": "gwm", "tracking_number": "LX3"}', "LX3"),  # not first: parsed
        ('{"tracking_number": "LX\\u0034"}', "LX4"),  # escaped: parsed
        ('{"a": {"tracking_number": "X"}, "tracking_number": "LX5"}', "LX5"),
        ('{"tracking_number": "LX6", "text": "\\"tracking_number\\": 1"}', "LX6"),
        ('{"tracking_number": "LX\\"7", "station": "gwm"}', 'LX"7'),  # an escaped quote
        ('{"tracking_number": "", "station": "gwm"}', ""),
        ('{"station": "gwm"}', None),
        ('{"tracking_number": 7}', None),
    ],
)
def test_a_split_rebuild_finds_each_events_case_as_the_payload_says(payload, number):
    assert event_store.tracking_number(payload) == number


def test_figures_over_a_range_of_months_add_up(session_of):
    s = session_of("reporting")
    registry(s)
    received(s, "LX1")  # March
    routed(s, "assigned", "LX1", T0)
    received(s, "LX2", when=T0 + timedelta(days=31))  # April
    routed(s, "assigned", "LX2", T0 + timedelta(days=31))
    routed(s, "responded", "LX2", T0 + timedelta(days=31, hours=2), on_time=True)
    both = queries.over_months(s, ["2026-03", "2026-04"])
    assert both["months"] == ["2026-03", "2026-04"]
    assert both["city"]["issues_received"] == 2 and both["city"]["response_rate"] == 0.5
    assert both["station"]["gwm"]["issues_assigned"] == 2
    assert both["city"]["median_minutes_to_first_response"] == 120
    march = queries.monthly(s, "2026-03")["city"]
    assert march["issues_received"] == 1 and "response_rate" in march


LEDGER: dict = {}
ROUND_ENDS = (
    "resolve",
    "resolve_rate_ok",
    "resolve_rate_bad",
    "resolve_reopen",
    "close",
    "close_reopen",
)


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    st.lists(  # issues: each a list of rounds (a response, then how the round ends)
        st.lists(st.tuples(st.booleans(), st.sampled_from(ROUND_ENDS), st.booleans()), max_size=4),
        min_size=1,
        max_size=6,
    )
)
def test_cohorts_count_each_issue_once_however_often_it_is_reopened(session_of, issues):
    """However many times a case is answered, resolved, rated, reopened or closed again, the
    month's cohort counts the issue once (its first response, its first resolution and whether
    that one was on time, its first rating, its first closing unresolved), so no rate exceeds
    100 %; and a rebuild from the stored events gives the same figures."""
    # one database for all the examples (a migration each would take minutes): the figures
    # and the ledger grow together, each example's issues numbered anew
    if LEDGER.get("factory") is not session_of:  # a new run of the test: a new database
        LEDGER["factory"] = session_of
        LEDGER["s"] = session_of("reporting")
        registry(LEDGER["s"])
        LEDGER["expected"] = dict.fromkeys(
            (
                "cohort_responded",
                "cohort_resolved",
                "cohort_resolved_on_time",
                "cohort_rated",
                "cohort_closed_unresolved",
            ),
            0,
        )
        LEDGER["n"] = 0
    s, expected = LEDGER["s"], LEDGER["expected"]
    for rounds in issues:
        LEDGER["n"] += 1
        number, at = f"LX{LEDGER['n']}", T0 + timedelta(minutes=1)
        received(s, number)
        routed(s, "assigned", number, at)
        responded = resolved = rated = closed = False
        for on_time, end, open_again in rounds:
            at += timedelta(hours=1)
            routed(s, "responded", number, at, on_time=on_time)
            if not responded:
                responded, expected["cohort_responded"] = True, expected["cohort_responded"] + 1
            at += timedelta(hours=1)
            if end.startswith("resolve"):
                routed(s, "resolved", number, at, on_time=on_time)
                if not resolved:
                    resolved = True
                    expected["cohort_resolved"] += 1
                    expected["cohort_resolved_on_time"] += int(on_time)
            else:
                routed(s, "closed_unresolved", number, at)
                if not closed:
                    closed, expected["cohort_closed_unresolved"] = (
                        True,
                        (expected["cohort_closed_unresolved"] + 1),
                    )
            if end.endswith("rate_ok") or end.endswith("rate_bad"):
                bad = end.endswith("bad")
                rating = "unsatisfied" if bad else "satisfied"
                routed(s, "rated", number, at, rating=rating, reopened=bad)
                if not rated:
                    rated, expected["cohort_rated"] = True, expected["cohort_rated"] + 1
                if bad:
                    routed(s, "reopened", number, at)
            elif end.endswith("reopen") and open_again:
                routed(s, "reopened", number, at)
    city = queries.monthly(s, "2026-03")["city"]
    assert {k: city.get(k, 0) for k in expected} == expected
    for rate in ("response_rate", "resolution_rate", "on_time_rate", "satisfaction_rate"):
        assert city.get(rate) is None or 0 <= city[rate] <= 1, (rate, city[rate])
    live = queries.all_figures(s)  # and a rebuild from the stored events says the same
    assert rebuild.rebuild(s) == event_store.event_count(s)
    assert queries.all_figures(s) == live
