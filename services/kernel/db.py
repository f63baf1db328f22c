"""SQLAlchemy 2 engines and the nameko DependencyProvider that hands out transactions.

One database per service. ``sqlite:///var/<service>.db`` by default; a ``postgresql://`` URL
uses psycopg2 made green (psycogreen), or every query would block the whole eventlet hub.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

import eventlet
from eventlet import tpool
from eventlet.patcher import original
from nameko.extensions import DependencyProvider, SharedExtension
from sqlalchemy import bindparam, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from services.kernel.settings import kernel_settings

log = logging.getLogger(__name__)

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


def make_engine(url: str, pool_size: int = 20, checkpoint_elsewhere: bool = False) -> Engine:
    """An engine for a service database; creates the SQLite file's folder when needed.

    ``checkpoint_elsewhere``: SQLite's own connections never copy the write-ahead log into the
    database (``wal_autocheckpoint=0``); a :class:`WalCheckpointer` must do it instead.
    """
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
            if checkpoint_elsewhere:
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql":
        _make_psycopg2_green()
    # A server that does not answer at all (a host gone, a partition) fails a connection in
    # seconds, not after the system's TCP timeout: the inbox's outage check relies on it.
    args = {} if "connect_timeout" in parsed.query else {"connect_args": {"connect_timeout": 10}}
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, **args
    )


class SharedEngine(SharedExtension):
    """One engine and session factory per container, shared by every kernel extension."""

    def __init__(self):
        super().__init__()
        self.engine = None
        self.checkpointer = None
        self._after_commit = []

    def setup(self):
        if self.engine is None:
            config = self.container.config
            pool = kernel_settings(config).max_workers + 5
            self.checkpointer = WalCheckpointer.for_url(config["DB_URL"])
            self.engine = make_engine(
                config["DB_URL"], pool_size=pool, checkpoint_elsewhere=self.checkpointer is not None
            )
            self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
            event.listen(self.sessionmaker, "after_commit", self._on_commit)

    def start(self):
        if self.checkpointer is not None and not self.checkpointer.running:
            self.checkpointer.running = True
            self.container.spawn_managed_thread(self.checkpointer.run, identifier="wal-checkpoint")

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
        if self.checkpointer is not None:
            self.checkpointer.running = False
        if self.engine is not None:
            self.engine.dispose()


class WalCheckpointer:
    """Copies a SQLite database's write-ahead log into it, once a second, from an OS thread.

    SQLite checkpoints in whichever connection commits when the log passes 1,000 pages: a copy
    of 4 MB and two fsyncs inside a call that holds the whole eventlet hub, stalling every
    message of the process for tens of milliseconds (the p99 of the pipeline). Here the
    checkpoint runs in ``eventlet.tpool``'s thread (the sqlite3 module lets go of the GIL while
    SQLite works) with its own connection, ``PASSIVE``: it never waits for, nor holds up, a
    reader or a writer. The log then stays small and commits never fsync (``synchronous=NORMAL``
    in WAL mode syncs at checkpoints only).
    """

    interval_s = 1.0

    def __init__(self, path: str):
        self.path = path
        self.running = False
        self._conn = None
        # An OS lock (not eventlet's): the connection is used in tpool's OS thread, and closing
        # it while a checkpoint runs there crashed the process (a container killed mid-round:
        # its green thread reached ``finally`` while the thread still ran the PRAGMA).
        self._lock = original("threading").Lock()

    @classmethod
    def for_url(cls, url: str) -> WalCheckpointer | None:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            return None
        return cls(parsed.database)

    def checkpoint(self) -> tuple[int, int, int]:
        """One passive checkpoint: (busy, pages in the log, pages copied), as SQLite says."""
        with self._lock:
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, timeout=0, check_same_thread=False)
            return tuple(self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())

    def close(self) -> None:
        """Close the connection once no checkpoint uses it (waits for one in flight)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def run(self):
        try:
            while self.running:
                eventlet.sleep(self.interval_s)
                try:
                    tpool.execute(self.checkpoint)
                except Exception as exc:  # the next round tries again; SQLite keeps the log
                    log.warning("WAL checkpoint failed: %s", exc)
        finally:
            self.close()


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
