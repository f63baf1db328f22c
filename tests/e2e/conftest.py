"""The whole system, started the way `make run` starts it, on a private vhost and databases."""

import itertools
import re
import secrets
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import auth_headers, create_vhost, delete_vhost
from tools.stack import Stack


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def stack_env(amqp_uri: str, db_urls: dict, ports: list[int]) -> dict:
    env = {
        "AMQP_URI": amqp_uri,
        "LIANXIN_RETRY_DELAYS_MS": "[200, 500]",
        "LIANXIN_REQUEUE_DELAY_S": "0.5",
        "LIANXIN_OUTBOX_POLL_S": "0.2",
        "LIANXIN_SECRET_KEY": secrets.token_urlsafe(32),  # tokens prove they use the stack's key
    }
    for (service, url), port in zip(db_urls.items(), ports, strict=True):
        env[f"{service.upper()}_DB_URL"] = url
        env[f"{service.upper()}_PORT"] = str(port)
        # where pages send people to sign in, and back (intake's clerk pages too), and where
        # the registry's QR codes point
        env[f"{service.upper()}_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    return env


SERVICES = ("registry", "intake", "routing", "reporting")


def prepared_databases(tmp_path, backend: str, pg_databases) -> dict[str, str]:
    """The four databases of a new stack, migrated and holding the small demo registry (the
    tests assert the small set), exactly as ``Stack.prepare`` leaves them: prepared by it once
    per backend and session, then copied for each stack (PostgreSQL ``CREATE DATABASE …
    TEMPLATE``, SQLite the files), which costs a fraction of migrating and loading again."""
    key = f"e2e-{backend}"
    if key not in pg_databases.templates:
        where = Path(tempfile.mkdtemp(prefix="lx-e2e-template-"))
        pg_databases.scratch_dirs.append(where)
        if backend == "sqlite":
            urls = {s: f"sqlite:///{where}/{s}.db" for s in SERVICES}
        else:
            urls = {s: pg_databases.create() for s in SERVICES}
        Stack(env=stack_env("amqp://unused/", urls, free_ports(4)), log_dir=where / "log").prepare(
            demo=True, demo_set="small"
        )
        pg_databases.templates[key] = urls
    templates = pg_databases.templates[key]
    if backend != "sqlite":
        return {s: pg_databases.create(template=templates[s]) for s in SERVICES}
    tmp_path.mkdir(parents=True, exist_ok=True)
    for url in templates.values():
        source = Path(url.removeprefix("sqlite:///"))
        for part in source.parent.glob(f"{source.name}*"):  # the database and its WAL, if any
            shutil.copy(part, tmp_path / part.name)
    return {s: f"sqlite:///{tmp_path}/{s}.db" for s in SERVICES}


def make_stack(tmp_path, backend: str, pg_databases) -> tuple[Stack, str, str]:
    vhost, amqp_uri = create_vhost()
    urls = prepared_databases(tmp_path, backend, pg_databases)
    stack = Stack(env=stack_env(amqp_uri, urls, free_ports(4)), log_dir=tmp_path / "log")
    stack.db_urls = urls
    stack.headers = auth_headers(stack.config())  # the office's, for the tests' own look-ups
    stack.start()
    stack.wait_for(
        lambda: len(stack.health("intake")["stations"]) == 5,
        timeout=30,
        what="intake consuming the five demo stations",
    )
    stack.wait_for(
        lambda: demo_copied(stack),
        timeout=30,
        what="intake's copy of the demo members and of routing's catalogue",
    )
    return stack, vhost, amqp_uri


def demo_copied(stack) -> bool:
    """Whether intake has heard of the demo registry and the catalogue (the registry and routing
    announce them when they start; a QR page shows both): a citizen's first scan finds them."""
    page = requests.get(stack.url("intake", "/q/member/m003"), timeout=5)
    return page.status_code == 200 and "张志强" in page.text and "医疗健康" in page.text


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request, tmp_path_factory, pg_databases):
    tmp = tmp_path_factory.mktemp(f"stack-{request.param}")
    stack, vhost, amqp_uri = make_stack(tmp, request.param, pg_databases)
    stack.amqp_uri, stack.vhost = amqp_uri, vhost
    yield stack
    stack.stop()
    delete_vhost(vhost)


def get(stack, service, path, **params):
    """GET as the office."""
    r = requests.get(stack.url(service, path), params=params, headers=stack.headers, timeout=10)
    return r.status_code, r.json()


def make_account(stack, role: str, **scope) -> tuple[str, str]:
    """A new account, created by the office through the registry API: ``(login, password)``.
    ``scope``: ``member="m003"``, ``stations=["gwm"]``, ``studios=[...]``."""
    import uuid

    login = f"{role.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    password = f"pw-{uuid.uuid4().hex}"
    body = {"login": login, "name": f"测试{role}", "role": role, "password": password, **scope}
    r = requests.post(
        stack.url("registry", "/accounts"), json=body, headers=stack.headers, timeout=10
    )
    assert r.status_code == 201, r.text
    return login, password


def sign_in_on_page(driver, login: str, password: str) -> None:
    """Fill in the sign-in page the browser shows and send it."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "login").send_keys(login)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "submit").click()


def wait_submission(stack, submission_id, timeout=30):
    def found():
        _, body = get(stack, "intake", "/submissions", submission_id=submission_id)
        return body["submissions"]

    return stack.wait_for(found, timeout=timeout, what=f"submission {submission_id}")


def wait_case(stack, number, status="assigned", timeout=30):
    def found():
        code, body = get(stack, "routing", f"/cases/{number}")
        return body if code == 200 and body["status"] == status else None

    return stack.wait_for(found, timeout=timeout, what=f"case {number} {status}")


def wait_figure(stack, month, metric, at_least, timeout=30, dimension=None, key=None):
    def reached():
        _, body = get(stack, "reporting", "/stats/monthly", month=month)
        figures = body["city"] if dimension is None else body.get(dimension, {}).get(key, {})
        return figures if figures.get(metric, 0) >= at_least else None

    return stack.wait_for(reached, timeout=timeout, what=f"{metric} >= {at_least}")


_addresses = itertools.count(1)
CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def an_address() -> str:
    """A fresh client address (the stack trusts loopback as its proxy: local.yaml)."""
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


class Citizen:
    """A citizen's browser over plain HTTP: its own address (X-Forwarded-For through the trusted
    proxy), the CSRF cookie the pages set, and the token the forms carry."""

    def __init__(self, stack, address: str | None = None):
        self.stack, self.address = stack, address or an_address()
        self.http = requests.Session()
        self.http.headers["X-Forwarded-For"] = self.address
        self.token = None

    def get(self, path, **params):
        r = self.http.get(self.stack.url("intake", path), params=params, timeout=30)
        found = CSRF_TOKEN.search(r.text)
        self.token = found.group(1) if found else self.token
        return r

    def post(self, path, base=None, **fields):
        """Post a form; ``base`` sends it to another intake process than the stack's own."""
        if self.token is None:  # the form's page first, as a browser would
            self.get(path if path.startswith("/q/") else "/q/station/gwm")
        fields.setdefault("csrf_token", self.token)
        url = (base or self.stack.url("intake")) + path
        return self.http.post(url, data=fields, timeout=30)


def pause(seconds: float) -> None:
    time.sleep(seconds)


# -- a phone in headless Chromium (Debian's chromium and chromium-driver; never downloaded) ----

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PHONE = (390, 844)  # CSS pixels of a common phone


@pytest.fixture
def phone():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail(
            "chromium and chromium-driver are needed: apt-get install -y chromium "
            "chromium-driver (.ci/run does it)"
        )
    profile = tempfile.mkdtemp(prefix="lx-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={PHONE[0]},{PHONE[1]}",
    ):
        options.add_argument(arg)
    options.add_experimental_option(
        "mobileEmulation",
        {"deviceMetrics": {"width": PHONE[0], "height": PHONE[1], "pixelRatio": 3.0}},
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def after_click(driver, element_id: str, seconds: float = 20):
    """The element on the page the click leads to (the click itself does not wait)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC  # noqa: N812
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(EC.presence_of_element_located((By.ID, element_id)))


def gone(element) -> bool:
    """Whether ``element`` left the document (its page was replaced). Chromium answers a node of
    the page before with "Node with given id does not belong to the document", not always with a
    stale reference, which is why ``EC.staleness_of`` is not enough."""
    from selenium.common.exceptions import WebDriverException

    try:
        element.is_enabled()
    except WebDriverException:  # StaleElementReferenceException is one
        return True
    return False


def read_again(driver, condition, seconds: float = 20):
    """Wait for ``condition(driver)`` while a page may be replaced under it: a node read from the
    old page (a stale element, or Chrome's "node does not belong to the document", a plain
    WebDriverException) means "read it again", never a failure."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, ignored_exceptions=[WebDriverException]).until(condition)


def fits_the_phone(driver) -> bool:
    """No sideways scrolling: the page is as wide as the phone."""
    return driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
