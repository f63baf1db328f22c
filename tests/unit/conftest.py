"""A fresh SQLite database per test, migrated the way the services migrate theirs."""

import pytest
from sqlalchemy.orm import Session

from services.kernel.db import make_engine
from services.kernel.migrations import upgrade


@pytest.fixture
def migrated(tmp_path):
    def make(service):
        url = f"sqlite:///{tmp_path}/{service}.db"
        upgrade(service, url)
        engine = make_engine(url)
        return engine

    engines = []

    def factory(service):
        engine = make(service)
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.dispose()


@pytest.fixture
def session_of(migrated):
    """``session_of("registry")`` → a session on a migrated registry database."""
    sessions = []

    def factory(service):
        session = Session(migrated(service))
        sessions.append(session)
        return session

    yield factory
    for s in sessions:
        s.close()
