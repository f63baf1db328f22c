"""Duty rosters: the fair rotation, refusing deactivated members, the on-duty look-up."""

from collections import Counter
from contextlib import contextmanager
from datetime import date

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, select

from services.kernel.models import OutboxMessage
from services.registry import demo, places, registry, roster, rotation


def test_rotation_spreads_days_evenly_and_nobody_twice_a_day():
    members = ["m5", "m1", "m3", "m2", "m4"]
    days = rotation.month_days("2026-12", weekdays=(0, 2, 4))  # Mon, Wed, Fri
    assert len(days) == 13 and all(d.month == 12 for d in days)
    plan = rotation.plan_rotation(members, days, per_day=2)
    assert sorted(plan) == days
    assert all(len(set(on)) == 2 for on in plan.values())
    counts = Counter(m for on in plan.values() for m in on)
    assert set(counts) == set(members)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert rotation.plan_rotation(list(reversed(members)), days, per_day=2) == plan


def test_rotation_carries_last_months_duties_forward():
    plan = rotation.plan_rotation(
        ["m1", "m2", "m3"], [date(2027, 1, 6), date(2027, 1, 13)], carried={"m1": 2, "m2": 1}
    )
    assert plan == {date(2027, 1, 6): ["m3"], date(2027, 1, 13): ["m2"]}


def test_a_small_station_never_gets_more_per_day_than_it_has():
    plan = rotation.plan_rotation(["m1"], [date(2027, 1, 6)], per_day=3)
    assert plan == {date(2027, 1, 6): ["m1"]}


def test_month_must_be_a_month():
    with pytest.raises(ValidationError) as err:
        rotation.month_days("2026-13")
    assert "month" in err.value.messages


@contextmanager
def committed(session):
    yield
    session.commit()


def loaded(session_of):
    s = session_of("registry")
    with committed(s):
        demo.load(s)
    return s


def test_generated_month_is_saved_announced_and_regenerating_changes_nothing(session_of):
    s = loaded(session_of)
    with committed(s):
        rows = rotation.generate_rotation(s, station="gwm", month="2026-12", per_day=2)
    assert [r.day for r in rows] == rotation.month_days("2026-12")
    counts = Counter(d.member_code for r in rows for d in r.duties)
    assert set(counts) == {"m001", "m002", "m003", "m004", "m014"}
    assert max(counts.values()) - min(counts.values()) <= 1
    events = s.scalar(select(func.count()).select_from(OutboxMessage))
    with committed(s):
        rotation.generate_rotation(s, station="gwm", month="2026-12", per_day=2)
    assert s.scalar(select(func.count()).select_from(OutboxMessage)) == events
    # the next month starts with those who served least
    with committed(s):
        january = rotation.generate_rotation(s, station="gwm", month="2027-01", per_day=2)
    first = {d.member_code for d in january[0].duties}
    assert all(counts[m] == min(counts.values()) for m in first)


def test_a_roster_day_for_a_deactivated_member_is_refused(session_of):
    s = loaded(session_of)
    with committed(s):
        registry.deactivate(s, "members", "m003")
    with pytest.raises(ValidationError) as err:
        roster.save_roster(s, {"date": "2026-12-02", "station": "gwm", "members": ["m003"]})
    assert "m003" in err.value.messages["members"][0]
    assert "已停用" in err.value.messages["members"][0]
    s.rollback()
    with committed(s):
        rows = rotation.generate_rotation(s, station="gwm", month="2026-12", per_day=4)
    assert all("m003" not in [d.member_code for d in r.duties] for r in rows)


def test_a_roster_names_bad_places_and_members(session_of):
    s = loaded(session_of)
    with pytest.raises(ValidationError) as err:
        roster.save_roster(s, {"date": "2026-12-02", "station": "nowhere", "members": ["m404"]})
    assert set(err.value.messages) == {"station", "members"}
    with pytest.raises(ValidationError) as err:
        roster.save_roster(s, {"date": "2026-12-02", "members": ["m001"]})
    assert "station" in err.value.messages


def test_on_duty_gives_the_members_of_a_sector_on_duty_that_day(session_of):
    s = loaded(session_of)
    day = date(2026, 12, 2)
    with committed(s):
        roster.save_roster(
            s, {"date": day.isoformat(), "station": "gwm", "members": ["m003", "m001"]}
        )
        roster.save_roster(
            s, {"date": day.isoformat(), "slot": "pm", "station": "jql", "members": ["m003"]}
        )
    assert [m["code"] for m in roster.on_duty(s, "gwm", day, "yiyao")] == ["m003"]
    assert [m["code"] for m in roster.on_duty(s, "gwm", day)] == ["m001", "m003"]
    assert roster.on_duty(s, "gwm", day, "jiaoyu") == []
    assert roster.on_duty(s, "gwm", date(2026, 12, 3), "yiyao") == []
    assert roster.on_duty(s, "jql", day, "yiyao")[0]["slot"] == "pm"
    with committed(s):
        registry.deactivate(s, "members", "m003")
    assert roster.on_duty(s, "gwm", day, "yiyao") == []


def test_a_studio_rotates_its_own_members(session_of):
    s = loaded(session_of)
    with committed(s):
        places.save_studio(
            s,
            {
                "code": "sd006",
                "name": "医药卫生界别义诊委员工作室",
                "district": "城关区",
                "sectors": ["yiyao"],
            },
        )
        for code in ("m003", "m011"):
            registry.update(s, "members", code, {"studios": [{"studio": "sd006"}]})
        rows = rotation.generate_rotation(
            s, studio="sd006", month="2027-03", weekdays=(5,), per_day=1, slot="day"
        )
    assert [(r.studio_code, r.station_code, r.slot) for r in rows][0] == ("sd006", None, "day")
    assert Counter(d.member_code for r in rows for d in r.duties) == {"m003": 2, "m011": 2}
    assert rows[0].code == "studio-sd006-20270306-day"
    listed = roster.list_rosters(s, studio="sd006", member="m011")
    assert len(listed) == 2 and all(r["members"] == ["m011"] for r in listed)
