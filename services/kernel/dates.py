"""Dates as people read them, in Beijing time, for every page that shows one (Chinese first).

A deadline ends at 24:00: routing's working-day calendar gives 00:00 of the next day, so 00:00 of
2 December is the end of 1 December, said "12月1日（周二）下班前" on a working day and
"24:00前" on a day off (nobody is at work). Any other time is said as it is ("14:30前").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
WEEKDAYS = "一二三四五六日"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_zh(day: date) -> str:
    return f"{day.month}月{day.day}日（周{WEEKDAYS[day.weekday()]}）"


def day_en(day: date) -> str:
    return f"{WEEKDAYS_EN[day.weekday()]} {day.day} {MONTHS_EN[day.month - 1]}"


def deadline_words(
    due: datetime | str | None, is_workday: Callable[[date], bool] | None = None
) -> tuple[str, str]:
    """``due`` as a person reads it: ``(中文, English)``; ``("-", "-")`` when there is none.
    ``is_workday`` (routing's holiday calendar) tells working days; without it, Monday to
    Friday."""
    if not due:
        return "-", "-"
    if isinstance(due, str):
        due = datetime.fromisoformat(due)
    local = due.astimezone(CHINA)
    if local.time() == time(0):
        day = local.date() - timedelta(days=1)
        workday = is_workday(day) if is_workday is not None else day.weekday() < 5
        zh_when, en_when = ("下班前", "by the end of") if workday else ("24:00前", "by 24:00")
    else:
        day = local.date()
        zh_when, en_when = f"{local:%H:%M}前", f"by {local:%H:%M}"
    return f"{day_zh(day)}{zh_when}", f"{en_when} {day_en(day)}"
