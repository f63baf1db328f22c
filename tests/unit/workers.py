"""Helpers for testing a service class without a container (nameko's ``worker_factory``):
requests built the way werkzeug's server builds them, the one error format checked, and a
``db`` dependency on a test's own database."""

import json
from contextlib import contextmanager

from sqlalchemy.orm import sessionmaker
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request


def request(
    path, headers=None, method="GET", body=None, data=None, remote_addr=None, **query
) -> Request:
    """A request for an entrypoint. ``body``: sent as ``application/json`` (a dict or list is
    encoded; text or bytes go as they are, to test a broken body); ``data``: a form or raw body;
    ``query``: the query string."""
    if body is not None and not isinstance(body, str | bytes):
        body = json.dumps(body, ensure_ascii=False)
    builder = EnvironBuilder(
        path=path,
        method=method,
        query_string=query,
        headers={**(headers or {}), **({"Content-Type": "application/json"} if body else {})},
        data=body if body is not None else data,
        environ_base={"REMOTE_ADDR": remote_addr} if remote_addr else None,
    )
    return Request(builder.get_environ())


def error(response, status: int) -> dict:
    """The body of an answer in the one error format, after checking its status."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = json.loads(response.get_data(as_text=True))["error"]
    assert set(body) == {"code", "message_zh", "message", "fields"}
    return body


class Db:
    """The ``db`` dependency on a test's own database: one transaction per ``transaction()``."""

    def __init__(self, engine):
        self.sessionmaker = sessionmaker(engine)

    @contextmanager
    def transaction(self):
        with self.sessionmaker.begin() as session:
            yield session
