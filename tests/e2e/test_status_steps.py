"""The citizen's whole road on a phone (issue 17), through the real services in headless Chromium:
the member's QR page shows what the poster shows, the receipt names the station and the date
an answer is due, the status page follows every step routing takes (the reopen after 不满意
included) and offers only what routing accepts at that moment.

Screenshots (390 px wide) go to /tmp/shots/citizen-*.png.
"""

import re
from datetime import datetime, timedelta
from pathlib import Path

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from services.intake.intake import CHINA
from tests.conftest import auth_headers
from tests.e2e.conftest import after_click, fits_the_phone, wait_case

SHOTS = Path("/tmp/shots")


def act(stack, number, action, member, **body):
    """A member's action on the case, signed in as that member."""
    r = requests.post(
        stack.url("routing", f"/cases/{number}/actions/{action}"),
        json=body,
        headers=auth_headers(stack.config(), "member", member=member),
        timeout=10,
    )
    assert r.ok, r.text
    return r.json()


def shot(phone, name: str, stack) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    backend = "pg" if any("postgresql" in str(v) for v in stack.env.values()) else "sqlite"
    height = phone.execute_script("return document.documentElement.scrollHeight")
    phone.set_window_size(390, max(844, min(int(height) + 40, 2400)))
    phone.save_screenshot(str(SHOTS / f"citizen-{name}-{backend}.png"))


def offered(phone) -> set[str]:
    return {f for f in ("rate-form", "reopen-form") if phone.find_elements(By.ID, f)}


def steps_on(phone) -> list[str]:
    return [
        li.get_attribute("data-step") for li in phone.find_elements(By.CSS_SELECTOR, "#steps li")
    ]


def status_of_page(phone, stack, number, code, until: str, seconds=30) -> None:
    """Reload the status page until it says ``until`` (a public status word)."""
    url = stack.url("intake", f"/status?number={number}&code={code}")

    def says(driver):
        driver.get(url)
        found = driver.find_elements(By.ID, "status")
        return found and found[0].get_attribute("data-status") == until

    WebDriverWait(phone, seconds, poll_frequency=0.5).until(says)


def api_status(stack, number, code) -> dict:
    r = requests.get(
        stack.url("intake", "/api/status"), params={"number": number, "code": code}, timeout=10
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_the_citizen_follows_the_case_through_a_reopen_on_a_phone(stack, phone):
    # The member's QR page: what the printed poster shows, and the next duty day once the
    # registry announced one.
    day = (datetime.now(CHINA) + timedelta(days=3)).date().isoformat()
    saved = requests.post(
        stack.url("registry", "/rosters"),
        json={"date": day, "slot": "pm", "station": "gwm", "members": ["m003"]},
        headers=stack.headers,
        timeout=10,
    )
    assert saved.status_code in (200, 201), saved.text

    def duty_shown(driver):
        driver.get(stack.url("intake", "/q/member/m003"))
        return day in driver.find_element(By.ID, "member-duty").text

    WebDriverWait(phone, 30, poll_frequency=0.5).until(duty_shown)
    assert phone.find_element(By.ID, "target-name").text == "张志强"
    poster = phone.find_element(By.ID, "poster").text
    assert "县区政协委员" in poster and "医药卫生界别" in poster, poster
    assert "下午" in phone.find_element(By.ID, "member-duty").text
    shot(phone, "qr-member", stack)

    # Submit; the receipt names the station and the date an answer is due.
    Select(phone.find_element(By.ID, "station")).select_by_value("gwm")
    Select(phone.find_element(By.ID, "category")).select_by_value("health")
    phone.find_element(By.ID, "description").send_keys("社区卫生站周末不开门，老人看病不方便")
    phone.find_element(By.ID, "submit").click()
    number = after_click(phone, "tracking-number").text
    code = phone.find_element(By.ID, "lookup-code").text
    station = phone.find_element(By.ID, "receipt-station").text
    assert station and station != "gwm"  # the station's name, not its code
    due = phone.find_element(By.ID, "receipt-due").text
    assert re.search(r"\d+月\d+日（周.）(下班|24:00)前答复", due), due  # as the member's page says
    assert phone.find_element(By.ID, "receipt-member").text == "张志强"
    assert fits_the_phone(phone)
    shot(phone, "receipt", stack)

    case = wait_case(stack, number)
    member = case["member"]

    # The member answers and resolves; the citizen may rate or ask to reopen.
    act(stack, number, "respond", member, note="已与卫生站协商，周六上午开诊")
    act(stack, number, "resolve", member, note="卫生站周六上午已开诊")
    status_of_page(phone, stack, number, code, "resolved")
    assert offered(phone) == {"rate-form", "reopen-form"}
    assert "周六上午已开诊" in phone.find_element(By.ID, "answer").text

    # 不满意: routing reopens the case; the page says so and offers nothing illegal.
    phone.find_element(By.CSS_SELECTOR, '#rate-form input[value="unsatisfied"]').click()
    phone.find_element(By.ID, "comment").send_keys("周日还是没人")
    phone.find_element(By.ID, "rate-submit").click()
    after_click(phone, "action-message")
    status_of_page(phone, stack, number, code, "reopened")
    assert phone.find_element(By.ID, "current-status").text == "重新办理中"
    assert steps_on(phone)[-2:] == ["rated", "reopened"]
    assert phone.find_element(By.ID, "reopened-note").is_displayed()
    assert offered(phone) == set()  # no 申请重新办理 on a case being worked on again
    assert "前答复" in phone.find_element(By.ID, "due").text  # the new deadline
    assert phone.find_element(By.ID, "member").text == "张志强"
    assert fits_the_phone(phone)
    shot(phone, "reopened", stack)
    status = api_status(stack, number, code)
    assert status["status"] == "reopened" and status["status_en"] == "reopened"
    assert status["actions"] == [] and status["due_for"] == "answer"
    assert "routing." not in str(status) and "m003" not in str(status)

    # The member answers again and resolves; the page offers what routing accepts now.
    wait_case(stack, number, "assigned")
    act(stack, number, "respond", member, note="已协调周日由志愿者医生值守")
    act(stack, number, "resolve", member, note="周日已有医生值守")
    status_of_page(phone, stack, number, code, "resolved")
    assert steps_on(phone)[-2:] == ["responded", "resolved"]
    assert "周日已有医生值守" in phone.find_element(By.ID, "answer").text
    now = offered(phone)
    assert "reopen-form" in now
    # one rating per answer: the case answered again is rated again, 满意 this time
    phone.find_element(By.CSS_SELECTOR, '#rate-form input[value="satisfied"]').click()
    phone.find_element(By.ID, "rate-submit").click()
    assert "已提交" in after_click(phone, "action-message").text
    assert wait_case(stack, number, "resolved")["rating"] == "satisfied"
    WebDriverWait(phone, 30, poll_frequency=0.5).until(  # intake hears routing's event
        lambda d: (
            d.get(stack.url("intake", f"/status?number={number}&code={code}"))
            or steps_on(d)[-1:] == ["rated"]
        )
    )
    assert api_status(stack, number, code)["status"] == "resolved"
    assert "rate-form" not in offered(phone)  # this answer is rated: no second form
    shot(phone, "resolved-again", stack)
