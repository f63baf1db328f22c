"""A service's SQLite database keeps its write-ahead log small without any commit paying for
it: the service's connections never checkpoint, the checkpointer (an OS thread) does, and it
copies everything while readers and writers carry on."""

import os

from sqlalchemy import text

from services.kernel.db import WalCheckpointer, make_engine


def wal_pages(path) -> int:
    return os.path.getsize(f"{path}-wal") // 4096 if os.path.exists(f"{path}-wal") else 0


def test_commits_leave_the_log_to_the_checkpointer(tmp_path):
    path = tmp_path / "svc.db"
    engine = make_engine(f"sqlite:///{path}", checkpoint_elsewhere=True)
    checkpointer = WalCheckpointer.for_url(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)"))
        reader = engine.connect()
        reader.execute(text("SELECT count(*) FROM t")).scalar()  # a reader holds a snapshot
        for _ in range(30):  # about 1,500 pages: SQLite alone would have checkpointed at 1,000
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (body) VALUES (:b)"), [{"b": "x" * 4000}] * 50)
        assert wal_pages(path) > 1000  # no commit checkpointed
        reader.close()

        busy, logged, copied = checkpointer.checkpoint()
        assert busy == 0 and logged > 1000 and copied == logged  # all of it, without waiting
        with engine.begin() as conn:  # the log starts again from the top: it stays small
            conn.execute(text("INSERT INTO t (body) VALUES ('y')"))
        assert wal_pages(path) > 1000  # same file, rewritten from the start, not grown
        assert checkpointer.checkpoint()[1] < 10
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1501
    finally:
        engine.dispose()


def test_only_sqlite_files_get_a_checkpointer():
    assert WalCheckpointer.for_url("postgresql+psycopg2://postgres@127.0.0.1/x") is None
    assert WalCheckpointer.for_url("sqlite://") is None
    assert WalCheckpointer.for_url("sqlite:///var/intake.db").path == "var/intake.db"
