"""Reporting: each event counted once, months in Beijing time, cohorts and rates, breakdowns,
rebuild equal to the live path, and exports that say what the API says."""

import io
import random
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from services.kernel.events import new_event, parse_event
from services.reporting import exports, reporting
from services.reporting.projections import month_of
from services.reporting.statistics import COLUMNS

T0 = datetime(2026, 3, 5, 2, tzinfo=UTC)


def event(kind, payload, when):
    return parse_event(new_event(kind, payload, kind.split(".")[0], occurred_at=when))


def registry(s):
    for code, district in (("gwm", "城关区"), ("jnl", "安宁区")):
        reporting.record(
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
        reporting.record(
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
    reporting.record(
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
    reporting.record(
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
    assert reporting.record(s, e) is True
    assert reporting.record(s, e) is False
    assert reporting.monthly(s, "2026-03")["city"]["issues_received"] == 1


def test_a_routing_event_before_its_issue_is_retried_not_lost(session_of):
    s = session_of("reporting")
    with pytest.raises(reporting.FactMissing):
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

    march = reporting.monthly(s, "2026-03")
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
    assert reporting.monthly(s, "2026-04")["city"]["issues_responded"] == 1
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
    live = reporting.all_figures(s)
    assert reporting.rebuild(s) == reporting.event_count(s)
    assert reporting.all_figures(s) == live


def test_the_workbook_and_csv_say_what_the_api_says(session_of):
    s = session_of("reporting")
    registry(s)
    received(s, "LX1")
    routed(s, "assigned", "LX1", T0)
    report = reporting.monthly(s, "2026-03")
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
    ]
    header, *rows = list(book["委员工作站"].values)
    assert header[1] == f"{COLUMNS[0].name_zh} {COLUMNS[0].name_en}"
    assert rows == [("gwm", *[report["station"]["gwm"].get(c.key, 0) for c in COLUMNS])]
    text = exports.csv_text(report, "district")
    import csv

    header, row = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert text.startswith("\ufeff区县 District,")
    column = header.index("受理问题数 Issues received")
    assert row[0] == "城关区" and row[column] == "1"
