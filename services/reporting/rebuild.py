"""Rebuild the figures from the event store: ``python -m services.reporting.rebuild [DB_URL]``.

:func:`rebuild` drops every projection and replays the store through the same handlers as the
live path (:func:`replay`), with the state in memory; a large store is split between helper
processes (``python -m services.reporting.rebuild --part i/n``, started by :func:`rebuild`
itself, the database URL in ``LIANXIN_REBUILD_DB_URL``), each handing back its share in a file.
docs/statistics.md ("Rebuild") says what is promised.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import subprocess
import sys
import tempfile
import zlib
from datetime import datetime

import orjson
from sqlalchemy import delete, func, make_url, select
from sqlalchemy.orm import Session

from services.kernel import config
from services.kernel.db import make_engine
from services.reporting.breakdowns import month_of
from services.reporting.event_store import loads_payload, stored_merges, stream, tracking_number
from services.reporting.facts import MemoryFacts
from services.reporting.merges import merge_groups
from services.reporting.models import (
    ActivityFact,
    CaseFact,
    LeaderDim,
    MemberDim,
    MonthlyFigure,
    MonthlyRollup,
    PracticeFact,
    SectorDim,
    StationDim,
    StoredEvent,
    StudioDim,
)
from services.reporting.projections import PROJECTIONS

# How a rebuild splits the store between processes (see :func:`rebuild`): registry dimensions
# are replayed by every process, in store order, so each sees them as the live path did; events
# about no case go to the first process; every other event follows its case (by tracking number).
SHARED_EVENTS = frozenset(
    {"registry.station_saved", "registry.member_saved", "registry.studio_saved"}
)
CASELESS_EVENTS = frozenset({"intake.activity_recorded", "intake.submission_rejected"})


# long because it is the rebuild's inner loop: one call per event less is seconds per million
def replay(conn, chunk: int = 20_000, part: int = 0, parts: int = 1, upto=None, progress=None):
    """Replay the store (up to ``seq <= upto``) into a :class:`MemoryFacts`: all of it, or, with
    ``parts`` > 1, the share of process ``part`` (see :func:`rebuild`). Returns the facts and
    how many events were read."""
    facts, handlers, done = MemoryFacts(), PROJECTIONS, 0
    months: dict[str, str] = {}  # Beijing months start on a UTC hour: month_of once an hour
    groups = merge_groups(stored_merges(conn, upto)) if parts > 1 else {}
    shared, caseless = SHARED_EVENTS, CASELESS_EVENTS
    group_of, crc32, number_of = groups.get, zlib.crc32, tracking_number
    loads, bad_json, time_of = orjson.loads, orjson.JSONDecodeError, datetime.fromisoformat

    gc_was_on = gc.isenabled()
    gc.disable()  # millions of long-lived objects and no cycles: collections would only cost
    try:
        for batch in stream(conn, chunk, upto):
            for event_type, payload, at in batch:
                handler = handlers.get(event_type)
                if handler is None:
                    continue
                if parts > 1 and event_type not in shared:
                    if event_type in caseless:
                        if part:
                            continue
                    else:
                        number = number_of(payload)
                        if number is None:
                            if part:
                                continue
                        elif crc32(group_of(number, number).encode()) % parts != part:
                            continue
                hour, at = at[:13], time_of(at + "+00:00")  # at: as utc_time(at)
                month = months.get(hour)
                if month is None:
                    month = months[hour] = month_of(at)
                try:
                    p = loads(payload)
                except bad_json:
                    p = loads_payload(payload)
                handler(facts, p, month, at)
            done += len(batch)
            if progress:
                progress(done)
    finally:
        if gc_was_on:
            gc.enable()
    return facts, done


def rebuild(
    session: Session, progress=None, chunk: int = 20_000, workers: int | None = None
) -> int:
    """Drop every projection and replay the whole store into them, in arrival order.

    The same handlers as the live path run over state held in memory (:class:`MemoryFacts`),
    reading the store in chunks; the projections are then written in bulk, all in the caller's
    transaction, so readers see the old figures until the new ones are complete.

    A large store is replayed by ``workers`` processes (default: one per CPU, up to 4; one for
    fewer than ``PARALLEL_FROM`` events or an in-memory database): each reads the whole store
    and projects its share of the cases (every registry event, its cases' events, and for the
    first also the events of no case), and the figures, being sums, are added up. Cases linked
    by merges stay in one process. Helpers read what is committed: if they see another store
    than this transaction does, this process replays it all alone."""
    conn = session.connection()
    total, last = conn.execute(select(func.count(), func.max(StoredEvent.seq))).one()
    if workers is None:
        workers = default_workers(session.bind.url, total)
    helpers = _start_helpers(session, workers, total, last, chunk) if workers > 1 else []
    report = (lambda done: progress(done, total)) if progress else None
    facts, done = replay(conn, chunk, 0, len(helpers) + 1, last, report)
    if session.bind.dialect.name == "sqlite":  # room for the indexes being written in bulk
        conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MB, this connection
    try:
        shares = map(_helper_result, helpers)  # read as they come in, while this one writes
        if not all([_same_store(h) for h in helpers]):  # they read another store than this
            for proc, _path, _err in helpers:  # transaction does: replay it all here
                proc.kill()
            facts, done = replay(conn, chunk, upto=last, progress=report)
            shares = ()
        _clear(session)
        facts.write(session, shares)
    finally:
        _remove(helpers)
    if session.bind.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size=-2000")  # SQLite's default
    if progress:
        progress(done, total)
    return done


def _remove(helpers) -> None:
    """None left running or on disk, whatever happened."""
    for proc, path, err in helpers:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        err.close()
        if os.path.exists(path):
            os.unlink(path)


def _clear(session: Session) -> None:
    for model in (MonthlyFigure, MonthlyRollup, CaseFact, ActivityFact, StationDim, MemberDim):
        session.execute(delete(model))
    session.execute(delete(StudioDim))
    for model in (LeaderDim, SectorDim, PracticeFact):  # the practice's records (practice.py)
        session.execute(delete(model))


PARALLEL_FROM = 200_000


def default_workers(url, total: int) -> int:
    """How many processes replay a store of ``total`` events at ``url``."""
    url = make_url(url)
    if (
        total < PARALLEL_FROM
        or (url.get_backend_name() == "sqlite" and not url.database)
        or (url.database == ":memory:")
    ):
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


def _start_helpers(session: Session, workers: int, total: int, last, chunk: int) -> list:
    """Start ``workers - 1`` helper processes (``python -m services.reporting.rebuild --part``),
    each writing its share to a file."""
    url = session.bind.url.render_as_string(hide_password=False)
    helpers = []
    for part in range(1, workers):
        out = tempfile.NamedTemporaryFile(prefix="lianxin-rebuild-", suffix=".pickle", delete=False)
        out.close()
        args = [sys.executable, "-m", "services.reporting.rebuild", "--part", f"{part}/{workers}"]
        args += [f"--upto={last if last is not None else 0}", f"--total={total}"]
        args += [f"--chunk={chunk}", f"--out={out.name}"]
        env = {**os.environ, "LIANXIN_REBUILD_DB_URL": url}
        err = tempfile.TemporaryFile()
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=err, cwd=_ROOT)
        helpers.append((proc, out.name, err))
    return helpers


_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAME_STORE = b"same store\n"  # a helper's first line: it sees the store this transaction sees


def _same_store(helper) -> bool:
    proc = helper[0]
    if proc.stdout.readline() == SAME_STORE:
        return True
    _failed(helper)
    return False


def _failed(helper, another_store_is_fine: bool = True):
    proc, _path, err = helper
    if proc.wait() and (proc.returncode != SAW_ANOTHER_STORE or not another_store_is_fine):
        err.seek(0)
        message = err.read().decode(errors="replace")[-2000:]
        raise HelperFailed(f"rebuild helper failed ({proc.returncode}): {message}")


SAW_ANOTHER_STORE = 3  # a helper's exit status: its store was not this transaction's


class HelperFailed(RuntimeError):
    """A helper process of a split rebuild failed: nothing was committed; replaying in one
    process (``workers=1``) needs no helper."""


def _helper_result(helper):
    proc, path, _err = helper
    proc.stdout.read()
    _failed(helper, another_store_is_fine=False)
    with open(path, "rb") as f:
        share = pickle.load(f)
    os.unlink(path)
    return share


def helper_main(url: str, part: int, parts: int, upto: int, total: int, chunk: int, out: str):
    """A helper process of :func:`rebuild`: replay share ``part`` and save it to ``out``."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            seen = conn.execute(
                select(func.count()).select_from(StoredEvent).where(StoredEvent.seq <= upto)
            ).scalar()
            if seen != total:
                return SAW_ANOTHER_STORE
            sys.stdout.buffer.write(SAME_STORE)
            sys.stdout.flush()
            facts, _ = replay(conn, chunk, part, parts, upto)
    finally:
        engine.dispose()
    with open(out, "wb") as f:
        pickle.dump(facts.share(engine.dialect), f, protocol=pickle.HIGHEST_PROTOCOL)
    return 0


# -- the command ------------------------------------------------------------------------------


def main(db_url: str | None = None) -> int:
    url = db_url or config.load()["services"]["reporting"]["db_url"]
    engine = make_engine(url)

    def progress(done, total):
        if done == total or done % 1000 == 0:
            width = 30
            filled = width * done // max(total, 1)
            print(
                f"\r重建 rebuilding [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    try:
        try:
            with Session(engine) as session, session.begin():
                n = rebuild(session, progress)
        except HelperFailed as error:  # rolled back: once more, in this process alone
            print(
                f"\n辅助进程失败，单进程重建 a helper failed, rebuilding alone: {error}",
                file=sys.stderr,
            )
            with Session(engine) as session, session.begin():
                n = rebuild(session, progress, workers=1)
    finally:
        engine.dispose()
    print(file=sys.stderr)
    return n


def helper(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", required=True)
    for name in ("upto", "total", "chunk"):
        parser.add_argument(f"--{name}", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    part, parts = (int(n) for n in args.part.split("/"))
    return helper_main(
        os.environ["LIANXIN_REBUILD_DB_URL"],
        part,
        parts,
        args.upto,
        args.total,
        args.chunk,
        args.out,
    )


if __name__ == "__main__":
    if "--part" in sys.argv:
        sys.exit(helper(sys.argv[1:]))
    print(f"{main(sys.argv[1] if len(sys.argv) > 1 else None)} events replayed")
