"""The 履职档案 (issue #21): one member's year counted from reporting's event store, whatever
order the events arrived in and after a rebuild; the page, its JSON, Excel and PDF twins say
the same; and who may read whose file."""

import io
import random
from datetime import UTC, datetime, timedelta

import pytest
from nameko.testing.services import worker_factory
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy.orm import Session

from services.kernel.db import make_engine
from services.kernel.events import new_event, parse_event
from services.kernel.migrations import upgrade
from services.reporting import dossier, event_store, rebuild
from services.reporting.settings import ReportingSettings
from tests.conftest import auth_headers
from tests.unit.workers import Db, error, request

T0 = datetime(2024, 1, 10, 2, tzinfo=UTC)


def ev(kind, payload, when):
    return parse_event(new_event(kind, payload, kind.split(".")[0], occurred_at=when))


class Year:
    """A year of events for member m1 (and m2, m3 around it), and what m1's 2024 file must
    read, counted by hand from the events below (each line says why)."""

    def __init__(self):
        self.first, self.rest = [], []  # the registry and the issues first (as the inbox does)
        self.clock = T0

    def tick(self, minutes=60):
        self.clock += timedelta(minutes=minutes)
        return self.clock

    def registry(self):
        for code, district in (("gwm", "城关区"), ("jnl", "安宁区")):
            p = {"code": code, "name": f"{code}站", "district": district, "kind": "street"}
            self.first.append(ev("registry.station_saved", p | {"active": True, "revision": 1}, T0))
        for code, sector, station in (("m1", "yiyao", "gwm"), ("m2", "yiyao", "jnl")):
            self.member(code, sector, station, 1)
        self.member("m3", "jiaoyu", "jnl", 1)
        leader = {"code": "L1", "name": "王副主席", "title": "副主席", "stations": ["gwm"]}
        self.rest.append(ev("registry.leader_saved", leader | {"active": True, "revision": 1}, T0))

    def member(self, code, sector, station, revision):
        p = {
            "code": code,
            "name": {"m1": "张志强", "m2": "李梅", "m3": "赵刚"}[code],
            "level": "municipal",
            "sector": sector,
            "district": "城关区",
            "active": True,
            "revision": revision,
            "stations": [{"station": station, "role": "member"}],
            "studios": [{"studio": "st-a", "role": "member"}] if code == "m3" else [],
        }
        self.first.append(ev("registry.member_saved", p, T0))

    def activity(self, aid, kind, day, members, people):
        p = {"activity_id": aid, "kind": kind, "station": "gwm", "studio": None, "date": day}
        p |= {"slot": "am", "members": members, "people_served": people, "issues_raised": 0}
        self.rest.append(
            ev("intake.activity_recorded", p | {"recorded_at": day + "T10:00:00+08:00"}, T0)
        )

    def case(self, number, received: datetime, steps):
        """``steps``: ``(event, member, extra)`` in the order they happened."""
        p = {"tracking_number": number, "station": "gwm", "channel": "qr", "category": "health"}
        p |= {
            "member": None,
            "submitted_at": received.isoformat(),
            "received_at": received.isoformat(),
        }
        self.first.append(ev("intake.issue_received", p, received))
        for kind, member, extra in steps:
            at = self.tick()
            q = {
                "tracking_number": number,
                "station": "gwm",
                "category": "health",
                "member": member,
            }
            q |= {"actor": member, "at": at.isoformat(), "received_at": received.isoformat()}
            self.rest.append(ev(f"routing.issue_{kind}", q | extra, at))


def a_year() -> Year:
    y = Year()
    y.registry()
    # activities: A1, A2 reception days and A3 a clinic with m1 in 2024; A1 announced twice
    y.activity("A1", "reception_day", "2024-03-02", ["m1", "m2"], 12)
    y.activity("A1", "reception_day", "2024-03-02", ["m1", "m2"], 12)
    y.activity("A2", "reception_day", "2024-05-10", ["m1"], 8)
    y.activity("A3", "free_clinic", "2024-06-01", ["m1"], 30)
    y.activity("A4", "reception_day", "2023-12-31", ["m1"], 5)  # another year
    y.activity("A5", "reception_day", "2024-07-01", ["m2"], 9)  # another member
    jan = datetime(2024, 2, 1, 3, tzinfo=UTC)
    st = lambda s, t: {"from_status": s, "to_status": t}  # noqa: E731
    given = ("assigned", "m1", {})
    answered = ("responded", "m1", st("assigned", "responded") | {"on_time": True, "answer": "a"})

    def done(on_time, member="m1"):
        return (
            "resolved",
            member,
            st("responded", "resolved") | {"on_time": on_time, "answer": "r"},
        )

    def rated(rating, member="m1", reopened=False):
        return ("rated", member, st("resolved", "assigned" if reopened else "resolved")
                | {"rating": rating, **({"reopened": True} if reopened else {})})  # fmt: skip

    y.case("C1", jan, [given, answered, done(True), rated("satisfied")])
    y.case("C2", jan, [given, answered, done(False), rated("unsatisfied", reopened=True),
                       answered, done(True), rated("basically_satisfied")])  # fmt: skip
    y.case("C3", jan, [("assigned", "m2", {}),
                       ("transferred", "m1", {"from_member": "m2"}),
                       ("accepted", "m1", st("assigned", "accepted"))])  # fmt: skip
    y.case("C4", jan, [given, ("transferred", "m2", {"from_member": "m1"})])  # m2's now
    y.case("C5", jan, [given, ("closed_unresolved", "m1", st("assigned", "closed_unresolved"))])
    # 17:00 UTC on 31 Dec 2023 is 01:00 on 1 Jan 2024 in Beijing: a 2024 case
    y.case("C6", datetime(2023, 12, 31, 17, tzinfo=UTC), [given])
    # 16:30 UTC on 31 Dec 2024 is 2025 in Beijing: not in 2024
    y.case("C7", datetime(2024, 12, 31, 16, 30, tzinfo=UTC), [given])
    y.case("C8", jan, [given, ("merged", "m1", st("assigned", "merged") | {"into": "C1"})])
    # m2's answer was rated, then m2 handed the reopened case to m1: not m1's rating
    y.case("C9", jan, [("assigned", "m2", {}), ("responded", "m2", st("assigned", "responded")),
                       done(True, "m2"), rated("unsatisfied", "m2", reopened=True),
                       ("transferred", "m1", {"from_member": "m2"})])  # fmt: skip
    y.case("C10", jan, [given, answered, done(False)])
    y.case("C11", jan, [given, answered, done(True), rated("unsatisfied")])
    # consultations: K1 with m1 in 2024, K2 without m1, K3 in 2025
    for cid, day, members in (("K1", "2024-04-01", ["m1", "m2"]), ("K2", "2024-08-01", ["m2"]),
                              ("K3", "2025-01-05", ["m1"])):  # fmt: skip
        p = {"consultation_id": cid, "topic": "建宁路雨水井隐患", "station": "gwm", "studio": None}
        p |= {"district": "城关区", "date": day, "units_invited": ["城管局", "街道"]}
        p |= {"units_present": ["城管局"], "members": members, "agreement": "两周内加盖"}
        p |= {"follow_up_owner": "街道", "cases": ["C1"], "settled": [], "actor": "office"}
        y.rest.append(
            ev("routing.consultation_recorded", p | {"recorded_at": day + "T12:00:00+08:00"}, T0)
        )
    # reports: R1 adopted (its two reviews in either order), R2 not reviewed, R3 is 2025 in
    # Beijing, R4 m2's
    for rid, member, at in (("R1", "m1", "2024-03-01T10:00:00+08:00"),
                            ("R2", "m1", "2024-09-01T10:00:00+08:00"),
                            ("R3", "m1", "2024-12-31T17:00:00+00:00"),
                            ("R4", "m2", "2024-05-01T10:00:00+08:00")):  # fmt: skip
        p = {"report_id": rid, "member": member, "sector": "yiyao", "title": f"关于{rid}的建议"}
        y.rest.append(ev("routing.report_submitted", p | {"cases": ["C1"], "submitted_at": at}, T0))
    for outcome, at in (
        ("received", "2024-03-05T09:00:00+08:00"),
        ("adopted", "2024-03-10T09:00:00+08:00"),
    ):
        p = {"report_id": "R1", "member": "m1", "sector": "yiyao", "title": "关于R1的建议"}
        p |= {
            "cases": ["C1"],
            "outcome": outcome,
            "note": "已报市政协",
            "actor": "office",
            "at": at,
        }
        y.rest.append(ev("routing.report_reviewed", p, T0))
    # visits: V1 (revised, still with m1), V2 withdrawn, V3 revised without m1, V4 in 2023
    for vid, day, revisions in (
        ("V1", "2024-05-05", [(["m1"], True), (["m1", "m2"], True)]),
        ("V2", "2024-06-05", [(["m1"], True), (["m1"], False)]),
        ("V3", "2024-07-05", [(["m1", "m2"], True), (["m2"], True)]),
        ("V4", "2023-11-05", [(["m1"], True)]),
    ):
        for revision, (members, active) in enumerate(revisions, 1):
            p = {"visit_id": vid, "leader": "L1", "station": "gwm", "date": day}
            p |= {"purpose": "推动老旧小区加装电梯", "members": members, "others": "街道主任"}
            p |= {"active": active, "revision": revision, "recorded_at": day + "T18:00:00+08:00"}
            y.rest.append(ev("registry.leader_visit_saved", p, T0))
    return y


EXPECTED_2024 = {  # m1's 2024, from the events above
    "reception_days": 2,  # A1 (once), A2
    "activities": 3,  # A1, A2, A3
    "people_served": 50,  # 12 + 8 + 30
    "cases": 9,  # m1 holds, received in 2024 (Beijing): C1 C2 C3 C5 C6 C8 C9 C10 C11
    "consultations": 1,  # K1
    "reports": 2,  # R1, R2
    "leader_visits": 1,  # V1
}
EXPECTED_STATUS = {"assigned": 2, "accepted": 1, "responded": 0, "resolved": 4,
                   "closed_unresolved": 1, "merged": 1}  # fmt: skip
# resolved: C1 (on time), C2 (on time the second time), C10 (late), C11 (on time): 3 of 4
# rated by m1's citizens: C1 satisfied, C2 basically satisfied (the latest), C11 unsatisfied
EXPECTED_RATINGS = {"satisfied": 1, "basically_satisfied": 1, "unsatisfied": 1}


def record_all(s, year: Year, seed: int) -> None:
    """Every event in a shuffled order, each in its own transaction; one that a projection
    cannot take yet (a review before its report) is tried again later, as the inbox does."""
    waiting = list(year.rest)
    random.Random(seed).shuffle(waiting)
    for e in year.first:
        event_store.record(s, e)
    s.commit()
    for _round in range(len(waiting) + 1):
        later = []
        for e in waiting:
            try:
                event_store.record(s, e)
                s.commit()
            except Exception:  # noqa: BLE001 - the inbox's retry, in short
                s.rollback()
                s.info.pop("lx_facts", None)
                later.append(e)
        if not later:
            return
        waiting = later
    raise AssertionError(f"never recorded: {[e['type'] for e in waiting]}")


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request, tmp_path, pg_databases):
    """``stores(seed)``: a new reporting database of the test's backend holding the year's
    events in the arrival order of ``seed``."""
    made = []

    def make(seed):
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path}/reporting-{len(made)}.db"
        else:
            url = pg_databases.create()
        upgrade("reporting", url)
        engine = make_engine(url)
        s = Session(engine)
        made.append((s, engine))
        record_all(s, a_year(), seed=seed)
        return s

    yield make
    for s, engine in made:
        s.close()
        engine.dispose()


@pytest.fixture
def store(stores):
    return stores(1)


def test_every_figure_of_the_year_is_counted_from_its_records(store):
    file = dossier.dossier(store, "m1", 2024)
    f = file["figures"]
    assert {k: f[k] for k in EXPECTED_2024} == EXPECTED_2024
    assert f["cases_by_status"] == EXPECTED_STATUS
    assert (f["cases_resolved"], f["resolved_on_time"], f["on_time_share"]) == (4, 3, 0.75)
    assert f["ratings"] == EXPECTED_RATINGS
    assert (f["cases_rated"], f["cases_satisfied"]) == (3, 2)
    assert f["satisfaction"] == round(2 / 3, 4)
    assert f["reports_by_outcome"] == {"received": 0, "adopted": 1, "forwarded": 0, "pending": 1}
    records = file["records"]
    held = {c["tracking_number"]: c for c in records["cases"]}
    assert set(held) == {"C1", "C2", "C3", "C5", "C6", "C8", "C9", "C10", "C11"}
    assert (held["C3"]["status"], held["C9"]["status"], held["C9"]["rating"]) == (
        "accepted",
        "assigned",
        None,
    )
    assert {a["activity_id"] for a in records["activities"]} == {"A1", "A2", "A3"}
    assert [v["visit_id"] for v in records["visits"]] == ["V1"]
    assert records["visits"][0]["leader_name"] == "王副主席"
    assert file["member"]["name"] == "张志强" and file["member"]["stations"] == ["gwm"]


def test_another_year_and_another_member_have_their_own_files(store):
    f2025 = dossier.dossier(store, "m1", 2025)["figures"]
    assert (f2025["cases"], f2025["consultations"], f2025["reports"]) == (1, 1, 1)  # C7 K3 R3
    m2 = dossier.dossier(store, "m2", 2024)["figures"]
    assert m2["cases"] == 1 and m2["cases_by_status"]["assigned"] == 1  # C4
    assert (m2["consultations"], m2["reports"], m2["leader_visits"]) == (
        2,
        1,
        2,
    )  # K1 K2, R4, V1 V3
    empty = dossier.dossier(store, "m3", 2024)["figures"]
    assert empty["cases"] == 0 and empty["on_time_share"] is None and empty["satisfaction"] is None


@pytest.mark.parametrize("seed", [2, 3, 4, 5])
def test_the_order_events_arrive_in_changes_nothing(store, stores, seed):
    """The same events in another arrival order (a transfer before its assignment, a visit's
    withdrawal before the visit, a review before another) give the same file."""
    other = stores(seed)
    strip = lambda f: {k: f[k] for k in ("figures", "member")}  # noqa: E731
    # the events are new (new ids): same content, same file
    assert strip(dossier.dossier(other, "m1", 2024)) == strip(dossier.dossier(store, "m1", 2024))


def test_a_rebuild_gives_the_same_file(store):
    before = dossier.dossier(store, "m1", 2024)
    assert rebuild.rebuild(store) == event_store.event_count(store)
    store.commit()
    assert dossier.dossier(store, "m1", 2024) == before


def test_a_sector_file_has_every_member_of_the_sector(store):
    files = dossier.sector_dossiers(store, "yiyao", 2024)
    assert [f["member"]["code"] for f in files] == ["m1", "m2"]


# -- the service: scope, and the four formats saying the same --------------------------------


@pytest.fixture
def service(migrated):
    from services.reporting.service import ReportingService  # the routes are its mixin's

    engine = migrated("reporting")
    service = worker_factory(
        ReportingService,
        config={"public_urls": {"routing": "http://r", "registry": "http://g"}},
        settings=ReportingSettings(),
        db=Db(engine),
    )
    record_all(Session(engine), a_year(), seed=1)
    return service


OFFICE = auth_headers(role="office")
M1 = auth_headers(role="member", member="m1")
M2 = auth_headers(role="member", member="m2")
GWM_ADMIN = auth_headers(role="station_admin", stations=["gwm"])
JNL_ADMIN = auth_headers(role="station_admin", stations=["jnl"])


def test_a_member_reads_its_own_file_and_no_other(service):
    assert (
        service.http_dossier_json(request("/dossier/m1.json", M1, year="2024"), "m1").status_code
        == 200
    )
    for entrypoint in ("http_dossier_json", "http_dossier_xlsx", "http_dossier_pdf"):
        answer = getattr(service, entrypoint)(request("/dossier/m1", M2, year="2024"), "m1")
        assert error(answer, 403)["code"] == "forbidden"
    page = service.http_dossier_page(request("/dossier/m1", M2, year="2024"), "m1")
    assert page.status_code == 403 and "张志强" not in page.get_data(as_text=True)


def test_a_station_admin_reads_the_members_of_its_stations_only(service):
    ok = service.http_dossier_json(request("/dossier/m1.json", GWM_ADMIN, year="2024"), "m1")
    assert ok.status_code == 200
    refused = service.http_dossier_json(request("/dossier/m1.json", JNL_ADMIN, year="2024"), "m1")
    assert error(refused, 403)["code"] == "forbidden"
    # the sector files are the office's
    assert error(service.http_sector_xlsx(request("/x", GWM_ADMIN, year="2024"), "yiyao"), 403)


def test_a_studio_admin_reads_the_members_of_its_studios_only(service):
    admin = auth_headers(role="studio_admin", studios=["st-a"])
    assert service.http_dossier_json(request("/d", admin, year="2024"), "m3").status_code == 200
    assert error(service.http_dossier_json(request("/d", admin, year="2024"), "m1"), 403)
    other = auth_headers(role="studio_admin", studios=["st-b"])
    assert error(service.http_dossier_json(request("/d", other, year="2024"), "m3"), 403)


def test_an_unknown_member_a_bad_year_and_an_unknown_sector(service):
    assert error(service.http_dossier_json(request("/d", OFFICE, year="2024"), "m404"), 404)
    assert error(service.http_dossier_json(request("/d", M2, year="2024"), "m404"), 403)
    body = error(service.http_dossier_json(request("/d", OFFICE, year="24"), "m1"), 400)
    assert list(body["fields"]) == ["year"]
    assert error(service.http_sector_pdf(request("/d", OFFICE, year="2024"), "nobody"), 404)
    for nobody in ("m\x00", "m" * 41):  # not a code: nobody, without asking the database
        assert error(service.http_dossier_json(request("/d", OFFICE, year="2024"), nobody), 404)
        assert error(service.http_dossier_pdf(request("/d", M1, year="2024"), nobody), 403)
        assert error(service.http_sector_xlsx(request("/d", OFFICE, year="2024"), nobody), 404)


def _json(service, headers=OFFICE, code="m1"):
    return service.http_dossier_json(request("/d", headers, year="2024"), code).json


def test_the_page_json_workbook_and_pdf_say_the_same(service):
    body = _json(service)
    f = body["figures"]
    assert {k: f[k] for k in EXPECTED_2024} == EXPECTED_2024
    rows = dossier.rows(body)
    # the page: every figure with its value and its link
    html = service.http_dossier_page(request("/dossier/m1", OFFICE, year="2024"), "m1")
    text = html.get_data(as_text=True)
    for row in rows:
        assert f'data-key="{row["key"]}"' in text
    assert 'data-key="cases" data-value="9"><span class=name>' in text
    assert 'href="http://r/office/cases?member=m1&amp;from=2024-01-01&amp;to=2024-12-31"' in text
    assert "http://r/consultations/page?member=m1&amp;year=2024" in text
    assert "http://r/reports/page?member=m1&amp;year=2024&amp;status=adopted" in text
    assert "http://g/office/visits?member=m1&amp;year=2024" in text
    assert "75.0%（3/4）" in text and "66.7%（2/3）" in text
    # the office also reaches the member's sector's files; the member only the own file
    assert 'href="sector/yiyao.pdf?year=2024"' in text and 'href="m1.xlsx?year=2024"' in text
    own = service.http_dossier_page(request("/dossier/m1", M1, year="2024"), "m1")
    assert "sector/yiyao" not in own.get_data(as_text=True)
    assert 'href="http://r/duty/m1"' in own.get_data(as_text=True)
    # the workbook: the figures sheet, value per row, and one sheet per kind of record
    xlsx = service.http_dossier_xlsx(request("/d", OFFICE, year="2024"), "m1")
    book = load_workbook(io.BytesIO(xlsx.get_data()))
    sheet = book["履职档案"]
    values = [r[1] for r in sheet.iter_rows(min_row=4, values_only=True)]
    assert values == [row["value"] for row in rows]
    assert sheet.cell(row=4 + 3, column=4).value.startswith("http://r/office/cases?member=m1")
    assert book["承办案件"].max_row == 1 + 9 and book["履职活动"].max_row == 1 + 3
    # the PDF: every figure's line reads in its text
    pdf = service.http_dossier_pdf(request("/d", OFFICE, year="2024"), "m1")
    assert pdf.mimetype == "application/pdf"
    assert "filename*=UTF-8''" in pdf.headers["Content-Disposition"]
    words = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.get_data())).pages)
    flat = " ".join(words.split())  # the table's cells, one run of words
    assert "张志强（m1）2024 年度履职档案" in flat
    for row in rows:  # each figure's name, then its value, as on the page
        assert f"{'其中 ' if row['sub'] else ''}{row['zh']} {row['en']} {row['text']}" in flat, row
    assert "C11 2024-02-01 已办结 是 不满意" in flat  # a case's line among the records


def test_a_member_s_own_case_figures_link_to_its_duty_list(service):
    own = _json(service, M1)["links"]
    assert own["cases"] == "http://r/duty/m1"
    # the lists a member may not open are the records on the page
    assert (own["consultations"], own["leader_visits"]) == ("#consultations", "#visits")
    assert own["reports"] == "http://r/reports/page?member=m1&year=2024"
    studio = _json(service, auth_headers(role="studio_admin", studios=["st-a"]), "m3")["links"]
    assert studio["leader_visits"] == "#visits"
    assert studio["consultations"] == "http://r/consultations/page?member=m3&year=2024"
    assert _json(service)["links"]["cases_by_status.resolved"].endswith("&status=resolved")


def test_the_sector_files_have_one_row_and_one_section_per_member(service):
    xlsx = service.http_sector_xlsx(request("/d", OFFICE, year="2024"), "yiyao")
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    lines = list(sheet.iter_rows(values_only=True))
    assert [line[1] for line in lines[1:]] == ["m1", "m2"]
    assert lines[1][2:] == tuple(r["value"] for r in dossier.rows(_json(service)))
    pdf = service.http_sector_pdf(request("/d", OFFICE, year="2024"), "yiyao")
    pages = [p.extract_text().replace(" ", "") for p in PdfReader(io.BytesIO(pdf.get_data())).pages]
    cover = " ".join(PdfReader(io.BytesIO(pdf.get_data())).pages[0].extract_text().split())
    # the cover: one line per member, its main figures (reception days, cases, on time,
    # satisfied, consultations, reports, visits)
    assert "张志强（m1） 2 9 75.0% 66.7% 1 2 1" in cover
    assert any("张志强（m1）2024年度履职档案" in p for p in pages)
    assert any("李梅（m2）2024年度履职档案" in p for p in pages)
