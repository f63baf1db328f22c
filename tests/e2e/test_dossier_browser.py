"""A member's 履职档案 through the whole stack (issue #21): cases sent through the real channels,
handled by the member and rated by the citizen; activities recorded at intake; consultations,
a 社情民意 report and a leader's visit published as their services announce them (the
contract's events). Every figure of the page, its JSON, its workbook and its PDF equals a count
taken from the records themselves (routing's case list, intake's activity list, the events
sent); another member is refused; the member reads the own file on a phone.

Screenshots and the PDF's pages as images: ``/tmp/shots/dossier/``.
"""

import io
import json
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pika
import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy
from openpyxl import load_workbook
from pypdf import PdfReader

from services.kernel.events import new_event
from services.kernel.outbox import partition_key
from services.kernel.topology import PARTITION_HEADER
from services.reporting import dossier, periods
from tests.conftest import auth_headers, delete_vhost
from tests.e2e.conftest import (
    after_click,
    fits_the_phone,
    make_account,
    make_stack,
    read_again,
    sign_in_on_page,
    wait_case,
    wait_submission,
)
from tools.client import SubmissionClient

SHOTS = Path("/tmp/shots/dossier")
MEMBER = "m003"  # 张志强, gwm's 医药卫生 member: health cases at gwm are his
YEAR = periods.today_in_china(datetime.now(UTC)).year
TODAY = periods.today_in_china(datetime.now(UTC))


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_databases):
    stack, vhost, stack.amqp_uri = make_stack(
        tmp_path_factory.mktemp("dossier"), "sqlite", pg_databases
    )
    yield stack
    stack.stop()
    delete_vhost(vhost)


def as_member(stack, code=MEMBER):
    return auth_headers(stack.config(), "member", member=code)


def act(stack, number, action, **body):
    r = requests.post(
        stack.url("routing", f"/cases/{number}/actions/{action}"),
        json=body,
        headers=as_member(stack),
        timeout=10,
    )
    assert r.ok, r.text
    return r.json()


def submit(stack, words):
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit("gwm", category="health", description=words)
    [s] = wait_submission(stack, sid)
    return s["tracking_number"]


def publish(stack, events):
    """Events as their services' relays publish them (confirmed, message id = event id, the
    reporting partition's key in ``lx-key``)."""
    connection = pika.BlockingConnection(pika.URLParameters(stack.amqp_uri))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for e in events:
            channel.basic_publish(
                "lianxin.events",
                e["type"],
                json.dumps(e, ensure_ascii=False).encode(),
                pika.BasicProperties(
                    message_id=e["event_id"],
                    content_type="application/json",
                    delivery_mode=2,
                    headers={PARTITION_HEADER: partition_key(e["type"], e["payload"])},
                ),
                mandatory=True,
            )
    finally:
        connection.close()


def practice_events() -> list[dict]:
    """A leader, two visits (one m003 came to, one withdrawn), two consultations (one with
    m003), a report by m003 submitted and adopted, one by another member."""
    day = TODAY.isoformat()
    now = datetime.now(UTC).isoformat()
    leader = {"code": "L-e2e", "name": "王建国", "title": "副主席", "stations": ["gwm"]}
    events = [
        new_event("registry.leader_saved", leader | {"active": True, "revision": 1}, "registry")
    ]
    for vid, active in (("V-e2e-1", True), ("V-e2e-2", False)):
        visit = {"visit_id": vid, "leader": "L-e2e", "station": "gwm", "date": day}
        visit |= {"purpose": "推动社区卫生站周末开门", "members": [MEMBER], "others": "街道"}
        visit |= {"active": active, "revision": 1, "recorded_at": now}
        events.append(new_event("registry.leader_visit_saved", visit, "registry"))
    for cid, members in (("K-e2e-1", [MEMBER, "m001"]), ("K-e2e-2", ["m001"])):
        c = {"consultation_id": cid, "topic": "建宁路雨水井隐患", "station": "gwm", "studio": None}
        c |= {"district": "城关区", "date": day, "units_invited": ["城管局", "街道", "供水公司"]}
        c |= {"units_present": ["城管局", "街道"], "members": members, "agreement": "两周内加盖"}
        c |= {"follow_up_owner": "街道", "cases": [], "settled": [], "actor": "office"}
        events.append(
            new_event("routing.consultation_recorded", c | {"recorded_at": now}, "routing")
        )
    for rid, member in (("9101", MEMBER), ("9102", "m001")):
        r = {"report_id": rid, "member": member, "sector": "yiyao", "title": "关于社区卫生站的建议"}
        events.append(
            new_event("routing.report_submitted", r | {"cases": [], "submitted_at": now}, "routing")
        )
    review = {
        "report_id": "9101",
        "member": MEMBER,
        "sector": "yiyao",
        "title": "关于社区卫生站的建议",
    }
    review |= {
        "cases": [],
        "outcome": "adopted",
        "note": "已报市政协",
        "actor": "office",
        "at": now,
    }
    events.append(new_event("routing.report_reviewed", review, "routing"))
    return events


@pytest.fixture(scope="module")
def year_of_work(stack):
    """Three health cases for m003 (two resolved, one rated), two activities with m003 and one
    without, and the practice events."""
    numbers = [submit(stack, f"社区卫生站周末不开门 {uuid.uuid4().hex[:6]}") for _ in range(3)]
    for number in numbers:
        assert wait_case(stack, number)["member"] == MEMBER
    for number in numbers[:2]:
        act(stack, number, "respond", note="已联系社区卫生站")
        act(stack, number, "resolve", note="周末已安排值班")
    with ClusterRpcProxy({"AMQP_URI": stack.amqp_uri}) as rpc:
        rpc.routing.citizen_action(numbers[0], "rate", rating="basically_satisfied", comment="")
    for kind, members, people in (
        ("reception_day", [MEMBER, "m001"], 14),
        ("free_clinic", [MEMBER], 40),
        ("reception_day", ["m001"], 6),
    ):
        body = {"kind": kind, "station": "gwm", "date": TODAY.isoformat(), "slot": "am"}
        body |= {"members": members, "people_served": people}
        r = requests.post(
            stack.url("intake", "/staff/activities"), json=body, headers=stack.headers, timeout=30
        )
        assert r.status_code == 201, r.text
    publish(stack, practice_events())
    return numbers


def records_count(stack) -> dict:
    """m003's year counted from the records: routing's case list, intake's activity list, and
    the practice events sent (the consultations, report and visit it names)."""
    listed = requests.get(
        stack.url("routing", "/office/cases.json"),
        params={"member": MEMBER, "from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"},
        headers=stack.headers,
        timeout=10,
    ).json()
    cases = listed["cases"]
    assert listed["total"] == len(cases)  # one page
    resolved = [c for c in cases if c["status"] == "resolved"]
    rated = [c for c in cases if c["rating"]]
    acts = requests.get(
        stack.url("intake", "/activities"), headers=as_member(stack), timeout=10
    ).json()["activities"]
    acts = [a for a in acts if a["date"].startswith(str(YEAR))]
    sent = practice_events()  # the same contents as those published
    mine = [e["payload"] for e in sent]
    return {
        "cases": len(cases),
        "cases_resolved": len(resolved),
        "resolved_on_time": sum(1 for c in resolved if c["resolved_at"] <= c["resolution_due"]),
        "cases_rated": len(rated),
        "cases_satisfied": sum(1 for c in rated if c["rating"] != "unsatisfied"),
        "reception_days": sum(1 for a in acts if a["kind"] == "reception_day"),
        "activities": len(acts),
        "people_served": sum(a["people_served"] for a in acts),
        "consultations": sum(
            1
            for p in mine
            if "consultation_id" in p and MEMBER in p["members"] and p["date"].startswith(str(YEAR))
        ),
        "reports": sum(1 for p in mine if "submitted_at" in p and p["member"] == MEMBER),
        "leader_visits": sum(
            1 for p in mine if "visit_id" in p and p["active"] and MEMBER in p["members"]
        ),
    }


def dossier_json(stack, headers=None, code=MEMBER):
    return requests.get(
        stack.url("reporting", f"/dossier/{code}.json"),
        params={"year": YEAR},
        headers=headers or stack.headers,
        timeout=30,
    )


def settled(stack, expected):
    def reached():
        f = dossier_json(stack).json()["figures"]
        return f if all(f[k] == v for k, v in expected.items()) else None

    return stack.wait_for(reached, timeout=60, interval=0.5, what="the dossier's figures")


def test_every_figure_equals_the_records_in_every_format(stack, year_of_work):
    expected = records_count(stack)
    # what the records say, so the test cannot pass on an empty year
    assert expected["cases"] == 3 and expected["cases_resolved"] == 2
    assert (expected["cases_rated"], expected["reception_days"], expected["activities"]) == (
        1,
        1,
        2,
    )
    assert (expected["consultations"], expected["reports"], expected["leader_visits"]) == (1, 1, 1)
    figures = settled(stack, expected)
    assert figures["reports_by_outcome"]["adopted"] == 1
    assert figures["on_time_share"] == expected["resolved_on_time"] / 2
    body = dossier_json(stack).json()
    rows = dossier.rows(body)
    assert body["member"]["name"] == "张志强"
    assert body["links"]["cases"].endswith(
        f"/office/cases?member={MEMBER}&from={YEAR}-01-01&to={YEAR}-12-31"
    )

    page = requests.get(
        stack.url("reporting", f"/dossier/{MEMBER}"),
        params={"year": YEAR},
        headers=stack.headers,
        timeout=30,
    ).text
    for row in rows:
        value = "" if row["value"] is None else row["value"]
        assert f'data-key="{row["key"]}" data-value="{value}">' in page, row
    for number in year_of_work:
        assert number in page  # each case listed among the records

    xlsx = requests.get(
        stack.url("reporting", f"/dossier/{MEMBER}.xlsx"),
        params={"year": YEAR},
        headers=stack.headers,
        timeout=30,
    )
    sheet = load_workbook(io.BytesIO(xlsx.content))["履职档案"]
    assert [r[1] for r in sheet.iter_rows(min_row=4, values_only=True)] == [
        r["value"] for r in rows
    ]

    pdf = requests.get(
        stack.url("reporting", f"/dossier/{MEMBER}.pdf"),
        params={"year": YEAR},
        headers=stack.headers,
        timeout=30,
    )
    assert pdf.headers["Content-Type"] == "application/pdf"
    text = " ".join(
        " ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf.content)).pages
    )
    for row in rows:
        assert f"{'其中 ' if row['sub'] else ''}{row['zh']} {row['en']} {row['text']}" in text, row
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / f"{MEMBER}-{YEAR}.pdf").write_bytes(pdf.content)
    if shutil.which("pdftoppm"):  # the pages as images, to look at (poppler-utils)
        subprocess.run(
            ["pdftoppm", "-r", "70", "-png", str(SHOTS / f"{MEMBER}-{YEAR}.pdf"),
             str(SHOTS / f"{MEMBER}-{YEAR}-pdf")],
            check=True,
        )  # fmt: skip

    sector = requests.get(
        stack.url("reporting", "/dossier/sector/yiyao.xlsx"),
        params={"year": YEAR},
        headers=stack.headers,
        timeout=30,
    )
    lines = list(load_workbook(io.BytesIO(sector.content)).active.iter_rows(values_only=True))
    mine = [line for line in lines if line[1] == MEMBER]
    assert mine and list(mine[0][2:]) == [r["value"] for r in rows]
    # the office reaches the file from the dashboard's member row of the year
    board = requests.get(
        stack.url("reporting", "/dashboard"),
        params={"year": YEAR},
        headers=stack.headers,
        timeout=30,
    ).text
    assert f'href="/dossier/{MEMBER}?year={YEAR}">档案</a>' in board
    # and the sector's PDF from the member's page: one section per member
    assert f'href="sector/yiyao.pdf?year={YEAR}"' in page
    sector_pdf = requests.get(
        stack.url("reporting", f"/dossier/sector/yiyao.pdf?year={YEAR}"),
        headers=stack.headers,
        timeout=60,
    )
    pages = [
        " ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(sector_pdf.content)).pages
    ]
    assert any(f"张志强（m003）{YEAR} 年度履职档案" in p for p in pages)
    (SHOTS / f"sector-yiyao-{YEAR}.pdf").write_bytes(sector_pdf.content)


def test_another_member_is_refused_and_a_station_admin_elsewhere_too(stack, year_of_work):
    refused = dossier_json(stack, as_member(stack, "m001"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    elsewhere = auth_headers(stack.config(), "station_admin", stations=["jnl"])
    assert dossier_json(stack, elsewhere).status_code == 403
    here = auth_headers(stack.config(), "station_admin", stations=["gwm"])
    assert dossier_json(stack, here).status_code == 200
    assert dossier_json(stack, as_member(stack)).status_code == 200


def test_the_member_reads_the_own_file_on_a_phone(stack, year_of_work, phone):
    settled(stack, {"leader_visits": 1, "cases": 3})
    login, password = make_account(stack, "member", member=MEMBER)
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone.get(stack.url("reporting", f"/dossier/{MEMBER}?year={YEAR}"))
    sign_in_on_page(phone, login, password)
    title = after_click(phone, "title")
    assert read_again(phone, lambda d: "张志强" in d.find_element("id", "title").text)
    assert str(YEAR) in title.text and fits_the_phone(phone)
    phone.save_screenshot(str(SHOTS / "phone-year.png"))
    cases = phone.find_element("css selector", 'li[data-key="cases"] a')
    assert cases.text == "3" and cases.get_attribute("href").endswith(f"/duty/{MEMBER}")
    # the year picker: 2024 holds nothing of this member's
    from selenium.webdriver.support.ui import Select

    Select(phone.find_element("id", "year")).select_by_value("2024")
    phone.find_element("id", "show").click()
    read_again(
        phone,
        lambda d: (
            "2024" in d.find_element("id", "title").text
            and d.find_element("css selector", 'li[data-key="cases"]').get_attribute("data-value")
            == "0"
        ),
    )
    assert fits_the_phone(phone)
    phone.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    phone.save_screenshot(str(SHOTS / "phone-2024.png"))
    # back to this year, the records at the bottom
    phone.get(stack.url("reporting", f"/dossier/{MEMBER}?year={YEAR}#cases"))
    after_click(phone, "cases")
    phone.save_screenshot(str(SHOTS / "phone-records.png"))


def test_the_practice_recorded_through_the_services_is_counted_as_they_list_it(stack):
    """m004's year through the services' own routes (no event made by hand): a case at a
    consultation that settles it, a 社情民意 report from it that the office adopts, a leader's
    visit m004 came to. The file equals what routing and the registry list for m004."""
    member, day = "m004", TODAY.isoformat()
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit("gwm", category="health", description="小区路灯坏了", member=member)
    [s] = wait_submission(stack, sid)
    number = s["tracking_number"]
    assert wait_case(stack, number)["member"] == member

    def office(service, path, body, headers=None):
        r = requests.post(
            stack.url(service, path), json=body, headers=headers or stack.headers, timeout=30
        )
        assert r.status_code in (200, 201), (path, r.text)
        return r.json()

    office("routing", "/consultations", {
        "topic": "路灯维修", "station": "gwm", "date": day, "units_invited": ["街道", "供电所"],
        "units_present": ["街道"], "members": [member], "agreement": "三日内修复",
        "follow_up_owner": "街道", "cases": [number], "settled": [number]})  # fmt: skip
    wait_case(stack, number, status="resolved")
    mine = as_member(stack, member)
    report = office("routing", "/reports", {"title": "关于路灯的建议", "text": "建议定期巡检",
                                            "cases": [number]}, mine)  # fmt: skip
    rid = report["report_id"]
    office("routing", f"/reports/{rid}/submit", {}, mine)
    office("routing", f"/reports/{rid}/review", {"outcome": "adopted", "note": "已采用"})
    office("registry", "/leaders", {"code": "ldr-dossier", "name": "李主席", "title": "副主席",
                                    "stations": ["gwm"]})  # fmt: skip
    office("registry", "/leaders/ldr-dossier/visits",
           {"station": "gwm", "date": day, "purpose": "推动路灯巡检", "members": [member]})  # fmt: skip

    def listed(service, path, key, **params):
        r = requests.get(stack.url(service, path), params=params, headers=stack.headers, timeout=30)
        assert r.ok, r.text
        return r.json()[key]

    by_year = {"member": member, "year": YEAR}
    consultations = listed("routing", "/consultations", "consultations", **by_year)
    reports = listed("routing", "/reports", "reports", **by_year)
    visits = listed("registry", "/visits", "visits", **by_year)
    cases = listed("routing", "/office/cases.json", "cases", member=member,
                   **{"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"})  # fmt: skip
    expected = {
        "consultations": len(consultations),
        "reports": len(reports),
        "leader_visits": len(visits),
        "cases": len(cases),
        "cases_resolved": sum(1 for c in cases if c["status"] == "resolved"),
    }
    assert expected == {"consultations": 1, "reports": 1, "leader_visits": 1, "cases": 1,
                        "cases_resolved": 1}  # fmt: skip

    def reached():
        f = dossier_json(stack, code=member).json()["figures"]
        return f if all(f[k] == v for k, v in expected.items()) else None

    figures = stack.wait_for(reached, timeout=60, interval=0.5, what="m004's file")
    adopted = sum(1 for r in reports if r.get("status") == "adopted")
    assert figures["reports_by_outcome"]["adopted"] == adopted == 1
    body = dossier_json(stack, code=member).json()
    assert body["records"]["visits"][0]["leader_name"] == "李主席"
    assert body["records"]["consultations"][0]["agreement"] == "三日内修复"
