"""Accounts and signing in over HTTP: the office manages accounts, people sign in with JSON or
the page, sessions expire, wrong passwords are slowed down, and nobody else manages accounts."""

import re

import requests

from tests.conftest import auth_headers
from tests.registry.conftest import ROUTING
from tests.registry.test_api import OFFICE, seed

PASSWORD = "黄河-水车-2026"
LI = {"login": "li", "name": "张志强", "role": "member", "member": "m100", "password": PASSWORD}


def create(base, body, headers=OFFICE):
    return requests.post(f"{base}/accounts", json=body, headers=headers, timeout=10)


def sign_in(base, login, password, session=requests):
    return session.post(
        f"{base}/auth/sign-in", json={"login": login, "password": password}, timeout=10
    )


def test_the_office_manages_accounts_with_an_error_per_field(registry_service):
    base, _, _ = registry_service
    seed(base)
    r = create(base, LI)
    assert r.status_code == 201, r.text
    assert r.json()["member"] == "m100" and "password" not in r.text and "scrypt" not in r.text
    r = create(
        base,
        {**LI, "role": "station_admin", "member": None, "stations": ["gwm", "nowhere"]},
    )
    assert r.status_code == 400
    fields = r.json()["error"]["fields"]
    assert set(fields) == {"login", "stations"} and "nowhere" in fields["stations"][0]
    r = create(base, {**LI, "login": "li2", "password": "123456789012"})
    assert "password" in r.json()["error"]["fields"]
    r = requests.post(
        f"{base}/accounts/li/password", json={"password": "x"}, headers=OFFICE, timeout=10
    )
    assert r.status_code == 400 and "password" in r.json()["error"]["fields"]

    listed = requests.get(f"{base}/accounts", headers=OFFICE, timeout=10).json()["accounts"]
    assert [a["login"] for a in listed] == ["li"]
    r = requests.post(f"{base}/accounts/li/deactivate", headers=OFFICE, timeout=10)
    assert r.json()["active"] is False
    assert sign_in(base, "li", PASSWORD).status_code == 401  # deactivated
    r = requests.patch(f"{base}/accounts/li", json={"active": True}, headers=OFFICE, timeout=10)
    assert r.json()["active"] is True
    assert sign_in(base, "li", PASSWORD).status_code == 200
    assert requests.get(f"{base}/accounts/nobody", headers=OFFICE, timeout=10).status_code == 404


def test_only_the_office_manages_accounts(registry_service):
    base, _, _ = registry_service
    seed(base)
    assert create(base, LI).status_code == 201
    member = auth_headers(role="member", member="m100")
    station = auth_headers(role="station_admin", stations=["gwm"])
    for headers in (member, station):
        for method, path, body in (
            ("get", "/accounts", None),
            ("get", "/accounts/li", None),
            ("post", "/accounts", {**LI, "login": "mine", "role": "office", "member": None}),
            ("patch", "/accounts/li", {"role": "office", "member": None}),
            ("post", "/accounts/li/password", {"password": "taken-over-2026"}),
            ("post", "/accounts/li/deactivate", None),
        ):
            r = requests.request(method, f"{base}{path}", json=body, headers=headers, timeout=10)
            assert r.status_code == 403, (path, r.text)
            assert "m100" not in r.text and "张志强" not in r.text
    assert requests.get(f"{base}/accounts", timeout=10).status_code == 401
    assert sign_in(base, "li", PASSWORD).status_code == 200  # nothing changed


def test_sign_in_sign_out_and_the_session(registry_service):
    base, _, _ = registry_service
    seed(base)
    assert create(base, LI).status_code == 201
    browser = requests.Session()
    r = sign_in(base, "li", PASSWORD, browser)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["account"]["role"] == "member" and body["account"]["member"] == "m100"
    cookie = r.headers["Set-Cookie"]
    assert "lx_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/" in cookie and "Max-Age=28800" in cookie
    # the cookie (a browser) and the token (a client) say the same
    me = browser.get(f"{base}/auth/me", timeout=10).json()
    assert (me["login"], me["role"], me["member"]) == ("li", "member", "m100")
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert requests.get(f"{base}/auth/me", headers=bearer, timeout=10).json()["login"] == "li"
    # the member reads the own record, not another's, and writes nothing
    assert browser.get(f"{base}/members/m100", timeout=10).json()["phone"] == "13809310001"
    r = browser.post(f"{base}/sectors", json={"code": "x", "name": "x"}, timeout=10)
    assert r.status_code == 403

    r = browser.post(f"{base}/auth/sign-out", json={}, timeout=10)
    assert r.status_code == 200 and "lx_session=;" in r.headers["Set-Cookie"]
    assert browser.get(f"{base}/auth/me", timeout=10).status_code == 401

    expired = auth_headers(role="member", member="m100", expires_in=-1)
    r = requests.get(f"{base}/auth/me", headers=expired, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_signed_in"
    forged = {"Authorization": bearer["Authorization"][:-4] + "AAAA"}
    assert requests.get(f"{base}/auth/me", headers=forged, timeout=10).status_code == 401


def test_a_cookie_session_changes_things_only_with_json(registry_service):
    """A cross-site form can make the browser send the cookie, never a JSON content type."""
    base, _, _ = registry_service
    seed(base)
    assert create(base, {**LI, "login": "boss", "role": "office", "member": None}).ok
    browser = requests.Session()
    assert sign_in(base, "boss", PASSWORD, browser).ok
    r = browser.post(f"{base}/sectors", data={"code": "x", "name": "伪造"}, timeout=10)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    assert browser.post(f"{base}/sectors", json={"code": "x", "name": "真"}, timeout=10).ok
    r = requests.post(f"{base}/auth/sign-in", data={"login": "boss", "password": PASSWORD})
    assert r.status_code == 415  # no sign-in by a cross-site form either


def test_wrong_passwords_are_slowed_down(registry_service):
    base, _, _ = registry_service  # this registry allows 3 failures a login per minute
    seed(base)
    assert create(base, LI).status_code == 201
    for _ in range(3):
        r = sign_in(base, "li", "guess-guess")
        assert r.status_code == 401 and r.json()["error"]["code"] == "sign_in_failed"
    r = sign_in(base, "li", PASSWORD)  # even the right password waits now
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.json()["error"]["code"] == "too_many_attempts"
    assert "请 1 分钟后再试" in r.json()["error"]["message_zh"]
    assert "token" not in r.text and "Set-Cookie" not in r.headers
    r = sign_in(base, "nobody", "guess-guess")  # an unknown login says the same as a wrong one
    assert r.status_code == 401 and r.json()["error"]["message_zh"] == "账号或密码错误"


def test_the_sign_in_page_needs_its_csrf_token_and_goes_only_to_this_site(registry_service):
    base, _, _ = registry_service
    seed(base)
    assert create(base, LI).status_code == 201
    browser = requests.Session()
    page = browser.get(f"{base}/sign-in", params={"next": f"{ROUTING}/duty/m100"}, timeout=10)
    assert page.status_code == 200 and "登录" in page.text and "lx_csrf" in browser.cookies
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert f'value="{ROUTING}/duty/m100"' in page.text
    form = {"login": "li", "password": PASSWORD, "next": f"{ROUTING}/duty/m100"}

    forged = requests.post(f"{base}/sign-in", data={**form, "csrf_token": token}, timeout=10)
    assert forged.status_code == 403 and "lx_session" not in forged.headers.get("Set-Cookie", "")
    r = browser.post(
        f"{base}/sign-in", data={**form, "csrf_token": token}, allow_redirects=False, timeout=10
    )
    assert r.status_code == 303 and r.headers["Location"] == f"{ROUTING}/duty/m100"
    assert "lx_session" in browser.cookies

    for evil in ("https://evil.example.com/", "//evil.example.com", "/\\evil.example.com"):
        r = browser.post(
            f"{base}/sign-in",
            data={**form, "next": evil, "csrf_token": token},
            allow_redirects=False,
            timeout=10,
        )
        assert r.headers["Location"] == f"{ROUTING}/duty/m100", evil  # the member's own page
        assert "evil" not in browser.get(f"{base}/sign-in?next={evil}", timeout=10).text
    wrong = browser.post(
        f"{base}/sign-in", data={**form, "password": "nope", "csrf_token": token}, timeout=10
    )
    assert wrong.status_code == 401 and "账号或密码错误" in wrong.text
    # a page's sign-out button: the cookie goes, the browser is back at the sign-in page
    forged = browser.post(
        f"{base}/auth/sign-out", data={"go": "1"}, allow_redirects=False, timeout=10
    )
    assert forged.status_code == 403 and "lx_session" in browser.cookies  # no token: still in
    r = browser.post(
        f"{base}/auth/sign-out", data={"csrf_token": token}, allow_redirects=False, timeout=10
    )
    assert r.status_code == 303 and r.headers["Location"] == "../sign-in"
    assert "lx_session" not in browser.cookies
