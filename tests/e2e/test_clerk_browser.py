"""The station clerk's pages as a clerk meets them (issue 17): headless Chromium, phone-sized.

The clerk signs in, records a reception day (the day's roster ticked, three issues raised: each
becomes a case), a field error is shown beside its field with everything typed kept, a double
click or a re-send records nothing twice, and a phone issue makes one case. Screenshots go to
``/tmp/shots/clerk-*.png``.
"""

from pathlib import Path

import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC  # noqa: N812
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.e2e.conftest import (
    after_click,
    fits_the_phone,
    get,
    make_account,
    sign_in_on_page,
    wait_case,
)

SHOTS = Path("/tmp/shots")
DAY = "2026-12-03"  # a reception day on gwm's roster, made by the test


def shot(driver, name: str, element_id: str | None = None) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    if element_id:
        driver.execute_script(
            "document.getElementById(arguments[0]).scrollIntoView({block: 'start'})", element_id
        )
    assert driver.save_screenshot(str(SHOTS / f"clerk-{name}.png"))


def signed_in_clerk(stack, phone, station="gwm"):
    login, password = make_account(stack, "station_admin", stations=[station])
    phone.get(stack.url("registry", "/sign-in"))
    sign_in_on_page(phone, login, password)
    WebDriverWait(phone, 20).until(lambda d: d.get_cookie("lx_session"))


def fill(driver, element_id: str, text: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def resend(driver, url: str, body: dict) -> dict:
    """The same post again from the page (a retry after a lost answer), with its cookie."""
    return driver.execute_async_script(
        """const [url, body, done] = arguments;
        fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                    body: JSON.stringify(body)})
          .then(r => r.json().then(j => done({status: r.status, body: j})));""",
        url,
        body,
    )


def test_the_clerk_records_a_reception_day_with_three_issues(stack, phone):
    r = requests.post(
        stack.url("registry", "/rosters"),
        json={"date": DAY, "slot": "am", "station": "gwm", "members": ["m001", "m002"]},
        headers=stack.headers,
        timeout=30,
    )
    assert r.status_code in (200, 201), r.text
    page = f"/staff/gwm/activity?date={DAY}&slot=am"
    stack.wait_for(  # intake's copy of the roster, fed by the registry's event
        lambda: (
            'id="member-m001" data-name="王建国" checked'
            in requests.get(stack.url("intake", page), headers=stack.headers, timeout=10).text
        ),
        timeout=30,
        what="intake's copy of gwm's roster",
    )
    login, password = make_account(stack, "station_admin", stations=["gwm"])
    phone.get(stack.url("intake", page))  # not signed in: the sign-in page, then back here
    assert phone.current_url.startswith(stack.url("registry", "/sign-in?next="))
    sign_in_on_page(phone, login, password)
    WebDriverWait(phone, 20).until(EC.url_to_be(stack.url("intake", page)))
    assert "记录接待日" in phone.find_element(By.TAG_NAME, "h1").text
    assert phone.find_element(By.ID, "station-name").text == "广武门街道委员工作站"
    assert Select(phone.find_element(By.ID, "kind")).first_selected_option.text == "委员接待日"
    ticked = {
        b.get_attribute("value")
        for b in phone.find_elements(By.CSS_SELECTOR, "input[name=members]")
        if b.is_selected()
    }
    assert ticked == {"m001", "m002"}  # the day's roster, pre-filled
    assert "按当日排班勾选" in phone.find_element(By.ID, "members-hint").text
    shot(phone, "activity-top")
    phone.find_element(By.ID, "member-m003").click()  # came too
    phone.find_element(By.ID, "member-m002").click()  # did not come
    fill(phone, "people_served", "23")
    fill(phone, "note", "接待日顺利")
    issues = [
        ("health", "", "广武门社区卫生站"),  # the description forgotten: an error beside it
        ("property", "小区物业费公示不清，业主多次询问无果", "金城花园"),
        ("hazard", "3号楼楼道堆放杂物，存在消防隐患", "广武门街道3号楼"),
    ]
    for n, (category, text, place) in enumerate(issues):
        phone.find_element(By.ID, "add-issue").click()
        Select(phone.find_element(By.ID, f"issues-{n}-category")).select_by_value(category)
        fill(phone, f"issues-{n}-description", text)
        fill(phone, f"issues-{n}-place", place)
    fill(phone, "issues-1-name", "王女士")
    fill(phone, "issues-1-phone", "13900004444")
    assert fits_the_phone(phone)
    shot(phone, "activity-form", "members")

    phone.find_element(By.ID, "submit").click()
    error = WebDriverWait(phone, 20).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-field="issues.0.description"]'))
    )
    assert error.text.startswith("问题描述须为 1–")
    assert phone.find_element(By.ID, "issues-0-description").get_attribute("aria-invalid")
    # everything typed is kept
    assert phone.find_element(By.ID, "issues-0-place").get_attribute("value") == issues[0][2]
    assert phone.find_element(By.ID, "issues-1-description").get_attribute("value") == issues[1][1]
    assert phone.find_element(By.ID, "issues-1-phone").get_attribute("value") == "13900004444"
    assert phone.find_element(By.ID, "people_served").get_attribute("value") == "23"
    assert phone.find_element(By.ID, "member-m003").is_selected()
    assert not phone.find_element(By.ID, "member-m002").is_selected()
    assert phone.find_element(By.ID, "form-banner").is_displayed()
    shot(phone, "activity-error", "issue-1")
    activity_id = phone.find_element(By.ID, "clerk-form").get_attribute("data-activity-id")
    _, listed = get(stack, "intake", "/activities", station="gwm")
    assert activity_id not in str(listed)  # a refused post recorded nothing

    fill(phone, "issues-0-description", "社区义诊次数太少，老人看病不方便")
    ActionChains(phone).double_click(phone.find_element(By.ID, "submit")).perform()
    after_click(phone, "result-3")
    WebDriverWait(phone, 20).until(EC.visibility_of_element_located((By.ID, "receipt")))
    numbers = [
        phone.find_element(By.CSS_SELECTOR, f"#result-{n} .tracking-number").text for n in (1, 2, 3)
    ]
    assert all(n.startswith("LX") for n in numbers) and len(set(numbers)) == 3
    assert "王建国" in phone.find_element(By.ID, "activity-summary").text
    assert fits_the_phone(phone)
    shot(phone, "activity-receipt", "receipt")
    cases = [wait_case(stack, n) for n in numbers]
    assert [c["category"] for c in cases] == ["health", "property", "hazard"]

    # Sent again from the page with the same ids (a lost answer, a second tap): the same three.
    body = phone.execute_script(
        "return {activity_id: arguments[0], kind: 'reception_day', station: 'gwm', date: arguments[1],"
        " slot: 'am', members: ['m001', 'm003'], people_served: 23, note: '接待日顺利', issues: arguments[2]}",
        activity_id,
        DAY,
        [
            {
                "category": "health",
                "description": "社区义诊次数太少，老人看病不方便",
                "place": issues[0][2],
                "contact": None,
            },
            {
                "category": "property",
                "description": issues[1][1],
                "place": issues[1][2],
                "contact": {"name": "王女士", "phone": "13900004444"},
            },
            {
                "category": "hazard",
                "description": issues[2][1],
                "place": issues[2][2],
                "contact": None,
            },
        ],  # fmt: skip
    )
    again = resend(phone, "/staff/activities", body)
    assert again["status"] == 201, again
    assert [i["tracking_number"] for i in again["body"]["issues"]] == numbers
    _, listed = get(stack, "intake", "/activities", station="gwm")
    [mine] = [a for a in listed["activities"] if a["activity_id"] == activity_id]
    assert sorted(mine["issues"]) == sorted(numbers)  # one activity, three issues: nothing twice
    assert mine["members"] == ["m001", "m003"] and mine["people_served"] == 23
    assert mine["kind"] == "reception_day" and mine["date"] == DAY
    assert mine["slot"] == "am"  # the slot the clerk's page had chosen is kept


def test_the_clerk_enters_a_phone_issue(stack, phone):
    signed_in_clerk(stack, phone)
    phone.get(stack.url("intake", "/staff/jnl/issue"))  # another station's: refused
    assert "无权访问" in phone.find_element(By.ID, "refused").text
    phone.get(stack.url("intake", "/staff/gwm/issue"))
    assert "录入来电来信问题" in phone.find_element(By.TAG_NAME, "h1").text
    assert phone.find_element(By.ID, "channel-phone").is_selected()  # phone first
    phone.find_element(By.ID, "channel-letter").click()
    Select(phone.find_element(By.ID, "category")).select_by_value("hazard")
    text = "来信：广武门街道3号楼楼道堆放杂物，消防通道被堵"
    fill(phone, "description", text)
    fill(phone, "place", "广武门街道3号楼")
    fill(phone, "name", "赵先生")
    fill(phone, "phone", "138-abc")  # a typo: refused beside the phone, the rest kept
    phone.find_element(By.ID, "submit").click()
    error = WebDriverWait(phone, 20).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, '.error[data-field="phone"]'))
    )
    assert "电话格式不正确" in error.text
    assert phone.find_element(By.ID, "description").get_attribute("value") == text
    assert phone.find_element(By.ID, "name").get_attribute("value") == "赵先生"
    assert phone.find_element(By.ID, "channel-letter").is_selected()
    assert fits_the_phone(phone)
    shot(phone, "issue-error", "description")

    fill(phone, "phone", "13800005678")
    ActionChains(phone).double_click(phone.find_element(By.ID, "submit")).perform()
    number = after_click(phone, "receipt") and WebDriverWait(phone, 20).until(
        lambda d: d.find_element(By.ID, "tracking-number").text
    )
    assert number.startswith("LX")
    assert len(phone.find_element(By.ID, "lookup-code").text) == 6
    assert phone.find_element(By.ID, "similar").is_displayed()
    assert not phone.find_elements(By.CSS_SELECTOR, ".error[data-field]:not(:empty)")
    assert not phone.find_element(By.ID, "clerk-form").is_displayed()
    # the open cases it may be the same as, the station's own only (routing merges them)
    similar = phone.find_elements(By.CSS_SELECTOR, "#similar-list li")
    assert similar  # the reception day's 3号楼 case is offered
    for li in similar:
        assert wait_case(stack, li.get_attribute("data-number"))["station"] == "gwm"
    assert fits_the_phone(phone)
    shot(phone, "issue-receipt", "receipt")
    case = wait_case(stack, number)
    assert case["station"] == "gwm" and case["category"] == "hazard"

    # The same form sent again: the same issue, not a second one.
    sid = phone.find_element(By.ID, "clerk-form").get_attribute("data-submission-id")
    body = {"submission_id": sid, "station": "gwm", "channel": "letter", "category": "hazard",
            "description": text, "place": "广武门街道3号楼",
            "contact": {"name": "赵先生", "phone": "13800005678"}}  # fmt: skip
    again = resend(phone, "/staff/issues", body)
    assert again["status"] == 201 and again["body"]["tracking_number"] == number, again
    _, found = get(stack, "intake", "/submissions", submission_id=sid)
    assert len([s for s in found["submissions"] if s.get("tracking_number")]) == 1
    from sqlalchemy import create_engine, select

    from services.intake.models import Issue

    engine = create_engine(stack.db_urls["intake"])
    with engine.connect() as db:
        rows = db.execute(select(Issue.channel).where(Issue.submission_id == sid)).all()
    engine.dispose()
    assert [r.channel for r in rows] == ["letter"]


def test_the_clerk_pages_in_english(stack, phone):
    signed_in_clerk(stack, phone)
    phone.get(stack.url("intake", "/staff/gwm/activity?lang=en"))
    assert "Record a reception day" in phone.find_element(By.TAG_NAME, "h1").text
    assert Select(phone.find_element(By.ID, "kind")).first_selected_option.text == "reception day"
    assert phone.find_element(By.ID, "lang-switch").text == "中文"
    assert fits_the_phone(phone)
    shot(phone, "activity-en")
    phone.get(stack.url("intake", "/staff/gwm/issue?lang=en"))
    assert "phone or letter" in phone.find_element(By.TAG_NAME, "h1").text
    shot(phone, "issue-en")
    phone.get(stack.url("intake", "/staff/jnl/activity"))  # another station's: refused
    assert "无权访问" in phone.find_element(By.ID, "refused").text
    assert not phone.find_elements(By.ID, "clerk-form")  # nothing of jnl's page
