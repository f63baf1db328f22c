"""Reporting rules: store each event once, project it, read and rebuild the figures.

Two kinds of figure (docs/statistics.md): *counts of what happened in a month* (issues
received, responses given, reception days held …) keyed by the month of the event, and
*cohort figures* of the issues that arrived in a month (how many of them were answered,
resolved, on time, rated satisfied …) keyed by the month the issue arrived, from which the
rates are computed. Both are kept incrementally; :func:`rebuild` replays the store into the same.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import zlib
from datetime import UTC, datetime

import orjson
from sqlalchemy import Text, cast, delete, func, make_url, select, text
from sqlalchemy.orm import Session

from services.kernel import logs
from services.reporting.facts import MemoryFacts, SessionFacts
from services.reporting.models import (
    ActivityFact,
    CaseFact,
    MemberDim,
    MonthlyFigure,
    MonthlyRollup,
    StationDim,
    StoredEvent,
    StudioDim,
)
from services.reporting.projections import month_of

UNKNOWN_DISTRICT = "未知区县"


class FactMissing(Exception):
    """A routing event arrived before the issue it is about: retried shortly (by the inbox)."""


def live_facts(session: Session) -> SessionFacts:
    """The projections' state for this transaction: one for a whole batch of events."""
    facts = session.info.get("lx_facts")
    if facts is None:
        facts = session.info["lx_facts"] = SessionFacts(session)
    return facts


def record(session: Session, event: dict, *, batch: bool = False) -> bool:
    """Append ``event`` to the store and project it; False if it was already there.

    With ``batch`` the changes stay in memory until :func:`flush` (the consumer calls it once
    per batch, before the commit); without, they are written at once."""
    event_id = str(event["event_id"])
    logs.bind(event_id=event_id, tracking_number=event["payload"].get("tracking_number"))
    facts = live_facts(session)
    if facts.stored(event_id):
        return False
    facts.store(
        {
            "event_id": event_id,
            "type": event["type"],
            "source": event["source"],
            "version": event["version"],
            "occurred_at": event["occurred_at"],
            "payload": json.dumps(event["payload"], ensure_ascii=False),
            "recorded_at": datetime.now(UTC),
        }
    )
    project(facts, event["type"], event["payload"], event["occurred_at"])
    if not batch:
        facts.flush()
    return True


def flush(session: Session) -> None:
    """Write what the batch's events changed (see :func:`record`)."""
    facts = session.info.get("lx_facts")
    if facts is not None:
        facts.flush()


def _fact(facts, payload: dict):
    fact = facts.case(payload["tracking_number"])
    if fact is None:
        raise FactMissing(payload["tracking_number"])
    return fact


def _place(facts, fact, station: str | None) -> None:
    if station and station != fact.station:
        dim = facts.station(station)
        fact.station, fact.district = station, dim.district if dim else UNKNOWN_DISTRICT


def project(facts, event_type: str, payload: dict, occurred_at) -> None:
    """Add one event to the figures. ``facts`` is the projections' state: the database on the
    live path (:class:`SessionFacts`), memory during a rebuild (:class:`MemoryFacts`)."""
    handler = PROJECTIONS.get(event_type)
    if handler is not None:  # other events are kept in the store (see unknown_events)
        handler(facts, payload, month_of(occurred_at), occurred_at)


def _station_saved(facts, p, month, at):
    facts.save_dim(
        StationDim,
        p["code"],
        name=p["name"],
        district=p.get("district", UNKNOWN_DISTRICT),
        active=p["active"],
    )


def _member_saved(facts, p, month, at):
    facts.save_dim(
        MemberDim,
        p["code"],
        name=p["name"],
        level=p["level"],
        sector=p["sector"],
        active=p["active"],
    )


def _studio_saved(facts, p, month, at):
    facts.save_dim(
        StudioDim,
        p["code"],
        name=p.get("name", ""),
        district=p.get("district", UNKNOWN_DISTRICT),
        active=p["active"],
    )


def _activity(facts, p, month, at):
    """An activity counts in the month it was held (its date, a Beijing calendar day)."""
    if facts.activity_seen(p["activity_id"]):
        return
    held = p["date"][:7]
    place = facts.station(p["station"]) if p.get("station") else None
    studio = facts.studio(p["studio"]) if p.get("studio") else None
    district = (place or studio).district if (place or studio) else UNKNOWN_DISTRICT
    keys = [("city", "-"), ("district", district), ("kind", p["kind"])]
    keys.append(("station", p["station"]) if p.get("station") else ("studio", p["studio"]))
    facts.add_activity(
        activity_id=p["activity_id"],
        month=held,
        kind=p["kind"],
        people_served=int(p.get("people_served") or 0),
    )
    facts.bump(held, "activities_held", keys)
    if p["kind"] == "reception_day":
        facts.bump(held, "reception_days", keys)
    if p.get("people_served"):
        facts.bump(held, "people_served", keys, int(p["people_served"]))


def _issue_received(facts, p, month, at):
    if facts.case(p["tracking_number"]) is not None:
        return  # the same issue announced twice (a replay from intake's outbox)
    station = facts.station(p["station"])
    received = datetime.fromisoformat(p["received_at"]) if p.get("received_at") else at
    fact = facts.add_case(
        tracking_number=p["tracking_number"],
        received_month=month_of(received),
        received_at=received,
        station=p["station"],
        district=station.district if station else UNKNOWN_DISTRICT,
        channel=p["channel"],
        category=p["category"],
    )
    facts.bump(fact.received_month, "issues_received", facts.breakdowns(fact))


def _rejected(facts, p, month, at):
    station = facts.station(p.get("station") or "")
    district = station.district if station else UNKNOWN_DISTRICT
    facts.bump(
        month,
        "submissions_rejected",
        [("city", "-"), ("district", district), ("station", p.get("station") or "?")],
    )


def _give_to(facts, fact, p) -> None:
    member = facts.member(p["member"])
    fact.member = p["member"]
    fact.member_level = member.level if member else "?"
    fact.member_sector = member.sector if member else "?"
    _place(facts, fact, p.get("station"))


def _assigned(facts, p, month, at):
    fact = _fact(facts, p)
    first = fact.member is None
    _give_to(facts, fact, p)
    if first:
        facts.bump(month, "issues_assigned", facts.breakdowns(fact))


def _counted(metric: str, cohort: str | None = None, on_time: str | None = None):
    """A routing milestone: counted in its own month, and (if ``cohort``) in the issue's."""

    def handler(facts, p, month, at):
        fact = _fact(facts, p)
        _place(facts, fact, p.get("station"))
        keys = facts.breakdowns(fact)
        facts.bump(month, metric, keys)
        if cohort:
            facts.bump(fact.received_month, cohort, keys)
            if on_time and p.get("on_time"):
                facts.bump(fact.received_month, on_time, keys)
        if metric == "issues_resolved" and not fact.handled:
            fact.handled = True
            facts.bump(month, "matters_handled", keys)
        if metric == "issues_resolved":
            _serve_reporters(facts, fact, month, keys)
        if metric == "issues_responded" and fact.first_response_minutes is None:
            fact.first_response_minutes = int(
                (datetime.fromisoformat(p["at"]) - fact.received_at).total_seconds() // 60
            )

    return handler


def _serve_reporters(facts, main, month: str, keys) -> None:
    """A resolved matter serves everyone who reported it: the main case and every report merged
    into it (directly or through another), each counted once, in the month of the resolution
    that first covered it (a report merged in after a reopening counts when it is resolved)."""
    group, seen, frontier = [main], {main.tracking_number}, [main.tracking_number]
    while frontier:
        merged = [f for f in facts.merged_into(frontier) if f.tracking_number not in seen]
        seen.update(f.tracking_number for f in merged)
        group += merged
        frontier = [f.tracking_number for f in merged]
    new = [f for f in group if not f.served]
    for f in new:
        f.served = True
    if new:
        facts.bump(month, "reporters_served", keys, len(new))


def _merged(facts, p, month, at):
    """A report merged into another case: still an issue received, no longer a matter itself."""
    fact = _fact(facts, p)
    if fact.merged_into is not None:
        return
    facts.merge(fact, p["into"])
    keys = facts.breakdowns(fact)
    facts.bump(month, "issues_merged", keys)
    facts.bump(fact.received_month, "cohort_merged", keys)


def _rated(facts, p, month, at):
    fact = _fact(facts, p)
    keys = facts.breakdowns(fact)
    facts.bump(month, f"rated_{p['rating']}", keys)
    if not fact.rated:
        fact.rated = True
        facts.bump(fact.received_month, "cohort_rated", keys)
        if p["rating"] in ("satisfied", "basically_satisfied"):
            facts.bump(fact.received_month, "cohort_satisfied", keys)
    if p.get("reopened"):
        facts.bump(month, "issues_reopened", keys)


def _transferred(facts, p, month, at):
    fact = _fact(facts, p)
    facts.bump(month, "cases_transferred", facts.breakdowns(fact))  # where it was
    _give_to(facts, fact, p)


def _waiting(facts, p, month, at):
    fact = _fact(facts, p)
    facts.bump(month, "issues_waiting", facts.breakdowns(fact))


PROJECTIONS = {
    "registry.station_saved": _station_saved,
    "registry.member_saved": _member_saved,
    "registry.studio_saved": _studio_saved,
    "intake.activity_recorded": _activity,
    "intake.issue_received": _issue_received,
    "intake.submission_rejected": _rejected,
    "routing.issue_assigned": _assigned,
    "routing.issue_waiting": _waiting,
    "routing.issue_transferred": _transferred,
    "routing.issue_responded": _counted(
        "issues_responded", "cohort_responded", "cohort_responded_on_time"
    ),
    "routing.issue_resolved": _counted(
        "issues_resolved", "cohort_resolved", "cohort_resolved_on_time"
    ),
    "routing.issue_closed_unresolved": _counted(
        "issues_closed_unresolved", "cohort_closed_unresolved"
    ),
    "routing.issue_reopened": _counted("issues_reopened"),
    "routing.issue_rated": _rated,
    "routing.issue_merged": _merged,
    "routing.issue_overdue": _counted("issues_overdue"),
    "routing.issue_escalated": _counted("issues_escalated"),
}

# Events reporting knows and counts nowhere on purpose. Any other type not in PROJECTIONS is
# *unknown* (a newer sender, a typo): kept in the store, shown by reconciliation and the
# dashboard, and counted by a rebuild once a projection for it exists.
KNOWN_UNCOUNTED = frozenset(
    {
        "registry.sector_saved",
        "registry.roster_saved",
        "routing.catalogue_published",
        "routing.issue_accepted",
        "routing.issue_due_soon",
    }
)


# How a rebuild splits the store between processes (see :func:`rebuild`): registry dimensions
# are replayed by every process, in store order, so each sees them as the live path did; events
# about no case go to the first process; every other event follows its case (by tracking number).
SHARED_EVENTS = frozenset(
    {"registry.station_saved", "registry.member_saved", "registry.studio_saved"}
)
CASELESS_EVENTS = frozenset({"intake.activity_recorded", "intake.submission_rejected"})


def stored_events(session: Session, chunk: int = 20_000, upto: int | None = None):
    """The store in arrival order, in chunks of ``(type, payload text, occurred_at)`` rows read
    straight from the driver (a server-side cursor on PostgreSQL). ``occurred_at`` is UTC text,
    ``YYYY-MM-DD HH:MM:SS.ffffff`` on both backends (see :func:`utc_time`)."""
    yield from _stored_events(session.connection(), chunk, upto)


def _stored_events(conn, chunk: int, upto: int | None):
    at = "occurred_at"
    if conn.dialect.name == "postgresql":
        at = "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    where = f" WHERE seq <= {int(upto)}" if upto is not None else ""
    result = conn.exec_driver_sql(
        f"SELECT type, payload, {at} FROM event_store{where} ORDER BY seq",
        execution_options={"stream_results": True, "yield_per": chunk},
    )
    yield from result.partitions(chunk)


def utc_time(text: str) -> datetime:
    """A stored ``occurred_at`` read as text (UTC, no zone) as the ORM reads it: zone-aware UTC."""
    return datetime.fromisoformat(text + "+00:00")


def _loads(text: str):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what orjson refuses (NaN, huge integers) json still reads
        return json.loads(text)


_KEY = '"tracking_number"'
_LEAD = '{"tracking_number": "'  # how the services' payloads begin
_LEADING_NUMBER = re.compile(r'\{\s*"tracking_number"\s*:\s*"([^"\\]*)"').match


def tracking_number(payload: str) -> str | None:
    """The top-level ``tracking_number`` of a payload: read without parsing the payload when it
    is its first key, written plainly and once (as the services write it); parsed otherwise."""
    end = payload.find('"', 21) if payload.startswith(_LEAD) else -1
    if end >= 21 and "\\" not in payload[21:end] and payload.count(_KEY) == 1:
        return payload[21:end]
    found = _LEADING_NUMBER(payload)
    if found is not None and payload.count(_KEY) == 1:
        return found[1]
    try:
        number = _loads(payload).get("tracking_number")
    except (ValueError, AttributeError):
        return None
    return number if isinstance(number, str) else None


def _merge_groups(conn, upto: int | None) -> dict[str, str]:
    """Cases linked by merges, each mapped to one case of its group: a group's events must go to
    one process, since serving a matter's reporters walks the whole group."""
    parent: dict[str, str] = {}

    def root(n):
        while parent.get(n, n) != n:
            n = parent[n]
        return n

    where = f" AND seq <= {int(upto)}" if upto is not None else ""
    rows = conn.exec_driver_sql(
        f"SELECT payload FROM event_store WHERE type = 'routing.issue_merged'{where}"
    )
    for (payload,) in rows:
        p = _loads(payload)
        a, b = p.get("tracking_number"), p.get("into")
        if isinstance(a, str) and isinstance(b, str):
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[ra] = rb
    return {n: root(n) for n in parent} | {r: r for r in set(parent.values())}


def replay(conn, chunk: int = 20_000, part: int = 0, parts: int = 1, upto=None, progress=None):
    """Replay the store (up to ``seq <= upto``) into a :class:`MemoryFacts`: all of it, or, with
    ``parts`` > 1, the share of process ``part`` (see :func:`rebuild`). Returns the facts and
    how many events were read."""
    facts, handlers, done = MemoryFacts(), PROJECTIONS, 0
    months: dict[str, str] = {}  # Beijing months start on a UTC hour: month_of once an hour
    groups = _merge_groups(conn, upto) if parts > 1 else {}
    shared, caseless = SHARED_EVENTS, CASELESS_EVENTS
    group_of, crc32, number_of = groups.get, zlib.crc32, tracking_number
    loads, bad_json, time_of = orjson.loads, orjson.JSONDecodeError, datetime.fromisoformat

    gc_was_on = gc.isenabled()
    gc.disable()  # millions of long-lived objects and no cycles: collections would only cost
    try:
        for batch in _stored_events(conn, chunk, upto):
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
                    p = _loads(payload)
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
        for proc, path, err in helpers:  # none left running or on disk, whatever happened
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            err.close()
            if os.path.exists(path):
                os.unlink(path)
    if session.bind.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size=-2000")  # SQLite's default
    if progress:
        progress(done, total)
    return done


def _clear(session: Session) -> None:
    for model in (MonthlyFigure, MonthlyRollup, CaseFact, ActivityFact, StationDim, MemberDim):
        session.execute(delete(model))
    session.execute(delete(StudioDim))


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


# -- reading ------------------------------------------------------------------------------------

RATES = {  # rate: (numerator, denominator), both cohort figures of the month's issues
    "response_rate": ("cohort_responded", "matters_received"),
    "resolution_rate": ("cohort_resolved", "matters_received"),
    "on_time_rate": ("cohort_resolved_on_time", "cohort_resolved"),
    "satisfaction_rate": ("cohort_satisfied", "cohort_rated"),
}


def with_rates(figures: dict) -> dict:
    out = dict(figures)
    _add_rates(out)
    return out


def _add_rates(figures: dict) -> dict:
    get = figures.get
    received = get("issues_received")
    if received:
        # reports merged into another case are answered and resolved as that one matter
        figures["matters_received"] = received - get("cohort_merged", 0)
    for rate, num, den in _RATE_PAIRS:
        of = get(den)
        if of:
            figures[rate] = round(get(num, 0) / of, 4)
    return figures


_RATE_PAIRS = tuple((rate, num, den) for rate, (num, den) in RATES.items())


_ROLLUPS = {
    dialect: f'SELECT dimension, "key", figures FROM monthly_rollups WHERE month = {mark}'
    for dialect, mark in (("sqlite", "?"), ("postgresql", "%s"))
}


def _per_key(session: Session, months: list[str]):
    """``(dimension, key, {metric: value})`` of the months, summed, one row per key: a month's
    are read as kept (``monthly_rollups``); for several, the database sums the figures and
    builds each key's as one JSON object. Either way Python handles a few thousand rows rather
    than one per figure."""
    if len(months) == 1:  # one month: each key's figures are kept as one object already
        cursor = session.connection().connection.driver_connection.cursor()
        try:
            cursor.execute(_ROLLUPS[session.bind.dialect.name], (months[0],))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        loads = orjson.loads
        for dimension, key, values in rows:
            yield dimension, key, loads(values)
        return
    pg = session.bind.dialect.name == "postgresql"
    agg = func.json_object_agg if pg else func.json_group_object
    inner = (
        select(
            MonthlyFigure.dimension,
            MonthlyFigure.key,
            MonthlyFigure.metric,
            func.sum(MonthlyFigure.value).label("value"),
        )
        .where(MonthlyFigure.month.in_(months))
        .group_by(MonthlyFigure.dimension, MonthlyFigure.key, MonthlyFigure.metric)
    ).subquery()
    figures = cast(agg(inner.c.metric, inner.c.value), Text)  # text: parsed by orjson, fast
    query = select(inner.c.dimension, inner.c.key, figures).group_by(inner.c.dimension, inner.c.key)
    for dimension, key, values in session.connection().execute(query):
        yield dimension, key, orjson.loads(values)


def median_minutes(session: Session, months: list[str]):
    """The median of the months' minutes to first response, read in index order
    (``ix_case_facts_month_minutes``): a count and one seek, however many issues."""
    where = (
        CaseFact.received_month.in_(months)
        if len(months) > 1
        else CaseFact.received_month == months[0],
        CaseFact.first_response_minutes.isnot(None),
    )
    conn = session.connection()
    n = conn.scalar(select(func.count()).select_from(CaseFact).where(*where))
    if not n:
        return None
    middle = conn.scalars(
        select(CaseFact.first_response_minutes)
        .where(*where)
        .order_by(CaseFact.first_response_minutes)
        .offset((n - 1) // 2)
        .limit(1 if n % 2 else 2)
    ).all()
    return statistics.median(middle)


def figures(session: Session, months: list[str]) -> dict:
    """Summed figures of ``months``: ``{"city": {metric: n}, "station": {code: {...}}, …}``."""
    session.flush()  # the queries below run on the connection, past the ORM's autoflush
    out: dict = {"city": {}}
    for dimension, key, values in _per_key(session, months):  # values: fresh dicts of ints
        if dimension == "city":
            out["city"] = _add_rates(values)
        else:
            out.setdefault(dimension, {})[key] = _add_rates(values)
    median = median_minutes(session, months)
    if median is not None:
        out["city"]["median_minutes_to_first_response"] = median
    return out


def registry_counts(session: Session) -> dict:
    """Stations, studios and members of each level, as the registry last announced them."""
    levels = dict(
        session.execute(
            select(MemberDim.level, func.count()).where(MemberDim.active).group_by(MemberDim.level)
        ).all()
    )
    return {
        "stations": session.scalar(
            select(func.count()).select_from(StationDim).where(StationDim.active)
        ),
        "studios": session.scalar(
            select(func.count()).select_from(StudioDim).where(StudioDim.active)
        ),
        "members_by_level": levels,
        "members": sum(levels.values()),
    }


def monthly(session: Session, month: str) -> dict:
    return {"month": month, **figures(session, [month]), "registry": registry_counts(session)}


def over_months(session: Session, months: list[str]) -> dict:
    """The figures of several whole months summed (counts and cohorts; rates and the median
    computed over them all)."""
    return {"months": months, **figures(session, months), "registry": registry_counts(session)}


def yearly(session: Session, year: int) -> dict:
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    return {"year": year, **figures(session, months), "registry": registry_counts(session)}


def trend(session: Session, months: list[str], metrics: list[str]) -> dict:
    """City figures month by month: ``{metric: [n per month]}``."""
    values = {
        (m, k): int(v)
        for m, k, v in session.execute(
            select(MonthlyFigure.month, MonthlyFigure.metric, MonthlyFigure.value).where(
                MonthlyFigure.dimension == "city",
                MonthlyFigure.month.in_(months),
                MonthlyFigure.metric.in_(metrics),
            )
        )
    }
    return {metric: [values.get((m, metric), 0) for m in months] for metric in metrics}


def all_figures(session: Session) -> list[tuple]:
    return [
        tuple(r)
        for r in session.execute(
            select(
                MonthlyFigure.month,
                MonthlyFigure.metric,
                MonthlyFigure.dimension,
                MonthlyFigure.key,
                MonthlyFigure.value,
            ).order_by(
                MonthlyFigure.month,
                MonthlyFigure.metric,
                MonthlyFigure.dimension,
                MonthlyFigure.key,
            )
        )
    ]


def issue_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CaseFact))


def event_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(StoredEvent))


# The distinct types in the store, one index seek each (a loose index scan), so finding the
# unknown ones costs the same over a thousand events or millions.
_TYPES = text(
    "WITH RECURSIVE t(type) AS ("
    " SELECT MIN(type) FROM event_store"
    " UNION ALL"
    " SELECT (SELECT MIN(type) FROM event_store WHERE type > t.type) FROM t"
    " WHERE t.type IS NOT NULL"
    ") SELECT type FROM t WHERE type IS NOT NULL"
)


def unknown_events(session: Session) -> dict[str, int]:
    """Events in the store of a type reporting does not know: ``{type: how many}``.

    They are kept, never dropped; a later version that knows the type counts them on rebuild."""
    unknown = [
        t for (t,) in session.execute(_TYPES) if t not in PROJECTIONS and t not in KNOWN_UNCOUNTED
    ]
    return {
        t: session.scalar(
            select(func.count()).select_from(StoredEvent).where(StoredEvent.type == t)
        )
        for t in unknown
    }
