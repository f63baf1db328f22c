"""社情民意 reports on a phone (issue #21), headless Chromium against a running stack: a member
writes one from two cases of its duty list and submits it; the office adopts it with a note; the
citizen of one case reads on the status page that the problem went into the report, and its
outcome. Screenshots go to ``/tmp/shots/reports/``.
"""

from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC  # noqa: N812
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import create_engine, select

from services.intake.models import Issue
from tests.conftest import auth_headers, delete_vhost
from tests.e2e.conftest import (
    after_click,
    fits_the_phone,
    gone,
    make_account,
    make_stack,
    read_again,
    sign_in_on_page,
    wait_case,
    wait_submission,
)
from tools.client import SubmissionClient

SHOTS = Path("/tmp/shots/reports")
WORDS = ("小区门口的路灯坏了一个月，晚上很黑", "隔壁巷子的路灯也不亮，老人不敢出门")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_databases):
    stack, vhost, stack.amqp_uri = make_stack(
        tmp_path_factory.mktemp("reports"), "sqlite", pg_databases
    )
    yield stack
    stack.stop()
    delete_vhost(vhost)


def shot(driver, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(390, max(844, min(int(height) + 140, 4000)))
    assert driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.set_window_size(390, 844)


def two_cases(stack) -> tuple[str, list[str]]:
    """Two lamp cases at gwm for the same member (the QR code of m003 names it)."""
    numbers = []
    with SubmissionClient(stack.amqp_uri) as client:
        sids = [
            client.submit("gwm", category="greening", description=w, member="m003") for w in WORDS
        ]
    for sid in sids:
        [submission] = wait_submission(stack, sid)
        numbers.append(submission["tracking_number"])
    members = {wait_case(stack, n)["member"] for n in numbers}
    assert members == {"m003"}, members
    return "m003", numbers


def lookup_code(stack, number: str) -> str:
    engine = create_engine(stack.db_urls["intake"])
    with engine.connect() as conn:
        code = conn.scalar(select(Issue.lookup_code).where(Issue.tracking_number == number))
    engine.dispose()
    return code


def test_a_member_reports_two_cases_the_office_adopts_it_the_citizen_reads_it(stack, phone):
    member, numbers = two_cases(stack)
    login, password = make_account(stack, "member", member=member)

    # the member: from the duty list to a new report, two cases ticked, saved, submitted
    phone.get(stack.url("routing", f"/duty/{member}"))
    sign_in_on_page(phone, login, password)
    WebDriverWait(phone, 20).until(EC.url_to_be(stack.url("routing", f"/duty/{member}")))
    phone.find_element(By.ID, "write-report").click()
    form = after_click(phone, "report-form")
    assert "写社情民意" in phone.find_element(By.TAG_NAME, "h1").text
    assert fits_the_phone(phone)
    phone.find_element(By.ID, "title").send_keys("关于城关区老旧小区路灯失修的建议")
    phone.find_element(By.ID, "text").send_keys(
        "近一个月两位群众反映小区及周边巷道路灯长期不亮。建议由街道牵头排查辖区路灯，明确维修责任单位。"
    )
    for n in numbers:
        phone.find_element(By.ID, f"pick-{n}").click()
    shot(phone, "1-member-new-report")
    phone.find_element(By.ID, "create").click()
    WebDriverWait(phone, 20).until(lambda _: gone(form))
    title = after_click(phone, "report-title")
    assert title.text == "关于城关区老旧小区路灯失修的建议"
    assert "草稿" in phone.find_element(By.ID, "status").text
    linked = phone.find_element(By.ID, "cases").text
    assert all(n in linked for n in numbers)
    report_id = int(phone.current_url.rstrip("/").split("/")[-2])
    assert fits_the_phone(phone)
    shot(phone, "1b-member-draft")
    before = phone.find_element(By.ID, "report")
    phone.find_element(By.ID, "submit").click()
    WebDriverWait(phone, 20).until(lambda _: gone(before))
    status = read_again(phone, lambda d: d.find_element(By.ID, "status").text)
    assert "已报送" in status
    assert not phone.find_elements(By.ID, "report-form")  # read-only for the member now
    shot(phone, "2-member-submitted")
    phone.get(stack.url("routing", "/reports/page"))  # the member's own list
    assert "已报送" in phone.find_element(By.ID, f"report-{report_id}").text
    assert phone.find_element(By.ID, "new-report").text.startswith("写社情民意")
    assert fits_the_phone(phone)
    shot(phone, "2b-member-list")

    # a member cannot review, nor edit after submitting (JSON, the member's own token)
    as_member = auth_headers(stack.config(), "member", member=member)
    refused = requests.put(stack.url("routing", f"/reports/{report_id}"), json={"title": "x"}, headers=as_member, timeout=10)  # fmt: skip
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "submitted"
    review = {"outcome": "adopted", "note": "x"}
    refused = requests.post(stack.url("routing", f"/reports/{report_id}/review"), json=review, headers=as_member, timeout=10)  # fmt: skip
    assert refused.status_code == 403

    # the office: the list, the report with links to its cases, adopted with a note
    phone.delete_all_cookies()
    login, password = make_account(stack, "office")
    phone.get(stack.url("routing", "/reports/page"))
    sign_in_on_page(phone, login, password)
    row = after_click(phone, f"report-{report_id}")
    assert "已报送" in row.text and "2 件案件" in row.text
    assert fits_the_phone(phone)
    shot(phone, "3-office-list")
    row.click()
    review_form = after_click(phone, "review-form")
    for n in numbers:
        link = phone.find_element(By.CSS_SELECTOR, f"#linked-{n} a")
        assert link.get_attribute("href").endswith(f"/office/cases/{n}")
    phone.find_element(By.ID, "outcome-adopted").click()
    phone.find_element(By.ID, "note").send_keys("已报市政府参阅，纳入明年城市更新项目")
    phone.find_element(By.ID, "review").click()
    WebDriverWait(phone, 20).until(lambda _: gone(review_form))
    outcome = read_again(phone, lambda d: d.find_element(By.ID, "outcome").text)
    assert "已采用" in outcome and "已报市政府参阅" in outcome
    assert fits_the_phone(phone)
    shot(phone, "4-office-adopted")
    phone.find_element(By.CSS_SELECTOR, f"#linked-{numbers[0]} a").click()  # the case itself
    back = after_click(phone, "reports")  # the office case page's way back to the reports
    assert numbers[0] in phone.find_element(By.TAG_NAME, "h1").text
    assert back.get_attribute("href").endswith("/reports/page")
    found = requests.get(stack.url("routing", "/reports"), params={"status": "adopted", "member": member}, headers=stack.headers, timeout=10).json()  # fmt: skip
    assert [r["report_id"] for r in found["reports"]] == [report_id]

    # the citizen of the first case: its status page says so, with the outcome
    phone.delete_all_cookies()
    code = lookup_code(stack, numbers[0])

    def status_page():
        phone.get(stack.url("intake", f"/status?number={numbers[0]}&code={code}"))
        shown = phone.find_elements(By.ID, "report-1")
        return shown and "已采用" in shown[0].text and shown[0].text

    text = stack.wait_for(status_page, timeout=20, what="the review to reach the status page")
    assert "您反映的问题已被委员写入社情民意信息《关于城关区老旧小区路灯失修的建议》" in text
    assert "政协办公室审阅结果：已采用" in text
    assert "已报市政府参阅" not in phone.page_source  # the office's note is not the public's
    assert fits_the_phone(phone)
    shot(phone, "5-citizen-status")
