"""The dashboard's map (issue #19) in headless Chromium, on a phone and on a desktop, against the
running stack: the registry's demo stations (with their coordinates, sent in its events) and one
station added without coordinates; issues sent through intake. The districts are drawn and
filled, each station is a point sized by its issues, the unplaced station is counted, nothing is
fetched from outside, the labels do not overlap, and a district's click leads to its cases.
Screenshots are kept in var/screenshots/map/ (and /tmp/shots/map/) to look at."""

import base64
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from services.reporting.projections import month_of
from tests.e2e.conftest import (
    CHROMEDRIVER,
    CHROMIUM,
    fits_the_phone,
    make_account,
    sign_in_on_page,
    wait_case,
    wait_figure,
    wait_submission,
)
from tools.client import SubmissionClient

ROOT = Path(__file__).resolve().parents[2]
SHOTS = [ROOT / "var" / "screenshots" / "map", Path("/tmp/shots/map")]
NINE = {
    "城关区",
    "七里河区",
    "西固区",
    "安宁区",
    "红古区",
    "永登县",
    "皋兰县",
    "榆中县",
    "兰州新区",
}
ISSUES = [("gwm", 3), ("jnl", 1), ("sp", 1)]  # station, issues this month


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


def shoot(driver, name):
    """The map and its legend as one picture."""
    element = driver.find_element(By.ID, "district-map")
    driver.execute_script("arguments[0].scrollIntoView()", element)
    png = base64.b64decode(element.screenshot_as_base64)
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.png").write_bytes(png)


def backend(stack) -> str:
    return "postgresql" if stack.db_urls["reporting"].startswith("postgresql") else "sqlite"


def send_issues(stack, month):
    with SubmissionClient(stack.amqp_uri) as client:
        sent = [
            client.submit(code, category="property", description=f"{code} 小区路灯不亮 {i}")
            for code, n in ISSUES
            for i in range(n)
        ]
    for sid in sent:
        [submission] = wait_submission(stack, sid)
        wait_case(stack, submission["tracking_number"])
    for code, n in ISSUES:
        wait_figure(stack, month, "issues_received", n, dimension="station", key=code)


def add_unplaced_station(stack):
    body = {"code": "mapnone", "name": "无坐标测试工作站", "district": "榆中县", "kind": "street"}
    r = requests.post(
        stack.url("registry", "/stations"), json=body, headers=stack.headers, timeout=30
    )
    assert r.status_code in (200, 201), r.text


def dots(driver) -> dict:
    """station code → (issues, rendered diameter in CSS pixels)"""
    out = {}
    for a in driver.find_elements(By.CSS_SELECTOR, "#district-map a[data-station]"):
        circle = a.find_element(By.TAG_NAME, "circle")
        out[a.get_attribute("data-station")] = (
            int(a.get_attribute("data-count")),
            circle.rect["width"],
        )
    return out


def labels_apart(driver) -> list:
    """The district labels as drawn: no two boxes overlap (per panel)."""
    found = []
    for svg in driver.find_elements(By.CSS_SELECTOR, "#district-map svg"):
        boxes = [(t.text, t.rect) for t in svg.find_elements(By.CSS_SELECTOR, "text[data-label]")]
        for i, (name, a) in enumerate(boxes):
            for other, b in boxes[i + 1 :]:
                apart = (
                    a["x"] + a["width"] <= b["x"]
                    or b["x"] + b["width"] <= a["x"]
                    or a["y"] + a["height"] <= b["y"]
                    or b["y"] + b["height"] <= a["y"]
                )
                assert apart, (name, a, other, b)
        found += [name for name, _ in boxes]
    return found


def check_map(driver, stack, month):
    html = driver.page_source
    # everything the map needs is on the page: no script or picture fetched from elsewhere
    outside = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function(e){return e.name})"
    )
    assert not [u for u in outside if not u.startswith(stack.url("reporting", ""))], outside
    assert "待建" not in html
    districts = {
        a.get_attribute("data-district")
        for a in driver.find_elements(By.CSS_SELECTOR, "#district-map a[data-district]")
    }
    assert districts == NINE
    found = dots(driver)
    assert {"gwm", "jnl", "jql", "ytl", "sp"} <= set(found) and "mapnone" not in found
    assert found["gwm"][0] == 3 and found["jnl"][0] == 1 and found["jql"][0] == 0
    assert found["gwm"][1] > found["jnl"][1] > found["jql"][1]  # bigger for more issues
    unplaced = driver.find_element(By.CSS_SELECTOR, "#district-map .unplaced")
    assert unplaced.get_attribute("data-unplaced") == "1"
    assert "个工作站暂无坐标" in unplaced.text
    title = driver.find_element(
        By.CSS_SELECTOR, "#district-map a[data-station=gwm] circle title"
    ).get_attribute("textContent")
    assert title.startswith("广武门街道委员工作站：收到 3 件")
    chengguan = driver.find_element(
        By.CSS_SELECTOR, "#lanzhou-map a[data-district=城关区]"
    ).get_attribute("data-count")
    assert int(chengguan) == 3
    named = labels_apart(driver)
    assert set(named) >= NINE
    legend = driver.find_element(By.CSS_SELECTOR, "#district-map .maplegend").text
    assert "区县收到问题" in legend and "工作站超期占比" in legend and "兰州新区" in legend


def test_the_office_sees_the_month_on_the_map(stack, phone, desktop):
    month = month_of(datetime.now(UTC))
    add_unplaced_station(stack)
    send_issues(stack, month)
    page = stack.url("reporting", f"/dashboard?month={month}")
    stack.wait_for(
        lambda: "data-unplaced=1" in requests.get(page, headers=stack.headers, timeout=10).text,
        timeout=30,
        what="reporting's copy of the station without coordinates",
    )
    login, password = make_account(stack, "office")

    phone.get(page)
    sign_in_on_page(phone, login, password)
    WebDriverWait(phone, 20).until(lambda d: d.find_elements(By.ID, "lanzhou-map"))
    check_map(phone, stack, month)
    assert fits_the_phone(phone)
    width = phone.find_element(By.ID, "lanzhou-map").rect["width"]
    assert width <= phone.execute_script("return window.innerWidth")  # scaled to the phone
    shoot(phone, f"phone-{backend(stack)}")

    desktop.get(page)
    sign_in_on_page(desktop, login, password)
    WebDriverWait(desktop, 20).until(lambda d: d.find_elements(By.ID, "lanzhou-map"))
    check_map(desktop, stack, month)
    city, urban = (desktop.find_element(By.ID, i).rect for i in ("lanzhou-map", "urban-map"))
    assert city["y"] == urban["y"] and city["x"] < urban["x"]  # side by side on a desktop
    shoot(desktop, f"desktop-{backend(stack)}")

    # a click on a district opens its cases in routing's office list, for the month shown
    desktop.find_element(By.CSS_SELECTOR, "#urban-map a[data-district=安宁区] path").click()
    WebDriverWait(desktop, 20).until(lambda d: "/office/cases" in d.current_url)
    assert "district=%E5%AE%89%E5%AE%81%E5%8C%BA" in desktop.current_url
    assert f"from={month}-01" in desktop.current_url
