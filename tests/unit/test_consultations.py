"""Consultations (有事好商量, services/routing/consultations.py): the rules and their one scope
rule on a real (SQLite) database, through the service's routes (nameko's worker_factory)."""

import json

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import func, select

from services.kernel.db import make_engine
from services.kernel.migrations import upgrade
from services.kernel.models import OutboxMessage
from services.routing import actions, views
from services.routing.consultation_models import Consultation
from services.routing.models import CaseEvent
from services.routing.service import RoutingService
from services.routing.settings import RoutingSettings
from tests.conftest import auth_headers
from tests.unit.test_routing_rules import feed, issue, member
from tests.unit.workers import Db, error, request

OFFICE = auth_headers(role="office")
GWM_ADMIN = auth_headers(role="station_admin", stations=["gwm"], account="gwm-clerk")
JNL_ADMIN = auth_headers(role="station_admin", stations=["jnl"])
ST1_ADMIN = auth_headers(role="studio_admin", studios=["st1"])
AGREEMENT = "五家单位议定：护坡外来雨污水管道由产权单位本月内改线，社区监督。"


def place(s, kind, code, district):
    payload = {"code": code, "name": f"{code}站", "district": district, "active": True}
    if kind == "studio":
        payload |= {"location": "", "sectors": ["minjian"]}
    feed(s, f"registry.{kind}_saved", {**payload, "kind": "street", "revision": 1})


@pytest.fixture
def db(db_url):
    """On SQLite and PostgreSQL (``db_url``): the year filter and the JSON lists on both."""
    upgrade("routing", db_url)
    engine = make_engine(db_url)
    db = Db(engine)
    with db.transaction() as s:
        place(s, "station", "gwm", "城关区")
        place(s, "station", "jnl", "安宁区")
        place(s, "studio", "st1", "安宁区")
        member(s, "doc", "yiyao")
        member(s, "xie", "minjian", station="jnl")
        for n in ("LX1", "LX2", "LX3", "LX4"):
            issue(s, n, member_hint="doc")
        issue(s, "LX9", station="jnl", member_hint="xie")
        actions.act(s, "LX2", "respond", "doc", note="已转交护坡产权单位")
        actions.act(s, "LX3", "respond", "doc", note="已修")
        actions.act(s, "LX3", "resolve", "doc", note="已修")
    yield db
    engine.dispose()


@pytest.fixture
def service(db):
    return worker_factory(RoutingService, config={}, db=db, settings=RoutingSettings())


def body(**change):
    return {
        "topic": "建宁路护坡雨污水管道隐患",
        "station": "gwm",
        "date": "2024-06-12",
        "units_invited": ["区住建局", "街道办", "产权单位", "排水公司", "社区"],
        "units_present": ["区住建局", "街道办", "产权单位", "排水公司", "社区"],
        "members": ["doc"],
        "agreement": AGREEMENT,
        "follow_up_owner": "建宁路社区 王主任",
        "cases": ["LX4"],
        "settled": ["LX1", "LX2"],
        **change,
    }


def record(service, headers=GWM_ADMIN, **change):
    return service.http_record_consultation(
        request("/consultations", headers, "POST", body(**change))
    )


def answer(response, status=200):
    assert response.status_code == status, response.get_data(as_text=True)[:400]
    return json.loads(response.get_data(as_text=True))


def outbox(db):
    with db.transaction() as s:
        return [
            json.loads(m.body) for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]


def nothing_recorded(db, before: int):
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Consultation)) == 0
        assert s.get(views.Case, "LX1").status == "assigned"
    assert len(outbox(db)) == before


def test_a_station_records_a_consultation_that_settles_two_cases(service, db):
    before = len(outbox(db))
    c = answer(record(service), 201)
    assert c["cases"] == ["LX1", "LX2", "LX4"] and c["settled"] == ["LX1", "LX2"]
    assert c["district"] == "城关区" and c["date"] == "2024-06-12" and c["actor"] == "gwm-clerk"
    assert c["case_status"] == {"LX1": "resolved", "LX2": "resolved", "LX4": "assigned"}
    sent = outbox(db)[before:]
    assert [e["type"] for e in sent] == [
        "routing.consultation_recorded",
        "routing.issue_responded",  # LX1 had no reply yet: the agreement is its first answer
        "routing.issue_resolved",
        "routing.issue_resolved",
    ]
    payload = sent[0]["payload"]
    assert set(payload) == {
        "consultation_id", "topic", "station", "studio", "district", "date", "units_invited",
        "units_present", "members", "agreement", "follow_up_owner", "cases", "settled", "actor",
        "recorded_at",
    }  # fmt: skip
    assert payload["studio"] is None and payload["members"] == ["doc"]
    assert payload["settled"] == ["LX1", "LX2"] and payload["units_present"][2] == "产权单位"
    for e in sent[1:]:
        assert e["payload"]["answer"] == AGREEMENT and e["payload"]["actor"] == "gwm-clerk"
    with db.transaction() as s:
        steps = [
            (e.action, e.note)
            for e in s.scalars(select(CaseEvent).where(CaseEvent.tracking_number == "LX1"))
        ]
        assert steps[-3:] == [
            ("consult_settled", f"协商 #{c['consultation_id']}：建宁路护坡雨污水管道隐患"),
            ("respond", AGREEMENT),
            ("resolve", AGREEMENT),
        ]
        assert s.get(views.Case, "LX1").resolved_at is not None
        linked = s.scalars(select(CaseEvent.action).where(CaseEvent.tracking_number == "LX4"))
        assert list(linked)[-1] == "consult_linked"
    # a member's duty list no longer has them; the case page links to the consultation
    page = service.page_office_case(request("/", OFFICE), "LX1").get_data(as_text=True)
    assert "协商议定" in page and f"../../consultations/{c['consultation_id']}/page" in page


def test_another_stations_case_answers_exactly_as_an_unknown_one(service, db):
    before = len(outbox(db))
    hidden = error(record(service, settled=["LX1", "LX9"]), 400)
    unknown = error(record(service, settled=["LX1", "LX0"]), 400)
    assert hidden["code"] == "not_found" and list(hidden["fields"]) == ["settled"]
    assert json.dumps(hidden).replace("LX9", "LX0") == json.dumps(unknown)
    linked = error(record(service, cases=["LX9"]), 400)
    assert linked["code"] == "not_found" and list(linked["fields"]) == ["cases"]
    nothing_recorded(db, before)
    # the office reaches every station's case
    assert answer(record(service, OFFICE, settled=["LX1", "LX9"]), 201)["settled"] == ["LX1", "LX9"]


def test_the_convener_must_be_in_scope_and_known(service, db):
    before = len(outbox(db))
    assert list(error(record(service, station="jnl"), 400)["fields"]) == ["station"]
    assert list(error(record(service, OFFICE, station="nowhere"), 400)["fields"]) == ["station"]
    studio = error(record(service, station=None, studio="st1"), 400)
    assert studio["code"] == "not_found" and list(studio["fields"]) == ["studio"]
    both = error(record(service, studio="st1"), 400)
    assert both["code"] == "invalid" and "station" in both["fields"]
    nothing_recorded(db, before)


def test_a_studio_admin_settles_its_members_cases_only(service, db):
    with db.transaction() as s:
        feed(
            s,
            "registry.member_saved",
            {"code": "xie", "name": "谢东峰", "level": "municipal", "sector": "minjian",
             "district": "安宁区", "active": True, "revision": 2,
             "stations": [{"station": "jnl", "role": "member"}],
             "studios": [{"studio": "st1", "role": "member"}]},
        )  # fmt: skip
    mine = dict(station=None, studio="st1", members=["xie"], cases=[])
    assert error(record(service, ST1_ADMIN, **mine, settled=["LX1"]), 400)["fields"] == {
        "settled": ["未找到案件 LX1 / no case LX1"]
    }
    c = answer(record(service, ST1_ADMIN, **mine, settled=["LX9"]), 201)
    assert c["studio"] == "st1" and c["district"] == "安宁区" and c["settled"] == ["LX9"]


def test_a_closed_case_cannot_be_settled_and_bad_fields_are_named(service, db):
    before = len(outbox(db))
    closed = error(record(service, settled=["LX1", "LX3"]), 409)
    assert closed["code"] == "not_open" and list(closed["fields"]) == ["settled"]
    assert list(error(record(service, members=["doc", "ghost"]), 400)["fields"]) == ["members"]
    assert list(error(record(service, date="2999-01-01"), 400)["fields"]) == ["date"]
    assert list(error(record(service, date="12/06/2024"), 400)["fields"]) == ["date"]
    bad = error(record(service, agreement=None, topic="x" * 201, extra=1), 400)
    assert set(bad["fields"]) == {"agreement", "topic", "extra"}
    assert list(error(record(service, agreement="  "), 400)["fields"]) == ["agreement"]
    assert list(error(record(service, cases=[], settled=[]), 400)["fields"]) == ["cases"]
    assert list(error(record(service, members="doc"), 400)["fields"]) == ["members"]
    assert list(error(record(service, members=[None]), 400)["fields"]) == ["members"]
    assert list(error(record(service, date=20240612), 400)["fields"]) == ["date"]
    not_an_object = request("/consultations", GWM_ADMIN, "POST", ["LX1"])
    assert error(service.http_record_consultation(not_an_object), 400)["code"] == "bad_json"
    nothing_recorded(db, before)


def test_reads_have_the_same_scope_and_filters(service, db):
    gwm = answer(record(service), 201)["consultation_id"]
    jnl = answer(record(service, OFFICE, station="jnl", members=["xie"], cases=["LX9"],
                        settled=[], date="2026-01-05"), 201)["consultation_id"]  # fmt: skip

    def ids(headers, **query):
        r = service.http_consultations(request("/consultations", headers, **query))
        return [c["consultation_id"] for c in answer(r)["consultations"]]

    assert ids(OFFICE) == [jnl, gwm]
    assert ids(GWM_ADMIN) == [gwm] and ids(JNL_ADMIN) == [jnl] and ids(ST1_ADMIN) == []
    assert ids(OFFICE, year="2024") == [gwm] and ids(OFFICE, member="xie") == [jnl]
    assert ids(OFFICE, station="jnl") == [jnl]
    assert error(service.http_consultations(request("/", JNL_ADMIN, station="gwm")), 403)
    assert list(error(service.http_consultations(request("/", OFFICE, year="24x")), 400)["fields"])
    assert (
        error(service.http_consultation(request("/", JNL_ADMIN), gwm), 403)["code"] == "forbidden"
    )
    assert error(service.http_consultation(request("/", OFFICE), 999), 404)["code"] == "not_found"
    assert (
        error(service.http_consultation(request("/", OFFICE), 10**30), 404)["code"] == "not_found"
    )
    assert answer(service.http_consultation(request("/", GWM_ADMIN), gwm))["topic"]


def test_the_pages_list_record_and_show(service, db):
    cid = answer(record(service), 201)["consultation_id"]
    listing = service.page_consultations(request("/", GWM_ADMIN)).get_data(as_text=True)
    assert f'href="{cid}/page"' in listing and "建宁路护坡雨污水管道隐患" in listing
    form = service.page_new_consultation(request("/", GWM_ADMIN)).get_data(as_text=True)
    # the station's open cases (LX4 still open; LX1, LX2 settled, LX3 resolved are not offered)
    assert 'id="link-LX4"' in form and 'id="settle-LX4"' in form and "LX1" not in form
    assert 'id="member-doc"' in form and 'data-code="gwm"' in form
    refused = service.page_new_consultation(request("/", GWM_ADMIN, station="jnl"))
    assert refused.status_code == 403
    shown = service.page_consultation(request("/", GWM_ADMIN), cid).get_data(as_text=True)
    assert "../../office/cases/LX1" in shown and AGREEMENT in shown and "区住建局" in shown
    station = service.page_station(request("/", GWM_ADMIN), "gwm").get_data(as_text=True)
    assert "../../consultations/page?station=gwm" in station
    assert f"../../consultations/{cid}/page" in station  # LX4's history links to it


def test_the_office_picks_the_convener_and_a_studio_offers_its_members_cases(service, db):
    with db.transaction() as s:
        feed(
            s,
            "registry.member_saved",
            {"code": "xie", "name": "谢东峰", "level": "municipal", "sector": "minjian",
             "district": "安宁区", "active": True, "revision": 2,
             "stations": [{"station": "jnl", "role": "member"}],
             "studios": [{"studio": "st1", "role": "member"}]},
        )  # fmt: skip
    asks = service.page_new_consultation(request("/", OFFICE)).get_data(as_text=True)
    assert "id=pick-station" in asks and "id=pick-studio" in asks and "id=record" not in asks
    form = service.page_new_consultation(request("/", ST1_ADMIN)).get_data(as_text=True)
    assert 'data-kind="studio"' in form and 'id="settle-LX9"' in form and "LX1" not in form
    assert 'id="member-xie"' in form and "id=pick-station" not in form
    assert service.page_new_consultation(request("/", ST1_ADMIN, studio="st9")).status_code == 403
    assert service.page_new_consultation(request("/", OFFICE, studio="st9")).status_code == 404
    bad = service.page_consultations(request("/", OFFICE, year="1999"))
    assert bad.status_code == 400 and "id=refused" in bad.get_data(as_text=True)
