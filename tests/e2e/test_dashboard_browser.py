"""The dashboard as the office uses it, in headless Chromium on a phone and on a desktop: the
headline row from activities sent through intake, the month and year pickers, a table sorted by
a figure, each row's link to its cases, a station nobody rated as "—" (null in the JSON), and a
page that answers with routing stopped, showing the last reconciliation it knows."""

import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC  # noqa: N812
from selenium.webdriver.support.ui import Select, WebDriverWait

from services.reporting.projections import month_of
from tests.conftest import delete_vhost
from tests.e2e.conftest import (
    CHROMEDRIVER,
    CHROMIUM,
    fits_the_phone,
    make_account,
    make_stack,
    read_again,
    sign_in_on_page,
    wait_case,
    wait_figure,
    wait_submission,
)
from tools.client import SubmissionClient

SHOTS = Path("/tmp/shots/dashboard")
ACTIVITIES = [  # (station, kind, date, members, people served)
    ("gwm", "reception_day", "2025-06-03", ["m001", "m003"], 23),
    ("gwm", "reception_day", "2025-06-17", ["m002"], 15),
    ("jnl", "living_room", "2025-06-10", ["m005"], 8),
    ("jql", "reception_day", "2025-06-24", ["m008", "m003"], 31),
    ("jnl", "reception_day", "2025-07-01", ["m006"], 40),
]


@pytest.fixture
def desktop():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail("chromium and chromium-driver are needed (apt-get install -y chromium ...)")
    profile = tempfile.mkdtemp(prefix="lx-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--window-size=1280,1000"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def record_activities(stack):
    for i, (station, kind, day, members, people) in enumerate(ACTIVITIES):
        body = {
            "activity_id": f"dash-{i}-{day}",
            "kind": kind,
            "station": station,
            "date": day,
            "members": members,
            "people_served": people,
        }
        r = requests.post(
            stack.url("intake", "/staff/activities"), json=body, headers=stack.headers, timeout=30
        )
        assert r.status_code == 201, r.text
    wait_figure(stack, "2025-06", "reception_days", 3)
    wait_figure(stack, "2025-07", "reception_days", 1)


def tile(driver, key) -> str:
    return driver.find_element(By.CSS_SELECTOR, f".tile[data-key={key}] .value").text


def column(driver, table, key) -> list[str]:
    cells = driver.find_elements(
        By.CSS_SELECTOR, f"table[data-table={table}] tbody td[data-key={key}]"
    )
    return [c.get_attribute("data-v") for c in cells]


def shoot(driver, name):
    """The whole page as one picture (Chromium's own full-page capture), to look at."""
    import base64

    SHOTS.mkdir(parents=True, exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    (SHOTS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


def test_the_office_reads_the_programme_picks_periods_and_sorts_stations(stack, phone, desktop):
    record_activities(stack)
    login, password = make_account(stack, "office")
    phone.get(stack.url("reporting", "/dashboard?month=2025-06"))
    sign_in_on_page(phone, login, password)
    WebDriverWait(phone, 20).until(EC.url_contains("/dashboard"))
    WebDriverWait(phone, 20).until(lambda d: d.find_elements(By.ID, "period"))

    # the headline row first: the month's reception days and people served as staff recorded
    assert "2025 年 6 月" in phone.find_element(By.ID, "period").text
    assert tile(phone, "reception_days") == "3"
    assert tile(phone, "people_served") == "77"
    assert tile(phone, "activities_held") == "4"
    assert tile(phone, "members_active") == "5"  # m001 m002 m003 m005 m008, m003 once
    first = phone.find_element(By.CSS_SELECTOR, ".tile").get_attribute("data-key")
    assert first == "reception_days"
    reception = phone.find_element(By.CSS_SELECTOR, ".tile[data-key=reception_days]")
    assert "委员接待日场次" in reception.text  # the clerk's words, in Chinese, first
    rule = reception.find_element(By.TAG_NAME, "details")
    precise = rule.find_element(By.CLASS_NAME, "rule")
    assert not precise.is_displayed()  # one click away ...
    rule.find_element(By.TAG_NAME, "summary").click()
    assert precise.is_displayed() and "Reception-day activities" in precise.text  # ... there
    assert "intake." not in phone.page_source and "routing.issue" not in phone.page_source
    assert fits_the_phone(phone)

    # each row links to its cases in routing's office list, for the month shown
    gwm = phone.find_element(By.CSS_SELECTOR, "table[data-table=station] tr[data-code=gwm] a")
    assert gwm.get_attribute("href") == stack.url(
        "routing", "/office/cases?station=gwm&from=2025-06-01&to=2025-06-30"
    )
    m003 = phone.find_element(By.CSS_SELECTOR, "table[data-table=member] tr[data-code=m003] a")
    assert m003.text == "张志强"
    assert m003.get_attribute("href").endswith("member=m003&from=2025-06-01&to=2025-06-30")

    # the stations come sorted by reception days, most first; a tap on the column turns the
    # order round in place (the page's script), another tap back
    def days():
        return [int(v) for v in column(phone, "station", "reception_days")]

    assert days() == sorted(days(), reverse=True) and days()[0] == 2
    header = phone.find_element(
        By.CSS_SELECTOR, "table[data-table=station] th a[data-col='1']"
    )  # 委员接待日
    header.click()
    assert days() == sorted(days()) and days()[-1] == 2
    header.click()
    assert days() == sorted(days(), reverse=True)
    # sorting by another figure: served people, most first
    phone.find_element(By.CSS_SELECTOR, "table[data-table=station] th a[data-col='3']").click()
    served = [int(v) for v in column(phone, "station", "people_served")]
    assert served == sorted(served, reverse=True) and served[0] == 38
    # ... and on the server, for a browser without scripts
    html = requests.get(
        stack.url("reporting", "/dashboard"),
        params={"month": "2025-06", "sort": "station.people_served", "dir": "desc"},
        headers=stack.headers,
        timeout=10,
    ).text
    table = re.search(r'<table data-table="station">.*?</table>', html).group(0)
    assert re.findall(r'<tr data-code="(\w+)"', table)[:3] == ["gwm", "jql", "jnl"]  # 38 31 8
    shoot(phone, "phone-2025-06")

    # the pickers: July, then the whole year
    Select(phone.find_element(By.ID, "mon")).select_by_value("07")
    phone.find_element(By.ID, "show").click()
    WebDriverWait(phone, 20).until(EC.url_contains("mon=07"))
    assert "2025 年 7 月" in phone.find_element(By.ID, "period").text
    assert (tile(phone, "reception_days"), tile(phone, "people_served")) == ("1", "40")
    Select(phone.find_element(By.ID, "mon")).select_by_value("")
    phone.find_element(By.ID, "show").click()
    read_again(phone, lambda d: "全年" in d.find_element(By.ID, "period").text)
    assert (tile(phone, "reception_days"), tile(phone, "people_served")) == ("4", "117")
    gwm = phone.find_element(By.CSS_SELECTOR, "table[data-table=station] tr[data-code=gwm] a")
    assert gwm.get_attribute("href").endswith("station=gwm&from=2025-01-01&to=2025-12-31")
    assert fits_the_phone(phone)
    shoot(phone, "phone-2025-year")

    # on a desktop: the same page, district labels each on a row of its own
    desktop.get(stack.url("reporting", "/dashboard?month=2025-06"))
    sign_in_on_page(desktop, login, password)
    WebDriverWait(desktop, 20).until(lambda d: d.find_elements(By.ID, "period"))
    labels = desktop.find_elements(By.CSS_SELECTOR, ".hrow .label")
    boxes = [label.rect for label in labels]
    assert len(boxes) >= 2  # 城关区, 安宁区
    for a, b in zip(boxes, boxes[1:], strict=False):
        assert a["y"] + a["height"] <= b["y"]  # one below the other: never overlapping
    shoot(desktop, "desktop-2025-06")


def test_a_station_nobody_rated_is_blank_not_zero(stack, phone):
    month = month_of(datetime.now(UTC))
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit("ytl", category="property", description="小区路灯不亮，晚上出行不便")
    [submission] = wait_submission(stack, sid)
    wait_case(stack, submission["tracking_number"])
    wait_figure(stack, month, "issues_assigned", 1, dimension="station", key="ytl")
    r = requests.get(
        stack.url("reporting", "/stats/monthly"),
        params={"month": month, "breakdown": "station"},
        headers=stack.headers,
        timeout=10,
    )
    ytl = r.json()["station"]["ytl"]
    assert ytl["satisfaction_rate"] is None  # null, not 0 and not missing
    assert ytl["median_minutes_to_first_response"] is None  # kept for the city only

    login, password = make_account(stack, "office")
    phone.get(stack.url("reporting", f"/dashboard?month={month}"))
    sign_in_on_page(phone, login, password)
    WebDriverWait(phone, 20).until(lambda d: d.find_elements(By.ID, "period"))
    cell = phone.find_element(
        By.CSS_SELECTOR,
        "table[data-table=station] tr[data-code=ytl] td[data-key=satisfaction_rate]",
    )
    assert cell.text == "—"


def test_the_dashboard_answers_with_routing_stopped(tmp_path, pg_databases):
    stack, vhost, _ = make_stack(tmp_path, "sqlite", pg_databases)
    try:
        r = requests.post(
            stack.url("intake", "/staff/activities"),
            json={
                "activity_id": "down-act-1",
                "kind": "reception_day",
                "station": "gwm",
                "date": "2025-05-06",
                "members": ["m001"],
                "people_served": 12,
            },
            headers=stack.headers,
            timeout=30,
        )
        assert r.status_code == 201, r.text
        wait_figure(stack, "2025-05", "people_served", 12)
        stack.kill("routing")

        page = requests.get(
            stack.url("reporting", "/dashboard?month=2025-05"), headers=stack.headers, timeout=30
        )
        assert page.status_code == 200
        assert re.search(r'data-key="people_served"><div>.*?<div class=value>12</div>', page.text)
        state = re.search(r"data-reconciliation=(\w+)", page.text).group(1)
        assert state in ("pending", "holds", "unknown")  # what was last known, whatever it was

        # once reconciliation has found routing silent, the page says so, with the figures
        asked = requests.get(
            stack.url("reporting", "/reconciliation"), headers=stack.headers, timeout=30
        ).json()
        assert asked["holds"] is None and asked["unavailable"] == ["routing"]
        page = requests.get(
            stack.url("reporting", "/dashboard?month=2025-05"), headers=stack.headers, timeout=30
        )
        assert page.status_code == 200 and "data-reconciliation=unknown" in page.text
        assert "routing 未响应" in page.text and "检查" in page.text
        assert re.search(r'data-key="people_served"><div>.*?<div class=value>12</div>', page.text)
    finally:
        stack.stop()
        delete_vhost(vhost)
