"""The station clerk's activity page reads intake's copies (issue 17): the station's members,
and the day's roster that ticks them."""

from datetime import date

from services.intake import clerk_pages, known


def announce(s, kind, payload):
    with s.begin():
        known.apply_event(
            s, {"type": kind, "occurred_at": "2026-11-27T08:00:00+00:00", "payload": payload}
        )


def member(code, name, stations, active=True):
    return {"code": code, "name": name, "active": active, "revision": 1,
            "stations": [{"station": st, "role": "member"} for st in stations]}  # fmt: skip


def roster(code, day, slot, station, members, active=True):
    return {"code": code, "date": day, "slot": slot, "station": station, "studio": None,
            "members": members, "active": active, "revision": 1}  # fmt: skip


def test_the_station_members_and_the_day_roster_from_intakes_copies(session_of):
    s = session_of("intake")
    for m in (
        member("m001", "王建国", ["gwm"]),
        member("m003", "张志强", ["gwm", "jql"]),
        member("m0031", "他站委员", ["jql"]),  # a code containing another's: not gwm's
        member("m009", "离任委员", ["gwm"], active=False),
    ):
        announce(s, "registry.member_saved", m)
    announce(s, "registry.roster_saved", roster("r1", "2026-12-03", "am", "gwm", ["m001"]))
    announce(s, "registry.roster_saved", roster("r2", "2026-12-03", "pm", "gwm", ["m003"]))
    announce(s, "registry.roster_saved", roster("r3", "2026-12-03", "am", "jql", ["m0031"]))
    announce(s, "registry.roster_saved", roster("r4", "2026-12-04", "am", "gwm", ["m001"], False))
    announce(s, "registry.roster_saved", roster("r5", "2027-06-01", "am", "gwm", ["m001"]))
    with s.begin():
        rosters = clerk_pages.station_rosters(s, "gwm", date(2026, 12, 3), date(2026, 12, 3))
        members = clerk_pages.station_members(s, "gwm", rosters)
    # the station's own, active, within the window
    assert rosters == {"2026-12-03|am": ["m001"], "2026-12-03|pm": ["m003"]}
    assert [m["code"] for m in members] == ["m001", "m003"]
    assert clerk_pages._default_slot(rosters, date(2026, 12, 3)) == "am"


def test_ids_the_page_carries_fit_the_staff_apis_rule():
    import re

    rule = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")  # schemas: submission_id and activity_id
    first, second = clerk_pages.new_id("clerk-act"), clerk_pages.new_id("clerk-act")
    assert rule.match(first) and rule.match(clerk_pages.new_id("clerk")) and first != second
    # an activity's issues are "<activity_id>.<n>": still within the submission id's rule
    assert rule.match(f"{first}.50")
