"""The office's accounts and import pages over HTTP, as a browser posts their forms (issue 18):
a cookie session, the page's CSRF token in every form, field errors beside the fields, a
password shown once, a check that writes nothing, bad rows named in a table. A form without
the token, another role, or nobody signed in: refused, nothing changed."""

import io
import re

import pytest
import requests
from openpyxl import Workbook

from tests.conftest import auth_headers
from tests.registry.test_accounts_api import sign_in
from tests.registry.test_api import OFFICE, post, seed

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = re.compile(r"id=new-password-value>([^<]+)<")
GOOD_CSV = "编号,姓名,层级,界别,区县\r\n".encode()
OFFICE_PASSWORD = "兰州-政协-办公室-2026"


def office_browser(base) -> tuple[requests.Session, str]:
    """A signed-in office account's cookies (as the sign-in page leaves them) and the token of
    the accounts page's forms."""
    assert post(base, "/accounts", {"login": "chen", "name": "陈主任", "role": "office",
                                     "password": OFFICE_PASSWORD}).status_code == 201  # fmt: skip
    browser = requests.Session()
    assert sign_in(base, "chen", OFFICE_PASSWORD, browser).status_code == 200
    page = browser.get(f"{base}/office/accounts", timeout=10)
    assert page.status_code == 200, page.text
    return browser, TOKEN.search(page.text).group(1)


def submit(browser, base, path, token, **fields):
    return browser.post(
        f"{base}/office/{path}", data={"csrf_token": token, **fields}, timeout=30,
        allow_redirects=False,
    )  # fmt: skip


def workbook(*rows) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["编号", "姓名", "层级", "界别", "区县", "电话"])
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(browser, base, token, content: bytes, mode: str):
    files = {"file": ("委员.xlsx", content)}
    data = {"csrf_token": token, "kind": "members", "mode": mode}
    return browser.post(f"{base}/office/import", data=data, files=files, timeout=30)


def member_count(base, q):
    r = requests.get(f"{base}/members", params={"q": q}, headers=OFFICE, timeout=10)
    return r.json()["total"]


def test_the_office_adds_deactivates_and_resets_an_account_from_the_page(registry_service):
    base, _, _ = registry_service
    seed(base)
    browser, token = office_browser(base)

    r = submit(browser, base, "accounts", token, login="gwm-admin", name="", role="station_admin",
               stations="nowhere")  # fmt: skip
    assert r.status_code == 400
    assert 'id="error-name"' in r.text and 'id="error-stations"' in r.text
    assert "未知的工作站" in r.text and 'value="gwm-admin"' in r.text  # what was typed is kept
    assert "gwm-admin" not in requests.get(f"{base}/accounts", headers=OFFICE, timeout=10).text

    r = submit(browser, base, "accounts", token, login="gwm-admin", name="王站长",
               role="station_admin", stations="gwm")  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    first = SECRET.search(r.text).group(1)
    assert sign_in(base, "gwm-admin", first).json()["account"]["stations"] == ["gwm"]
    assert 'id="account-gwm-admin"' in r.text and "广武门街道委员工作站（gwm）" in r.text

    r = submit(browser, base, "account-active", token, login="gwm-admin", active="false")
    assert r.status_code == 200 and "已停用 gwm-admin" in r.text
    assert sign_in(base, "gwm-admin", first).status_code == 401
    r = submit(browser, base, "account-active", token, login="gwm-admin", active="true")
    assert r.status_code == 200 and "已启用 gwm-admin" in r.text
    assert sign_in(base, "gwm-admin", first).status_code == 200

    r = submit(browser, base, "account-password", token, login="gwm-admin")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    second = SECRET.search(r.text).group(1)
    assert second != first
    assert sign_in(base, "gwm-admin", first).status_code == 401
    assert sign_in(base, "gwm-admin", second).status_code == 200

    # a member's account: the member picked by code, its name shown as text, never as markup
    r = submit(browser, base, "accounts", token, login="zhang", name="<b>张</b>委员",
               role="member", member="m100", password="黄河-水车-2026")  # fmt: skip
    assert r.status_code == 200 and "已添加账号 zhang" in r.text
    assert "&lt;b&gt;张&lt;/b&gt;委员" in r.text and "<b>张</b>" not in r.text
    assert "委员 张志强（m100）" in r.text
    assert sign_in(base, "zhang", "黄河-水车-2026").json()["account"]["member"] == "m100"

    listed = browser.get(f"{base}/office/accounts", params={"role": "station_admin"}, timeout=10)
    assert 'id="account-gwm-admin"' in listed.text and 'id="account-chen"' not in listed.text
    assert second not in listed.text  # shown once, on the reset's own answer only
    found = browser.get(f"{base}/office/accounts", params={"q": "王站"}, timeout=10)
    assert 'id="account-gwm-admin"' in found.text
    wrong = browser.get(f"{base}/office/accounts", params={"role": "boss"}, timeout=10)
    assert wrong.status_code == 400 and "role" in wrong.text
    gone = submit(browser, base, "account-password", token, login="nobody")
    assert gone.status_code == 404


def test_a_form_without_the_page_token_changes_nothing(registry_service):
    base, _, _ = registry_service
    seed(base)
    browser, token = office_browser(base)
    assert submit(browser, base, "accounts", token, login="li-admin", name="李", role="studio_admin",
                  studios="s-yiyao-1", password="黄河-水车-2026").status_code == 200  # fmt: skip
    # what another site's form could send: the browser's cookies, but no (or a forged) token
    for fields in ({}, {"csrf_token": "forged"}):
        r = browser.post(f"{base}/office/account-active", timeout=10,
                         data={"login": "li-admin", "active": "false", **fields})  # fmt: skip
        assert r.status_code == 403 and "页面已过期" in r.text
        r = browser.post(f"{base}/office/import", data={"kind": "members", "mode": "import",
                         **fields}, files={"file": ("a.xlsx", workbook())}, timeout=10)  # fmt: skip
        assert r.status_code == 403
    assert sign_in(base, "li-admin", "黄河-水车-2026").status_code == 200  # still active
    # a token made for another browser's cookie does not fit this one
    other = requests.Session()
    other_token = TOKEN.search(other.get(f"{base}/sign-in", timeout=10).text).group(1)
    r = submit(browser, base, "account-active", other_token, login="li-admin", active="false")
    assert r.status_code == 403
    assert sign_in(base, "li-admin", "黄河-水车-2026").status_code == 200


@pytest.mark.parametrize("role", ["station_admin", "member"])
def test_only_the_office_opens_the_pages(registry_service, role):
    base, _, _ = registry_service
    scope = {"stations": ["gwm"]} if role == "station_admin" else {"member": "m100"}
    headers = auth_headers(None, role, **scope)
    for method, path in (("GET", "accounts"), ("GET", "import"), ("POST", "account-password")):
        r = requests.request(method, f"{base}/office/{path}", headers=headers, timeout=10,
                             data={"login": "chen"}, allow_redirects=False)  # fmt: skip
        assert r.status_code == 403 and "无权访问" in r.text
    r = requests.get(f"{base}/office/accounts", allow_redirects=False, timeout=10)
    assert r.status_code == 303 and "/sign-in?next=" in r.headers["Location"]


def test_the_office_checks_then_imports_a_workbook_from_the_page(registry_service):
    base, _, tap = registry_service
    seed(base)
    browser, token = office_browser(base)
    tap.drain()
    bad = workbook(
        ("m200", "李新民", "市", "医药卫生", "城关区", "13800000000"),
        ("m201", "赵红", "市", "无此界别", "城关区", "电话号码"),
    )
    for mode in ("check", "import"):
        r = upload(browser, base, token, bad, mode)
        assert r.status_code == 400
        assert 'data-row="3" data-field="phone"' in r.text and "第3行" in r.text
        assert 'data-row="3" data-field="sector"' in r.text and "未知界别" in r.text
        assert 'data-row="2"' not in r.text
    assert member_count(base, "m200") == 0

    good = workbook(("m200", "李新民", "市", "医药卫生", "城关区", "13800000000"))
    r = upload(browser, base, token, good, "check")
    assert r.status_code == 200 and 'id="import-checked"' in r.text and "新增 1" in r.text
    assert member_count(base, "m200") == 0  # a check writes nothing
    assert tap.drain(timeout=0.5) == []  # and announces nothing
    r = upload(browser, base, token, good, "import")
    assert r.status_code == 200 and 'id="import-done"' in r.text
    assert 'id="saved-m200"' in r.text and "李新民" in r.text
    assert member_count(base, "m200") == 1
    assert [e["type"] for e in tap.drain()] == ["registry.member_saved"]

    r = upload(browser, base, token, b"\x89PNG\r\n\x1a\n\x00\x00", "check")
    assert r.status_code == 400 and "不是电子表格" in r.text
    # a file over 5 MiB, in a form under the page's cap: refused whole, never cut short
    big = GOOD_CSV + "m201,大,市,yiyao,城关区\r\n".encode() * 175_500
    assert 5 * 1024 * 1024 < len(big) < 5 * 1024 * 1024 + 60_000
    r = upload(browser, base, token, big, "import")
    assert r.status_code == 413 and "请求内容过大" in r.text
    assert member_count(base, "m201") == 0
    page = browser.get(f"{base}/office/import", timeout=10)
    assert 'href="../export/members.xlsx"' in page.text
