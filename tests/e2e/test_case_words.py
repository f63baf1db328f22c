"""The citizen's words travel with the case (issue #17), and the member does the whole job on the
duty page, in headless Chromium on a phone (390 CSS pixels wide):

an issue heard on the phone at gwm, with a description that has the citizen's phone typed into
it → routing's case, the station list and the duty card show the words (the number masked), the
place, channel and time → the member signs in, reads them, accepts, answers, resolves; a second
case is closed unresolved with its reason from the page (refused without one) → the closed tab
shows both with their history → sign-out through the registry's page signs the member out.
Screenshots of the duty page: /tmp/shots/member-*.png.
"""

import uuid
from pathlib import Path

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC  # noqa: N812
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import (
    fits_the_phone,
    gone,
    make_account,
    sign_in_on_page,
    wait_case,
    wait_submission,
)

SHOTS = Path("/tmp/shots")
TYPED = "13912345678"
WORDS = f"楼道灯坏了三天，晚上老人上下楼很危险。我的电话{TYPED}，白天都在家。"
MASKED = "我的电话139****5678"
PLACE = "广武门街道 3 号楼 2 单元"


def staff_issue(stack, description, place=None, member=None) -> str:
    """An issue the office typed in from a phone call at gwm; its tracking number."""
    sid = f"words-{uuid.uuid4().hex[:12]}"
    body = {
        "submission_id": sid,
        "station": "gwm",
        "channel": "phone",
        "category": "health",
        "description": description,
        "place": place,
        "member": member,
        "contact": {"name": "欧阳明月", "phone": TYPED},
    }
    r = requests.post(
        stack.url("intake", "/staff/issues"),
        json={k: v for k, v in body.items() if v is not None},
        headers=stack.headers,
        timeout=30,
    )
    assert r.status_code in (201, 202), r.text
    [submission] = wait_submission(stack, sid)
    return submission["tracking_number"]


def shoot(driver, name: str) -> Path:
    """The whole page, 390 pixels wide (one CSS pixel a pixel), as /tmp/shots/<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    metrics = {"width": 390, "height": max(int(height), 844), "deviceScaleFactor": 1}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "mobile": True})
    path = SHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True},
    )
    return path


def card(driver, number):
    return WebDriverWait(driver, 20).until(
        EC.presence_of_element_located((By.ID, f"case-{number}"))
    )


def act(driver, stack, member, number, action, status, note=None, field="note"):
    """Reload the duty page, fill in ``field`` on the case's card, press ``action``, and wait
    for routing to have the case in ``status``."""
    driver.get(stack.url("routing", f"/duty/{member}"))
    c = card(driver, number)
    if field != "note":
        c.find_element(By.CSS_SELECTOR, "details.more summary").click()
    if note is not None:
        c.find_element(By.NAME, field).send_keys(note)
    c.find_element(By.CSS_SELECTOR, f"button[data-action={action}]").click()
    WebDriverWait(driver, 20).until(lambda _: gone(c))  # the page reloads once routing took it
    return wait_case(stack, number, status=status)


def test_the_member_reads_the_words_answers_resolves_and_closes_unresolved(stack, phone):
    number = staff_issue(stack, WORDS, PLACE)
    case = wait_case(stack, number)
    member = case["member"]
    second = staff_issue(stack, "小区门口垃圾无人清运，已经一周", member=member)
    wait_case(stack, second)

    # Every case view has the words, masked, with place, channel and time
    assert MASKED in case["description"] and TYPED not in case["description"]
    assert case["place"] == PLACE and case["channel"] == "phone" and case["received_at"]
    listed = requests.get(
        stack.url("routing", "/stations/gwm/cases"), headers=stack.headers, timeout=10
    ).json()["cases"]
    [row] = [c for c in listed if c["tracking_number"] == number]
    assert MASKED in row["description"] and row["place"] == PLACE
    station_page = requests.get(
        stack.url("routing", "/duty/station/gwm"), headers=stack.headers, timeout=10
    ).text
    assert MASKED in station_page and PLACE in station_page and TYPED not in station_page

    # The member signs in on the phone and reads the citizen's words on the duty card
    login, password = make_account(stack, "member", member=member)
    phone.get(stack.url("routing", f"/duty/{member}"))
    sign_in_on_page(phone, login, password)
    WebDriverWait(phone, 20).until(EC.url_to_be(stack.url("routing", f"/duty/{member}")))
    c = card(phone, number)
    assert MASKED in c.text and PLACE in c.text and "电话" in c.text
    assert TYPED not in phone.page_source
    assert "下班前" in c.text or "24:00前" in c.text  # the deadline as a person reads it
    assert fits_the_phone(phone)
    c.find_element(By.CSS_SELECTOR, "details.history-box summary").click()
    assert "派单" in c.text  # the history, opened
    shoot(phone, "member-duty-open")

    act(phone, stack, member, number, "accept", "accepted")
    act(phone, stack, member, number, "respond", "responded", "已联系物业，明天上午更换灯具")
    shoot(phone, "member-duty-responded")
    resolved = act(phone, stack, member, number, "resolve", "resolved", "灯已更换，已回访群众")
    assert [h["action"] for h in resolved["history"]][-3:] == ["accept", "respond", "resolve"]
    assert resolved["history"][-1]["actor"] == member

    # Close unresolved: refused without its reason, taken with one
    phone.get(stack.url("routing", f"/duty/{member}"))
    c = card(phone, second)
    c.find_element(By.CSS_SELECTOR, "details.more summary").click()
    shoot(phone, "member-duty-more-actions")
    c.find_element(By.CSS_SELECTOR, "button[data-action=close_unresolved]").click()
    WebDriverWait(phone, 10).until(
        lambda d: "未解决的原因" in d.find_element(By.CSS_SELECTOR, f"#case-{second} .error").text
    )
    assert wait_case(stack, second)["status"] == "assigned"
    reason = "属物业合同纠纷，已告知群众向区住建局投诉"
    closed = act(
        phone, stack, member, second, "close_unresolved", "closed_unresolved", reason, "reason"
    )
    assert closed["history"][-1]["note"] == reason

    # The open tab no longer has them; the closed tab has both, with their history
    phone.get(stack.url("routing", f"/duty/{member}"))
    assert not phone.find_elements(By.ID, f"case-{number}")
    phone.find_element(By.ID, "tab-closed").click()
    WebDriverWait(phone, 20).until(EC.url_contains("view=closed"))
    done, unresolved = card(phone, number), card(phone, second)
    assert "已办结" in done.text and "未解决关闭" in unresolved.text
    assert not phone.find_elements(By.CSS_SELECTOR, "main button[data-action]")
    unresolved.find_element(By.CSS_SELECTOR, "details.history-box summary").click()
    assert reason in unresolved.text
    assert fits_the_phone(phone)
    shoot(phone, "member-duty-closed")

    # Sign out: the registry's page and its button; the duty page asks to sign in again
    phone.find_element(By.ID, "sign-out").click()
    WebDriverWait(phone, 20).until(EC.url_contains(stack.url("registry", "/sign-in")))
    phone.find_element(By.ID, "sign-out-button").click()
    WebDriverWait(phone, 10).until(lambda d: not d.find_elements(By.ID, "signed-in"))
    phone.get(stack.url("routing", f"/duty/{member}"))
    assert phone.current_url.startswith(stack.url("registry", "/sign-in"))


def test_the_clerk_reminds_the_member_once_a_day(stack, phone):
    """催办 on the station's list (issue 17): the station admin presses it on a case's card; the
    member gets one notice, the history says 催办; a second press the same day sends nothing."""
    number = staff_issue(stack, "路口井盖松动，车辆经过响声很大")
    member = wait_case(stack, number)["member"]
    login, password = make_account(stack, "station_admin", stations=["gwm"])
    phone.get(stack.url("routing", "/duty/station/gwm"))
    sign_in_on_page(phone, login, password)
    WebDriverWait(phone, 20).until(EC.url_to_be(stack.url("routing", "/duty/station/gwm")))

    def reminders():
        r = requests.get(
            stack.url("routing", "/notices"),
            params={"member": member},
            headers=stack.headers,
            timeout=10,
        )
        found = [n for n in r.json()["notices"] if n["kind"] == "reminded"]
        return [n for n in found if n["tracking_number"] == number]

    assert reminders() == []
    c = card(phone, number)
    c.find_element(By.CSS_SELECTOR, "button[data-action=remind]").click()
    WebDriverWait(phone, 20).until(lambda _: gone(c))  # reloaded: the reminder was taken
    assert len(reminders()) == 1
    case = wait_case(stack, number)
    assert case["history"][-1]["action"] == "remind" and case["status"] == "assigned"
    c = card(phone, number)
    c.find_element(By.CSS_SELECTOR, "details.history-box summary").click()
    assert "催办" in c.text
    shoot(phone, "station-reminded")

    c.find_element(By.CSS_SELECTOR, "button[data-action=remind]").click()  # again, same day
    WebDriverWait(phone, 10).until(
        lambda d: "今天已催办过" in d.find_element(By.CSS_SELECTOR, f"#case-{number} .error").text
    )
    assert len(reminders()) == 1
    assert [h["action"] for h in wait_case(stack, number)["history"]].count("remind") == 1

    # A case nobody works on any more has no one to remind: a 409 in the one error format
    closed = staff_issue(stack, "小区健身器材损坏")
    wait_case(stack, closed)
    headers = stack.headers
    r = requests.post(
        stack.url("routing", f"/cases/{closed}/actions/close_unresolved"),
        json={"note": "已移交街道办处理"},
        headers=headers,
        timeout=10,
    )
    assert r.ok, r.text
    r = requests.post(stack.url("routing", f"/cases/{closed}/remind"), headers=headers, timeout=10)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_open", r.text
