"""Who gets an issue: the rules in services/routing/assignment.py, without any I/O."""

from datetime import UTC, datetime, timedelta

from services.routing.assignment import Candidate, choose

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def member(code, sector, role="member", active=True, open_cases=0, last=None):
    return Candidate(code, sector, role, active, open_cases, last)


def test_the_members_own_qr_code_wins_even_outside_the_station():
    own = member("m9", "jiaoyu")
    decision = choose([member("m1", "yiyao")], ["yiyao"], own=own)
    assert (decision.member, decision.rule) == ("m9", "own_code")


def test_an_inactive_member_is_skipped_even_when_their_own_code_was_scanned():
    decision = choose([member("m1", "yiyao")], ["yiyao"], own=member("m9", "yiyao", active=False))
    assert decision.member == "m1"


def test_sector_match_goes_to_the_member_with_fewest_open_cases():
    decision = choose(
        [
            member("m1", "yiyao", open_cases=3),
            member("m2", "yiyao", open_cases=1),
            member("m3", "jiaoyu", open_cases=0),
        ],
        ["yiyao"],
    )
    assert (decision.member, decision.rule) == ("m2", "sector")
    assert "yiyao" in decision.reason


def test_ties_go_to_whoever_waited_longest_then_by_code():
    waited = choose(
        [member("m1", "yiyao", last=T0 + timedelta(days=2)), member("m2", "yiyao", last=T0)],
        ["yiyao"],
    )
    assert waited.member == "m2"
    never = choose([member("m1", "yiyao", last=T0), member("m2", "yiyao", last=None)], ["yiyao"])
    assert never.member == "m2"
    same = choose([member("m2", "yiyao"), member("m1", "yiyao")], ["yiyao"])
    assert same.member == "m1"


def test_inactive_members_are_skipped():
    decision = choose([member("m1", "yiyao", active=False), member("m2", "yiyao")], ["yiyao"])
    assert decision.member == "m2"


def test_no_matching_sector_goes_to_the_station_lead():
    decision = choose([member("m1", "jiaoyu"), member("m5", "jingji", role="lead")], ["yiyao"])
    assert (decision.member, decision.rule) == ("m5", "station_lead")


def test_nobody_active_means_waiting_with_a_reason():
    decision = choose([member("m1", "yiyao", role="lead", active=False)], ["yiyao"])
    assert decision.member is None and decision.rule == "waiting"
    assert "暂无在岗委员" in decision.reason


def test_on_duty_members_of_the_sector_come_before_the_rest_of_the_station():
    station = [member("m1", "yiyao"), member("m2", "yiyao", open_cases=5)]
    decision = choose(
        station, ["yiyao"], on_duty=[member("m2", "yiyao", open_cases=5), member("m3", "jiaoyu")]
    )
    assert (decision.member, decision.rule) == ("m2", "on_duty")
    nobody_matching = choose(station, ["yiyao"], on_duty=[member("m3", "jiaoyu")])
    assert (nobody_matching.member, nobody_matching.rule) == ("m1", "sector")


def test_a_district_studio_of_the_sector_comes_before_the_station_lead():
    station = [member("lead", "jingji", role="lead")]
    decision = choose(station, ["yiyao"], studio_members=[member("s1", "shehuikexue")])
    assert (decision.member, decision.rule) == ("s1", "studio")
    inactive = choose(station, ["yiyao"], studio_members=[member("s1", "yiyao", active=False)])
    assert (inactive.member, inactive.rule) == ("lead", "station_lead")
