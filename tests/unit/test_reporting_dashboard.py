"""The dashboard's rules on a real (SQLite) reporting database: the headline row from the
activities staff recorded, members active, blanks as "—" and null (never 0), sorting a table by
a figure, the pickers' query, and each row's link to its cases with the right dates."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from services.kernel.http import ApiError
from services.reporting import dashboard, event_store, exports, queries
from tests.unit.test_reporting_rules import T0, event, received, registry, routed

CASES = "http://routing.example/office/cases"


def activity(s, activity_id, station, day, kind="reception_day", people=0, members=()):
    event_store.record(
        s,
        event(
            "intake.activity_recorded",
            {
                "activity_id": activity_id,
                "kind": kind,
                "station": station,
                "studio": None,
                "date": day,
                "members": list(members),
                "people_served": people,
                "issues_raised": 0,
                "recorded_at": T0.isoformat(),
            },
            T0,
        ),
    )


@pytest.fixture
def s(session_of):
    s = session_of("reporting")
    registry(s)  # stations gwm (城关区), jnl (安宁区); members m1, m2
    activity(s, "a1", "gwm", "2026-03-02", people=30, members=["m1"])
    activity(s, "a2", "gwm", "2026-03-09", people=12, members=["m1"])
    activity(s, "a3", "jnl", "2026-03-10", kind="visit", people=5, members=["m2"])
    activity(s, "a4", "jnl", "2026-04-01", people=99, members=["m2"])  # April: not March
    for n in ("LX1", "LX2", "LX3"):
        received(s, n, "gwm")
        routed(s, "assigned", n, T0 + timedelta(minutes=1))
    received(s, "LX4", "jnl")
    routed(s, "assigned", "LX4", T0 + timedelta(minutes=1), "jnl", "m2")
    routed(s, "resolved", "LX1", T0 + timedelta(hours=2), on_time=True)
    routed(s, "rated", "LX1", T0 + timedelta(hours=3), rating="satisfied")
    s.commit()
    return s


def render(s, view):
    report = queries.monthly(s, view.label) if view.month else queries.yearly(s, view.year)
    view.names, view.years, view.cases_url = queries.names(s), queries.years(s), CASES
    trend = queries.trend(s, view.months(), dashboard.TREND)
    return report, dashboard.page(report, view.months(), trend, None, view)


def tile(html, key):
    found = re.search(rf'<div class=tile data-key="{key}">.*?<div class=value>(.*?)</div>', html)
    return found.group(1)


def test_the_headline_row_counts_the_months_activities(s):
    report, html = render(s, dashboard.View(year=2026, month=3))
    city = report["city"]
    assert (city["reception_days"], city["people_served"], city["activities_held"]) == (2, 47, 3)
    assert city["matters_handled"] == 1 and city["members_active"] == 2
    assert tile(html, "reception_days") == "2" and tile(html, "people_served") == "47"
    assert tile(html, "members_active") == "2"
    headline = html.index("履职总览")
    assert headline < html.index('data-key="reception_days"') < html.index("问题办理")
    # Chinese words first, the precise rule one click away, no internal event names
    assert "本月举办的委员接待日场次" in html and "<details><summary>计算规则" in html
    assert "intake." not in html and "routing.issue" not in html


def test_a_whole_year_sums_its_months_and_counts_each_member_once(s):
    report, html = render(s, dashboard.View(year=2026))
    assert report["city"]["reception_days"] == 3 and report["city"]["people_served"] == 146
    assert report["city"]["members_active"] == 2  # m2 active in March and April: once
    assert report["station"]["jnl"]["satisfaction_rate"] is None  # a year's JSON too
    assert "2026 年全年" in html and "本年举办的委员接待日场次" in html  # the year's words


def test_a_station_nobody_rated_is_null_and_a_dash_not_zero(s):
    report, html = render(s, dashboard.View(year=2026, month=3))
    jnl, gwm = report["station"]["jnl"], report["station"]["gwm"]
    assert jnl["satisfaction_rate"] is None and gwm["satisfaction_rate"] == 1.0
    assert jnl["median_minutes_to_first_response"] is None  # kept for the city only
    assert report["member"]["m1"]["members_active"] is None
    header, *rows = exports.rows(report, "station")  # the workbook's and the CSV's rows
    jnl_row = dict(zip(header, next(r for r in rows if r[0] == "jnl"), strict=True))
    assert jnl_row["满意率 Satisfaction rate"] == "" and jnl_row["活跃委员 Members active"] == ""
    assert jnl_row["委员接待日 Reception days"] == 0  # a count not recorded: 0
    row = re.search(r'<tr data-code="jnl">.*?</tr>', html).group(0)
    cell = re.search(r'<td data-key="satisfaction_rate" data-v="">(.*?)</td>', row).group(1)
    assert cell == "—"


def test_sorting_a_table_by_a_figure_orders_its_rows(s):
    def order(view):
        html = render(s, view)[1]
        table = re.search(r'<table data-table="station">.*?</table>', html).group(0)
        return re.findall(r'<tr data-code="(\w+)"', table)

    by = dashboard.choose({"month": "2026-03", "sort": "station.issues_received"}, date.today())
    assert order(by) == ["gwm", "jnl"]  # 3 issues, 1
    up = dashboard.choose(
        {"month": "2026-03", "sort": "station.issues_received", "dir": "asc"}, date.today()
    )
    assert order(up) == ["jnl", "gwm"]
    rated = dashboard.choose(
        {"month": "2026-03", "sort": "station.satisfaction_rate"}, date.today()
    )
    assert order(rated) == ["gwm", "jnl"]  # the blank last, whichever way
    rated.sort = ("station", "satisfaction_rate", False)
    assert order(rated) == ["gwm", "jnl"]


def test_each_row_links_to_its_cases_with_the_periods_dates(s):
    html = render(s, dashboard.View(year=2026, month=2))[1]
    assert f'href="{CASES}?station=gwm&amp;from=2026-02-01&amp;to=2026-02-28"' in html
    html = render(s, dashboard.View(year=2026, month=3))[1]
    assert f'href="{CASES}?member=m1&amp;from=2026-03-01&amp;to=2026-03-31"' in html
    assert f"{CASES}?district=%E5%9F%8E%E5%85%B3%E5%8C%BA&amp;from=2026-03-01" in html
    html = render(s, dashboard.View(year=2026))[1]
    assert f'href="{CASES}?station=jnl&amp;from=2026-01-01&amp;to=2026-12-31"' in html


def test_the_pickers_choose_a_month_or_a_whole_year():
    today = date(2026, 11, 30)
    assert dashboard.choose({}, today).label == "2026-11"
    assert dashboard.choose({"year": "2025", "mon": "03"}, today).label == "2025-03"
    year = dashboard.choose({"year": "2025", "mon": ""}, today)
    assert year.month is None and year.label == "2025" and len(year.months()) == 12
    assert dashboard.choose({"month": "2024-02"}, today).last == date(2024, 2, 29)
    for bad, field in (
        ({"year": "2025", "mon": "13"}, "mon"),
        ({"year": "25"}, "year"),
        ({"sort": "station.nonsense"}, "sort"),
        ({"sort": "planet.name"}, "sort"),
        ({"sort": "station.name", "dir": "up"}, "dir"),
    ):
        with pytest.raises(ApiError) as err:
            dashboard.choose(bad, today)
        assert list(err.value.fields) == [field]


def test_the_reconciliation_shown_is_the_last_one_with_its_age():
    now = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    report = {"month": "2026-11", "city": {}}
    view = dashboard.View(year=2026, month=11, now=now)
    pending = dashboard.page(report, ["2026-11"], {}, None, view)
    assert "data-reconciliation=pending" in pending and "对账结果尚未取得" in pending
    view.checked_at = now - timedelta(minutes=7)
    down = {
        "holds": None,
        "unavailable": ["routing"],
        "message_zh": "无法对账：routing 未响应",
        "message": "cannot reconcile: routing did not answer",
    }
    stale = dashboard.page(report, ["2026-11"], {}, down, view)
    assert "data-reconciliation=unknown" in stale and "7 分钟前" in stale and "routing" in stale
