"""A consultation (有事好商量) as a station's clerk records it on a phone, through the whole
stack (issue 21): two citizens' cases at 建宁路 are taken to a meeting of five units, the
clerk records it from the station's case list and marks both settled; both cases then show
resolved with the agreement as their answer, on their pages and on each citizen's status page,
and their history says "协商议定" with a link back. Screenshots in ``/tmp/shots/consultations/``.
And the scope through the real services: another station's case named in the body answers as
an unknown one, another station's consultation is 403.
"""

from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC  # noqa: N812
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import auth_headers, delete_vhost
from tests.e2e.conftest import (
    fits_the_phone,
    make_account,
    make_stack,
    read_again,
    sign_in_on_page,
    wait_case,
)
from tests.e2e.test_routing_scope import report

SHOTS = Path("/tmp/shots/consultations")
AGREEMENT = "五家单位议定：护坡外来雨污水管道由产权单位本月内改线，社区每周巡查，街道督办。"
UNITS = ["安宁区住建局", "培黎街道办事处", "产权单位", "排水公司", "建宁路社区"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_databases):
    stack, vhost, stack.amqp_uri = make_stack(
        tmp_path_factory.mktemp("consultations"), "sqlite", pg_databases
    )
    yield stack
    stack.stop()
    delete_vhost(vhost)


def shot(driver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SHOTS / f"phone-{name}.png"))


def fill(driver, element_id: str, text: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def tick(driver, element_id: str) -> None:
    box = driver.find_element(By.ID, element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
    box.click()
    assert box.is_selected()


def citizen_answer(stack, number, code):
    r = requests.get(
        stack.url("intake", "/api/status"), params={"number": number, "code": code}, timeout=10
    )
    body = r.json()
    return body if r.status_code == 200 and body.get("answer") == AGREEMENT else None


def test_a_station_clerk_records_a_consultation_that_settles_two_cases(stack, phone):
    first = report(stack, "jnl", "建宁路社区北侧护坡的外来雨污水管道渗漏，护坡土松了，怕塌")
    second = report(stack, "jnl", "护坡下面的雨水管道堵了，一下雨就往小区里灌水")
    other = report(stack, "jnl", "建宁路东口路灯不亮")
    for number, _ in (first, second, other):
        wait_case(stack, number)
    login, password = make_account(stack, "station_admin", stations=["jnl"])

    # the station's case list → 协商 → 记录一次协商
    phone.get(stack.url("routing", "/duty/station/jnl"))
    sign_in_on_page(phone, login, password)
    WebDriverWait(phone, 20).until(EC.presence_of_element_located((By.ID, "consultations")))
    assert "协商" in phone.find_element(By.ID, "consultations").text and fits_the_phone(phone)
    shot(phone, "0-station")
    phone.find_element(By.ID, "consultations").click()
    WebDriverWait(phone, 20).until(EC.presence_of_element_located((By.ID, "new")))
    assert "暂无协商记录" in phone.page_source and fits_the_phone(phone)
    phone.find_element(By.ID, "new").click()
    WebDriverWait(phone, 20).until(EC.presence_of_element_located((By.ID, "record")))
    assert "jnl" in phone.find_element(By.ID, "convening").text
    for number, _ in (first, second, other):  # the station's open cases are offered
        assert phone.find_elements(By.ID, f"link-{number}")
    assert fits_the_phone(phone)
    shot(phone, "1-form")

    fill(phone, "topic", "建宁路护坡雨污水管道隐患")
    phone.execute_script("document.getElementById('date').value = '2024-06-12'")
    fill(phone, "units-invited", "\n".join(UNITS))
    fill(phone, "units-present", "\n".join(UNITS))
    members = phone.find_elements(By.CSS_SELECTOR, "input[name=members]")
    assert members, "the station's members are offered"
    tick(phone, members[0].get_attribute("id"))
    tick(phone, f"settle-{first[0]}")
    tick(phone, f"settle-{second[0]}")
    fill(phone, "agreement", AGREEMENT)
    fill(phone, "follow-up", "建宁路社区 王主任")
    shot(phone, "2-filled")
    save = phone.find_element(By.ID, "save")
    phone.execute_script("arguments[0].scrollIntoView({block: 'center'})", save)
    save.click()

    # the consultation's page: both cases settled and resolved, the third not linked
    read_again(phone, lambda d: d.find_element(By.ID, "consultation").is_displayed())
    assert phone.find_element(By.ID, "topic").text == "建宁路护坡雨污水管道隐患"
    assert "2024-06-12" in phone.find_element(By.ID, "d-date").text
    assert phone.find_element(By.ID, "d-units-present").text == "、".join(UNITS)
    listed = phone.find_element(By.ID, "cases").text
    assert listed.count("已办结") == 2 and listed.count("议定办结") == 2 and other[0] not in listed
    assert fits_the_phone(phone)
    shot(phone, "3-consultation")

    # each case's page: resolved, the agreement its answer, "协商议定" linking back
    cid = phone.current_url.rstrip("/").split("/")[-2]
    phone.find_element(By.CSS_SELECTOR, f"#case-{first[0]} a").click()
    for n, (number, _) in enumerate((first, second)):
        if n:
            phone.get(stack.url("routing", f"/office/cases/{number}"))
        read_again(phone, lambda d, x=number: x in d.find_element(By.TAG_NAME, "h1").text)
        assert "已办结" in phone.find_element(By.ID, "status").text
        history = phone.find_element(By.ID, "history").text
        assert "协商议定" in history and AGREEMENT in history
        link = phone.find_element(By.CSS_SELECTOR, "#history a.consultation")
        assert link.get_attribute("href").endswith(f"/consultations/{cid}/page")
        assert fits_the_phone(phone)
        phone.execute_script("document.getElementById('history').scrollIntoView()")
        shot(phone, f"4-case-{n + 1}")
    link.click()
    read_again(phone, lambda d: d.find_element(By.ID, "consultation").is_displayed())

    # what the citizens see on their status page: the agreement as the answer
    for number, code in (first, second):
        seen = stack.wait_for(
            lambda n=number, c=code: citizen_answer(stack, n, c),
            timeout=30,
            what=f"the answer on {number}'s status page",
        )
        assert seen["status"] == "resolved"
    assert wait_case(stack, other[0])["status"] == "assigned"

    # the list shows it, filtered by year
    phone.get(stack.url("routing", "/consultations/page?year=2024"))
    card = read_again(phone, lambda d: d.find_element(By.ID, f"consultation-{cid}"))
    assert "议定办结 2 件" in card.text and fits_the_phone(phone)
    shot(phone, "5-list")


def test_another_stations_case_or_consultation_is_out_of_a_station_admins_reach(stack):
    """Through the real services: a gwm clerk naming a jnl case is answered as for a case that
    does not exist, nothing is recorded or resolved; jnl's consultations stay jnl's."""
    config = stack.config()
    gwm = auth_headers(config, "station_admin", stations=["gwm"])
    mine, _ = report(stack, "gwm", "广武门小区三号楼楼道灯坏了一个月")
    theirs, _ = report(stack, "jnl", "建宁路社区护坡排水沟堵塞")
    mine_before = wait_case(stack, mine)
    before = wait_case(stack, theirs)
    body = {"topic": "楼道照明", "station": "gwm", "date": "2026-11-02", "members": [],
            "agreement": "物业本周内更换", "follow_up_owner": "物业公司", "cases": []}  # fmt: skip

    def post(headers, **change):
        return requests.post(
            stack.url("routing", "/consultations"),
            json={**body, **change},
            headers=headers,
            timeout=30,
        )

    hidden = post(gwm, settled=[mine, theirs])
    nowhere = post(gwm, settled=[mine, "LX19990101000001"])
    assert hidden.status_code == nowhere.status_code == 400, hidden.text
    assert hidden.json()["error"]["fields"] == {
        "settled": [f"未找到案件 {theirs} / no case {theirs}"]
    }
    assert hidden.text.replace(theirs, "LX19990101000001") == nowhere.text
    assert before["member"] not in hidden.text and "安宁区" not in hidden.text
    # nothing changed: neither case moved (mine is not settled when the request is refused)
    assert wait_case(stack, mine)["version"] == mine_before["version"]
    assert wait_case(stack, theirs, before["status"])["version"] == before["version"]
    assert (
        requests.get(stack.url("routing", "/consultations"), headers=gwm, timeout=10).json()[
            "consultations"
        ]
        == []
    )
    # the office records jnl's; the gwm clerk cannot read it, nor list jnl's
    jnl = post(stack.headers, station="jnl", settled=[theirs])
    assert jnl.status_code == 201, jnl.text
    cid = jnl.json()["consultation_id"]
    one = requests.get(stack.url("routing", f"/consultations/{cid}"), headers=gwm, timeout=10)
    assert one.status_code == 403 and one.json()["error"]["code"] == "forbidden"
    listed = requests.get(stack.url("routing", "/consultations"), headers=gwm, timeout=10)
    assert cid not in [c["consultation_id"] for c in listed.json()["consultations"]]
    wrong = requests.get(
        stack.url("routing", "/consultations"), params={"station": "jnl"}, headers=gwm, timeout=10
    )
    assert wrong.status_code == 403
    assert wait_case(stack, theirs, "resolved")["status"] == "resolved"
