"""The periods a report may cover: a month, a year, or a range of whole months, checked field by
field so a bad query gets a clear error (and never an empty report that looks like a real one).

Figures are kept by calendar month (Beijing time), so a range is a run of whole months: ``from``
is the first day of a month, ``to`` the last day of a month (``YYYY-MM`` is accepted for either),
at most :data:`MAX_RANGE_DAYS` days long.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.kernel.http import ApiError

FIRST_YEAR, LAST_YEAR = 2000, 2100
CHINA = ZoneInfo("Asia/Shanghai")
MAX_RANGE_DAYS = 366  # a year, leap or not, in any 12 consecutive months; longer: ask by year

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _invalid(field: str, zh: str, en: str) -> ApiError:
    return ApiError("invalid", zh, en, fields={field: [f"{zh} / {en}"]})


def _year_month(text: str, field: str) -> tuple[int, int]:
    m = _MONTH.match(text)
    if not m:
        raise _invalid(field, "格式应为 YYYY-MM", "must be YYYY-MM")
    year, month = int(m[1]), int(m[2])
    if not 1 <= month <= 12:
        raise _invalid(field, f"没有 {month} 月", f"there is no month {month}")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise _invalid(
            field,
            f"年份应在 {FIRST_YEAR}–{LAST_YEAR} 之间",
            f"year must be {FIRST_YEAR}-{LAST_YEAR}",
        )
    return year, month


def today_in_china(now: datetime) -> date:
    """Today in Beijing: the dashboard's default month."""
    return now.astimezone(CHINA).date()


def month(text: str, field: str = "month") -> str:
    """``2024-03`` → ``"2024-03"``; anything else (``2024-13``, ``2024-3``, ``March``) → ApiError."""
    year, mon = _year_month(text.strip(), field)
    return f"{year:04d}-{mon:02d}"


def year(text: str, field: str = "year") -> int:
    if not re.fullmatch(r"\d{4}", text.strip()):
        raise _invalid(field, "格式应为 YYYY", "must be YYYY")
    value = int(text)
    if not FIRST_YEAR <= value <= LAST_YEAR:
        raise _invalid(
            field,
            f"年份应在 {FIRST_YEAR}–{LAST_YEAR} 之间",
            f"year must be {FIRST_YEAR}-{LAST_YEAR}",
        )
    return value


def _day(text: str, field: str, end: bool) -> date:
    text = text.strip()
    if _MONTH.match(text):  # a whole month: its first day, or its last as the end of a range
        y, m = _year_month(text, field)
        return date(y, m, calendar.monthrange(y, m)[1] if end else 1)
    d = _DAY.match(text)
    if not d:
        raise _invalid(field, "格式应为 YYYY-MM-DD 或 YYYY-MM", "must be YYYY-MM-DD or YYYY-MM")
    y, m = _year_month(f"{d[1]}-{d[2]}", field)
    last = calendar.monthrange(y, m)[1]
    if not 1 <= int(d[3]) <= last:
        raise _invalid(
            field, f"{y} 年 {m} 月没有 {int(d[3])} 日", f"{y}-{m:02d} has no day {int(d[3])}"
        )
    day = date(y, m, int(d[3]))
    if end and day.day != last:
        raise _invalid(
            field,
            f"统计按整月计：结束日应为月末（{y}-{m:02d}-{last}）",
            f"figures are kept by month: 'to' must be the last day of a month ({y}-{m:02d}-{last})",
        )
    if not end and day.day != 1:
        raise _invalid(
            field,
            f"统计按整月计：开始日应为月初（{y}-{m:02d}-01）",
            f"figures are kept by month: 'from' must be the first day of a month ({y}-{m:02d}-01)",
        )
    return day


def date_range(start: str | None, end: str | None) -> tuple[date, date, list[str]]:
    """``("2024-03-01", "2024-05-31")`` → the two days and the months between, inclusive.

    Every field's error is reported at once; then a range backwards or longer than
    :data:`MAX_RANGE_DAYS` is refused."""
    fields: dict[str, list[str]] = {}
    days = {}
    for name, text, is_end in (("from", start, False), ("to", end, True)):
        if not text:
            fields[name] = ["必填 / required"]
            continue
        try:
            days[name] = _day(text, name, is_end)
        except ApiError as err:
            fields.update(err.fields)
    if fields:
        raise ApiError("invalid", "统计区间有误", "invalid date range", fields=fields)
    first, last = days["from"], days["to"]
    if last < first:
        raise _invalid("to", "结束日早于开始日", "'to' is before 'from'")
    span = (last - first).days + 1
    if span > MAX_RANGE_DAYS:
        raise _invalid(
            "to",
            f"区间最长 {MAX_RANGE_DAYS} 天（本次 {span} 天），更长请按年查询",
            f"a range is at most {MAX_RANGE_DAYS} days (this one is {span}); ask by year instead",
        )
    months = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return first, last, months


def months_before(month: str, n: int) -> list[str]:
    """The ``n`` months up to ``month`` (``YYYY-MM``), oldest first, ``month`` last."""
    year, mon = map(int, month.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{year}-{mon:02d}")
        mon -= 1
        if mon == 0:
            year, mon = year - 1, 12
    return out[::-1]
