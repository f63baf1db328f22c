"""Where the stations are (issue 19), against a running stack on SQLite (the small demo
registry, its stations placed by demo.py): an Open311 client that sends only lat/long reaches
the nearest station, and a point in another province is refused naming the field; the public
station finder in headless Chromium at a phone's size: a district chosen shows its stations,
and with the location granted through the browser's geolocation override, 离我最近 puts the
nearest station first. Screenshots are kept in var/screenshots/finder/ (and /tmp/shots/places/)
to look at."""

from datetime import timedelta
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from services.registry import finder
from tests.conftest import delete_vhost
from tests.e2e.conftest import fits_the_phone, make_stack, wait_case

ROOT = Path(__file__).resolve().parents[2]
SHOTS = [ROOT / "var" / "screenshots" / "finder", Path("/tmp/shots/places")]
KEY = "lianxin-demo-key"  # the demo key of deploy/config/local.yaml
JQL = (36.0572, 103.8286)  # beside 酒泉路街道委员工作站 (demo.POINTS: 36.0570, 103.8290)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_databases):
    stack, vhost, amqp_uri = make_stack(tmp_path_factory.mktemp("finder"), "sqlite", pg_databases)
    stack.amqp_uri, stack.vhost = amqp_uri, vhost
    yield stack
    stack.stop()
    delete_vhost(vhost)


def shot(driver, name: str) -> None:
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(folder / f"finder-{name}.png"))


def test_an_open311_report_with_only_lat_long_reaches_the_nearest_station(stack):
    root = stack.url("intake", "/open311/v2")
    stack.wait_for(
        lambda: (
            requests.post(
                f"{root}/requests.json",
                data={"api_key": KEY, "service_code": "hazard", "lat": "1", "long": "1"},
                timeout=10,
            ).status_code
            == 400
        ),
        timeout=10,
        what="intake answering",
    )
    report = {"api_key": KEY, "service_code": "hazard", "description": "路口红绿灯坏了"}
    r = requests.post(
        f"{root}/requests.json", data=report | {"lat": "36.1024", "long": "103.7255"}, timeout=30
    )
    assert r.status_code == 201, r.text
    number = r.json()[0]["service_request_id"]
    wait_case(stack, number)
    [found] = requests.get(
        f"{root}/requests/{number}.json", params={"api_key": KEY}, timeout=10
    ).json()
    assert found["agency_responsible"] == "jnl"  # 培黎街道建宁路社区, 60 m away
    assert "就近分配 / nearest station jnl, 0.1 km" in found["address"]

    xian = requests.post(
        f"{root}/requests.json", data=report | {"lat": "34.26", "long": "108.94"}, timeout=30
    )
    assert xian.status_code == 400
    assert xian.json()[0]["description"].startswith("lat/long: 该位置不在兰州市各区县内")
    alone = requests.post(
        f"{root}/requests.json", data=report | {"address_string": "城关区酒泉路 9 号"}, timeout=30
    )
    assert alone.status_code == 400 and "an address alone cannot be placed" in alone.text


def visible_codes(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#places > li'))"
        ".filter(li => !li.hidden).map(li => li.dataset.code)"
    )


def test_the_finder_on_a_phone_by_district_and_by_location(stack, phone):
    day = finder.today() + timedelta(days=4)
    r = requests.post(
        stack.url("registry", "/rosters"),
        json={"date": day.isoformat(), "slot": "pm", "station": "jql", "members": ["m008"]},
        headers=stack.headers,
        timeout=30,
    )
    assert r.status_code in (200, 201), r.text
    phone.get(stack.url("registry", "/finder"))  # nobody signed in
    assert phone.find_element(By.TAG_NAME, "h1").text.startswith("找委员")
    assert sorted(visible_codes(phone)) == ["gwm", "jnl", "jql", "sp", "ytl"]
    assert len(phone.find_elements(By.CSS_SELECTOR, "#map circle.station")) == 5
    shot(phone, "all")

    Select(phone.find_element(By.ID, "district")).select_by_value("安宁区")
    assert sorted(visible_codes(phone)) == ["jnl", "ytl"]
    assert phone.find_element(By.ID, "count").text == "2"
    assert fits_the_phone(phone)
    shot(phone, "district")
    qr_link = phone.find_element(By.CSS_SELECTOR, "li[data-code=jnl] a.qr")
    assert qr_link.get_attribute("href") == stack.url("intake", "/q/station/jnl")

    phone.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": stack.url("registry", "/").rstrip("/"), "permissions": ["geolocation"]},
    )
    phone.execute_cdp_cmd(
        "Emulation.setGeolocationOverride",
        {"latitude": JQL[0], "longitude": JQL[1], "accuracy": 20},
    )
    phone.find_element(By.ID, "nearest").click()
    WebDriverWait(phone, 20).until(
        lambda d: "sorted by distance" in d.find_element(By.ID, "status").text
    )
    assert visible_codes(phone)[:2] == ["jql", "gwm"]  # every district again, nearest first
    first = phone.find_element(By.CSS_SELECTOR, "#places > li")
    assert "约0.0公里" in first.text and "酒泉路街道委员工作站" in first.text
    assert f"{day.month}月{day.day}日" in first.text and "马玉兰（少数民族）" in first.text
    assert phone.find_element(By.ID, "me").is_displayed()
    assert fits_the_phone(phone)
    phone.execute_script("window.scrollTo(0, 0)")
    shot(phone, "nearest")
    phone.execute_script("document.querySelector('#places > li').scrollIntoView({block: 'start'})")
    shot(phone, "nearest-list")
    calendar = requests.get(
        stack.url("registry", "/stations/jql/reception.ics"), timeout=10
    ).content
    assert day.strftime("DTSTART:%Y%m%dT063000Z").encode() in calendar
