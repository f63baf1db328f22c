"""社情民意 reports (routing opinion_reports.py, report_views.py) on SQLite and PostgreSQL, migrated
the way routing migrates: a member drafts from its own cases only, submits, the office reviews;
the events; who reads what."""

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from services.kernel.auth import Principal
from services.kernel.db import make_engine
from services.kernel.http import ApiError
from services.kernel.migrations import upgrade
from services.kernel.models import OutboxMessage
from services.routing import opinion_reports as rules
from services.routing import report_pages, report_views
from services.routing.models import Case
from tests.unit.test_office_cases import feed, issue, member, station

T0 = datetime(2026, 11, 25, 2, tzinfo=UTC)
OFFICE = Principal(account="office", role="office")
M1 = Principal(account="m1-login", role="member", member="m1")
M3 = Principal(account="m3-login", role="member", member="m3")
ANX_ADMIN = Principal(account="a", role="station_admin", stations=frozenset({"anx"}))
GWM_ADMIN = Principal(account="g", role="station_admin", stations=frozenset({"gwm"}))
STUDIO_ADMIN = Principal(account="b", role="studio_admin", studios=frozenset({"st1"}))


@pytest.fixture
def s(db_url):
    upgrade("routing", db_url)
    engine = make_engine(db_url)
    session = Session(engine)
    station(session, "anx", "安宁区十里店工作站", "安宁区")
    station(session, "anx2", "安宁区银滩工作站", "安宁区")
    feed(session, "registry.studio_saved", {"code": "st1", "name": "科技创新委员工作室", "district": "安宁区", "sectors": ["kexie"], "active": True, "revision": 1})  # fmt: skip
    feed(session, "registry.sector_saved", {"code": "kexie", "name": "科协界", "revision": 1})
    feed(session, "registry.sector_saved", {"code": "yiyao", "name": "医药卫生界", "revision": 1})
    member(session, "m1", "李明", "kexie", ["anx"], studios=["st1"])
    member(session, "m3", "赵强", "kexie", ["anx2"])
    issue(session, "LX1", "anx", "hazard", "小区门口的路灯不亮了晚上很黑", received=T0)
    issue(session, "LX2", "anx", "hazard", "另一条街的路灯也不亮", received=T0)
    issue(session, "LX3", "anx2", "hazard", "楼道里堆满杂物有火灾隐患", received=T0)
    session.commit()
    assert [session.get(Case, n).member_code for n in ("LX1", "LX2", "LX3")] == ["m1", "m1", "m3"]
    yield session
    session.close()
    engine.dispose()


def draft(s, who=M1, cases=("LX1", "LX2"), **kw):
    body = {
        "title": "路灯失修问题",
        "text": "多个小区路灯不亮，建议统一排查。",
        "cases": list(cases),
        **kw,
    }
    report = rules.create(s, who, rules.read_draft(body))
    s.commit()
    return report.id


def refused(fn, *args, **kw) -> ApiError:
    with pytest.raises(ApiError) as caught:
        fn(*args, **kw)
    return caught.value


def events(s, kind):
    rows = s.scalars(select(OutboxMessage).where(OutboxMessage.routing_key == kind))
    return [json.loads(r.body)["payload"] for r in rows]


def test_a_member_drafts_from_its_own_cases_in_its_own_sector(s):
    view = report_views.one(s, M1, draft(s))
    assert view["status"] == "draft" and view["sector"] == "kexie"
    assert view["sector_name"] == "科协界" and view["member_name"] == "李明"
    assert [c["tracking_number"] for c in view["cases"]] == ["LX1", "LX2"]
    other = report_views.one(s, M1, draft(s, sector="yiyao"))
    assert other["sector"] == "yiyao"


def test_a_case_of_another_member_answers_like_an_unknown_one(s):
    for numbers in (["LX1", "LX3"], ["LX1", "NOPE"]):
        err = refused(draft, s, M1, numbers)
        assert (err.status, err.code, list(err.fields)) == (400, "not_found", ["cases"])
    assert refused(draft, s, M1, []).fields == {
        "cases": ["至少选择一件案件 / choose at least one case"]
    }
    assert "sector" in refused(draft, s, M1, ["LX1"], sector="nosuch").fields
    s.rollback()
    rid = draft(s)
    err = refused(rules.update, s, M1, rid, rules.read_draft({"cases": ["LX3"]}, partial=True))
    assert (err.status, err.code) == (400, "not_found")


def test_bad_fields_are_named(s):
    err = refused(rules.read_draft, {"title": "x" * 101, "text": "", "cases": "LX1", "extra": 1})
    assert set(err.fields) == {"title", "text", "cases", "extra"}
    assert set(refused(rules.read_review, {"outcome": "maybe"}).fields) == {"outcome"}
    assert set(refused(rules.read_review, {"outcome": "forwarded"}).fields) == {"note"}
    assert set(refused(rules.read_filters, MultiDict({"year": "20x", "status": "gone"})).fields) == {"year", "status"}  # fmt: skip


def test_edit_submit_then_read_only_and_the_event(s):
    rid = draft(s)
    rules.update(
        s, M1, rid, rules.read_draft({"title": "路灯问题", "cases": ["LX2"]}, partial=True)
    )
    s.commit()
    assert refused(rules.update, s, M3, rid, {"title": "x"}).status == 403  # another's draft
    rules.submit(s, M1, rid)
    s.commit()
    assert refused(rules.update, s, M1, rid, {"title": "again"}).status == 409
    assert refused(rules.submit, s, M1, rid).status == 409
    [sent] = events(s, "routing.report_submitted")
    assert {k: sent[k] for k in ("report_id", "member", "sector", "title", "cases")} == {
        "report_id": rid, "member": "m1", "sector": "kexie", "title": "路灯问题", "cases": ["LX2"]
    }  # fmt: skip
    assert datetime.fromisoformat(sent["submitted_at"]).tzinfo is not None


def test_the_office_reviews_a_submitted_report_only(s):
    rid = draft(s)
    assert refused(rules.review, s, OFFICE, rid, {"outcome": "adopted", "note": None}).status == 404
    rules.submit(s, M1, rid)
    rules.review(s, OFFICE, rid, {"outcome": "adopted", "note": "已报市政府参阅"})
    s.commit()
    view = report_views.one(s, M1, rid)
    assert (view["status"], view["status_zh"], view["note"]) == (
        "adopted",
        "已采用",
        "已报市政府参阅",
    )
    [done] = events(s, "routing.report_reviewed")
    assert (
        done["outcome"] == "adopted"
        and done["actor"] == "office"
        and done["cases"] == ["LX1", "LX2"]
    )
    assert set(done) == {"report_id", "member", "sector", "title", "cases", "outcome", "note", "actor", "at"}  # fmt: skip
    assert (
        refused(rules.review, s, ANX_ADMIN, rid, {"outcome": "received", "note": None}).status
        == 403
    )


def test_who_reads_what(s):
    mine, theirs = draft(s), draft(s, M3, ["LX3"])
    assert refused(report_views.one, s, OFFICE, mine).status == 403  # a draft is its member's
    assert refused(report_views.one, s, M3, mine).status == 403
    assert refused(report_views.one, s, M1, 999).status == 404
    for rid, who in ((mine, M1), (theirs, M3)):
        rules.submit(s, who, rid)
    s.commit()
    f = {"member": None, "sector": None, "status": None, "year": None}
    ids = lambda who, **kw: [r["report_id"] for r in report_views.listing(s, who, {**f, **kw})]  # noqa: E731
    assert ids(OFFICE) == [theirs, mine] and ids(M1) == [mine] and ids(M3) == [theirs]
    assert ids(ANX_ADMIN) == [mine] and ids(STUDIO_ADMIN) == [mine] and ids(GWM_ADMIN) == []
    assert ids(OFFICE, member="m3") == [theirs] and ids(OFFICE, status="adopted") == []
    assert ids(OFFICE, year=2026) == [theirs, mine] and ids(OFFICE, year=2024) == []
    assert refused(report_views.listing, s, M1, {**f, "member": "m3"}).status == 403
    assert refused(report_views.listing, s, ANX_ADMIN, {**f, "member": "m3"}).status == 403
    assert refused(report_views.one, s, GWM_ADMIN, mine).status == 403
    assert report_views.one(s, ANX_ADMIN, mine)["cases_hidden"] == 0


def test_an_admin_sees_only_the_cases_in_its_reach(s):
    feed(s, "registry.member_saved", {"code": "m1", "name": "李明", "level": "county", "sector": "kexie", "district": "安宁区", "active": True, "revision": 2, "stations": [{"station": "anx", "role": "member"}, {"station": "anx2", "role": "member"}], "studios": []})  # fmt: skip
    s.get(Case, "LX3").member_code = "m1"  # transferred to m1 meanwhile
    s.commit()
    rid = draft(s, M1, ["LX1", "LX3"])
    rules.submit(s, M1, rid)
    s.commit()
    view = report_views.one(s, ANX_ADMIN, rid)
    assert [c["tracking_number"] for c in view["cases"]] == ["LX1"] and view["cases_hidden"] == 1


def test_the_pages_escape_and_offer_what_each_may_do(s):
    rid = draft(s, title="<script>x</script>")
    form = report_views.form_choices(s, M1)
    assert {c["tracking_number"] for c in form["cases"]} == {"LX1", "LX2"}  # not m3's LX3
    page = report_pages.report_page(M1, report_views.one(s, M1, rid), form)
    assert "<script>x</script>" not in page and "data-op=submit" in page
    rules.submit(s, M1, rid)
    s.commit()
    page = report_pages.report_page(OFFICE, report_views.one(s, OFFICE, rid), None)
    assert "id=review-form" in page and "office/cases/LX1" in page
    page = report_pages.report_page(M1, report_views.one(s, M1, rid), None)
    assert "data-op" not in page.split("<script>")[0]
