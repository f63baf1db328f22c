"""Working days in Beijing time: weekends and the office's holiday calendar skipped.

A deadline of N working days ends at 24:00 (Beijing) of the N-th working day after the day the
issue arrived; 0 means "the same day" (or the next working day, if it arrived on a day off).
Make-up working days (调休上班) on a weekend count as working days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Calendar:
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)  # make-up days on weekends

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def next_workday(self, day: date) -> date:
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def add_workdays(self, day: date, n: int) -> date:
        day = self.next_workday(day)
        for _ in range(n):
            day = self.next_workday(day + timedelta(days=1))
        return day

    def due(self, received: datetime, workdays: int) -> datetime:
        """The deadline for ``workdays`` working days from ``received``: end of that day."""
        local_day = received.astimezone(CHINA).date()
        last = self.add_workdays(local_day, workdays)
        return datetime.combine(last + timedelta(days=1), time(0), CHINA)
