"""What a report may cover: a real month, a year, a range of whole months, at most 366 days;
anything else is refused with a field-level error in the kernel's format."""

import json
from datetime import date

import pytest

from services.kernel.http import ApiError
from services.reporting import periods


def error(fn, *args) -> dict:
    with pytest.raises(ApiError) as caught:
        fn(*args)
    body = json.loads(caught.value.response().get_data(as_text=True))["error"]
    assert caught.value.status == 400 and body["code"] == "invalid"
    return body


def test_a_real_month_is_accepted_and_others_are_refused_field_by_field():
    assert periods.month("2024-03") == "2024-03"
    for bad in ("2024-13", "2024-00", "2024-3", "March", "2024-03-01", "1999-12", ""):
        body = error(periods.month, bad)
        assert list(body["fields"]) == ["month"], bad
    assert "没有 13 月" in error(periods.month, "2024-13")["fields"]["month"][0]


def test_a_year_is_four_digits_in_range():
    assert periods.year("2024") == 2024
    for bad in ("24", "2024a", "3000", ""):
        assert list(error(periods.year, bad)["fields"]) == ["year"]


def test_a_range_of_whole_months():
    first, last, months = periods.date_range("2024-03-01", "2024-05-31")
    assert (first, last) == (date(2024, 3, 1), date(2024, 5, 31))
    assert months == ["2024-03", "2024-04", "2024-05"]
    assert periods.date_range("2024-02", "2024-02")[1] == date(2024, 2, 29)  # leap year
    assert periods.date_range("2023-12-01", "2024-01-31")[2] == ["2023-12", "2024-01"]
    assert len(periods.date_range("2024-01-01", "2024-12-31")[2]) == 12  # 366 days: allowed


def test_a_range_backwards_malformed_or_too_long_is_refused():
    backwards = error(periods.date_range, "2024-05-01", "2024-03-31")
    assert list(backwards["fields"]) == ["to"] and "早于" in backwards["fields"]["to"][0]
    both = error(periods.date_range, "2024-02-30", "2024-5-31")
    assert set(both["fields"]) == {"from", "to"}  # every bad field at once
    assert "没有 30 日" in both["fields"]["from"][0]
    missing = error(periods.date_range, None, "2024-05-31")
    assert list(missing["fields"]) == ["from"]
    too_long = error(periods.date_range, "2024-01-01", "2025-01-31")
    assert "366" in too_long["fields"]["to"][0] and "397" in too_long["message"]
    mid_month = error(periods.date_range, "2024-03-15", "2024-05-31")
    assert "按整月" in mid_month["fields"]["from"][0]
    not_month_end = error(periods.date_range, "2024-03-01", "2024-05-30")
    assert "2024-05-31" in not_month_end["fields"]["to"][0]
