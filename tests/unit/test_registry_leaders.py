"""Leader liaison rules (领导对口联系, services/registry/leaders.py): field errors, the linked-station
rule, no future dates, revisions and one announcement per real change, withdrawal, the scope."""

from datetime import date, timedelta

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from services.kernel import auth
from services.kernel.http import ApiError
from services.kernel.models import OutboxMessage
from services.registry import demo, leaders

CHAIR = {"code": "ldr-zhang", "name": "张明远", "title": "主席", "stations": ["gwm", "jnl"]}
TODAY = date(2026, 11, 30)


def announced(session, kind):
    import json

    rows = session.scalars(
        select(OutboxMessage.body)
        .where(OutboxMessage.routing_key == kind)
        .order_by(OutboxMessage.id)
    ).all()
    return [json.loads(b)["payload"] for b in rows]


@pytest.fixture
def s(session_of):
    session = session_of("registry")
    with session.begin():
        demo.load(session)
        leaders.save_leader(session, CHAIR)
    return session


def visit(**extra):
    return {"station": "gwm", "date": "2026-11-02", "purpose": "推进委员码上见接待", **extra}


def errors_of(call) -> dict:
    with pytest.raises(ValidationError) as refused:
        call()
    return refused.value.messages


def test_a_leader_is_announced_with_its_linked_stations_and_again_only_when_it_changes(s):
    with s.begin():
        assert leaders.save_leader(s, CHAIR)[1] is False
        row, changed = leaders.update_leader(s, "ldr-zhang", {"stations": ["jql", "gwm"]})
    assert changed and row.revision == 2
    said = announced(s, "registry.leader_saved")
    assert said == [
        {**CHAIR, "active": True, "revision": 1},
        {**CHAIR, "stations": ["gwm", "jql"], "active": True, "revision": 2},
    ]


def test_unknown_stations_and_missing_fields_are_field_errors(s):
    bad = {"code": "Ldr 1", "name": "", "stations": ["gwm", "nowhere"]}
    found = errors_of(lambda: leaders.save_leader(s, bad))
    assert set(found) == {"code", "name", "title"}
    found = errors_of(lambda: leaders.save_leader(s, {**CHAIR, "stations": ["nowhere"]}))
    assert "nowhere" in found["stations"][0]


def test_other_data_under_a_used_code_is_a_conflict_and_writes_nothing(s):
    with s.begin():
        with pytest.raises(ApiError) as refused:
            leaders.create_leader(s, {**CHAIR, "name": "别人"})
        assert refused.value.status == 409 and "code" in refused.value.fields
        assert leaders.create_leader(s, CHAIR)[1] is False  # the same again: harmless
        assert leaders.get_leader(s, "ldr-zhang").name == "张明远"


def test_a_visit_is_recorded_with_who_came_and_announced(s):
    with s.begin():
        row, changed, created = leaders.save_visit(
            s, "ldr-zhang", visit(members=["m002", "m001"], others="城关区政协"), TODAY
        )
    assert changed and created and row.revision == 1
    [said] = announced(s, "registry.leader_visit_saved")
    assert said["visit_id"] == row.visit_id and said["leader"] == "ldr-zhang"
    assert (said["station"], said["date"], said["members"]) == (
        "gwm",
        "2026-11-02",
        ["m001", "m002"],
    )
    assert (said["others"], said["active"], said["revision"]) == ("城关区政协", True, 1)
    assert said["recorded_at"].endswith("+00:00")


def test_a_visit_must_be_at_one_of_the_leaders_stations(s):
    found = errors_of(lambda: leaders.save_visit(s, "ldr-zhang", visit(station="sp"), TODAY))
    assert list(found) == ["station"] and "linked" in found["station"][0]
    found = errors_of(lambda: leaders.save_visit(s, "ldr-zhang", visit(station="zz"), TODAY))
    assert "unknown station" in found["station"][0]


def test_unknown_members_and_a_future_date_are_field_errors(s):
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    data = visit(members=["m001", "m999"], date=tomorrow)
    found = errors_of(lambda: leaders.save_visit(s, "ldr-zhang", data, TODAY))
    assert set(found) == {"members", "date"} and "m999" in found["members"][0]
    assert leaders.save_visit(s, "ldr-zhang", visit(date=TODAY.isoformat()), TODAY)[2]
    # a 2024 visit (the replay's year) is fine
    assert leaders.save_visit(s, "ldr-zhang", visit(date="2024-06-12"), TODAY)[2]


def test_purpose_and_others_are_bounded(s):
    data = visit(purpose="", others="人" * 201)
    assert set(errors_of(lambda: leaders.save_visit(s, "ldr-zhang", data, TODAY))) == {
        "purpose",
        "others",
    }
    data = visit(purpose="事" * 501)
    assert "purpose" in errors_of(lambda: leaders.save_visit(s, "ldr-zhang", data, TODAY))


def test_an_unknown_leader_is_a_404(s):
    with pytest.raises(ApiError) as refused:
        leaders.save_visit(s, "nobody", visit(), TODAY)
    assert refused.value.status == 404


def test_the_callers_visit_id_makes_a_retry_harmless_and_withdrawal_keeps_the_record(s):
    with s.begin():
        first = leaders.save_visit(s, "ldr-zhang", visit(visit_id="r2024-001"), TODAY)
        again = leaders.save_visit(s, "ldr-zhang", visit(visit_id="r2024-001"), TODAY)
    assert first[2] and not again[1] and not again[2]
    with s.begin():
        row, changed = leaders.withdraw_visit(s, "r2024-001")
    assert changed and row.active is False and row.revision == 2
    said = announced(s, "registry.leader_visit_saved")
    assert [(p["active"], p["revision"]) for p in said] == [(True, 1), (False, 2)]
    assert leaders.list_visits(s, leader="ldr-zhang", active=True) == []


def test_a_visit_keeps_its_station_after_the_link_is_removed_and_its_leader_for_ever(s):
    with s.begin():
        leaders.save_visit(s, "ldr-zhang", visit(visit_id="v-1", station="jnl"), TODAY)
        leaders.update_leader(s, "ldr-zhang", {"stations": ["gwm"]})
        row, changed, _ = leaders.save_visit(
            s, "ldr-zhang", visit(visit_id="v-1", station="jnl", purpose="改正"), TODAY
        )
        assert changed and row.station_code == "jnl"
        leaders.save_leader(s, {"code": "ldr-li", "name": "李文华", "title": "副主席"})
    with pytest.raises(ApiError) as refused:
        leaders.save_visit(s, "ldr-li", visit(visit_id="v-1"), TODAY)
    assert refused.value.status == 409


def test_a_deactivated_leader_gets_no_new_visit(s):
    with s.begin():
        leaders.update_leader(s, "ldr-zhang", {"active": False})
    assert "leader" in errors_of(lambda: leaders.save_visit(s, "ldr-zhang", visit(), TODAY))


def test_filters_by_leader_station_member_and_year(s):
    with s.begin():
        leaders.save_visit(s, "ldr-zhang", visit(members=["m001"]), TODAY)
        leaders.save_visit(s, "ldr-zhang", visit(station="jnl", date="2025-03-01"), TODAY)
    assert len(leaders.list_visits(s, leader="ldr-zhang")) == 2
    assert [v["station"] for v in leaders.list_visits(s, year=2025)] == ["jnl"]
    assert [v["members"] for v in leaders.list_visits(s, member="m001")] == [["m001"]]
    assert [v["date"] for v in leaders.list_visits(s, stations={"gwm"})] == ["2026-11-02"]


def admin(*stations):
    return auth.Principal(account="a", role="station_admin", stations=frozenset(stations))


def test_a_station_admin_sees_its_own_stations_visits_only():
    wanted = {"leader": None, "station": None, "member": None, "year": None}
    assert leaders.scope_visits(admin("gwm"), wanted)["stations"] == {"gwm"}
    assert leaders.scope_visits(admin("gwm"), {**wanted, "station": "gwm"})["station"] == "gwm"
    with pytest.raises(ApiError) as refused:
        leaders.scope_visits(admin("gwm"), {**wanted, "station": "jnl"})
    assert refused.value.status == 403
    office = auth.Principal(account="o", role="office")
    assert leaders.scope_visits(office, wanted)["stations"] is None


def test_codes_typed_in_one_field():
    assert leaders.codes("m001, m002，m003、 m004 m005") == ["m001", "m002", "m003", "m004", "m005"]


def test_the_lanzhou_demo_has_its_leaders_and_a_few_visits_of_this_year_only(session_of):
    from services.registry import lanzhou

    s = session_of("registry")
    with s.begin():
        lanzhou.load(s, year=2026)
    found = leaders.list_leaders(s)
    assert [ld["title"] for ld in found] == ["主席"] + ["副主席"] * 5 + ["秘书长"]
    assert all(len(ld["stations"]) >= 3 for ld in found)
    linked = {ld["code"]: set(ld["stations"]) for ld in found}
    visits = leaders.list_visits(s)
    today = leaders.today()
    assert len(visits) == lanzhou.DEMO_VISITS
    for v in visits:
        day = date.fromisoformat(v["date"])
        assert day.year == today.year and day <= today and v["station"] in linked[v["leader"]]
        assert v["members"] and v["active"]
    s.rollback()
    with s.begin():
        assert lanzhou.load(s, year=2026) == 0  # loading again changes nothing


def test_the_demo_never_dates_a_visit_in_2024():
    from services.registry import lanzhou

    data = lanzhou.generate()
    assert lanzhou.visit_plan(data, date(2024, 12, 31)) == []
    jan_first = lanzhou.visit_plan(data, date(2027, 1, 1))
    assert {v["date"] for _, v in jan_first} == {"2027-01-01"}
