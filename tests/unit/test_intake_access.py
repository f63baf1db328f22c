"""Intake's scope rules (services/intake/access.py) on a real (migrated SQLite) intake database:
one rule per resource, for ids in bodies as for ids in paths, and what an id already used by
someone else's record answers (issue 20). The end-to-end side: tests/e2e/test_intake_scope.py."""

import pytest

from services.intake import access, activities, intake, known, qr_page
from services.intake.schemas import PEOPLE_SERVED_MAX, Invalid
from services.kernel import auth
from services.kernel.http import ApiError
from services.kernel.messaging import Delivery
from tests.unit.test_intake_channels_rules import event
from tests.unit.test_intake_rules import member_saved

OFFICE = auth.Principal("office", "office")
GWM = auth.Principal("gwm-admin", "station_admin", stations=frozenset({"gwm"}))
JNL = auth.Principal("jnl-admin", "station_admin", stations=frozenset({"jnl"}))
STUDIO_G = auth.Principal("sg-admin", "studio_admin", studios=frozenset({"st-g"}))
STUDIO_X = auth.Principal("sx-admin", "studio_admin", studios=frozenset({"st-x"}))
M003 = auth.Principal("m003", "member", member="m003")


@pytest.fixture
def s(session_of):
    session = session_of("intake")
    with session.begin():
        for code, district in (("gwm", "城关区"), ("jql", "城关区"), ("jnl", "安宁区")):
            known.apply_event(
                session,
                event(
                    "registry.station_saved",
                    {
                        "code": code,
                        "name": code,
                        "district": district,
                        "active": True,
                        "revision": 1,
                    },
                ),
            )
        for code, station in (("st-g", "gwm"), ("st-x", None)):
            known.apply_event(
                session,
                event(
                    "registry.studio_saved",
                    {"code": code, "name": code, "active": True, "revision": 1, "station": station},
                ),
            )
        member = member_saved("m003", stations=("gwm", "jql"))
        member["payload"]["studios"] = [{"studio": "st-g", "role": "member"}]
        known.apply_event(session, member)
        known.apply_event(session, member_saved("m005", stations=("jnl",)))
        known.apply_event(
            session,
            event(
                "routing.catalogue_published",
                {"categories": [{"code": "property", "name": "物业", "name_en": "Property"}]},
            ),
        )
    return session


def forbidden(fn, *args):
    with pytest.raises(ApiError) as refused:
        fn(*args)
    assert refused.value.status == 403
    return True


def deliver(session, message: dict) -> dict:
    import json

    with session.begin():
        return intake.receive(
            session,
            Delivery(
                queue=f"station.{message['station']}",
                body=json.dumps(message).encode(),
                content_type="application/json",
            ),
        )


def activity(**extra):
    data = {
        "kind": "reception_day",
        "station": "gwm",
        "date": "2026-11-20",
        "members": ["m003"],
        "people_served": 12,
        **extra,
    }
    return activities.load_activity(data)


def test_one_rule_per_place_and_person():
    assert access.station(GWM, "gwm") is None and access.station(OFFICE, "jnl") is None
    assert forbidden(access.station, GWM, "jnl")
    assert forbidden(access.station, GWM, ["gwm"])  # a list from a body is no code
    assert forbidden(access.station, STUDIO_G, "gwm")
    assert access.studio(STUDIO_G, "st-g") is None and forbidden(access.studio, STUDIO_G, "st-x")
    assert access.member(M003, "m003") is None and forbidden(access.member, M003, "m005")
    assert forbidden(access.member, GWM, "m003")


def test_submissions_are_the_office_s_and_their_station_admins_only():
    assert access.submission(GWM, "gwm") is None
    for who in (JNL, STUDIO_G, M003):
        assert forbidden(access.submission, who, "gwm")
    found = [{"station": "gwm", "description": "a"}, {"station": "jql", "description": "b"}]
    assert access.similar_in_scope(OFFICE, found) == found
    assert access.similar_in_scope(GWM, found) == [found[0]]
    assert access.similar_in_scope(STUDIO_G, found) == []  # studio admins: no case access


def test_staff_entry_own_station_own_studio_at_the_studio_s_station(s):
    def issue(**extra):
        return activities.load_staff_issue(
            {"station": "gwm", "category": "property", "description": "路灯坏了", **extra}
        )[1]

    with s.begin():
        access.staff_issue(s, GWM, issue())
        access.staff_issue(s, GWM, issue(studio="st-g"))
        access.staff_issue(s, STUDIO_G, issue(studio="st-g"))
        access.staff_issue(s, OFFICE, issue(station="jnl"))
        assert forbidden(access.staff_issue, s, JNL, issue())
        assert forbidden(access.staff_issue, s, GWM, issue(studio="st-x"))  # not gwm's studio
        assert forbidden(access.staff_issue, s, STUDIO_G, issue())  # no studio named
        assert forbidden(access.staff_issue, s, STUDIO_X, issue(studio="st-x"))  # not linked
        assert forbidden(access.staff_issue, s, STUDIO_G, issue(station="jql", studio="st-g"))
        assert forbidden(access.staff_issue, s, M003, issue())


@pytest.mark.parametrize(
    "body",
    [
        {"station": ["gwm"]},
        {"station": {"code": "gwm"}},
        {"studio": ["st-g"]},
        {"description": 12},
        {"contact": "王"},
        {"place": "x" * 201},
    ],
)
def test_type_confusion_in_a_staff_issue_is_a_field_error(body):
    good = {"station": "gwm", "category": "property", "description": "路灯坏了"}
    with pytest.raises(Invalid) as bad:
        activities.load_staff_issue({**good, **body})
    assert set(bad.value.errors) == set(body) and bad.value.status == 400


@pytest.mark.parametrize(
    "body, field",
    [
        ({"station": ["gwm"]}, "station"),
        ({"station": {"x": 1}}, "station"),
        ({"members": "m003"}, "members"),
        ({"members": ["m003"] * 51}, "members"),
        ({"people_served": "12"}, "people_served"),
        ({"people_served": PEOPLE_SERVED_MAX + 1}, "people_served"),
        ({"people_served": 10**20}, "people_served"),
        ({"issues": {"category": "x"}}, "issues"),
        ({"issues": [{"category": "property", "description": "x"}] * 51}, "issues"),
        ({"note": "长" * 2001}, "note"),
        ({"activity_id": ["a"]}, "activity_id"),
    ],
)
def test_type_confusion_and_caps_in_an_activity_are_field_errors(body, field):
    with pytest.raises(Invalid) as bad:
        activity(**body)
    assert list(bad.value.errors) == [field]


def test_a_member_records_only_its_own_activity_where_it_serves(s):
    with s.begin():
        access.record_activity(s, M003, activity())
        access.record_activity(s, M003, activity(station="jql"))
        access.record_activity(s, M003, activity(station=None, studio="st-g"))
        for bad in (
            activity(station="jnl"),  # a station it does not serve
            activity(station=None, studio="st-x"),  # nor this studio
            activity(members=["m003", "m005"]),  # another member named
            activity(members=[]),  # not taking part
            activity(issues=[{"category": "property", "description": "x", "member": "m005"}]),
        ):
            assert forbidden(access.record_activity, s, M003, bad)


def test_admins_record_at_their_own_place_only(s):
    with s.begin():
        access.record_activity(s, GWM, activity())
        access.record_activity(s, GWM, activity(studio="st-g"))
        access.record_activity(s, STUDIO_G, activity(station=None, studio="st-g"))
        access.record_activity(s, STUDIO_G, activity(studio="st-g"))  # its studio's station
        assert forbidden(access.record_activity, s, JNL, activity())
        assert forbidden(access.record_activity, s, GWM, activity(studio="st-x"))
        assert forbidden(access.record_activity, s, STUDIO_X, activity(station=None, studio="st-g"))
        assert forbidden(access.record_activity, s, STUDIO_X, activity(studio="st-x"))


def test_admins_name_only_members_who_serve_where_they_enter(s):
    def refused_on(fn, *args):
        with pytest.raises(ApiError) as bad:
            fn(*args)
        assert bad.value.status == 400 and "m005" in str(bad.value.fields)
        return set(bad.value.fields)

    elsewhere = [{"category": "property", "description": "x", "member": "m005"}]
    with s.begin():
        access.record_activity(s, GWM, activity(members=["m003"]))
        access.record_activity(s, STUDIO_G, activity(station=None, studio="st-g"))
        access.record_activity(s, OFFICE, activity(members=["m005"]))  # the office: anyone
        assert refused_on(access.record_activity, s, GWM, activity(members=["m003", "m005"])) == {
            "members"
        }
        assert refused_on(access.record_activity, s, GWM, activity(issues=elsewhere)) == {"issues"}
        issue = activities.load_staff_issue(
            {"station": "gwm", "category": "property", "description": "x", "member": "m005"}
        )[1]
        assert refused_on(access.staff_issue, s, GWM, issue) == {"member"}
        access.staff_issue(s, OFFICE, issue)


def test_an_activity_id_already_stored_answers_only_its_owner_and_only_when_the_same(s):
    issues = [{"category": "property", "description": "建宁路私密问题"}]
    mine = activity(
        activity_id="jnl-2026-11-20-am",
        station="jnl",
        members=["m005"],
        note="私密备注",
        issues=issues,
    )
    with s.begin():
        view, messages = activities.record_activity(s, JNL, mine)
    assert deliver(s, messages[0])["status"] == "accepted"
    with s.begin():  # the same again, by its owner: the same activity (an idempotent re-send)
        again, _ = activities.record_activity(s, JNL, mine)
    assert again == view
    theirs = activity(activity_id="jnl-2026-11-20-am", issues=issues)  # at gwm, by gwm
    with s.begin(), pytest.raises(ApiError) as refused:
        activities.record_activity(s, GWM, theirs)
    assert refused.value.status == 409 and "私密" not in str(refused.value.response().get_data())
    changed = activity(
        activity_id="jnl-2026-11-20-am", station="jnl", members=["m005"], people_served=99
    )
    with s.begin(), pytest.raises(ApiError) as refused:
        activities.record_activity(s, JNL, changed)  # the owner, but another activity
    assert refused.value.status == 409


def test_a_submission_id_already_used_is_answered_only_for_the_same_own_issue(s):
    message = {
        "submission_id": "jnl-2026-11-20-am.1",
        "station": "jnl",
        "channel": "staff",
        "category": "property",
        "description": "建宁路私密问题",
    }
    with s.begin():
        assert access.same_submission(s, JNL, message) is None  # a new id
    assert deliver(s, message)["status"] == "accepted"
    with s.begin():
        assert access.same_submission(s, JNL, message) is True
        assert access.same_submission(s, GWM, {**message, "station": "gwm"}) is False
        assert access.same_submission(s, JNL, {**message, "description": "另一件事"}) is False
        assert access.same_submission(s, OFFICE, message) is True
        result = {"status": "duplicate", "tracking_number": "LX1", "lookup_code": "123456"}
        with pytest.raises(ApiError) as refused:
            activities.own_result(s, GWM, {**message, "station": "gwm"}, result)
    assert refused.value.status == 409


def test_qr_ids_and_receipts_cannot_be_guessed_or_borrowed(s):
    config = {"security": {"secret_key": "k" * 40}}
    sid = qr_page.new_submission_id(config)
    assert qr_page.is_issued(config, sid) and not qr_page.is_issued({}, sid)
    assert not qr_page.is_issued(config, sid[:-1] + ("A" if sid[-1] != "A" else "B"))
    assert len(sid) <= 64
    deliver(
        s,
        {
            "submission_id": "gwm-2026-11-20-am.1",
            "station": "gwm",
            "category": "property",
            "description": "x",
        },
    )
    with s.begin():
        assert qr_page.form_submission_id(s, config, sid) == sid  # the form's own
        assert qr_page.form_submission_id(s, config, "mine-00000001") == "mine-00000001"  # new
        taken = qr_page.form_submission_id(s, config, "gwm-2026-11-20-am.1")
    assert taken != "gwm-2026-11-20-am.1" and qr_page.is_issued(config, taken)
    receipt = qr_page.receipt_id(config, "gwm-2026-11-20-am.1")
    assert qr_page.submission_of_receipt(config, receipt) == "gwm-2026-11-20-am.1"
    for guess in ("gwm-2026-11-20-am.1", receipt[:-1] + "x", "", ".", receipt + "x"):
        assert qr_page.submission_of_receipt(config, guess) is None
