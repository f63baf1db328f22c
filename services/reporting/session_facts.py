"""The live path's state: :class:`SessionFacts`, the projections' state for one transaction.

The same objects as a rebuild's :class:`~services.reporting.facts.MemoryFacts`, each row read
from the database on first use, and what the batch changed written back before its commit
(figures added by atomic upserts).
"""

from __future__ import annotations

from operator import attrgetter

import orjson
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from services.kernel.db import insert_on_conflict
from services.reporting.facts import (
    CASE_COLUMNS,
    CASE_DEFAULTS,
    PRACTICE_COLUMNS,
    Case,
    MemoryFacts,
    Row,
    practice_of,
    practice_row,
)
from services.reporting.models import (
    ActivityFact,
    CaseFact,
    LeaderDim,
    MemberDim,
    MonthlyFigure,
    PracticeFact,
    SectorDim,
    StationDim,
    StoredEvent,
    StudioDim,
)

# Figures are added by atomic upserts: concurrent writers never lose each other's increments.
_ADD_FIGURES = insert_on_conflict(
    MonthlyFigure.__table__, ["month", "metric", "dimension", "key"], add=["value"]
)


# A batch's increments of one key's figures, as one object, added to the key's rollup: the
# metrics of both objects, each the sum of its values there, in metric order (as a rebuild
# writes them).
_ROLLUP_UPSERTS = {
    "sqlite": text(
        'INSERT INTO monthly_rollups (month, dimension, "key", figures)'
        ' VALUES (:month, :dimension, :key, :figures) ON CONFLICT (month, dimension, "key")'
        " DO UPDATE SET figures = (SELECT json_group_object(m, v) FROM (SELECT m, sum(v) AS v"
        " FROM (SELECT key AS m, value AS v FROM json_each(monthly_rollups.figures)"
        " UNION ALL SELECT key, value FROM json_each(excluded.figures)) GROUP BY m ORDER BY m))"
    ),
    "postgresql": text(
        'INSERT INTO monthly_rollups (month, dimension, "key", figures)'
        ' VALUES (:month, :dimension, :key, :figures) ON CONFLICT (month, dimension, "key")'
        " DO UPDATE SET figures = (SELECT json_object_agg(m, v ORDER BY m)::text FROM"
        " (SELECT m, sum(v) AS v FROM (SELECT key AS m, value::bigint AS v"
        " FROM jsonb_each_text(monthly_rollups.figures::jsonb) UNION ALL SELECT key,"
        " value::bigint FROM jsonb_each_text(excluded.figures::jsonb)) AS f GROUP BY m) AS s)"
    ),
}


def _json(figures: dict) -> str:
    return orjson.dumps(figures, option=orjson.OPT_SORT_KEYS).decode()


class SessionFacts(MemoryFacts):
    """The live path: the same state as a rebuild, in memory for one transaction (one batch of
    events), read from the database on first use and written back by :meth:`flush`.

    A batch of events touches a few hundred rows: each is read once (a Core ``SELECT`` by key),
    the handlers change it in memory, and :meth:`flush` writes the stored events, the new and
    changed rows, and every figure increment summed per key, in a handful of statements. The
    figures are added by atomic upserts in key order, so several reporting processes never
    lose or deadlock on each other's increments; every row a handler reads is locked until the
    commit (:meth:`_lock`), so two replicas never overwrite each other's case or read a
    dimension another is changing. A deadlock (two batches locking in opposite orders) fails
    one batch, which the inbox takes again one event at a time, then retries with back-off.
    """

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self.events: list[dict] = []  # staged rows of the event store
        self.event_ids: set[str] = set()  # staged or known to be stored
        self._loaded: dict[str, tuple] = {}  # case number → its columns as read
        self._dirty_dims: set[tuple] = set()
        self._new_activities: list[str] = []
        self._locks: set[str] = set()  # advisory locks this transaction holds (PostgreSQL)

    # -- reads: the batch's memory first, else one row from the database --------------------

    def _conn(self):
        return self.session.connection()

    # Several replicas (docs/architecture.md, "Reporting partitions"): a handler reads a row
    # under a lock held to the commit, so what it read stays true until its changes are in,
    # and a rebuild, replaying the store in arrival order, reads the same. Cases: FOR UPDATE
    # (the statements below). Dimensions, shared by every partition: an advisory lock by key,
    # shared to read, exclusive to save (a row not there yet is locked as well).
    def _lock(self, key: str, shared: bool) -> None:
        if key in self._locks or self._conn().dialect.name != "postgresql":
            return
        self._conn().execute(_SHARED_LOCK if shared else _EXCLUSIVE_LOCK, {"key": key})
        self._locks.add(key)

    def stored(self, event_id: str) -> bool:
        if event_id in self.event_ids:
            return True
        found = self._conn().execute(_EVENT_SEEN, {"event_id": event_id}).first() is not None
        if found:
            self.event_ids.add(event_id)
        return found

    def store(self, row: dict) -> None:
        self.event_ids.add(row["event_id"])
        self.events.append(row)

    def _dim(self, model, code):
        if not code:
            return None
        dims = self.dims[model]
        if code not in dims:
            self._lock(f"dim:{model.__tablename__}:{code}", shared=True)
            row = self._conn().execute(_DIM_BY_CODE[model], {"code": code}).mappings().first()
            dims[code] = Row(**row) if row is not None else None
        return dims[code]

    def station(self, code):
        return self._dim(StationDim, code)

    def member(self, code):
        return self._dim(MemberDim, code)

    def studio(self, code):
        return self._dim(StudioDim, code)

    def leader(self, code):
        return self._dim(LeaderDim, code)

    def practice(self, kind: str, record_id: str):
        """A visit, consultation or report as counted, read from the database on first use."""
        key = (kind, record_id)
        if key not in self.practices:
            row = self._conn().execute(_PRACTICE_BY_ID, {"kind": kind, "id": record_id}).first()
            self.practices[key] = practice_of(*row) if row is not None else None
        return self.practices[key]

    def case(self, number):
        if number not in self.cases:
            row = self._conn().execute(_CASE_BY_NUMBER, {"number": number}).first()
            self.cases[number] = self._remember(row) if row is not None else None
        return self.cases[number]

    def _remember(self, row) -> Case:
        fact = Case(*row)
        self._loaded[fact.tracking_number] = tuple(row)
        return fact

    def add_case(self, **fields):
        return super().add_case(**{**CASE_DEFAULTS, **fields})

    def merged_into(self, numbers) -> list:
        """The cases merged directly into any of ``numbers``, in memory or in the database."""
        found = self._conn().execute(_MERGED_INTO, {"numbers": list(numbers)}).all()
        for row in found:
            if row[0] not in self.cases or self.cases[row[0]] is None:
                self.cases[row[0]] = self._remember(row)
        wanted = set(numbers)
        return [f for f in self.cases.values() if f is not None and f.merged_into in wanted]

    def merge(self, fact, into: str) -> None:
        self.case(into)  # locked: resolving it walks what is merged into it (served_group)
        fact.merged_into = into

    def save_dim(self, model, code, **fields):
        self._lock(f"dim:{model.__tablename__}:{code}", shared=False)  # before the shared one
        self._dim(model, code)
        dims = self.dims[model]
        if dims[code] is None:
            del dims[code]
        super().save_dim(model, code, **fields)
        self._dirty_dims.add((model, code))

    def activity_seen(self, activity_id) -> bool:
        if activity_id not in self.activities:
            row = self._conn().execute(_ACTIVITY_SEEN, {"id": activity_id}).first()
            if row is None:
                return False
            self.activities[activity_id] = None  # stored before this batch
        return True

    def add_activity(self, **fields):
        super().add_activity(**fields)
        self._new_activities.append(fields["activity_id"])

    # -- the write-back ----------------------------------------------------------------------

    def flush(self) -> None:
        """Write what this batch changed; the caller's transaction commits it."""
        conn = self._conn()
        if self.events:
            conn.execute(StoredEvent.__table__.insert(), self.events)
        self._write_cases(conn)
        for model, code in sorted(self._dirty_dims, key=lambda mc: (mc[0].__tablename__, mc[1])):
            row = self.dims[model][code]
            columns = [c.name for c in model.__table__.columns]
            conn.execute(_SAVE_DIM[model], {c: getattr(row, c) for c in columns})
        if self._new_activities:
            columns = [c.name for c in ActivityFact.__table__.columns]
            conn.execute(
                ActivityFact.__table__.insert(),
                [
                    {c: getattr(self.activities[a], c) for c in columns}
                    for a in self._new_activities
                ],
            )
        self._write_practices(conn)
        self._add_increments(conn)
        self.__init__(self.session)  # a fresh batch: nothing read is trusted past a commit

    def _write_cases(self, conn) -> None:
        """Insert the batch's new cases, update those it changed."""
        new, changed = [], []
        for number, fact in self.cases.items():
            if fact is None:
                continue
            values = attrgetter(*CASE_COLUMNS)(fact)
            before = self._loaded.get(number)
            if before is None:
                new.append(dict(zip(CASE_COLUMNS, values, strict=True)))
            elif before != values:
                changed.append({"b_" + c: v for c, v in zip(CASE_COLUMNS, values, strict=True)})
        if new:
            conn.execute(CaseFact.__table__.insert(), new)
        if changed:
            conn.execute(_UPDATE_CASE, changed)

    def _write_practices(self, conn) -> None:
        """Store the visits, consultations and reports this batch counted anew."""
        if self.practices_saved:
            rows = [practice_row(self.practices[k]) for k in sorted(self.practices_saved)]
            conn.execute(
                _SAVE_PRACTICE, [dict(zip(PRACTICE_COLUMNS, r, strict=True)) for r in rows]
            )

    def _add_increments(self, conn) -> None:
        """Add the batch's figure increments, summed per key, to ``monthly_figures`` and the
        same to each key's rollup (one row per key, its deltas as one object added to the object
        stored), both in key order."""
        figures = sorted(
            (month, metric, d, str(k), value)
            for (month, metric), counts in self.figures.items()
            for (d, k), value in counts.items()
            # zeros too: a record counted and taken back (a visit withdrawn) leaves its figure
            # at 0, in one batch as over two, as a rebuild leaves it
        )
        if not figures:
            return
        conn.execute(
            _ADD_FIGURES,
            [
                {"month": m, "metric": metric, "dimension": d, "key": k, "value": v}
                for m, metric, d, k, v in figures
            ],
        )
        deltas: dict[tuple, dict] = {}
        for m, metric, d, k, v in figures:
            deltas.setdefault((m, d, k), {})[metric] = v
        conn.execute(
            _ROLLUP_UPSERTS[conn.dialect.name],
            [
                {"month": m, "dimension": d, "key": k, "figures": _json(added)}
                for (m, d, k), added in sorted(deltas.items())
            ],
        )


_CASE_TABLE = CaseFact.__table__
# FOR UPDATE: see SessionFacts._lock (SQLite, one process, leaves it out).
_CASE_BY_NUMBER = (
    select(*(_CASE_TABLE.c[c] for c in CASE_COLUMNS))
    .where(_CASE_TABLE.c.tracking_number == bindparam("number"))
    .with_for_update()
)
_MERGED_INTO = (
    select(*(_CASE_TABLE.c[c] for c in CASE_COLUMNS))
    .where(_CASE_TABLE.c.merged_into.in_(bindparam("numbers", expanding=True)))
    .with_for_update()
)
_SHARED_LOCK = text("SELECT pg_advisory_xact_lock_shared(hashtextextended(:key, 1))")
_EXCLUSIVE_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 1))")
_UPDATE_CASE = (
    update(_CASE_TABLE)
    .where(_CASE_TABLE.c.tracking_number == bindparam("b_tracking_number"))
    .values({c: bindparam("b_" + c) for c in CASE_COLUMNS if c != "tracking_number"})
)
_EVENT_SEEN = select(StoredEvent.__table__.c.seq).where(
    StoredEvent.__table__.c.event_id == bindparam("event_id")
)
_ACTIVITY_SEEN = select(ActivityFact.__table__.c.activity_id).where(
    ActivityFact.__table__.c.activity_id == bindparam("id")
)
_DIM_BY_CODE = {
    model: select(model.__table__).where(model.__table__.c.code == bindparam("code"))
    for model in (StationDim, MemberDim, StudioDim, LeaderDim, SectorDim)
}


_SAVE_DIM = {
    model: insert_on_conflict(
        model.__table__,
        ["code"],
        replace=[c.name for c in model.__table__.columns if c.name != "code"],
    )
    for model in (StationDim, MemberDim, StudioDim, LeaderDim, SectorDim)
}
_PRACTICE_TABLE = PracticeFact.__table__
# Locked until the batch commits (PostgreSQL; SQLite has one writer): a record recounted by two
# replicas at once (a partition handed over mid-batch) would otherwise take back its old figures
# twice.
_PRACTICE_BY_ID = (
    select(*(_PRACTICE_TABLE.c[c] for c in PRACTICE_COLUMNS))
    .where(
        _PRACTICE_TABLE.c.kind == bindparam("kind"), _PRACTICE_TABLE.c.record_id == bindparam("id")
    )
    .with_for_update()
)
_SAVE_PRACTICE = insert_on_conflict(
    _PRACTICE_TABLE, ["kind", "record_id"], replace=["revision", "state", "counted"]
)
