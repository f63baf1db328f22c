"""The office console's cases as the CPPCC office meets them (issue #18): headless Chromium at a
phone's size and at a desk's. The office finds "the hazard cases at 安宁区 stations that are
overdue" with the pickers, then a case by a word of its text, opens it and transfers it; the
JSON twin and the workbook answer the same filters, each admin sees only its own.
Screenshots go to ``/tmp/shots/office-cases/``.
"""

import io
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import text

from services.kernel.db import make_engine
from tests.conftest import auth_headers, delete_vhost
from tests.e2e.conftest import (
    CHROMEDRIVER,
    CHROMIUM,
    fits_the_phone,
    make_account,
    make_stack,
    sign_in_on_page,
    wait_case,
)

SHOTS = Path("/tmp/shots/office-cases")
SIZES = {"phone": (390, 844), "desktop": (1280, 900)}
WORDS = {
    "jnl-hazard": ("jnl", "hazard", "楼道电线老化裸露，存在触电危险，电话13911112222"),
    "ytl-hazard": ("ytl", "hazard", "河堤护栏松动，孩子们常在旁边玩耍"),
    "gwm-hazard": ("gwm", "hazard", "井盖破损，行人夜里容易跌落"),
    "jnl-health": ("jnl", "health", "社区卫生站周末不开门，老人看病难"),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_databases):
    stack, vhost, stack.amqp_uri = make_stack(
        tmp_path_factory.mktemp("office"), "sqlite", pg_databases
    )
    yield stack
    stack.stop()
    delete_vhost(vhost)


@pytest.fixture(scope="module")
def cases(stack):
    """The four cases, by key; jnl's hazard made overdue as the deadline job finds it (its
    response deadline an hour gone, red)."""
    found = {}
    for key, (station, category, words) in WORDS.items():
        body = {"station": station, "category": category, "description": words,
                "submission_id": f"office-{key}", "contact": {"name": "王五", "phone": "13900009999"}}  # fmt: skip
        r = requests.post(stack.url("intake", "/staff/issues"), json=body, headers=stack.headers, timeout=30)  # fmt: skip
        assert r.status_code in (201, 202), r.text
        number = stack.wait_for(
            lambda sid=body["submission_id"]: (
                requests.get(
                    stack.url("intake", "/submissions"),
                    params={"submission_id": sid},
                    headers=stack.headers,
                    timeout=10,
                )
                .json()["submissions"][0]
                .get("tracking_number")
            ),  # fmt: skip
            timeout=30,
            what="the issue's number",
        )
        found[key] = wait_case(stack, number)
    engine = make_engine(stack.db_urls["routing"])
    with engine.begin() as c:
        c.execute(
            text("UPDATE cases SET colour = 'red', response_due = :due WHERE tracking_number = :n"),
            {"due": datetime.now(UTC) - timedelta(hours=1), "n": found["jnl-hazard"]["tracking_number"]},
        )  # fmt: skip
    engine.dispose()
    return found


@pytest.fixture(params=list(SIZES))
def browser(request):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail("chromium and chromium-driver are needed")
    width, height = SIZES[request.param]
    profile = tempfile.mkdtemp(prefix="lx-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", f"--user-data-dir={profile}",
                f"--window-size={width},{height}"):  # fmt: skip
        options.add_argument(arg)
    if request.param == "phone":
        options.add_experimental_option(
            "mobileEmulation",
            {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 3.0}},
        )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.size_name = request.param
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def shot(driver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.execute_script("window.scrollTo(0, 0)")
    assert driver.save_screenshot(str(SHOTS / f"{driver.size_name}-{name}.png"))


def text_of(driver, element_id: str) -> str:
    """An element's text, read in one script (the page may be reloading)."""
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.textContent : ''",
        element_id,
    )


def rows(driver) -> list[str]:
    """The case numbers listed (read in one script: the page may be reloading)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('a.case')].map(a => a.id.slice(4))"
    )


def test_the_office_finds_filters_opens_and_transfers(stack, cases, browser):
    login, password = make_account(stack, "office")
    browser.get(stack.url("registry", "/sign-in"))
    sign_in_on_page(browser, login, password)
    WebDriverWait(browser, 20).until(lambda d: d.get_cookie("lx_session"))
    browser.get(stack.url("routing", "/office/cases"))
    assert "案件查询" in browser.title
    overdue = cases["jnl-hazard"]["tracking_number"]

    # the hazard cases at 安宁区 stations that are overdue, with the pickers
    browser.find_element(By.CSS_SELECTOR, "#filters details summary").click()
    Select(browser.find_element(By.ID, "f-district")).select_by_visible_text("安宁区")
    Select(browser.find_element(By.ID, "f-category")).select_by_value("hazard")
    browser.find_element(By.ID, "f-overdue").click()
    browser.find_element(By.CSS_SELECTOR, "#filters details button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda d: "overdue=true" in d.current_url)
    WebDriverWait(browser, 20).until(lambda d: rows(d) == [overdue])
    assert "共 1 件" in browser.find_element(By.ID, "total").text
    assert fits_the_phone(browser)
    shot(browser, "1-hazard-anning-overdue")
    # the phone number typed into the words is masked on the list and cannot be searched
    assert "13911112222" not in browser.page_source

    # a case by a word in the middle of its text
    browser.get(stack.url("routing", "/office/cases"))
    box = browser.find_element(By.ID, "f-q")
    box.send_keys("护栏松动")
    browser.find_element(By.ID, "go").click()
    wanted = cases["ytl-hazard"]["tracking_number"]
    WebDriverWait(browser, 20).until(lambda d: rows(d) == [wanted])
    shot(browser, "2-search")
    browser.find_element(By.ID, f"row-{wanted}").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, f"case-{wanted}"))
    page = browser.page_source
    assert "河堤护栏松动" in page and "答复期限" in page and "办理记录" in page
    assert fits_the_phone(browser)
    shot(browser, "3-case")

    # transfer it to another member from the page (routing's own transfer action)
    picker = Select(browser.find_element(By.ID, "to-member"))
    target = picker.options[1]
    code, name = target.get_attribute("value"), target.text.split("（")[0]
    picker.select_by_value(code)
    browser.find_element(By.NAME, "transfer_note").send_keys("办公室转办：请河道管理委员处理")
    browser.find_element(By.CSS_SELECTOR, "button[data-action=transfer]").click()
    WebDriverWait(browser, 20).until(
        lambda d: name in text_of(d, "member")
    )  # the page reloaded with the new member
    assert "转办" in browser.find_element(By.ID, "history").text
    shot(browser, "4-transferred")
    after = requests.get(
        stack.url("routing", f"/cases/{wanted}"), headers=stack.headers, timeout=10
    )
    assert after.json()["member"] == code


def test_the_json_twin_and_the_workbook_answer_the_same_filters(stack, cases):
    from openpyxl import load_workbook

    query = {"district": "安宁区", "category": "hazard"}
    r = requests.get(stack.url("routing", "/office/cases.json"), params=query, headers=stack.headers, timeout=10)  # fmt: skip
    assert r.status_code == 200
    found = {c["tracking_number"] for c in r.json()["cases"]}
    assert found == {cases["jnl-hazard"]["tracking_number"], cases["ytl-hazard"]["tracking_number"]}
    x = requests.get(stack.url("routing", "/office/cases.xlsx"), params=query, headers=stack.headers, timeout=10)  # fmt: skip
    assert x.status_code == 200 and "spreadsheetml" in x.headers["Content-Type"]
    sheet = load_workbook(io.BytesIO(x.content))["案件 cases"]
    assert {row[0] for row in list(sheet.values)[1:]} == found
    bad = requests.get(stack.url("routing", "/office/cases.json"), params={"from": "2026-02-30", "status": "lost"}, headers=stack.headers, timeout=10)  # fmt: skip
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"from", "status"}
    page = requests.get(stack.url("routing", "/office/cases"), params={"colour": "blue"}, headers=stack.headers, timeout=10)  # fmt: skip
    assert page.status_code == 400 and "查询条件有误" in page.text and "colour" in page.text


def test_each_admin_sees_only_its_own(stack, cases):
    config = stack.config()
    jnl = auth_headers(config, "station_admin", stations=["jnl"])
    r = requests.get(stack.url("routing", "/office/cases.json"), headers=jnl, timeout=10)
    assert r.status_code == 200 and {c["station"] for c in r.json()["cases"]} == {"jnl"}
    assert len(r.json()["cases"]) == 2
    refused = requests.get(stack.url("routing", "/office/cases.json"), params={"station": "gwm"}, headers=jnl, timeout=10)  # fmt: skip
    assert refused.status_code == 403
    gwm_case = cases["gwm-hazard"]["tracking_number"]
    other = requests.get(stack.url("routing", f"/office/cases/{gwm_case}"), headers=jnl, timeout=10)  # fmt: skip
    assert other.status_code == 403 and "井盖破损" not in other.text
    member = auth_headers(config, "member", member="m003")
    assert requests.get(stack.url("routing", "/office/cases.json"), headers=member, timeout=10).status_code == 403  # fmt: skip
