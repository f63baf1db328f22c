"""Deadlines in working days, Beijing time, with the office's holiday calendar."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from services.routing import catalogue
from services.routing.workdays import Calendar

BJ = ZoneInfo("Asia/Shanghai")


def at(y, m, d, h=10):
    return datetime(y, m, d, h, tzinfo=BJ)


def test_same_day_ends_at_midnight_beijing_time():
    assert Calendar().due(at(2026, 11, 25), 0) == at(2026, 11, 26, 0)  # a Wednesday


def test_weekends_are_skipped():
    # Friday + 1 working day → Monday; + 3 → Wednesday.
    assert Calendar().due(at(2026, 11, 27), 1) == at(2026, 12, 1, 0)
    assert Calendar().due(at(2026, 11, 27), 3) == at(2026, 12, 3, 0)
    # Received on Saturday: "same day" means the next working day.
    assert Calendar().due(at(2026, 11, 28), 0) == at(2026, 12, 1, 0)


def test_utc_times_count_on_the_beijing_date():
    # 2026-11-27 17:00 UTC is Saturday 01:00 in Beijing.
    assert Calendar().due(datetime(2026, 11, 27, 17, tzinfo=UTC), 0) == at(2026, 12, 1, 0)


def test_holidays_and_make_up_days():
    cal = Calendar(
        holidays=frozenset({date(2026, 10, d) for d in range(1, 8)}),
        workdays=frozenset({date(2026, 10, 10)}),
    )
    # Issue on 30 Sept (Wed) with 3 working days: 8 Oct (Thu), 9 Oct (Fri), 10 Oct (Sat, make-up).
    assert cal.due(at(2026, 9, 30), 3) == at(2026, 10, 11, 0)


def test_the_shipped_calendar_knows_the_national_day_holiday():
    cal = catalogue.calendar()
    assert not cal.is_workday(date(2026, 10, 5))
    assert cal.is_workday(date(2026, 10, 10))
    assert catalogue.limits_for("hazard") == (0, 0)
    assert catalogue.limits_for("property") == (3, 13)
    assert catalogue.limits_for("no-such-category") == (1, 3)
