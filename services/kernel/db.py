"""SQLAlchemy 2 engines and the nameko DependencyProvider that hands out transactions.

One database per service. ``sqlite:///var/<service>.db`` by default; a ``postgresql://`` URL
uses psycopg2 made green (psycogreen), or every query would block the whole eventlet hub.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from nameko.extensions import DependencyProvider, SharedExtension
from sqlalchemy import bindparam, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

_green_lock = threading.Lock()
_green_done = False


def _make_psycopg2_green() -> None:
    global _green_done
    with _green_lock:
        if _green_done:
            return
        import eventlet.patcher

        if eventlet.patcher.is_monkey_patched("socket"):
            from psycogreen.eventlet import patch_psycopg

            patch_psycopg()
        _green_done = True


def make_engine(url: str, pool_size: int = 20) -> Engine:
    """An engine for a service database; creates the SQLite file's folder when needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            # WAL lets readers (the outbox relay, reports) run beside one writer.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql":
        _make_psycopg2_green()
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class SharedEngine(SharedExtension):
    """One engine and session factory per container, shared by every kernel extension."""

    def __init__(self):
        super().__init__()
        self.engine = None
        self._after_commit = []

    def setup(self):
        if self.engine is None:
            config = self.container.config
            pool = int(config.get("max_workers", 10)) + 5
            self.engine = make_engine(config["DB_URL"], pool_size=pool)
            self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
            event.listen(self.sessionmaker, "after_commit", self._on_commit)

    def on_commit(self, callback) -> None:
        """Call ``callback(session)`` after every commit of a session from this factory."""
        self._after_commit.append(callback)

    def _on_commit(self, session: Session) -> None:
        for callback in self._after_commit:
            callback(session)

    @contextlib.contextmanager
    def transaction(self):
        """A session in a transaction: committed on success, rolled back on any exception."""
        with self.sessionmaker.begin() as session:
            yield session

    def kill(self):
        self.stop()

    def stop(self):
        if self.engine is not None:
            self.engine.dispose()


class Database(DependencyProvider):
    """Gives a worker ``self.db.transaction()``, a context manager yielding a session."""

    shared = SharedEngine()

    def get_dependency(self, worker_ctx):
        return self.shared


def insert_on_conflict(table, keys: list[str], add: list[str] = (), replace: list[str] = ()):
    """``INSERT … ON CONFLICT (keys) DO NOTHING`` (or ``DO UPDATE`` adding to the ``add``
    columns and overwriting the ``replace`` ones), the same SQL on SQLite and PostgreSQL.

    Written as text with typed parameters because SQLAlchemy cannot cache the compiled form of
    its dialect ``on_conflict_*`` constructs: built that way, a statement run for every message
    was compiled again every time.
    """
    columns = [c.name for c in table.columns if not (c.primary_key and c.autoincrement is True)]
    q = '"{}"'.format  # quoted: "key" is a column name here
    sets = [f"{q(c)} = {q(table.name)}.{q(c)} + excluded.{q(c)}" for c in add]
    sets += [f"{q(c)} = excluded.{q(c)}" for c in replace]
    action = f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"
    sql = (
        f"INSERT INTO {q(table.name)} ({', '.join(map(q, columns))}) "
        f"VALUES ({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT ({', '.join(map(q, keys))}) {action}"
    )
    return text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))
