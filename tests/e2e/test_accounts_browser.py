"""The office's accounts and import pages in headless Chromium (issue 18), phone and desktop.

The office signs in on the sign-in page and lands on the accounts page; adds a station admin
for gwm (first a login already taken: the error beside the field), and that admin can sign in
with the password shown once; deactivated, the admin's sign-in fails; reactivated and reset,
the new password works and the old one not. On the import page a workbook with one bad row is
checked and the row is named in the table; a good one is imported and the member appears. A
form from another site, and a post from the page's own script without the token: refused.
Screenshots go to ``/tmp/shots/accounts/``.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
import requests
from openpyxl import Workbook
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC  # noqa: N812
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.conftest import delete_vhost
from tests.e2e.conftest import (
    CHROMEDRIVER,
    CHROMIUM,
    after_click,
    fits_the_phone,
    make_account,
    make_stack,
    read_again,
    sign_in_on_page,
)

SHOTS = Path("/tmp/shots/accounts")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_databases):
    """One stack (SQLite): the pages are the registry's; tests/registry runs them on both."""
    stack, vhost, stack.amqp_uri = make_stack(
        tmp_path_factory.mktemp("accounts"), "sqlite", pg_databases
    )
    yield stack
    stack.stop()
    delete_vhost(vhost)


@pytest.fixture
def desktop():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="lx-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,900"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def shot(driver, name: str, element_id: str | None = None) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    if element_id:
        driver.execute_script(
            "document.getElementById(arguments[0]).scrollIntoView({block: 'start'})", element_id
        )
    assert driver.save_screenshot(str(SHOTS / f"{name}.png"))


def json_sign_in(stack, login, password) -> int:
    r = requests.post(
        stack.url("registry", "/auth/sign-in"),
        json={"login": login, "password": password},
        timeout=10,
    )
    return r.status_code


def session_of(stack, login: str, password: str) -> requests.Session:
    """A signed-in HTTP session (the registry's cookie, sent to every service of the stack)."""
    session = requests.Session()
    r = session.post(stack.url("registry", "/auth/sign-in"), timeout=10,
                     json={"login": login, "password": password})  # fmt: skip
    assert r.status_code == 200, r.text
    return session


def station_page(stack, session: requests.Session):
    return session.get(stack.url("routing", "/duty/station/gwm"), timeout=10, allow_redirects=False)


def status_becomes(driver, login: str, words: str) -> None:
    """Wait for the next page's status of ``login`` (the old page may go while it is read)."""
    read_again(
        driver,
        lambda d: words in d.find_element(By.CSS_SELECTOR, f"#account-{login} .status").text,
    )


def fill(driver, element_id: str, text: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def office_signs_in(stack, driver, page="/office/accounts"):
    login, password = make_account(stack, "office")
    driver.get(stack.url("registry", page))  # not signed in: the sign-in page, then back here
    assert driver.current_url.startswith(stack.url("registry", "/sign-in?next="))
    sign_in_on_page(driver, login, password)
    WebDriverWait(driver, 20).until(EC.url_to_be(stack.url("registry", page)))
    return login


def workbook(path: Path, *rows) -> str:
    book = Workbook()
    sheet = book.active
    sheet.append(["编号", "姓名", "层级", "界别", "区县", "电话"])
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return str(path)


def test_the_office_adds_deactivates_and_resets_a_station_admin(stack, phone):
    office = office_signs_in(stack, phone)
    assert "账号管理" in phone.find_element(By.TAG_NAME, "h1").text
    assert phone.find_element(By.ID, f"account-{office}").text.count("当前登录") == 1
    assert fits_the_phone(phone)
    shot(phone, "phone-accounts")

    # a login already taken: the error beside the field, the rest kept
    fill(phone, "login", office)
    fill(phone, "name", "广武门站务")
    Select(phone.find_element(By.ID, "role")).select_by_value("station_admin")
    assert not phone.find_element(By.ID, "member").is_displayed()  # a member's field hidden
    Select(phone.find_element(By.ID, "stations")).select_by_value("gwm")
    phone.find_element(By.ID, "add-submit").click()
    error = after_click(phone, "error-login")
    assert error.text.startswith("账号已存在")
    assert phone.find_element(By.ID, "login").get_attribute("aria-invalid") == "true"
    assert phone.find_element(By.ID, "name").get_attribute("value") == "广武门站务"
    chosen = Select(phone.find_element(By.ID, "stations")).all_selected_options
    assert [o.get_attribute("value") for o in chosen] == ["gwm"]
    assert fits_the_phone(phone)
    shot(phone, "phone-add-error", "add")

    fill(phone, "login", "gwm-zhanwu")
    phone.find_element(By.ID, "add-submit").click()
    first = after_click(phone, "new-password-value").text
    assert len(first) >= 10
    assert "广武门街道委员工作站（gwm）" in phone.find_element(By.ID, "account-gwm-zhanwu").text
    shot(phone, "phone-added")
    assert json_sign_in(stack, "gwm-zhanwu", first) == 200  # the new admin signs in
    working = session_of(stack, "gwm-zhanwu", first)  # and works, in the registry and routing
    assert working.get(stack.url("registry", "/auth/me"), timeout=10).status_code == 200
    assert station_page(stack, working).status_code == 200

    phone.find_element(By.ID, "deactivate-gwm-zhanwu").click()
    status_becomes(phone, "gwm-zhanwu", "已停用")
    refused = json_sign_in(stack, "gwm-zhanwu", first)
    assert refused == 401, refused  # refused now

    # and the session it holds ends at once, not when its token expires: the registry's
    # next answer refuses it, routing's as soon as it has heard (the event, well under 10 s)
    def me():
        answer = working.get(stack.url("registry", "/auth/me"), timeout=10)
        seen.append((answer.status_code, answer.text[:200]))
        return answer.status_code == 401 and answer.json()["error"]["code"] == "session_ended"

    seen = []  # what the registry answered, for the failure's message
    try:
        stack.wait_for(me, timeout=5, interval=0.1, what="the registry to refuse it")
    except TimeoutError:
        raise AssertionError(f"the registry still takes the ended session: {seen[-3:]}") from None
    stack.wait_for(lambda: station_page(stack, working).status_code == 303, timeout=10,
                   interval=0.1, what="routing to refuse the ended session")  # fmt: skip
    assert "/sign-in" in station_page(stack, working).headers["Location"]
    shot(phone, "phone-deactivated", "accounts")

    phone.find_element(By.ID, "reactivate-gwm-zhanwu").click()
    status_becomes(phone, "gwm-zhanwu", "在用")
    again = session_of(stack, "gwm-zhanwu", first)  # reactivated: a new session works
    assert station_page(stack, again).status_code == 200
    phone.find_element(By.ID, "reset-gwm-zhanwu").click()
    second = (
        WebDriverWait(phone, 20)
        .until(EC.visibility_of_element_located((By.ID, "new-password-value")))
        .text
    )
    assert second != first
    assert "只显示这一次" in phone.find_element(By.ID, "new-password").text
    shot(phone, "phone-reset")
    assert json_sign_in(stack, "gwm-zhanwu", first) == 401
    assert json_sign_in(stack, "gwm-zhanwu", second) == 200
    # the office's reset ends the sessions signed in with the old password too
    stack.wait_for(lambda: station_page(stack, again).status_code == 303, timeout=10,
                   interval=0.1, what="routing to refuse the session of the old password")  # fmt: skip

    # the role filter
    phone.get(stack.url("registry", "/office/accounts?role=station_admin"))
    assert phone.find_elements(By.ID, "account-gwm-zhanwu")
    assert not phone.find_elements(By.ID, f"account-{office}")
    assert second not in phone.page_source  # shown once only

    # the new admin is no office: the page refuses it
    admin = requests.Session()
    admin.post(stack.url("registry", "/auth/sign-in"), timeout=10,
               json={"login": "gwm-zhanwu", "password": second})  # fmt: skip
    r = admin.get(stack.url("registry", "/office/accounts"), timeout=10, allow_redirects=False)
    assert r.status_code == 403 and "无权访问" in r.text


def test_a_post_without_the_page_token_is_refused(stack, phone, tmp_path):
    office_signs_in(stack, phone)
    login, password = make_account(stack, "station_admin", stations=["jnl"])
    # another site's page posting the form (the browser has the office's cookies)
    attack = tmp_path / "attack.html"
    attack.write_text(
        f'<form id=f method=post action="{stack.url("registry", "/office/account-active")}">'
        f'<input name=login value="{login}"><input name=active value=false></form>'
        "<script>document.getElementById('f').submit()</script>",
        encoding="utf-8",
    )
    phone.get(attack.as_uri())
    WebDriverWait(phone, 20).until(lambda d: d.current_url.startswith(stack.url("registry")))
    assert "已停用" not in phone.page_source
    # the page's own origin, a form body without the token: refused as well
    phone.get(stack.url("registry", "/office/accounts"))
    status = phone.execute_async_script(
        """const [login, done] = arguments;
        fetch('account-active', {method: 'POST', body: new URLSearchParams(
            {login: login, active: 'false'})}).then(r => done(r.status));""",
        login,
    )
    assert status == 403
    assert json_sign_in(stack, login, password) == 200  # still active


def test_the_office_checks_and_imports_a_workbook(stack, phone, desktop, tmp_path):
    office_signs_in(stack, phone, "/office/import")
    assert "导入导出" in phone.find_element(By.TAG_NAME, "h1").text
    bad = workbook(
        tmp_path / "委员-有错.xlsx",
        ("m900", "马兰花", "市", "医药卫生", "城关区", "13800009000"),
        ("m901", "杨黄河", "市", "医药卫生", "城关区", "电话待补"),
    )
    Select(phone.find_element(By.ID, "kind")).select_by_value("members")
    phone.find_element(By.ID, "file").send_keys(bad)
    phone.find_element(By.ID, "check-submit").click()
    row = after_click(phone, "row-errors").find_element(By.CSS_SELECTOR, "tr.row-error")
    assert row.get_attribute("data-row") == "3" and row.get_attribute("data-field") == "phone"
    assert row.text.startswith("第3行") and "电话" in row.text and "格式不正确" in row.text
    assert "未写入任何数据" in phone.find_element(By.ID, "import-error").text
    assert fits_the_phone(phone)
    shot(phone, "phone-import-errors", "result")
    r = requests.get(stack.url("registry", "/members/m900"), headers=stack.headers, timeout=10)
    assert r.status_code == 404  # nothing written

    good = workbook(
        tmp_path / "委员.xlsx", ("m900", "马兰花", "市", "医药卫生", "城关区", "13800009000")
    )
    Select(phone.find_element(By.ID, "kind")).select_by_value("members")
    phone.find_element(By.ID, "file").send_keys(good)
    phone.find_element(By.ID, "check-submit").click()
    assert "新增 1" in after_click(phone, "import-checked").text
    r = requests.get(stack.url("registry", "/members/m900"), headers=stack.headers, timeout=10)
    assert r.status_code == 404  # a check writes nothing
    phone.find_element(By.ID, "file").send_keys(good)
    phone.find_element(By.ID, "import-submit").click()
    after_click(phone, "import-done")
    assert "马兰花" in phone.find_element(By.ID, "saved-m900").text
    shot(phone, "phone-imported", "result")
    r = requests.get(stack.url("registry", "/members/m900"), headers=stack.headers, timeout=10)
    assert r.status_code == 200 and r.json()["name"] == "马兰花"
    # and the new member is offered when the office adds a member's account
    phone.find_element(By.ID, "nav-accounts").click()
    option = after_click(phone, "member-list").find_element(By.CSS_SELECTOR, 'option[value="m900"]')
    assert "马兰花" in option.get_attribute("label")
    href = phone.find_element(By.ID, "nav-import").get_attribute("href")
    assert href == stack.url("registry", "/office/import")

    # the same pages on a desktop screen
    office_signs_in(stack, desktop, "/office/import")
    desktop.find_element(By.ID, "file").send_keys(bad)
    desktop.find_element(By.ID, "check-submit").click()
    after_click(desktop, "row-errors")
    shot(desktop, "desktop-import-errors")
    export = desktop.find_element(By.ID, "export-members-xlsx").get_attribute("href")
    assert export == stack.url("registry", "/export/members.xlsx")
    desktop.find_element(By.ID, "nav-accounts").click()
    after_click(desktop, "accounts")
    shot(desktop, "desktop-accounts")
