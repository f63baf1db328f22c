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

    station = ("station", payload.get("station"))
    member = ("member", payload.get("member"))
    if event_type == "intake.issue_received":
        add(
            "issues_received",
            station,
            ("channel", payload["channel"]),
            ("category", payload["category"]),
        )
    elif event_type == "intake.submission_rejected":
        add("submissions_rejected", station)
    elif event_type == "routing.issue_assigned":
        add("issues_assigned", station, member)
    elif event_type == "routing.issue_waiting":
        add("issues_waiting", station)
    elif event_type == "routing.issue_responded":
        add("issues_responded", station, member)
        if payload.get("on_time"):
            add("responded_on_time", station, member)
    elif event_type == "routing.issue_resolved":
        add("issues_resolved", station, member, ("category", payload["category"]))
        if payload.get("on_time"):
            add("resolved_on_time", station, member)
    elif event_type == "routing.issue_closed_unresolved":
        add("issues_closed_unresolved", station, member)
    elif event_type == "routing.issue_transferred":
        add("cases_transferred", ("station", payload.get("from_station")))
    elif event_type == "routing.issue_reopened":
        add("issues_reopened", station)
    elif event_type == "routing.issue_rated":
        add(f"rated_{payload['rating']}", station, member)
        if payload.get("reopened"):
            add("issues_reopened", station)
    elif event_type == "routing.issue_overdue":
        add("issues_overdue", station, member)
    elif event_type == "routing.issue_escalated":
        add("issues_escalated", station)
    return rows
