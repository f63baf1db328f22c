"""Leader liaison (领导对口联系, issue 21) in headless Chromium on a phone-size window.

The office signs in, adds a leader on ``/office/leaders`` and links two stations (jnl, ytl);
from the leader's page it records a visit on ``/office/visits``: one member picked from jnl's
own, another typed by code (first a wrong code: the error beside the field, what was typed and
picked kept), then correctly. jnl's station admin signs in
and sees that visit on the same page, without the record form; another station's visits
(ytl, by filter; by id over JSON) are refused in the one format. Screenshots go to
``/tmp/shots/leaders/``.
"""

from pathlib import Path

import pytest
import requests
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.conftest import delete_vhost
from tests.e2e.conftest import (
    fits_the_phone,
    make_account,
    make_stack,
    read_again,
    sign_in_on_page,
)
from tests.e2e.test_accounts_browser import fill, office_signs_in, session_of

SHOTS = Path("/tmp/shots/leaders")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_databases):
    """One stack (SQLite): the pages are the registry's; tests/registry runs them on both."""
    stack, vhost, stack.amqp_uri = make_stack(
        tmp_path_factory.mktemp("leaders"), "sqlite", pg_databases
    )
    yield stack
    stack.stop()
    delete_vhost(vhost)


def shot(driver, name: str, element_id: str | None = None) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    if element_id:
        driver.execute_script(
            "document.getElementById(arguments[0]).scrollIntoView({block: 'start'})", element_id
        )
    assert driver.save_screenshot(str(SHOTS / f"{name}.png"))


def text_of(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def shows(driver, element_id: str, words: str) -> bool:
    """Whether the (next) page's element holds ``words``; read again while the page changes.
    When it never does, the page is kept (``failed-<id>.png``) and its text said."""
    try:
        return read_again(driver, lambda d: words in text_of(d, element_id))
    except TimeoutException:
        shot(driver, f"failed-{element_id}")
        body = driver.find_element(By.TAG_NAME, "body").text
        raise AssertionError(f"no {words!r} in #{element_id}; the page: {body[:1500]}") from None


def test_the_office_links_a_leader_and_records_a_visit_a_station_admin_sees_its_own(stack, phone):
    office_signs_in(stack, phone, "/office/leaders")
    assert "领导联系" in phone.find_element(By.TAG_NAME, "h1").text
    shot(phone, "phone-leaders-empty")

    fill(phone, "code", "ldr-test")
    fill(phone, "name", "马文涛")
    fill(phone, "title", "副主席")
    stations = Select(phone.find_element(By.ID, "stations"))
    stations.select_by_value("jnl")
    stations.select_by_value("ytl")
    phone.find_element(By.ID, "add-leader-submit").click()
    shows(phone, "notice", "已添加 副主席马文涛")
    linked = phone.find_element(By.CSS_SELECTOR, "#leader-ldr-test .linked").text
    assert (
        "培黎街道建宁路社区委员工作站（jnl）" in linked and "银滩路街道委员工作站（ytl）" in linked
    )
    assert fits_the_phone(phone)
    shot(phone, "phone-leader-added", "leader-ldr-test")

    # the leader's page, then "record a visit": that leader chosen, only its stations offered
    phone.find_element(By.ID, "edit-ldr-test").click()
    read_again(phone, lambda d: d.current_url.endswith("/office/leaders/ldr-test"))
    assert fits_the_phone(phone)
    shot(phone, "phone-leader-page")
    phone.find_element(By.ID, "record-link").click()
    read_again(phone, lambda d: "/office/visits?leader=ldr-test" in d.current_url)
    leader = Select(phone.find_element(By.ID, "visit-leader"))
    assert leader.first_selected_option.get_attribute("value") == "ldr-test"
    offered = [
        o.get_attribute("value")
        for o in phone.find_elements(By.CSS_SELECTOR, "#visit-station option")
        if o.get_attribute("value") and o.is_enabled()
    ]
    assert offered == ["jnl", "ytl"]

    Select(phone.find_element(By.ID, "visit-station")).select_by_value("jnl")
    # the picker offers jnl's own members (the small set: m005, m006, m007), by name
    offered = {
        o.get_attribute("value"): o.text
        for o in phone.find_elements(By.CSS_SELECTOR, "#visit-picked option")
        if o.is_enabled()
    }
    assert offered == {"m005": "陈立新（m005）", "m006": "杨静（m006）", "m007": "赵海涛（m007）"}
    Select(phone.find_element(By.ID, "visit-picked")).select_by_value("m005")
    fill(phone, "visit-purpose", "现场推进培黎街道委员工作室建设，协调雨污管道隐患整改")
    fill(phone, "visit-members", "m999")  # a code typed wrong
    fill(phone, "visit-others", "安宁区政协、培黎街道")
    phone.find_element(By.ID, "record-submit").click()
    shows(phone, "error-members", "m999")
    assert phone.find_element(By.ID, "visit-members").get_attribute("value") == "m999"
    kept = Select(phone.find_element(By.ID, "visit-picked")).all_selected_options
    assert [o.get_attribute("value") for o in kept] == ["m005"]
    assert "雨污管道" in phone.find_element(By.ID, "visit-purpose").get_attribute("value")
    assert fits_the_phone(phone)
    shot(phone, "phone-visit-refused", "record")

    fill(phone, "visit-members", "m006")
    phone.find_element(By.ID, "record-submit").click()
    shows(phone, "notice", "已记录")
    [visit] = requests.get(stack.url("registry", "/visits"), params={"leader": "ldr-test"},
                           headers=stack.headers, timeout=10).json()["visits"]  # fmt: skip
    assert (visit["station"], visit["members"]) == ("jnl", ["m005", "m006"])
    row = text_of(phone, f"visit-{visit['visit_id']}")
    assert "雨污管道" in row and "陈立新" in row and "杨静" in row  # m005, m006 by name
    assert fits_the_phone(phone)
    shot(phone, "phone-visit-recorded", f"visit-{visit['visit_id']}")

    # a second visit, to ytl (the office's JSON, as the replay sends it)
    r = requests.post(stack.url("registry", "/leaders/ldr-test/visits"), headers=stack.headers,
                      json={"station": "ytl", "date": visit["date"], "purpose": "银滩路机密事项"},
                      timeout=10)  # fmt: skip
    assert r.status_code == 201, r.text
    at_ytl = r.json()["saved"]["visit_id"]
    # recorded twice by mistake: the office withdraws the copy (after saying yes to the question)
    r = requests.post(stack.url("registry", "/leaders/ldr-test/visits"), headers=stack.headers,
                      json={"station": "ytl", "date": visit["date"], "purpose": "重复录入"},
                      timeout=10)  # fmt: skip
    copy = r.json()["saved"]["visit_id"]
    phone.get(stack.url("registry", "/office/visits?leader=ldr-test"))
    read_again(phone, lambda d: d.find_element(By.ID, f"withdraw-{copy}")).click()
    phone.switch_to.alert.accept()
    read_again(phone, lambda d: "已撤销" in text_of(d, f"visit-{copy}"))
    assert "共 2 次有效走访" in text_of(phone, "visit-count")
    shot(phone, "phone-visit-withdrawn", f"visit-{copy}")

    # jnl's admin: its own station's visit, no form, nothing of ytl's
    login, password = make_account(stack, "station_admin", stations=["jnl"])
    phone.delete_all_cookies()
    phone.get(stack.url("registry", "/office/visits"))
    sign_in_on_page(phone, login, password)
    read_again(phone, lambda d: d.current_url == stack.url("registry", "/office/visits"))
    shows(phone, "visit-count", "共 1 次")
    assert "雨污管道" in text_of(phone, f"visit-{visit['visit_id']}")
    assert not phone.find_elements(By.ID, "record-form")
    assert not phone.find_elements(By.ID, f"withdraw-{visit['visit_id']}")
    assert "银滩路机密事项" not in phone.page_source
    assert [a.get_attribute("id") for a in phone.find_elements(By.CSS_SELECTOR, "nav a")] == [
        "nav-visits"
    ]
    assert fits_the_phone(phone)
    shot(phone, "phone-station-admin-visits")

    phone.get(stack.url("registry", "/office/visits?station=ytl"))
    read_again(phone, lambda d: "无权访问" in d.find_element(By.TAG_NAME, "body").text)
    shot(phone, "phone-station-admin-other-station")
    admin = session_of(stack, login, password)
    for path in (f"/visits/{at_ytl}", "/visits?station=ytl"):
        refused = admin.get(stack.url("registry", path), timeout=10)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "forbidden"
        assert "银滩路机密事项" not in refused.text
    assert admin.get(stack.url("registry", f"/visits/{visit['visit_id']}"), timeout=10).ok
