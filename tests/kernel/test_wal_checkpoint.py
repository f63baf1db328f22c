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


KILLED_MID_ROUND = """
import eventlet; eventlet.monkey_patch()
import random, sqlite3, sys
from services.kernel.db import WalCheckpointer
path = sys.argv[1]
c = sqlite3.connect(path)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA wal_autocheckpoint=0")
c.execute("CREATE TABLE t (x BLOB)")
rnd = random.Random(7)
for _ in range(200):
    for _ in range(50):
        c.execute("INSERT INTO t VALUES (randomblob(4000))")
    c.commit()
    w = WalCheckpointer(path)
    w.interval_s, w.running = 0, True
    round_ = eventlet.spawn(w.run)
    eventlet.sleep(rnd.random() * 0.003)
    round_.kill()  # as a container's kill does, while the OS thread may be checkpointing
print("survived")
"""


def test_a_checkpointer_killed_mid_round_does_not_crash_the_process(tmp_path):
    """Its green thread killed while tpool's OS thread runs the checkpoint: closing the
    connection under that thread crashed the whole process (SIGSEGV; a CI run died of it in a
    registry test's teardown). The close now waits for the round; run in a child process so
    that a crash fails this test, not the run."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "killed.py"
    script.write_text(KILLED_MID_ROUND)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "x.db")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0 and "survived" in done.stdout, (done.returncode, done.stderr[-500:])
