"""The intake service class without a container (nameko's ``worker_factory``): who may enter
issues and activities or read issues, and bad bodies, integers and forms answered in the one
error format (or, on the citizen's pages, as a page) before anything is stored or sent. The
end-to-end tests keep what needs the whole stack."""

import json
from contextlib import contextmanager

import pytest
from nameko.testing.services import worker_factory

from services.intake import known
from services.intake.dependencies import NotQueued
from services.intake.service import ACTIVITY_NOT_QUEUED, IntakeService
from services.intake.settings import IntakeSettings
from tests.conftest import auth_headers
from tests.unit.workers import error, request

OFFICE = auth_headers(role="office")
GWM_ADMIN = auth_headers(role="station_admin", stations=["gwm"])
MEMBER = auth_headers(role="member", member="m003")


@pytest.fixture
def service():
    # config {}: tokens signed with the development key, as auth_headers(None) signs them
    return worker_factory(IntakeService, config={}, settings=IntakeSettings())


@pytest.fixture
def with_db(service, session_of):
    """The service's ``db`` answering with a real (migrated SQLite) intake session."""
    session = session_of("intake")
    with session.begin():
        known.apply_event(
            session,
            {
                "type": "registry.station_saved",
                "occurred_at": "2026-11-27T08:00:00+00:00",
                "payload": {
                    "code": "gwm",
                    "name": "广武门街道委员工作站",
                    "district": "城关区",
                    "active": True,
                    "revision": 1,
                },
            },
        )

    @contextmanager
    def transaction():
        with session.begin():
            yield session

    service.db.transaction.side_effect = transaction
    return service


def test_a_member_may_not_enter_an_issue(service):
    body = json.dumps({"station": "gwm", "category": "health", "description": "路灯坏了"})
    response = service.staff_issue(request("/staff/issues", MEMBER, "POST", body))
    assert error(response, 403)["code"] == "forbidden"
    service.channel.submit.assert_not_called()


def test_a_station_admin_enters_issues_at_its_own_station_only(service):
    body = json.dumps({"station": "jql", "category": "health", "description": "路灯坏了"})
    response = service.staff_issue(request("/staff/issues", GWM_ADMIN, "POST", body))
    assert error(response, 403)["code"] == "forbidden"
    service.db.transaction.assert_not_called()
    service.channel.submit.assert_not_called()


@pytest.mark.parametrize(
    "body, field",
    [
        ("{not json", "_body"),
        ("[1, 2]", "_body"),
        ("[" * 5000 + "]" * 5000, "_body"),
        ('{"a": NaN}', "_body"),
    ],
)
def test_a_bad_body_is_answered_with_the_field(service, body, field):
    response = service.staff_issue(request("/staff/issues", OFFICE, "POST", body))
    got = error(response, 400)
    assert got["code"] == "bad_json" and list(got["fields"]) == [field]
    service.channel.submit.assert_not_called()


def test_a_staff_issue_missing_fields_names_each_in_chinese_and_english(service):
    body = json.dumps({"station": "gwm"})
    response = service.staff_issue(request("/staff/issues", OFFICE, "POST", body))
    got = error(response, 400)
    assert got["code"] == "invalid"
    assert {"category", "description"} <= set(got["fields"])
    assert all(" / " in m for messages in got["fields"].values() for m in messages)
    service.channel.submit.assert_not_called()


def test_a_body_over_the_cap_is_413(service):
    body = json.dumps({"description": "长" * 70_000})
    response = service.staff_issue(request("/staff/issues", OFFICE, "POST", body))
    assert error(response, 413)["code"] == "too_large"


def test_a_broker_that_did_not_confirm_is_503_and_says_the_activity_is_kept(with_db):
    service = with_db
    service.channel.publish.side_effect = lambda m, note=None: (_ for _ in ()).throw(
        NotQueued("no confirm", note)
    )
    body = json.dumps(
        {
            "kind": "reception_day",
            "station": "gwm",
            "date": "2026-11-20",
            "people_served": 3,
            "issues": [{"category": "health", "description": "慢病复诊难"}],
        }
    )
    response = service.staff_activity(request("/staff/activities", OFFICE, "POST", body))
    got = error(response, 503)
    assert got["code"] == "not_queued" and got["fields"] == {"_body": [ACTIVITY_NOT_QUEUED]}


@pytest.mark.parametrize("limit", ["abc", "-1", "1.5"])
def test_a_bad_limit_names_the_field(service, limit):
    for entrypoint, path in (
        ("http_submissions", "/submissions"),
        ("http_audit", "/admin/audit"),
        ("http_unrouted", "/admin/unrouted"),
        ("http_activities", "/activities"),
    ):
        response = getattr(service, entrypoint)(request(path, OFFICE, limit=limit))
        got = error(response, 400)
        assert got["code"] == "invalid" and list(got["fields"]) == ["limit"]
    service.db.transaction.assert_not_called()


def test_the_admin_lists_are_for_the_office_only(service):
    for entrypoint, path in (
        ("http_submissions", "/submissions"),
        ("http_audit", "/admin/audit"),
        ("http_unrouted", "/admin/unrouted"),
        ("http_replay_unrouted", "/admin/unrouted/replay"),
    ):
        response = getattr(service, entrypoint)(request(path, GWM_ADMIN))
        assert error(response, 403)["code"] == "forbidden"
    service.db.transaction.assert_not_called()


def test_a_station_admin_lists_activities_of_one_of_its_stations(service):
    for query in ({}, {"station": "jql"}):
        response = service.http_activities(request("/activities", GWM_ADMIN, **query))
        assert error(response, 403)["code"] == "forbidden"
    service.db.transaction.assert_not_called()


def test_an_issue_of_another_station_is_refused_and_an_unknown_one_is_404(with_db):
    service = with_db
    response = service.http_issue(request("/issues/LX1", GWM_ADMIN), "LX1")
    assert error(response, 404)["code"] == "not_found"
    response = service.staff_similar(request("/staff/issues/LX1/similar", GWM_ADMIN), "LX1")
    assert error(response, 404)["code"] == "not_found"
    response = service.http_issue(request("/issues/LX1", MEMBER), "LX1")
    assert error(response, 403)["code"] == "forbidden"  # the role, before any look-up


def test_the_contact_is_refused_a_bad_body_before_anything_is_logged(service):
    response = service.http_issue_contact(
        request("/issues/LX1/contact", OFFICE, "POST", "{not json"), "LX1"
    )
    assert error(response, 400)["fields"].keys() == {"_body"}
    service.db.transaction.assert_not_called()


def test_nobody_signed_in_is_refused(service):
    response = service.staff_issue(request("/staff/issues", None, "POST", "{}"))
    assert error(response, 401)["code"] == "not_signed_in"


def test_an_unknown_qr_code_is_a_404_page(with_db):
    response = with_db.qr_form(request("/q/station/nope"), "station", "nope")
    assert response.status_code == 404 and response.content_type.startswith("text/html")
    response = with_db.qr_form(request("/q/planet/gwm"), "planet", "gwm")
    assert response.status_code == 404


def test_a_qr_form_without_its_csrf_token_is_shown_again_with_403(with_db):
    form = {
        "station": "gwm",
        "category": "health",
        "description": "路灯坏了",
        "submission_id": "s1",
    }
    response = with_db.qr_submit(
        request("/q/station/gwm", method="POST", data=form), "station", "gwm"
    )
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "路灯坏了" in page  # what the citizen wrote is kept
    with_db.channel.submit.assert_not_called()


def test_open311_refuses_a_wrong_key_and_an_unknown_format(with_db):
    service = with_db
    form = {"api_key": "guess", "service_code": "health", "description": "路灯坏了"}
    response = service.open311_post(
        request("/open311/v2/requests.json", method="POST", data=form), "json"
    )
    assert response.status_code == 403
    assert json.loads(response.get_data()) == [
        {"code": 403, "description": "api_key 无效 / invalid api_key"}
    ]
    response = service.open311_services(request("/open311/v2/services.yaml"), "yaml")
    assert response.status_code == 404
    service.channel.submit.assert_not_called()


def test_the_status_api_needs_both_halves(with_db):
    response = with_db.status_json(request("/api/status", number="LX1"))
    assert error(response, 404)["code"] == "not_found"


def test_staff_bad_requests_say_which_field_schema_first_then_codes_unknown(with_db):
    service = with_db
    bad = {
        "station": "nowhere",
        "channel": "pigeon",
        "category": "hazard",
        "description": "x" * 4001,
        "member": "m999",
        "colour": "red",
    }
    response = service.staff_issue(request("/staff/issues", OFFICE, "POST", json.dumps(bad)))
    fields = error(response, 400)["fields"]
    assert set(fields) == {"channel", "description", "colour"}  # schema first
    assert fields["colour"] == ["未知字段 / unknown field"]
    unknown = {"station": "nowhere", "category": "hazard", "description": "x", "member": "m999"}
    response = service.staff_issue(request("/staff/issues", OFFICE, "POST", json.dumps(unknown)))
    assert set(error(response, 400)["fields"]) == {"station", "member"}
    service.channel.submit.assert_not_called()


def test_a_gbk_body_must_say_its_charset(service):
    gbk = json.dumps({"station": "jnl", "description": "来信：路灯不亮"}, ensure_ascii=False)
    response = service.staff_issue(request("/staff/issues", OFFICE, "POST", gbk.encode("gbk")))
    assert "UTF-8" in error(response, 400)["fields"]["_body"][0]
    service.db.transaction.assert_not_called()
