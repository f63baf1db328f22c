"""Reporting: each event counted once, months in Beijing time, rebuild equals the live path."""

import random
import uuid
from datetime import UTC, datetime, timedelta

from services.kernel.events import new_event, parse_event
from services.reporting import reporting
from services.reporting.projections import month_of


def event(kind, payload, when):
    return parse_event(new_event(kind, payload, kind.split(".")[0], occurred_at=when))


def test_month_is_the_calendar_month_in_beijing_time():
    assert month_of(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == "2026-11"
    assert month_of(datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == "2026-12"  # 00:00 in Beijing


def test_an_event_recorded_twice_counts_once(session_of):
    s = session_of("reporting")
    e = event(
        "intake.issue_received",
        {"tracking_number": "LX1", "station": "gwm", "channel": "qr", "category": "health"},
        datetime(2026, 3, 5, tzinfo=UTC),
    )
    with s.begin():
        assert reporting.record(s, e) is True
        assert reporting.record(s, e) is False
    assert reporting.monthly(s, "2026-03")["city"] == {"issues_received": 1}


def test_rebuild_from_the_store_gives_exactly_the_live_figures(session_of):
    s = session_of("reporting")
    rnd = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with s.begin():
        for i in range(400):
            when = start + timedelta(hours=rnd.randrange(24 * 90))
            station = rnd.choice(["gwm", "jnl", "sp"])
            kind = rnd.choice(
                [
                    "intake.issue_received",
                    "routing.issue_assigned",
                    "intake.submission_rejected",
                    "routing.issue_waiting",
                ]
            )
            payload = {
                "tracking_number": f"LX{i}",
                "station": station,
                "channel": "amqp",
                "category": rnd.choice(["health", "hazard"]),
                "member": f"m{i % 7}",
                "submission_id": str(uuid.uuid4()),
                "errors": {},
                "reason": "-",
            }
            reporting.record(s, event(kind, payload, when))
    live = reporting.all_figures(s)
    assert sum(v for m, metric, d, k, v in live if d == "city") == 400
    assert reporting.rebuild(s) == 400
    s.commit()
    assert reporting.all_figures(s) == live
