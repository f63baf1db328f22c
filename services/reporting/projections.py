"""What each event adds to the monthly figures (plain Python; docs/statistics.md defines them).

Months are calendar months in Beijing time (Asia/Shanghai), the office's own calendar.
The same function serves the live path and the rebuild, so both give the same figures.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
CITY = ("city", "-")


def month_of(when: str | datetime) -> str:
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    return f"{when.astimezone(CHINA):%Y-%m}"


def increments(event_type: str, payload: dict, occurred_at) -> list[tuple[str, str, str, str, int]]:
    """``(month, metric, dimension, key, delta)`` rows that one event adds."""
    month = month_of(occurred_at)
    rows = []

    def add(metric, *breakdowns):
        for dimension, key in (CITY, *breakdowns):
            rows.append((month, metric, dimension, str(key), 1))

    if event_type == "intake.issue_received":
        add(
            "issues_received",
            ("station", payload["station"]),
            ("channel", payload["channel"]),
            ("category", payload["category"]),
        )
    elif event_type == "intake.submission_rejected":
        add("submissions_rejected", ("station", payload["station"]))
    elif event_type == "routing.issue_assigned":
        add("issues_assigned", ("station", payload["station"]), ("member", payload["member"]))
    elif event_type == "routing.issue_waiting":
        add("issues_waiting", ("station", payload["station"]))
    return rows
