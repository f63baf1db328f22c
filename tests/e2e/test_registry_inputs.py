"""Issue 20 in the registry, end to end: a registry in a nameko container on PostgreSQL and a
private RabbitMQ vhost, over real HTTP, and a phone in headless Chromium.

- What the outside probe sent (huge, negative and non-numeric paging, NULs PostgreSQL refuses,
  wrong types, a rotation of a billion a day) answers 4xx in the one error format naming the
  field, and writes nothing.
- A station or studio admin's roster naming another's place or members is refused.
- Sign-out: a cross-site page (another host: ``localhost`` against ``127.0.0.1``) posting a form,
  a text/plain form or a no-cors fetch to ``/auth/sign-out`` leaves the session signed in; the
  sign-in page's own button signs out.
"""

import http.server
import threading

import pytest
import requests
from nameko.containers import ServiceContainer
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC  # noqa: N812
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel.db import make_engine
from services.kernel.migrations import upgrade
from services.kernel.models import OutboxMessage
from services.registry import accounts, demo, places
from services.registry.models import Account, RosterDay
from services.registry.service import RegistryService
from tests.conftest import auth_headers, container_config, free_port
from tests.e2e.conftest import sign_in_on_page

PASSWORD = "长城-correct-horse-2026"
HUGE = str(10**20)


@pytest.fixture(scope="module")
def registry(pg_databases, module_vhost):
    """(base URL, config, engine) of a registry on PostgreSQL with the small demo set, a studio
    and a station admin account ``gwm-admin``."""
    _, amqp_uri = module_vhost
    db_url = pg_databases.create()
    upgrade("registry", db_url)
    engine = make_engine(db_url)
    with Session(engine) as s, s.begin():
        demo.load(s)
        places.save_studio(
            s, {"code": "yiyao-s", "name": "医药工作室", "district": "城关区", "sectors": ["yiyao"]}
        )
        accounts.create(
            s,
            {
                "login": "gwm-admin",
                "name": "广武门管理员",
                "role": "station_admin",
                "stations": ["gwm"],
                "password": PASSWORD,
            },
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = container_config(
        "registry",
        amqp_uri,
        db_url,
        port,
        public_urls={"registry": base, "intake": "http://intake.example.cn"},
    )
    container = ServiceContainer(RegistryService, config)
    container.start()
    try:
        yield base, config, engine
    finally:
        container.stop()
        engine.dispose()


def written(engine) -> tuple:
    with Session(engine) as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m))
            for m in (OutboxMessage, RosterDay, Account)
        )


def one_format(r, status: int, field: str | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()["error"]
    assert set(body) == {"code", "message_zh", "message", "fields"}
    if field is not None:
        assert field in body["fields"], body
        assert all(" / " in m for m in leaves(body["fields"][field]))  # Chinese / English
    return body


def leaves(messages) -> list[str]:
    """Every message of a field, however nested (a list's item's field)."""
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in leaves(value)]
    if isinstance(messages, list):
        return [m for value in messages for m in leaves(value)]
    return [messages]


GET_CORPUS = [
    ("/members", {"limit": HUGE}, "limit"),
    ("/members", {"offset": HUGE}, "offset"),
    ("/members", {"limit": "-1"}, "limit"),
    ("/members", {"limit": "abc"}, "limit"),
    ("/members", {"limit": "1e3"}, "limit"),
    ("/members", {"q": "张\x00"}, "q"),
    ("/members", {"expertise": "\x00"}, "expertise"),
    ("/stations", {"district": "\x00"}, "district"),
    ("/studios", {"sector": "\x00"}, "sector"),
    ("/rosters", {"station": "gwm\x00"}, "station"),
    ("/rosters", {"from": "0001-01-01"}, "from"),
    ("/on-duty", {"station": "\x00", "date": "2026-12-02"}, "station"),
    ("/accounts", {"role": "\x00"}, "role"),
]


@pytest.mark.parametrize("path, params, field", GET_CORPUS)
def test_bad_query_arguments_are_field_errors_on_postgresql(registry, path, params, field):
    base, config, _ = registry
    r = requests.get(base + path, params=params, headers=auth_headers(config), timeout=10)
    one_format(r, 400, field)


@pytest.mark.parametrize(
    "path", ["/members/%00", "/members/" + "m" * 3000, "/accounts/%00", "/qr/member/%00.svg"]
)
def test_a_path_code_that_cannot_be_one_is_not_found(registry, path):
    base, config, _ = registry
    r = requests.get(base + path, headers=auth_headers(config), timeout=10)
    one_format(r, 404)


STUDIO_BODY = {"code": "t1", "name": "室", "district": "城关区", "sectors": ["yiyao"]}
POST_CORPUS = [
    ("POST", "/sectors", {"code": "x1", "name": "某\x00界"}, "name"),
    ("POST", "/sectors", {"code": "x1", "name": ["某"]}, "name"),
    ("POST", "/studios", {**STUDIO_BODY, "location": "楼" * 201}, "location"),
    ("POST", "/studios", {**STUDIO_BODY, "sectors": {"yiyao": True}}, "sectors"),
    ("PATCH", "/members/m003", {"expertise": ["医"] * 21}, "expertise"),
    ("PATCH", "/members/m003", {"stations": [{"station": "gwm\x00"}]}, "stations"),
    ("POST", "/rosters", {"date": "2026-12-02", "station": ["gwm"]}, "station"),
    ("POST", "/rosters", {"date": "2026-12-02", "station": "gwm", "members": "m003"}, "members"),
    ("POST", "/rosters/rotation", {"station": "gwm", "month": "2026-12", "per_day": 10**9}, "per_day"),
    ("POST", "/rosters/rotation", {"station": "gwm", "month": "2026-12", "per_day": "2"}, "per_day"),
    ("POST", "/rosters/rotation", {"station": "gwm", "month": "99999-12"}, "month"),
    ("POST", "/rosters/rotation", {"station": {"x": 1}, "month": "2026-12"}, "station"),
    ("POST", "/accounts", {"login": "zz", "name": "某", "role": ["office"], "password": PASSWORD}, "role"),
    ("POST", "/accounts", {"login": "zz", "name": "某\x00", "role": "office", "password": PASSWORD}, "name"),
    ("POST", "/auth/sign-in", {"login": ["gwm-admin"], "password": PASSWORD}, "login"),
    ("POST", "/auth/sign-in", {"login": "gwm-admin", "password": "x" * 300}, "password"),
]  # fmt: skip


@pytest.mark.parametrize("method, path, body, field", POST_CORPUS)
def test_bad_bodies_are_field_errors_and_write_nothing(registry, method, path, body, field):
    base, config, engine = registry
    before = written(engine)
    r = requests.request(method, base + path, json=body, headers=auth_headers(config), timeout=10)
    one_format(r, 400, field)
    assert written(engine) == before


@pytest.mark.parametrize(
    "raw, status, code",
    [
        ("[" * 5000 + "]" * 5000, 400, "bad_json"),
        ('{"code": "x1", "name": ' + "[" * 20 + "]" * 20 + "}", 400, "bad_json"),
        ('{"name": "' + "x" * 10_000_000 + '"}', 413, "too_large"),
    ],
)
def test_deep_and_huge_bodies_are_refused_before_anything_is_read(registry, raw, status, code):
    base, config, engine = registry
    before = written(engine)
    headers = {**auth_headers(config), "Content-Type": "application/json"}
    for path in ("/sectors", "/rosters", "/rosters/rotation", "/accounts"):
        r = requests.post(base + path, data=raw.encode(), headers=headers, timeout=30)
        assert one_format(r, status, "_body")["code"] == code
    assert written(engine) == before


def test_a_nul_in_a_sign_in_neither_breaks_it_nor_signs_in(registry):
    base, _, _ = registry
    r = requests.post(
        base + "/auth/sign-in", json={"login": "gwm-admin\x00", "password": "guess"}, timeout=10
    )
    one_format(r, 401)


@pytest.mark.parametrize(
    "role, scope, body",
    [
        ("station_admin", {"stations": ["gwm"]}, {"station": "jnl", "members": ["m005"]}),
        ("station_admin", {"stations": ["gwm"]}, {"station": "gwm", "members": ["m005"]}),
        ("station_admin", {"stations": ["gwm"]}, {"studio": "yiyao-s", "members": []}),
        ("studio_admin", {"studios": ["yiyao-s"]}, {"station": "gwm", "members": ["m003"]}),
        ("studio_admin", {"studios": ["other-s"]}, {"studio": "yiyao-s", "members": []}),
    ],
)
def test_a_roster_outside_the_callers_scope_is_refused(registry, role, scope, body):
    base, config, engine = registry
    before = written(engine)
    headers = auth_headers(config, role=role, **scope)
    roster = {"date": "2026-12-02", **body}
    r = requests.post(base + "/rosters", json=roster, headers=headers, timeout=10)
    assert one_format(r, 403)["code"] == "forbidden"
    assert "陈立新" not in r.text and "m005" not in r.text
    if body["members"] != ["m005"] or "jnl" in body.values():  # the place itself is not its
        rotation = {k: v for k, v in body.items() if k != "members"} | {"month": "2026-12"}
        r = requests.post(base + "/rosters/rotation", json=rotation, headers=headers, timeout=10)
        assert one_format(r, 403)["code"] == "forbidden"
    assert written(engine) == before


# -- sign-out from another site ----------------------------------------------------------------

EVIL_PAGES = {
    "/form": (
        '<form method=post action="{target}" id=f><input name=go value=1></form>'
        "<script>document.getElementById('f').submit()</script>"
    ),
    "/plain": (
        '<form method=post enctype="text/plain" action="{target}" id=f>'
        "<input name='{{\"a\":\"' value='1\"}}'></form>"
        "<script>document.getElementById('f').submit()</script>"
    ),
    "/fetch": (
        "<script>fetch('{target}', {{method: 'POST', mode: 'no-cors', credentials: 'include'}})"
        ".finally(() => {{ document.title = 'sent'; }})</script>"
    ),
}


@pytest.fixture
def evil_site(registry):
    """Another site (``localhost``, not ``127.0.0.1``) whose pages post to the sign-out."""
    base, _, _ = registry
    target = base + "/auth/sign-out"
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path not in EVIL_PAGES:  # the browser's /favicon.ico
                self.send_error(404)
                return
            page = EVIL_PAGES[self.path].format(target=target)
            hits.append(self.path)
            body = f"<!doctype html><title>evil</title>{page}".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def signed_in_as(phone, base) -> str | None:
    """Who the browser is signed in as, by the cookie it holds (the page says it)."""
    phone.get(base + "/sign-in")
    found = phone.find_elements(By.ID, "signed-in")
    return found[0].text if found else None


def test_another_site_cannot_sign_a_user_out_but_the_page_button_can(registry, evil_site, phone):
    base, _, _ = registry
    evil, hits = evil_site
    phone.get(base + "/sign-in?next=/sign-in")
    sign_in_on_page(phone, "gwm-admin", PASSWORD)
    WebDriverWait(phone, 20).until(EC.presence_of_element_located((By.ID, "signed-in")))
    assert "gwm-admin" in signed_in_as(phone, base)
    session = phone.get_cookie("lx_session")["value"]

    for path in ("/form", "/plain", "/fetch"):
        phone.get(evil + path)
        if path == "/fetch":
            WebDriverWait(phone, 10).until(EC.title_is("sent"))
        else:  # the post was answered: the refusal (a page, or the error as JSON)
            WebDriverWait(phone, 10).until(lambda d: d.current_url.startswith(base))
            assert "evil" not in phone.title
        assert "gwm-admin" in (signed_in_as(phone, base) or "signed out"), path
        assert phone.get_cookie("lx_session")["value"] == session, path
    assert hits == ["/form", "/plain", "/fetch"]
    me = requests.get(base + "/auth/me", cookies={"lx_session": session}, timeout=10)
    assert me.status_code == 200 and me.json()["login"] == "gwm-admin"

    phone.get(base + "/sign-in")
    phone.find_element(By.ID, "sign-out-button").click()
    WebDriverWait(phone, 20).until(lambda d: not d.find_elements(By.ID, "signed-in"))
    assert phone.current_url == base + "/sign-in"
    assert phone.get_cookie("lx_session") is None
    assert phone.find_element(By.ID, "sign-in")  # the sign-in form, ready for the next person
