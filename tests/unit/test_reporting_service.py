"""The reporting service class without a container (nameko's ``worker_factory``): who may read
the figures, and a bad month, year, range or breakdown answered in the one error format before
anything is read. The end-to-end tests keep what needs the whole stack."""

import pytest
from nameko.testing.services import worker_factory

from services.reporting import queries
from services.reporting.service import ReportingService
from services.reporting.settings import ReportingSettings
from tests.conftest import auth_headers
from tests.unit.workers import error, request

OFFICE = auth_headers(role="office")
STATION_ADMIN = auth_headers(role="station_admin", stations=["gwm"])
MEMBER = auth_headers(role="member", member="m1")


@pytest.fixture
def service():
    # config {}: tokens signed with the development key, as auth_headers(None) signs them
    return worker_factory(ReportingService, config={}, settings=ReportingSettings())


@pytest.mark.parametrize(
    "entrypoint, path",
    [
        ("http_monthly", "/stats/monthly"),
        ("http_range", "/stats/range"),
        ("http_yearly", "/stats/yearly"),
        ("http_workbook", "/stats/monthly.xlsx"),
        ("http_csv", "/stats/monthly.csv"),
        ("http_reconciliation", "/reconciliation"),
    ],
)
def test_a_member_may_not_read_the_figures(service, entrypoint, path):
    response = getattr(service, entrypoint)(request(path, MEMBER, month="2024-03"))
    assert error(response, 403)["code"] == "forbidden"
    service.db.transaction.assert_not_called()


def test_nobody_signed_in_is_refused_and_the_dashboard_sends_to_sign_in(service):
    assert error(service.http_monthly(request("/stats/monthly")), 401)["code"] == "not_signed_in"
    page = service.http_dashboard(request("/dashboard"))
    assert page.status_code == 303
    assert "/sign-in" in page.headers["Location"]


def test_reconciliation_is_for_the_office_only(service):
    response = service.http_reconciliation(request("/reconciliation", STATION_ADMIN))
    assert error(response, 403)["code"] == "forbidden"


@pytest.mark.parametrize("month", ["2024-13", "2024-3", "March"])
def test_a_bad_month_names_the_field(service, month):
    for entrypoint in ("http_monthly", "http_workbook", "http_csv"):
        response = getattr(service, entrypoint)(request("/stats", OFFICE, month=month))
        body = error(response, 400)
        assert body["code"] == "invalid"
        assert list(body["fields"]) == ["month"]
    service.db.transaction.assert_not_called()


def test_a_bad_breakdown_names_the_field_and_its_choices(service):
    for entrypoint in ("http_monthly", "http_range", "http_csv"):
        response = getattr(service, entrypoint)(
            request("/stats", STATION_ADMIN, month="2024-03", breakdown="planet")
        )
        body = error(response, 400)
        assert list(body["fields"]) == ["breakdown"]
        assert "station" in body["fields"]["breakdown"][0]
    service.db.transaction.assert_not_called()


def test_a_bad_year_names_the_field(service):
    for year in ("", "24", "1999", "twenty"):
        body = error(service.http_yearly(request("/stats/yearly", OFFICE, year=year)), 400)
        assert list(body["fields"]) == ["year"]


def test_a_bad_range_names_every_bad_field_at_once(service):
    response = service.http_range(request("/stats/range", OFFICE, to="2024-02-30"))
    body = error(response, 400)
    assert body["fields"]["from"] == ["必填 / required"]
    assert "2024-02" in body["fields"]["to"][0]
    backwards = request("/stats/range", OFFICE, **{"from": "2024-05", "to": "2024-03"})
    assert list(error(service.http_range(backwards), 400)["fields"]) == ["to"]
    service.db.transaction.assert_not_called()


def test_a_bad_month_on_the_dashboard_is_a_page_saying_why(service):
    page = service.http_dashboard(request("/dashboard", OFFICE, month="2024-13"))
    assert page.status_code == 400
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "没有 13 月" in html
    # the office's own typo: a way back to the dashboard, not "sign in as someone else"
    assert 'href="/dashboard">返回 / back' in html and "sign in as someone else" not in html


def test_one_breakdown_answers_the_month_and_that_breakdown_only(service, monkeypatch):
    report = {"month": "2024-03", "city": {"issues_received": 3}, "station": {"gwm": {"x": 1}}}
    monkeypatch.setattr(queries, "monthly", lambda session, month: {**report, "month": month})
    response = service.http_monthly(
        request("/stats/monthly", STATION_ADMIN, month="2024-03", breakdown="station")
    )
    assert response.status_code == 200
    assert response.json == {"month": "2024-03", "station": {"gwm": {"x": 1}}}
    empty = service.http_monthly(request("/stats/monthly", OFFICE, breakdown="sector"))
    assert set(empty.json) == {"month", "sector"} and empty.json["sector"] == {}


def test_reconciliation_says_which_service_did_not_answer(service, monkeypatch):
    monkeypatch.setattr(
        queries, "own_counts", lambda session: {"issues": 2, "unknown_events": {"x.y": 1}}
    )
    service.intake_rpc.status.call_async.side_effect = ConnectionError("down")
    service.routing_rpc.status.call_async.side_effect = ConnectionError("down")
    answer = service.http_reconciliation(request("/reconciliation", OFFICE)).json
    assert answer["holds"] is None
    assert answer["unavailable"] == ["intake", "routing"]
    assert answer["unknown_events"] == {"total": 1, "by_type": {"x.y": 1}}


def test_settings_are_parsed_once_with_their_defaults():
    assert ReportingSettings.from_config({}) == ReportingSettings(5.0, 12)
    parsed = ReportingSettings.from_config({"SERVICE": {"peer_timeout_s": "2", "trend_months": 6}})
    assert (parsed.peer_timeout_s, parsed.trend_months) == (2.0, 6)
