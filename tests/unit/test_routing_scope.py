"""Routing's scope for the ids a body names (issue 20), and its bad input answered as a 400 in the
one format: the service class without a container (``worker_factory``), on a real (SQLite)
routing database. A case, member or station outside the caller's scope answers exactly as an
unknown one, and nothing of it is in the answer or changed."""

import json

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import select

from services.routing import access, inputs
from services.routing.models import Case, CaseEvent
from services.routing.service import RoutingService
from services.routing.settings import RoutingSettings
from tests.conftest import auth_headers
from tests.unit.test_routing_rules import issue, member
from tests.unit.workers import Db, error, request

OFFICE = auth_headers(role="office")
DOC = auth_headers(role="member", member="doc")
GWM_ADMIN = auth_headers(role="station_admin", stations=["gwm"])


@pytest.fixture
def db(migrated):
    db = Db(migrated("routing"))
    with db.transaction() as s:
        member(s, "lead", "jingji", role="lead")
        member(s, "doc", "yiyao")
        member(s, "teacher", "jiaoyu")
        member(s, "far", "yiyao", station="jnl")
        member(s, "far2", "yiyao", station="jnl")
        issue(s, "LX1", member_hint="doc")  # gwm, doc's
        issue(s, "LX2", member_hint="doc")  # gwm, doc's
        issue(s, "LX3", member_hint="teacher")  # gwm, teacher's
        issue(s, "LX9", station="jnl", member_hint="far")  # jnl, far's
    return db


@pytest.fixture
def service(db):
    return worker_factory(RoutingService, config={}, db=db, settings=RoutingSettings())


def act(service, number, action, headers, **body):
    path = f"/cases/{number}/actions/{action}"
    return service.http_act(request(path, headers, "POST", body), number, action)


def ok(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def state(db, number):
    """What a user would check of a case: status, assignee, station, what it follows, history."""
    with db.transaction() as s:
        case = s.get(Case, number)
        trail = s.scalars(select(CaseEvent.action).where(CaseEvent.tracking_number == number)).all()
        followers = s.scalars(select(Case.tracking_number).where(Case.merged_into == number))
        return {
            "status": case.status,
            "member": case.member_code,
            "station": case.station_code,
            "merged_into": case.merged_into,
            "version": case.version,
            "trail": list(trail),
            "followers": list(followers),
        }


def same_refusal(unknown: dict, hidden: dict, unknown_id: str, hidden_id: str) -> None:
    """The two answers are the same but for the id the caller gave."""
    assert json.loads(json.dumps(hidden).replace(hidden_id, unknown_id)) == unknown


def test_a_station_admin_cannot_merge_into_another_stations_case(service, db):
    before_theirs, before_mine = state(db, "LX9"), state(db, "LX1")
    hidden = error(act(service, "LX1", "merge", GWM_ADMIN, into="LX9"), 400)
    unknown = error(act(service, "LX1", "merge", GWM_ADMIN, into="LX404"), 400)
    assert hidden["code"] == "not_found" and list(hidden["fields"]) == ["into"]
    same_refusal(unknown, hidden, "LX404", "LX9")
    assert "far" not in json.dumps(hidden) and "jnl" not in json.dumps(hidden)
    assert state(db, "LX9") == before_theirs  # status, member, followers: untouched
    mine = state(db, "LX1")
    assert (mine["status"], mine["merged_into"]) == ("assigned", None)
    assert mine["trail"] == before_mine["trail"] + ["merge_refused"] * 2
    # within its station, and for the office anywhere, the merge is done
    assert ok(act(service, "LX2", "merge", GWM_ADMIN, into="LX1"))["merged_into"] == "LX1"
    assert ok(act(service, "LX3", "merge", OFFICE, into="LX9"))["merged_into"] == "LX9"


def test_a_case_that_follows_one_out_of_scope_is_out_of_scope_too(service, db):
    ok(act(service, "LX3", "merge", OFFICE, into="LX9"))  # LX3 (gwm) now follows LX9 (jnl)
    before = state(db, "LX9")
    body = error(act(service, "LX1", "merge", GWM_ADMIN, into="LX3"), 400)
    assert body["code"] == "not_found" and "LX9" not in json.dumps(body)
    assert state(db, "LX9") == before and state(db, "LX1")["merged_into"] is None


def test_a_member_merges_only_into_cases_it_may_see(service, db):
    before = state(db, "LX3")
    hidden = error(act(service, "LX1", "merge", DOC, into="LX3"), 400)  # teacher's, same station
    unknown = error(act(service, "LX1", "merge", DOC, into="LX404"), 400)
    same_refusal(unknown, hidden, "LX404", "LX3")
    assert state(db, "LX3") == before
    assert ok(act(service, "LX2", "merge", DOC, into="LX1"))["merged_into"] == "LX1"


def test_a_transfer_target_must_be_in_scope(service, db):
    before = state(db, "LX1")
    for headers in (GWM_ADMIN, DOC):
        hidden = error(act(service, "LX1", "transfer", headers, note="转", to_member="far"), 400)
        unknown = error(act(service, "LX1", "transfer", headers, note="转", to_member="nope"), 400)
        assert list(hidden["fields"]) == ["to_member"]
        same_refusal(unknown, hidden, "nope", "far")
    assert state(db, "LX1") == before  # refused transfers leave no trace on the case
    assert ok(act(service, "LX1", "transfer", DOC, note="更懂", to_member="teacher"))["member"] == (
        "teacher"
    )
    moved = ok(act(service, "LX2", "transfer", OFFICE, note="属安宁区", to_station="jnl"))
    assert moved["station"] == "jnl" and moved["member"] in ("far", "far2")
    holder = auth_headers(role="member", member=moved["member"])
    colleague = {"far": "far2", "far2": "far"}[moved["member"]]
    # its new member may hand it on at its station (jnl), not back to gwm's members
    assert error(act(service, "LX2", "transfer", holder, note="转", to_member="doc"), 400)
    again = ok(act(service, "LX2", "transfer", holder, note="同站", to_member=colleague))
    assert again["member"] == colleague
    # a referral to another station is open to whoever may act on the case; its rules pick,
    # and the station admin who referred it no longer sees it
    referred = ok(act(service, "LX3", "transfer", GWM_ADMIN, note="属安宁区", to_station="jnl"))
    assert referred["station"] == "jnl" and referred["member"] in ("far", "far2")
    assert error(service.http_case(request("/", GWM_ADMIN), "LX3"), 403)["code"] == "forbidden"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"version": "abc"}, "version"),
        ({"version": 1.5}, "version"),
        ({"version": True}, "version"),
        ({"version": 10**30}, "version"),
        ({"version": -1}, "version"),
        ({"note": ["答复"]}, "note"),
        ({"note": {"zh": "答复"}}, "note"),
        ({"note": 12345}, "note"),
        ({"note": "长" * (inputs.NOTE_MAX + 1)}, "note"),
        ({"to_member": ["teacher"]}, "to_member"),
        ({"to_station": {"code": "jnl"}}, "to_station"),
        ({"into": 10**20}, "into"),
        ({"into": ["LX2"]}, "into"),
        ({"into": "LX" + "9" * 40}, "into"),
        ({"note": "x", "assignee": "far"}, "assignee"),
    ],
)
def test_type_confusion_and_oversize_are_a_400_on_the_field(service, db, body, field):
    before = state(db, "LX1")
    for action in ("respond", "transfer", "merge"):
        answer = error(act(service, "LX1", action, DOC, **body), 400)
        assert answer["code"] == "invalid" and list(answer["fields"]) == [field], answer
        assert all(" / " in m for m in answer["fields"][field])  # Chinese / English
    assert state(db, "LX1") == before


def test_a_60_kb_note_is_refused_and_the_largest_allowed_is_kept(service, db):
    error(act(service, "LX1", "respond", DOC, note="长" * 60_000), 400)
    assert state(db, "LX1")["trail"] == ["assign"]
    assert service.case_status("LX1")["responded_at"] is None
    assert ok(act(service, "LX1", "respond", DOC, note="答" * inputs.NOTE_MAX))["responded_at"]


def test_the_body_actor_is_ignored_and_the_duty_page_body_accepted(service, db):
    body = {"actor": "far", "note": "", "version": state(db, "LX1")["version"]}
    history = ok(act(service, "LX1", "accept", DOC, **body))["history"]
    assert history[-1]["actor"] == "doc"


def test_notices_query_is_checked_and_a_member_sees_only_its_own(service):
    def notices(headers, **query):
        return service.http_notices(request("/notices", headers, **query))

    assert list(error(notices(OFFICE, status="bogus"), 400)["fields"]) == ["status"]
    assert list(error(notices(OFFICE, member="m" * 41), 400)["fields"]) == ["member"]
    listed = ok(notices(DOC, member="far"))["notices"]
    assert listed and {n["member"] for n in listed} == {"doc"}
    assert {n["member"] for n in ok(notices(OFFICE, member="far"))["notices"]} == {"far"}
    assert ok(notices(OFFICE, status=""))["notices"]
    repeated = notices(OFFICE, status=["sent", "pending"])
    assert list(error(repeated, 400)["fields"]) == ["status"]


def test_citizen_actions_with_wrong_types_are_refusals_not_crashes(service, db):
    assert service.citizen_action("LX1", ["rate"])["error"]["code"] == "unknown_action"
    refused = service.citizen_action("LX1", "rate", rating=["satisfied"])["error"]
    assert (refused["code"], refused["field"]) == ("invalid", "rating")
    long = service.citizen_action("LX1", "rate", rating="satisfied", comment="长" * 501)
    assert long["error"]["field"] == "comment"
    assert service.citizen_action(["LX1"], "reopen")["error"]["field"] == "number"
    assert service.case_status(["LX1"]) is None and service.case_status("L" * 100) is None
    assert state(db, "LX1")["trail"] == ["assign"]


def test_one_rule_per_resource():
    office = auth_headers_principal("office")
    admin = auth_headers_principal("station_admin", stations=frozenset({"gwm"}))
    doc = auth_headers_principal("member", member="doc")
    assert access.may_case(office, "jnl", "far")
    assert access.may_case(admin, "gwm", "far") and not access.may_case(admin, "jnl", "doc")
    assert access.may_case(doc, "jnl", "doc") and not access.may_case(doc, "gwm", "far")
    assert not access.may_station(doc, "gwm") and not access.may_member(admin, "doc")


def auth_headers_principal(role, **scope):
    from services.kernel.auth import Principal

    return Principal(account=f"t-{role}", role=role, **scope)


def test_member_and_station_codes_in_the_path_are_checked_and_bounded(service, db):
    def put(code, body, headers=OFFICE):
        path = f"/members/{code}/notifications"
        return service.http_put_notifications(request(path, headers, "PUT", body), code)

    # the office writes settings only for a member routing knows; no row for a made-up code
    assert error(put("nobody", {"channel": "none"}), 404)["code"] == "not_found"
    assert error(put("m" * 41, {"channel": "none"}), 404)["code"] == "not_found"
    assert error(put("far", {"channel": "none"}, DOC), 403)["code"] == "forbidden"
    long_station = "s" * 41
    response = service.http_station_cases(request("/", OFFICE), long_station)
    assert error(response, 404)["code"] == "not_found"
    response = service.http_duty_list(request("/", OFFICE), "m" * 41)
    assert error(response, 404)["code"] == "not_found"
    for body, field in (
        ({"channel": ["sms"]}, "channel"),
        ({"channel": "sms", "address": ["138"]}, "address"),
        ({"channel": "email", "address": "a@b.cn", "digest": "often"}, "digest"),
        ({"channel": "none", "quiet_from": 2200, "quiet_to": "07:00"}, "quiet_from"),
        ({"channel": "email", "address": "a@b.cn" + "x" * 200}, "address"),
        ({"channel": "none", "phone": "138"}, "phone"),
    ):
        answer = error(put("doc", body, DOC), 400)
        assert list(answer["fields"]) == [field], answer
        assert all(" / " in m for m in answer["fields"][field]), answer
    assert ok(service.http_get_notifications(request("/", DOC), "doc"))["channel"] == "none"


def _value(rng, depth=0):
    """One JSON value of a random type: what a confused or hostile client might send."""
    kinds = ["str", "long", "int", "huge", "float", "bool", "null", "list", "dict"]
    kind = rng.choice(kinds if depth < 3 else kinds[:7])
    return {
        "str": lambda: rng.choice(["", " ", "LX1", "LX9", "far", "teacher", "jnl", "<b>", "答复"]),
        "long": lambda: "长" * rng.choice([2001, 5000]),
        "int": lambda: rng.choice([-1, 0, 1, 2, 3]),
        "huge": lambda: rng.choice([2**31, 10**20, -(10**30)]),
        "float": lambda: rng.choice([1.5, 1e300, -0.0]),
        "bool": lambda: rng.choice([True, False]),
        "null": lambda: None,
        "list": lambda: [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))],
        "dict": lambda: {"k": _value(rng, depth + 1)},
    }[kind]()


def test_generated_bodies_never_give_a_500_and_always_the_one_format(service, db):
    """A fixed-seed fuzz of the action bodies: every answer is 200, or a 4xx in the one format,
    and the other station's case is never reached."""
    import random

    rng = random.Random(20)
    keys = ["note", "to_member", "to_station", "into", "version", "actor", "rating", "x"]
    for _ in range(400):
        body = {k: _value(rng) for k in rng.sample(keys, rng.randint(0, 4))}
        action = rng.choice(
            ["accept", "respond", "resolve", "close_unresolved", "transfer", "merge"]
        )
        headers = rng.choice([DOC, GWM_ADMIN])  # neither may touch LX9 (jnl, far's)
        response = act(service, rng.choice(["LX1", "LX2"]), action, headers, **body)
        if response.status_code != 200:
            assert 400 <= response.status_code < 500, (body, response.get_data(as_text=True))
            error(response, response.status_code)
    theirs = state(db, "LX9")
    assert (theirs["status"], theirs["member"], theirs["followers"]) == ("assigned", "far", [])
