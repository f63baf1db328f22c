"""Fixtures against the real RabbitMQ and PostgreSQL: a private vhost and databases per test.

Tests neither need nor disturb a `make run` on the same broker: each gets its own virtual host
(created through the management API and deleted after) and its own SQLite files or
PostgreSQL databases.
"""

import os

# Hypothesis loads other packages' plugins at import (trio's among them), and trio cannot be
# imported once eventlet has patched the socket module: our property tests need no plugin.
os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")

import eventlet  # noqa: E402

eventlet.monkey_patch()  # noqa: E402  nameko's pytest plugin no longer does this for us

import uuid  # noqa: E402
from urllib.parse import quote  # noqa: E402

import psycopg2  # noqa: E402
import pytest  # noqa: E402
import requests  # noqa: E402

RABBIT_HOST = os.environ.get("LIANXIN_TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_MGMT = os.environ.get("LIANXIN_TEST_RABBIT_MGMT", f"http://{RABBIT_HOST}:15672")
PG_ADMIN_DSN = os.environ.get("LIANXIN_TEST_PG_DSN", "host=127.0.0.1 user=postgres dbname=postgres")
PG_URL_BASE = os.environ.get("LIANXIN_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432")
AUTH = ("guest", "guest")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 20, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; that value, or AssertionError."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")


def auth_headers(config: dict | None = None, role: str = "office", **scope) -> dict:
    """The ``Authorization`` header of a session token for ``role``, signed with ``config``'s
    secret key (a test stack's ``stack.config()``; None: the development key the in-process
    containers use). ``scope``: ``member="m003"``, ``stations=["gwm"]``, ``studios=[...]``,
    ``account="li"``, ``expires_in=-1`` (seconds; already expired)."""
    import time

    from services.kernel import auth

    who = auth.Principal(
        account=scope.get("account", f"test-{role}"),
        role=role,
        name=scope.get("name", ""),
        member=scope.get("member"),
        stations=frozenset(scope.get("stations", ())),
        studios=frozenset(scope.get("studios", ())),
    )
    config = config or {}
    now = time.time()
    if "expires_in" in scope:
        now += scope["expires_in"] - auth.session_seconds(config)
    return {"Authorization": f"Bearer {auth.issue_token(who, config, now=now)}"}


def container_config(
    service: str, amqp_uri: str, db_url: str, port: int, delays_ms=(300,), **extra
) -> dict:
    """The flattened config the runner gives a service (see ``config.service_config``), for a
    nameko container started inside the test process."""
    return {
        "AMQP_URI": amqp_uri,
        "DB_URL": db_url,
        "SERVICE_NAME": service,
        "SERVICE": {},
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "max_workers": 4,
        "retry": {"delays_ms": list(delays_ms), "requeue_delay_s": 0.5},
        "outbox": {"poll_interval_s": 0.1, "batch_size": 500},
        **extra,
    }


def create_vhost() -> tuple[str, str]:
    name = f"lx-test-{uuid.uuid4().hex[:10]}"
    r = requests.put(f"{RABBIT_MGMT}/api/vhosts/{quote(name, safe='')}", auth=AUTH, timeout=10)
    r.raise_for_status()
    r = requests.put(
        f"{RABBIT_MGMT}/api/permissions/{quote(name, safe='')}/guest",
        auth=AUTH,
        json={"configure": ".*", "write": ".*", "read": ".*"},
        timeout=10,
    )
    r.raise_for_status()
    return name, f"amqp://guest:guest@{RABBIT_HOST}:5672/{quote(name, safe='')}"


def broker_account(vhost: str) -> tuple[str, str]:
    """A broker account of its own for ``vhost`` (random name and password, rights on that vhost
    only, no management tag), as production requires: ``(user, amqp_uri)``. Deleted with
    :func:`delete_broker_account`."""
    import secrets

    user, password = f"lx-test-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(18)
    r = requests.put(
        f"{RABBIT_MGMT}/api/users/{user}",
        auth=AUTH,
        json={"password": password, "tags": ""},
        timeout=10,
    )
    r.raise_for_status()
    r = requests.put(
        f"{RABBIT_MGMT}/api/permissions/{quote(vhost, safe='')}/{user}",
        auth=AUTH,
        json={"configure": ".*", "write": ".*", "read": ".*"},
        timeout=10,
    )
    r.raise_for_status()
    return user, f"amqp://{user}:{password}@{RABBIT_HOST}:5672/{quote(vhost, safe='')}"


def delete_broker_account(user: str) -> None:
    requests.delete(f"{RABBIT_MGMT}/api/users/{user}", auth=AUTH, timeout=10)


def delete_vhost(name: str) -> None:
    requests.delete(f"{RABBIT_MGMT}/api/vhosts/{quote(name, safe='')}", auth=AUTH, timeout=30)


def message_count(amqp_uri: str, queue: str) -> int:
    """Ready messages in a queue, asked of the broker now (the management stats lag)."""
    from kombu import Connection

    with Connection(amqp_uri) as conn:
        return conn.default_channel.queue_declare(queue, passive=True).message_count


def get_messages(vhost: str, queue: str, count: int = 10) -> list[dict]:
    """Peek at messages (requeued after reading) through the management API."""
    r = requests.post(
        f"{RABBIT_MGMT}/api/queues/{quote(vhost, safe='')}/{quote(queue, safe='')}/get",
        auth=AUTH,
        timeout=10,
        json={"count": count, "ackmode": "ack_requeue_true", "encoding": "auto"},
    )
    r.raise_for_status()
    return r.json()


class PostgresDatabases:
    """Creates throw-away databases and drops them at the end."""

    def __init__(self):
        self.names = []
        self.templates: dict = {}  # what a test prepared once for the session, to copy from
        self.scratch_dirs: list = []  # folders of those templates, removed with the databases

    def create(self, template: str | None = None) -> str:
        """A new empty database, or a copy of ``template`` (a URL ``create`` gave; nobody may
        be connected to it while it is copied)."""
        name = f"lx_test_{uuid.uuid4().hex[:12]}"
        conn = psycopg2.connect(PG_ADMIN_DSN)
        conn.autocommit = True
        with conn.cursor() as cur:
            copy = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
            cur.execute(f'CREATE DATABASE "{name}"{copy}')
        conn.close()
        self.names.append(name)
        return f"{PG_URL_BASE}/{name}"

    def drop_all(self):
        import shutil

        for folder in self.scratch_dirs:
            shutil.rmtree(folder, ignore_errors=True)
        conn = psycopg2.connect(PG_ADMIN_DSN)
        conn.autocommit = True
        with conn.cursor() as cur:
            for name in self.names:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture
def vhost():
    name, uri = create_vhost()
    yield name, uri
    delete_vhost(name)


@pytest.fixture(scope="module")
def module_vhost():
    name, uri = create_vhost()
    yield name, uri
    delete_vhost(name)


@pytest.fixture(scope="session")
def pg_databases():
    dbs = PostgresDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, pg_databases):
    """One empty database URL per backend: every kernel piece runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/test.db"
    return pg_databases.create()
