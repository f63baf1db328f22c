"""The member's duty list and the statistics dashboard, in headless Chromium on a phone."""

from datetime import UTC, datetime

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC  # noqa: N812
from selenium.webdriver.support.ui import WebDriverWait

from services.kernel.config import ROOT
from services.reporting.projections import month_of
from tests.conftest import auth_headers
from tests.e2e.conftest import (
    after_click,
    fits_the_phone,
    gone,
    make_account,
    sign_in_on_page,
    wait_case,
    wait_figure,
    wait_submission,
)
from tools.client import SubmissionClient


def test_a_member_accepts_and_answers_a_case_from_the_duty_list(stack, phone):
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit("jnl", category="hazard", description="护坡<script>alert(1)</script>")
    [submission] = wait_submission(stack, sid)
    number = submission["tracking_number"]
    member = wait_case(stack, number)["member"]
    login, password = make_account(stack, "member", member=member)

    phone.get(stack.url("routing", f"/duty/{member}"))  # not signed in: the sign-in page first
    sign_in_on_page(phone, login, password)
    WebDriverWait(phone, 20).until(EC.url_to_be(stack.url("routing", f"/duty/{member}")))
    card = phone.find_element(By.ID, f"case-{number}")
    assert "已派单" in card.text and "安全隐患" in card.text
    assert fits_the_phone(phone)
    card.find_element(By.CSS_SELECTOR, "button[data-action=accept]").click()
    WebDriverWait(phone, 20).until(lambda _: gone(card))  # the page's own reload, not a race
    wait_case(stack, number, status="accepted")

    phone.get(stack.url("routing", f"/duty/{member}"))  # after the page's own reload
    card = phone.find_element(By.ID, f"case-{number}")
    card.find_element(By.TAG_NAME, "textarea").send_keys("已联系社区，明日现场查看")
    card.find_element(By.CSS_SELECTOR, "button[data-action=respond]").click()
    WebDriverWait(phone, 20).until(lambda _: gone(card))
    case = wait_case(stack, number, status="responded")
    assert case["history"][-1]["note"] == "已联系社区，明日现场查看"
    assert case["history"][-1]["actor"] == member

    phone.get(stack.url("routing", f"/duty/{member}"))
    card = phone.find_element(By.ID, f"case-{number}")
    card.find_element(By.CSS_SELECTOR, "button[data-action=resolve]").click()  # no note
    error = card.find_element(By.CLASS_NAME, "error")
    # the refusal arrives after the click: wait for its words, not only for the element
    WebDriverWait(phone, 20).until(lambda _: "请填写办理结果" in error.text)
    assert error.is_displayed()
    assert (
        requests.get(
            stack.url("routing", f"/cases/{number}"), headers=stack.headers, timeout=5
        ).json()["status"]
        == "responded"
    )


def test_the_dashboard_on_a_phone_shows_figures_with_their_definitions(stack, phone):
    month = month_of(datetime.now(UTC))
    # Other tests of the module may have sent issues: wait for this one's count, not any count.
    before = wait_figure(stack, month, "issues_assigned", 0).get("issues_assigned", 0)
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit("gwm", category="property", description="电梯维修费用不透明")
    [submission] = wait_submission(stack, sid)
    wait_case(stack, submission["tracking_number"])
    figures = wait_figure(stack, month, "issues_assigned", before + 1)

    # the dashboard shows the last reconciliation (a timer's, or the last GET /reconciliation):
    # ask once the flow has settled, as the office would after a start
    stack.wait_for(
        lambda: requests.get(
            stack.url("reporting", "/reconciliation"), headers=stack.headers, timeout=15
        ).json()["holds"],
        timeout=30,
        what="the services to reconcile",
    )
    login, password = make_account(stack, "office")
    phone.get(stack.url("reporting", f"/dashboard?month={month}"))
    sign_in_on_page(phone, login, password)
    WebDriverWait(phone, 20).until(EC.url_contains("/dashboard"))
    tile = phone.find_element(By.CSS_SELECTOR, ".tile[data-key=issues_received]")
    assert f"{figures['issues_received']:,}" in tile.text
    assert "本月受理的群众反映" in tile.text  # what it means, in Chinese, beside it
    assert tile.find_element(By.CSS_SELECTOR, "details summary").text.startswith("计算规则")
    assert phone.find_elements(By.CSS_SELECTOR, ".chart svg rect")
    assert "对账不平" not in phone.page_source
    assert fits_the_phone(phone)
    shots = ROOT / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    assert phone.save_screenshot(str(shots / "dashboard-phone.png"))


def test_the_citizen_rates_and_reopens_on_the_status_page(stack, phone):
    from sqlalchemy import create_engine, select

    from services.intake.models import Issue

    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit("jql", category="ethnic", description="民族美食节摊位分配不公")
    [submission] = wait_submission(stack, sid)
    number = submission["tracking_number"]
    member = wait_case(stack, number)["member"]
    for action, note in (("respond", "已了解情况"), ("resolve", "已重新公示摊位分配")):
        assert requests.post(
            stack.url("routing", f"/cases/{number}/actions/{action}"),
            json={"note": note},
            headers=auth_headers(stack.config(), "member", member=member),
            timeout=10,
        ).ok
    engine = create_engine(stack.db_urls["intake"])
    with engine.connect() as conn:  # the code the citizen got on the result page
        code = conn.scalar(select(Issue.lookup_code).where(Issue.tracking_number == number))
    engine.dispose()

    def page():
        phone.get(stack.url("intake", f"/status?number={number}&code={code}"))
        return phone

    stack.wait_for(
        lambda: page().find_elements(By.ID, "rate-form"),
        timeout=15,
        what="the resolution to reach the status page",
    )
    phone.find_element(By.CSS_SELECTOR, "input[value=basically_satisfied]").click()
    phone.find_element(By.ID, "comment").send_keys("处理及时")
    phone.find_element(By.ID, "rate-submit").click()
    assert "已提交" in after_click(phone, "action-message").text
    assert not phone.find_elements(By.ID, "rate-form")  # rated once, no second form
    assert fits_the_phone(phone)
    case = requests.get(
        stack.url("routing", f"/cases/{number}"), headers=stack.headers, timeout=10
    ).json()
    assert case["rating"] == "basically_satisfied"

    before = phone.find_element(By.ID, "action-message")
    phone.find_element(By.ID, "reopen-submit").click()
    WebDriverWait(phone, 20).until(lambda _: gone(before))  # the answer is a new page
    assert "已提交" in after_click(phone, "action-message").text
    assert wait_case(stack, number)["reopens"] == 1

    phone.get(stack.url("intake", f"/status?number={number}&code=000000"))  # a wrong code
    assert not phone.find_elements(By.ID, "reopen-form")


def test_sign_in_on_a_phone_wrong_password_then_right_then_sign_out(stack, phone):
    login, password = make_account(stack, "station_admin", stations=["gwm"])
    phone.get(stack.url("routing", "/duty/station/jnl"))  # another station's page
    assert phone.current_url.startswith(stack.url("registry", "/sign-in?next="))
    assert "登录" in phone.find_element(By.TAG_NAME, "h1").text  # Chinese first
    assert "Sign in" in phone.find_element(By.TAG_NAME, "h1").text
    assert fits_the_phone(phone)
    sign_in_on_page(phone, login, "not-the-password")
    assert "账号或密码错误" in after_click(phone, "error").text
    assert phone.find_element(By.ID, "login").get_attribute("value") == login  # kept

    sign_in_on_page(phone, "", password)  # the login is still filled in
    WebDriverWait(phone, 20).until(EC.url_to_be(stack.url("routing", "/duty/station/jnl")))
    assert "无权访问" in phone.find_element(By.ID, "refused").text  # signed in, not jnl's admin
    phone.get(stack.url("routing", "/duty/station/gwm"))
    assert "工作站案件 · gwm" in phone.find_element(By.TAG_NAME, "h1").text
    cookie = phone.get_cookie("lx_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"

    phone.get(stack.url("registry", "/sign-in"))  # the page says who is signed in
    assert login in phone.find_element(By.ID, "signed-in").text
    phone.find_element(By.ID, "sign-out-button").click()  # the page's own button, with CSRF
    WebDriverWait(phone, 10).until(lambda d: not d.find_elements(By.ID, "signed-in"))
    phone.get(stack.url("routing", "/duty/station/gwm"))
    assert phone.current_url.startswith(stack.url("registry", "/sign-in"))


def test_a_station_clerk_filters_the_station_list_and_hands_a_case_on(stack, phone):
    """The station's page: the member's name and the citizen's words on each card, filters that
    the address keeps, and a transfer to another member of the station from the card."""
    from selenium.webdriver.support.ui import Select

    with SubmissionClient(stack.amqp_uri) as client:
        sids = [
            client.submit("gwm", category="hazard", description="路口井盖松动，车过就响"),
            client.submit("gwm", category="health", description="社区卫生站周末不开门"),
        ]
    numbers = [wait_submission(stack, sid)[0]["tracking_number"] for sid in sids]
    cases = [wait_case(stack, n) for n in numbers]
    login, password = make_account(stack, "station_admin", stations=["gwm"])
    url = stack.url("routing", "/duty/station/gwm")
    phone.get(url)
    sign_in_on_page(phone, login, password)
    WebDriverWait(phone, 20).until(EC.url_to_be(url))
    first = phone.find_element(By.ID, f"case-{numbers[0]}")
    assert "路口井盖松动" in first.text and f"（{cases[0]['member']}）" in first.text
    assert fits_the_phone(phone)

    # filter by the first case's member: the address keeps the choice
    Select(phone.find_element(By.NAME, "member")).select_by_value(cases[0]["member"])
    Select(phone.find_element(By.NAME, "category")).select_by_value("hazard")
    phone.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    WebDriverWait(phone, 20).until(lambda d: "category=hazard" in d.current_url)
    shown = [e.get_attribute("data-number") for e in phone.find_elements(By.CLASS_NAME, "case")]
    assert numbers[0] in shown and numbers[1] not in shown

    # hand the case to another member of gwm, with the reason
    card = phone.find_element(By.ID, f"case-{numbers[0]}")
    card.find_element(By.CSS_SELECTOR, "details.more > summary").click()
    choice = Select(card.find_element(By.NAME, "to_member"))
    target = next(o.get_attribute("value") for o in choice.options if o.get_attribute("value"))
    choice.select_by_value(target)
    card.find_element(By.NAME, "transfer_note").send_keys("该委员本周出差，转交同站委员")
    shots = ROOT / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    assert phone.save_screenshot(str(shots / "station-filtered-phone.png"))
    card.find_element(By.CSS_SELECTOR, "button[data-action=transfer]").click()
    WebDriverWait(phone, 20).until(lambda _: gone(card))
    moved = wait_case(stack, numbers[0])
    assert moved["member"] == target and moved["history"][-1]["actor"] == login
    phone.get(url + "?status=bogus")  # a bad filter: which field, and the way back
    assert phone.find_element(By.ID, "refused") and "status" in phone.page_source


def test_a_member_calls_the_citizen_back_from_the_card_and_the_look_is_recorded(stack, phone):
    """联系群众: the card links to intake's page; only its button shows the phone (a tel: link),
    and the look is in the audit log. Another member cannot open the page."""
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit(
            "gwm",
            category="hazard",
            description="电梯异响，担心安全",
            contact={"name": "欧阳明月", "phone": "13912345678"},
        )
    number = wait_submission(stack, sid)[0]["tracking_number"]
    member = wait_case(stack, number)["member"]
    login, password = make_account(stack, "member", member=member)
    duty = stack.url("routing", f"/duty/{member}")
    phone.get(duty)
    sign_in_on_page(phone, login, password)
    WebDriverWait(phone, 20).until(EC.url_to_be(duty))
    card = phone.find_element(By.ID, f"case-{number}")
    assert "13912345678" not in phone.page_source  # routing never has it
    card.find_element(By.CSS_SELECTOR, "a.call").click()
    WebDriverWait(phone, 20).until(EC.url_contains(f"/issues/{number}/call"))
    assert "13912345678" not in phone.page_source  # opening the page shows nothing yet
    phone.find_element(By.ID, "reveal").click()
    tel = after_click(phone, "tel")
    WebDriverWait(phone, 10).until(lambda _: tel.get_attribute("href") == "tel:13912345678")
    assert "欧阳明月" in phone.find_element(By.ID, "name").text
    assert fits_the_phone(phone)
    shots = ROOT / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    assert phone.save_screenshot(str(shots / "call-the-citizen-phone.png"))
    audit = requests.get(
        stack.url("intake", "/admin/audit"), params={"number": number}, headers=stack.headers
    ).json()
    views = audit.get("views") or audit.get("audit") or next(iter(audit.values()))
    assert [v["account"] for v in views] == [login]
    # a member who does not have the case: refused, nothing shown, nothing recorded
    other = auth_headers(stack.config(), "member", member="m999")
    r = requests.get(stack.url("intake", f"/issues/{number}/call"), headers=other, timeout=10)
    assert r.status_code == 403 and "13912345678" not in r.text
