"""The routing service class without a container (nameko's ``worker_factory``): who may see and
act on cases, and bad input or a refused action answered in the one error format, on a real
(SQLite) routing database. The end-to-end tests keep what needs the whole stack."""

import json

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import select
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.routing.lifecycle import CaseError
from services.routing.models import Case, CaseEvent
from services.routing.service import RoutingService
from services.routing.settings import NotifySettings, RoutingSettings
from tests.conftest import auth_headers
from tests.unit.test_routing_rules import issue, member
from tests.unit.workers import Db, error, request

OFFICE = auth_headers(role="office")
DOC = auth_headers(role="member", member="doc")
TEACHER = auth_headers(role="member", member="teacher")
GWM_ADMIN = auth_headers(role="station_admin", stations=["gwm"])
JNL_ADMIN = auth_headers(role="station_admin", stations=["jnl"])


@pytest.fixture
def db(migrated):
    db = Db(migrated("routing"))
    with db.transaction() as s:
        member(s, "lead", "jingji", role="lead")
        member(s, "doc", "yiyao")
        member(s, "teacher", "jiaoyu")
        issue(s, "LX1", member_hint="doc")  # assigned to doc, at station gwm
        issue(s, "LX2", member_hint="doc")
    return db


@pytest.fixture
def service(db):
    # config {}: tokens signed with the development key, as auth_headers(None) signs them
    return worker_factory(RoutingService, config={}, db=db, settings=RoutingSettings())


def act(service, number, action, headers=DOC, **body):
    path = f"/cases/{number}/actions/{action}"
    return service.http_act(request(path, headers, "POST", body), number, action)


def ok(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def trail(db, number):
    with db.transaction() as s:
        return [
            e.action
            for e in s.scalars(
                select(CaseEvent).where(CaseEvent.tracking_number == number).order_by(CaseEvent.id)
            )
        ]


def test_nobody_signed_in_is_refused_and_a_page_sends_to_sign_in(service):
    assert error(service.http_case(request("/cases/LX1"), "LX1"), 401)["code"] == "not_signed_in"
    page = service.page_duty(request("/duty/doc"), "doc")
    assert page.status_code == 303 and "/sign-in" in page.headers["Location"]


def test_a_wrong_role_is_refused_before_anything_is_read():
    service = worker_factory(RoutingService, config={}, settings=RoutingSettings())
    response = service.http_duty_list(request("/members/doc/cases", GWM_ADMIN), "doc")
    assert error(response, 403)["code"] == "forbidden"
    response = service.http_station_cases(request("/stations/gwm/cases", DOC), "gwm")
    assert error(response, 403)["code"] == "forbidden"
    page = service.page_station(request("/duty/station/gwm", DOC), "gwm")
    assert page.status_code == 403 and "text/html" in page.content_type
    service.db.transaction.assert_not_called()


def test_scope_a_member_sees_their_own_a_station_admin_their_station(service):
    assert error(service.http_duty_list(request("/", TEACHER), "doc"), 403)["code"] == "forbidden"
    duty = ok(service.http_duty_list(request("/", DOC), "doc"))["cases"]
    assert [c["tracking_number"] for c in duty] == ["LX1", "LX2"]
    assert error(service.http_station_cases(request("/", JNL_ADMIN), "gwm"), 403)
    assert len(ok(service.http_station_cases(request("/", GWM_ADMIN), "gwm"))["cases"]) == 2
    assert error(service.http_case(request("/", TEACHER), "LX1"), 403)["code"] == "forbidden"
    assert ok(service.http_case(request("/", GWM_ADMIN), "LX1"))["member"] == "doc"
    assert error(service.http_case(request("/", OFFICE), "LX404"), 404)["code"] == "not_found"


def test_acting_on_someone_elses_case_is_refused_and_changes_nothing(service, db):
    assert error(act(service, "LX1", "accept", TEACHER), 403)["code"] == "forbidden"
    assert trail(db, "LX1") == ["assign"]


def test_bad_body_unknown_action_and_unknown_case(service):
    path = "/cases/LX1/actions/accept"
    bad = Request(
        EnvironBuilder(
            path=path, method="POST", headers=DOC, data="{not json", content_type="application/json"
        ).get_environ()
    )
    assert error(service.http_act(bad, "LX1", "accept"), 400)["code"] == "bad_json"
    body = error(act(service, "LX1", "rate"), 404)  # a citizen's action, not over HTTP
    assert body["code"] == "unknown_action" and body["fields"] == {}
    assert error(act(service, "LX404", "accept"), 404)["code"] == "not_found"


def test_a_refused_action_answers_in_the_one_format_with_its_field(service):
    body = error(act(service, "LX1", "resolve", note="x"), 409)
    assert body["code"] == "illegal_transition" and body["fields"] == {}
    body = error(act(service, "LX1", "respond", note="  "), 400)
    assert body["code"] == "missing" and list(body["fields"]) == ["note"]
    assert body["fields"]["note"] == [f"{body['message_zh']} / {body['message']}"]
    body = error(act(service, "LX1", "transfer", note="换人", to_member="nobody"), 400)
    assert body["code"] == "not_found" and list(body["fields"]) == ["to_member"]


def test_a_stale_version_is_refused_and_a_fresh_one_acts(service, db):
    body = error(act(service, "LX1", "accept", version="two"), 400)
    assert body["code"] == "invalid" and list(body["fields"]) == ["version"]
    assert trail(db, "LX1") == ["assign"]
    version = ok(service.http_case(request("/", DOC), "LX1"))["version"]
    assert ok(act(service, "LX1", "accept", version=version))["status"] == "accepted"
    assert error(act(service, "LX1", "respond", note="答复", version=version), 409)["code"] == (
        "stale"
    )


def test_a_refused_merge_is_kept_in_the_audit_trail(service, db):
    body = error(act(service, "LX1", "merge", into="LX1"), 400)
    assert body["code"] == "merge_self" and list(body["fields"]) == ["into"]
    assert trail(db, "LX1") == ["assign", "merge_refused"]
    assert ok(act(service, "LX2", "merge", into="LX1"))["merged_into"] == "LX1"
    with db.transaction() as s:
        assert s.get(Case, "LX2").status == "merged"


def test_notification_settings_bad_body_names_the_fields(service):
    path = "/members/doc/notifications"
    response = service.http_put_notifications(
        request(path, DOC, "PUT", {"channel": "email", "address": "no-at-sign"}), "doc"
    )
    body = error(response, 400)
    assert body["code"] == "invalid" and list(body["fields"]) == ["address"]
    response = service.http_put_notifications(request(path, DOC, "PUT", {"channel": "fax"}), "doc")
    assert list(error(response, 400)["fields"]) == ["channel"]
    assert error(service.http_put_notifications(request(path, TEACHER, "PUT", {}), "doc"), 403)
    saved = {"channel": "sms", "address": "13800001234"}
    response = service.http_put_notifications(request(path, DOC, "PUT", saved), "doc")
    assert ok(response) == {
        "member": "doc",
        "channel": "sms",
        "address": ok(response)["address"],  # masked
        "quiet_from": None,
        "quiet_to": None,
        "digest": False,
    }
    assert ok(response)["address"] != "13800001234"


def test_citizen_actions_over_rpc_answer_refusals_as_data(service):
    assert service.citizen_action("LX1", "accept") == {
        "error": {
            "code": "unknown_action",
            "message_zh": "不支持的操作: accept",
            "message": "unknown action: accept",
        }
    }
    refused = service.citizen_action("LX1", "rate", rating="great")["error"]
    assert refused["code"] == "illegal_transition" and refused["field"] is None
    assert service.case_status("LX404") is None
    status = service.case_status("LX1")
    assert status["status"] == "assigned" and "member" not in status


def test_a_case_error_is_an_api_error_with_its_field():
    err = CaseError("missing", "请填写答复内容", "the reply is required", 400, "note")
    assert (err.code, err.status, err.field) == ("missing", 400, "note")
    assert str(err) == "请填写答复内容 / the reply is required"
    body = json.loads(err.response().get_data(as_text=True))["error"]
    assert body["fields"] == {"note": ["请填写答复内容 / the reply is required"]}
    assert CaseError("stale", "z", "e").status == 409


def test_settings_are_typed_with_defaults_in_one_place():
    assert RoutingSettings.from_config({"SERVICE": {}}) == RoutingSettings()
    config = {
        "SERVICE": {
            "reopen_window_days": "7",
            "reopen_on_unsatisfied": False,
            "due_soon_hours": 12,
            "notify": {"smtp_host": "", "smtp_port": "2525", "retry_s": [1, 2]},
        }
    }
    settings = RoutingSettings.from_config(config)
    assert (settings.reopen_window_days, settings.reopen_on_unsatisfied) == (7, False)
    assert settings.due_soon_hours == 12.0 and settings.deadline_check_s == 60
    assert settings.notify == NotifySettings(smtp_port=2525, retry_s=(1, 2))


def test_the_station_list_narrows_by_status_member_category_and_overdue(service, db):
    with db.transaction() as s:
        issue(s, "LX3", category="hazard", member_hint="teacher")
        s.get(Case, "LX2").colour = "red"  # the deadline job found it overdue

    def numbers(**query):
        found = ok(service.http_station_cases(request("/", GWM_ADMIN, **query), "gwm"))["cases"]
        return sorted(c["tracking_number"] for c in found)

    assert numbers() == ["LX1", "LX2", "LX3"]
    assert numbers(member="teacher") == ["LX3"]
    assert numbers(category="hazard") == ["LX3"]
    assert numbers(overdue="true") == ["LX2"]
    assert numbers(status="assigned", member="doc") == ["LX1", "LX2"]
    assert numbers(status="resolved") == []
    bad = error(
        service.http_station_cases(request("/", GWM_ADMIN, status="x", overdue="2"), "gwm"), 400
    )
    assert set(bad["fields"]) == {"status", "overdue"}
    page = service.page_station(request("/duty/station/gwm", GWM_ADMIN, member="teacher"), "gwm")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "LX3" in text and "LX1" not in text
    assert 'value="teacher" selected' in text  # the form says what is shown
    assert "teacher（teacher）" in text and "data-action=transfer" in text
