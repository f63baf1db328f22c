"""The practice's figures (issue #21) from events sent through the real broker into reporting's
real inbox (the service in a nameko container on a private vhost, SQLite and PostgreSQL): the
producers' events as their contracts say, a visit withdrawn and one saved twice, a report
reviewed twice; then the monthly and yearly JSON, the workbook, the CSV and the dashboard (on a
phone, in headless Chromium) say the same, every practice number linking to its records, and a
rebuild leaves every figure as it was."""

import io
import json
from pathlib import Path

import pytest
import requests
from kombu import Connection
from nameko.containers import ServiceContainer
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel import topology
from services.kernel.db import make_engine
from services.kernel.migrations import upgrade
from services.reporting import queries, rebuild
from services.reporting.models import StoredEvent
from services.reporting.service import ReportingService
from tests.conftest import auth_headers, container_config, free_port, wait_for
from tests.e2e.conftest import fits_the_phone, phone  # noqa: F401 (phone: the fixture)
from tests.unit import practice_events as pe

SHOTS = Path("/tmp/shots/practice")
ROUTING, REGISTRY = "http://routing.example.cn", "http://registry.example.cn"
OFFICE = auth_headers()


def _plain(event: dict) -> dict:
    """An envelope as it travels (plain JSON types), from the parsed one the builders give."""
    return json.loads(json.dumps(event, default=lambda v: getattr(v, "isoformat", v.__str__)()))


def station(code, district):
    return pe.event(
        "registry.station_saved",
        {"code": code, "name": f"{code}站", "district": district, "kind": "street",
         "active": True, "revision": 1},
    )  # fmt: skip


def member(code, sector):
    return pe.event(
        "registry.member_saved",
        {"code": code, "name": f"委员{code}", "level": "municipal", "sector": sector,
         "district": "城关区", "active": True, "revision": 1, "stations": []},
    )  # fmt: skip


def events() -> list[dict]:
    june = pe.T0.replace(year=2025, month=6, day=5)
    return [
        station("gwm", "城关区"),
        station("jnl", "安宁区"),
        pe.event("registry.sector_saved", {"code": "yiyao", "name": "医药卫生界", "revision": 1}),
        member("m1", "yiyao"),
        member("m2", "jiaoyu"),
        member("m3", "jiaoyu"),
        pe.leader("L1", "王副主席", ["gwm", "jnl"]),
        pe.leader("L2", "李副主席", ["gwm"]),
        pe.visit("v1", "L1", "gwm", "2025-06-03", ["m1"]),
        pe.visit("v2", "L1", "jnl", "2025-06-20", ["m2"]),
        pe.visit("v3", "L2", "gwm", "2025-07-01", ["m3"]),
        pe.visit("v3", "L2", "gwm", "2025-07-01", ["m3"], revision=2),  # saved again
        pe.consultation(
            3,
            "2025-06-10",
            station="gwm",
            members=["m1", "m2"],
            cases=["LX1", "LX2", "LX3"],
            settled=["LX1", "LX2"],
        ),  # fmt: skip
        pe.report_submitted(7, "m1", "yiyao", june),
        pe.report_submitted(8, "m2", "jiaoyu", june.replace(day=28)),
        pe.report_reviewed(7, "m1", "yiyao", "adopted", june.replace(day=9)),
        pe.report_reviewed(7, "m1", "yiyao", "forwarded", june.replace(month=7)),
        pe.report_reviewed(8, "m2", "jiaoyu", "received", june.replace(month=7)),
        pe.activity("a1", "reception_day", "gwm", "2025-07-02", ["m3"], 12),
        pe.visit("v2", "L1", "jnl", "2025-06-20", ["m2"], active=False, revision=2),  # withdrawn
    ]


@pytest.fixture
def reporting(db_url, vhost):
    _, amqp_uri = vhost
    upgrade("reporting", db_url)
    port = free_port()
    config = container_config(
        "reporting", amqp_uri, db_url, port, public_urls={"routing": ROUTING, "registry": REGISTRY}
    )
    container = ServiceContainer(ReportingService, config)
    container.start()
    engine = make_engine(db_url)
    yield f"http://127.0.0.1:{port}", amqp_uri, engine
    container.stop()
    engine.dispose()


def publish(amqp_uri: str, sent: list[dict]) -> None:
    """As the services' outboxes do: to lianxin.events, keyed by the event type, confirmed."""
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for event in sent:
            producer.publish(
                json.dumps(_plain(event), ensure_ascii=False),
                exchange=topology.EVENTS_EXCHANGE,
                routing_key=event["type"],
                message_id=str(event["event_id"]),
                content_type="application/json",
                delivery_mode=2,
                declare=[topology.EVENTS_EXCHANGE],
            )


def get(base, path, **params):
    r = requests.get(f"{base}{path}", params=params, headers=OFFICE, timeout=30)
    assert r.status_code == 200, r.text
    return r


def test_the_practice_counted_from_the_inbox_in_json_workbook_csv_and_dashboard(
    reporting,
    phone,  # noqa: F811
):
    base, amqp_uri, engine = reporting
    sent = events()
    wait_for(lambda: get(base, "/health").ok, timeout=30)  # its queue is declared by now
    publish(amqp_uri, sent)

    def stored():
        with Session(engine) as s:
            return s.scalar(select(func.count()).select_from(StoredEvent)) == len(sent)

    wait_for(stored, timeout=60, interval=0.3)

    june = get(base, "/stats/monthly", month="2025-06").json()
    city = june["city"]
    assert city["leader_visits"] == 1  # v2 withdrawn
    assert june["leader"]["L1"]["leader_visits"] == 1
    assert june["station"]["gwm"]["leader_visits"] == 1
    assert june["station"]["jnl"]["leader_visits"] == 0
    assert june["district"]["城关区"]["leader_visits"] == 1
    assert city["consultations_held"] == 1 and city["cases_settled_by_consultation"] == 2
    assert june["station"]["gwm"]["cases_settled_by_consultation"] == 2
    assert city["reports_submitted"] == 2
    assert city["reports_forwarded"] == 1 and city.get("reports_adopted", 0) == 0  # latest only
    assert june["sector"]["yiyao"]["reports_forwarded"] == 1
    assert june["member"]["m2"]["consultations_joined"] == 1
    assert city["members_served"] == 2  # m1, m2 (m2's visit withdrawn, the consultation stays)
    july = get(base, "/stats/monthly", month="2025-07").json()["city"]
    assert july["leader_visits"] == 1 and july["members_served"] == 1  # v3 once; m3
    year = get(base, "/stats/yearly", year="2025").json()
    assert year["city"]["leader_visits"] == 2 and year["leader"]["L2"]["leader_visits"] == 1
    assert year["city"]["members_served"] == 3  # distinct over the year: not 2 + 1
    assert year["registry"]["members"] == 3
    assert year["member"]["m1"]["members_served"] is None  # city only

    book = load_workbook(io.BytesIO(get(base, "/stats/monthly.xlsx", month="2025-06").content))
    header, *rows = list(book["联系领导"].values)
    row = dict(zip(header, rows[0], strict=True))
    assert row["联系领导 Liaison leader"] == "L1" and row["领导走访 Leader visits"] == 1
    header, city_row = list(book["全市"].values)
    city_cells = dict(zip(header, city_row, strict=True))
    assert city_cells["履职委员 Members who served"] == 2
    assert city_cells["信息转送 Reports forwarded"] == 1
    text = get(base, "/stats/monthly.csv", month="2025-06", breakdown="sector").text
    assert "信息转送 Reports forwarded" in text.splitlines()[0]

    with Session(engine) as s:  # the live figures are what a rebuild from the store gives
        live = queries.all_figures(s)
        assert rebuild.rebuild(s) == len(sent)
        s.commit()
        assert queries.all_figures(s) == live
    assert get(base, "/stats/yearly", year="2025").json() == year

    # the dashboard on a phone: the practice block, each number a link to its records
    phone.get(f"{base}/health")
    token = OFFICE["Authorization"].removeprefix("Bearer ")
    phone.add_cookie({"name": "lx_session", "value": token, "path": "/"})
    phone.get(f"{base}/dashboard?year=2025")
    from selenium.webdriver.common.by import By

    block = phone.find_element(By.ID, "practice")
    link = block.find_element(By.CSS_SELECTOR, "[data-key=leader_visits] .value a")
    assert link.text == "2"
    assert link.get_attribute("href") == f"{REGISTRY}/office/visits?year=2025"
    adopted = block.find_element(By.CSS_SELECTOR, "[data-key=reports_forwarded] .value a")
    assert adopted.get_attribute("href") == f"{ROUTING}/reports/page?status=forwarded&year=2025"
    served = block.find_element(By.CSS_SELECTOR, "[data-key=members_served] .value").text
    registered = block.find_element(By.CSS_SELECTOR, "[data-key=members_registered] .value")
    assert (served, registered.text) == ("3", "3")
    leader_row = block.find_element(By.CSS_SELECTOR, "table[data-practice=leader] tr[data-code=L1]")
    assert "王副主席" in leader_row.text
    cell = leader_row.find_element(By.CSS_SELECTOR, "[data-key=leader_visits] a")
    assert cell.get_attribute("href") == f"{REGISTRY}/office/visits?leader=L1&year=2025"
    station = block.find_element(By.CSS_SELECTOR, "table[data-practice=station] tr[data-code=gwm]")
    held = station.find_element(By.CSS_SELECTOR, "[data-key=consultations_held] a")
    assert held.get_attribute("href") == f"{ROUTING}/consultations/page?station=gwm&year=2025"
    sector = block.find_element(By.CSS_SELECTOR, "table[data-practice=sector] tr[data-code=yiyao]")
    assert "医药卫生界" in sector.text  # the registry's name, not the code
    assert fits_the_phone(phone)
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone.execute_script("arguments[0].scrollIntoView()", block)
    phone.save_screenshot(str(SHOTS / f"practice-{engine.dialect.name}.png"))
    tables = block.find_element(By.CSS_SELECTOR, "[data-key=members_registered]")
    phone.execute_script("arguments[0].scrollIntoView()", tables)
    phone.save_screenshot(str(SHOTS / f"practice-tables-{engine.dialect.name}.png"))
    phone.get(f"{base}/dashboard?month=2025-06")  # a month: the links open its year, said so
    block = phone.find_element(By.ID, "practice")
    assert "2025 年全年的记录" in block.text
    phone.execute_script("arguments[0].scrollIntoView()", block)
    phone.save_screenshot(str(SHOTS / f"practice-month-{engine.dialect.name}.png"))
    link = block.find_element(By.CSS_SELECTOR, "[data-key=leader_visits] .value a")
    assert link.text == "1" and link.get_attribute("href").endswith("/office/visits?year=2025")
