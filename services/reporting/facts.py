"""The state the projections read and change, in two forms with one interface.

:class:`MemoryFacts` is a rebuild: the whole state in plain Python objects and one dict of
figure totals, written in bulk at the end (COPY on PostgreSQL). :class:`SessionFacts` is the
live path: the same objects for one batch of events, each row read from the database on first
use, and what the batch changed written back before its commit (figures added by atomic
upserts). The handlers in ``reporting.py`` only see this interface, so both paths run the same
rules.
"""

from __future__ import annotations

import io
from collections import Counter, _count_elements  # Counter.update's C loop, without its checks
from contextlib import contextmanager
from operator import attrgetter, itemgetter

import orjson
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex, DropIndex

from services.kernel.db import insert_on_conflict
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
from services.reporting.projections import issue_place_breakdowns, member_breakdowns

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


CASE_DEFAULTS = {
    "member": None,
    "member_level": None,
    "member_sector": None,
    "first_response_minutes": None,
    "rated": False,
    "handled": False,
    "merged_into": None,
    "served": False,
}


class Row:
    """A plain, attribute-style stand-in for one ORM row (dims, activities)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


class Case:
    """A :class:`CaseFact` in memory: the attributes the handlers read and change."""

    __slots__ = ("tracking_number", "received_month", "received_at", "station", "district")
    __slots__ += ("channel", "category", "member", "member_level", "member_sector")
    __slots__ += ("first_response_minutes", "rated", "handled", "merged_into", "served")

    def __init__(self, tracking_number, received_month, received_at, station, district, channel,
                 category, member=None, member_level=None, member_sector=None,
                 first_response_minutes=None, rated=False, handled=False, merged_into=None,
                 served=False):  # fmt: skip
        self.tracking_number, self.received_month = tracking_number, received_month
        self.received_at, self.station, self.district = received_at, station, district
        self.channel, self.category, self.member = channel, category, member
        self.member_level, self.member_sector = member_level, member_sector
        self.first_response_minutes, self.rated, self.handled = (
            first_response_minutes,
            rated,
            handled,
        )
        self.merged_into, self.served = merged_into, served


CASE_COLUMNS = Case.__slots__


class MemoryFacts:
    """The projections' state in memory, for a rebuild from empty tables; :meth:`write` stores it."""

    def __init__(self):
        self.dims = {StationDim: {}, MemberDim: {}, StudioDim: {}}
        self.cases: dict[str, Case] = {}
        self.merges: dict[str, list[Case]] = {}  # case number → the cases merged into it
        self.activities: dict[str, Row] = {}
        self.figures: dict[tuple[str, str], Counter] = {}  # (month, metric) → {(dim, key): n}
        self.pairs: dict = {}  # (dimension, key) → itself: one tuple per pair
        self.places: dict = {}  # (station, district, channel, category) → their breakdowns
        self.members: dict = {}  # (member, level, sector) → their breakdowns

    def station(self, code):
        return self.dims[StationDim].get(code)

    def member(self, code):
        return self.dims[MemberDim].get(code)

    def studio(self, code):
        return self.dims[StudioDim].get(code)

    def case(self, number):
        return self.cases.get(number)

    def breakdowns(self, fact) -> tuple:
        """:func:`issue_breakdowns` of ``fact``, its two parts (the place, the member) made once
        for each place and member; every (dimension, key) pair one shared tuple, so counting
        finds it by identity."""
        place = (fact.station, fact.district, fact.channel, fact.category)
        keys = self.places.get(place)
        if keys is None:
            keys = self.places[place] = self._shared(issue_place_breakdowns(*place))
        if fact.member:
            who = (fact.member, fact.member_level, fact.member_sector)
            of_member = self.members.get(who)
            if of_member is None:
                of_member = self.members[who] = self._shared(member_breakdowns(*who))
            keys += of_member
        return keys

    def _shared(self, keys: list) -> tuple:
        pair = self.pairs.setdefault
        return tuple([pair(k, k) for k in keys])

    def add_case(self, **fields):
        fact = self.cases[fields["tracking_number"]] = Case(**fields)
        return fact

    def merged_into(self, numbers) -> list:
        """The cases merged directly into any of ``numbers``."""
        return [fact for number in numbers for fact in self.merges.get(number, ())]

    def merge(self, fact, into: str) -> None:
        fact.merged_into = into
        self.merges.setdefault(into, []).append(fact)

    def save_dim(self, model, code, **fields):
        dims = self.dims[model]
        if code in dims:
            dims[code].__dict__.update(fields)
        else:
            dims[code] = Row(code=code, **fields)

    def activity_seen(self, activity_id) -> bool:
        return activity_id in self.activities

    def add_activity(self, **fields):
        self.activities[fields["activity_id"]] = Row(**fields)

    def bump(self, month: str, metric: str, keys, delta: int = 1) -> None:
        try:
            counts = self.figures[month, metric]
        except KeyError:
            counts = self.figures[month, metric] = Counter()
        if delta == 1:  # nearly always: counted in C, the (dimension, key) pairs as they are
            _count_elements(counts, keys)
        else:
            for key in keys:
                counts[key] += delta

    def _add_figures(self, figures: dict) -> None:
        """Sum another process's figures (a partitioned rebuild) into these."""
        for month_metric, counts in figures.items():
            mine = self.figures.get(month_metric)
            if mine is None:
                self.figures[month_metric] = counts
            else:
                for key, n in counts.items():
                    mine[key] = mine.get(key, 0) + n

    def share(self, dialect) -> tuple:
        """What a helper process of a rebuild hands back: the figures and its cases, encoded
        for ``dialect`` as :func:`write_encoded` takes them."""
        return self.figures, encode(dialect, CaseFact, CASE_COLUMNS, self._case_rows())

    def _case_rows(self):
        return map(attrgetter(*CASE_COLUMNS), self.cases.values())

    def write(self, session: Session, more=()) -> None:
        """Store everything (into empty tables): the dimensions, activities and this process's
        cases first, then the shares of ``more`` (an iterable of :meth:`share` results, which
        may still be coming in while the first rows are written), then the summed figures."""
        for model, dims in self.dims.items():
            columns = [c.name for c in model.__table__.columns]
            bulk_insert(
                session, model, columns, ([getattr(r, c) for c in columns] for r in dims.values())
            )
        columns = [c.name for c in ActivityFact.__table__.columns]
        bulk_insert(
            session,
            ActivityFact,
            columns,
            ([getattr(r, c) for c in columns] for r in self.activities.values()),
        )
        with _indexes_after(session, CaseFact):
            bulk_insert(session, CaseFact, CASE_COLUMNS, self._case_rows())
            for figures, cases in more:
                write_encoded(session, CaseFact, CASE_COLUMNS, cases)
                self._add_figures(figures)
        figures = self._figures()
        with _indexes_after(session, MonthlyFigure):
            bulk_insert(
                session, MonthlyFigure, ("month", "dimension", "key", "metric", "value"), figures
            )
        bulk_insert(
            session, MonthlyRollup, ("month", "dimension", "key", "figures"), _rollups(figures)
        )

    def _figures(self) -> list[tuple]:
        """The totals as ``(month, dimension, key, metric, value)`` rows, keyed as the database
        keeps them (a key is text, as ``str(k)`` live), in the order of the table's primary key
        (month, metric, dimension, key): appended to its index rather than inserted all over."""
        rows = []
        for month, metric in sorted(self.figures):
            counts = self.figures[month, metric]
            rows += [(month, d, k, metric, value) for (d, k), value in sorted(counts.items())]
        if any(row[2].__class__ is not str for row in rows):  # never, unless a key was a number
            merged = Counter()
            for month, d, k, metric, value in rows:
                merged[(month, d, str(k), metric)] += value
            rows = sorted(((*key, value) for key, value in merged.items()), key=_PK_ORDER)
        return rows


class SessionFacts(MemoryFacts):
    """The live path: the same state as a rebuild, in memory for one transaction (one batch of
    events), read from the database on first use and written back by :meth:`flush`.

    A batch of events touches a few hundred rows: each is read once (a Core ``SELECT`` by key),
    the handlers change it in memory, and :meth:`flush` writes the stored events, the new and
    changed rows, and every figure increment summed per key, in a handful of statements. The
    figures are added by atomic upserts in key order, so several reporting processes never
    lose or deadlock on each other's increments.
    """

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self.events: list[dict] = []  # staged rows of the event store
        self.event_ids: set[str] = set()  # staged or known to be stored
        self._loaded: dict[str, tuple] = {}  # case number → its columns as read
        self._dirty_dims: set[tuple] = set()
        self._new_activities: list[str] = []

    # -- reads: the batch's memory first, else one row from the database --------------------

    def _conn(self):
        return self.session.connection()

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
            row = self._conn().execute(_DIM_BY_CODE[model], {"code": code}).mappings().first()
            dims[code] = Row(**row) if row is not None else None
        return dims[code]

    def station(self, code):
        return self._dim(StationDim, code)

    def member(self, code):
        return self._dim(MemberDim, code)

    def studio(self, code):
        return self._dim(StudioDim, code)

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
        fact.merged_into = into

    def save_dim(self, model, code, **fields):
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
        figures = sorted(
            (month, metric, d, str(k), value)
            for (month, metric), counts in self.figures.items()
            for (d, k), value in counts.items()
            if value
        )
        if figures:
            conn.execute(
                _ADD_FIGURES,
                [
                    {"month": m, "metric": metric, "dimension": d, "key": k, "value": v}
                    for m, metric, d, k, v in figures
                ],
            )
            # the same increments into each key's rollup: one row per key, its deltas as one
            # object added to the object stored (in key order too)
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
        self.__init__(self.session)  # a fresh batch: nothing read is trusted past a commit


_CASE_TABLE = CaseFact.__table__
_CASE_BY_NUMBER = select(*(_CASE_TABLE.c[c] for c in CASE_COLUMNS)).where(
    _CASE_TABLE.c.tracking_number == bindparam("number")
)
_MERGED_INTO = select(*(_CASE_TABLE.c[c] for c in CASE_COLUMNS)).where(
    _CASE_TABLE.c.merged_into.in_(bindparam("numbers", expanding=True))
)
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
    for model in (StationDim, MemberDim, StudioDim)
}


_SAVE_DIM = {
    model: insert_on_conflict(
        model.__table__,
        ["code"],
        replace=[c.name for c in model.__table__.columns if c.name != "code"],
    )
    for model in (StationDim, MemberDim, StudioDim)
}


@contextmanager
def _indexes_after(session: Session, model):
    """Fill an empty table without its secondary indexes, then build them: one sort each
    instead of a B-tree insertion per row (the same indexes, by the model's definitions)."""
    conn = session.connection()
    indexes = sorted(model.__table__.indexes, key=attrgetter("name"))
    for index in indexes:
        conn.execute(DropIndex(index))
    yield
    for index in indexes:
        conn.execute(CreateIndex(index))


_PK_ORDER = itemgetter(0, 3, 1, 2)


def _rollups(figures: list[tuple]):
    """``monthly_rollups`` rows of the figures (as :meth:`MemoryFacts._figures` gives them), in
    key order, each key's metrics in metric order."""
    by_key: dict[tuple, dict] = {}
    for month, dimension, key, metric, value in figures:  # by month, then metric
        of_key = by_key.get((month, dimension, key))
        if of_key is None:
            of_key = by_key[month, dimension, key] = {}
        of_key[metric] = value
    dumps = orjson.dumps
    for month, dimension, key in sorted(by_key):
        yield month, dimension, key, dumps(by_key[month, dimension, key]).decode()


def bulk_insert(session: Session, model, columns, rows) -> None:
    """Insert many rows fast: COPY on PostgreSQL; on SQLite, executemany of one plain statement
    (values converted by each column's own type, as the ORM would store them)."""
    write_encoded(session, model, columns, encode(session.bind.dialect, model, columns, rows))


def encode(dialect, model, columns, rows, batch: int = 50_000) -> list:
    """``rows`` ready for :func:`write_encoded`, in batches: COPY text on PostgreSQL, tuples of
    values as each column's type stores them on SQLite (plain data: cheap to pickle)."""
    if dialect.name == "postgresql":
        out, lines, text = [], [], _text
        for row in rows:
            lines.append("\t".join(map(text, row)))
            if len(lines) >= 2 * batch:
                out.append("\n".join(lines) + "\n")
                lines = []
        if lines:
            out.append("\n".join(lines) + "\n")
        return out
    table = model.__table__
    convert = [
        (i, p)
        for i, p in enumerate(table.c[c].type.bind_processor(dialect) for c in columns)
        if p is not None
    ]
    out, chunk = [], []
    for row in rows:
        if convert:
            row = list(row)
            for i, p in convert:
                row[i] = p(row[i])
        chunk.append(tuple(row))
        if len(chunk) >= batch:
            out.append(chunk)
            chunk = []
    if chunk:
        out.append(chunk)
    return out


def write_encoded(session: Session, model, columns, encoded: list) -> None:
    """Store rows from :func:`encode`: COPY on PostgreSQL, executemany on SQLite."""
    table = model.__table__.name
    if session.bind.dialect.name == "postgresql":
        _copy(session, table, columns, encoded)
        return
    conn = session.connection()
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for chunk in encoded:
        conn.exec_driver_sql(sql, chunk)


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    return str(value)


def _copy(session: Session, table: str, columns, texts: list) -> None:
    """COPY each text. psycopg2 refuses COPY under a green wait callback (psycogreen), so the
    callback is off while it runs: a COPY blocks the process, which a rebuild may."""
    from psycopg2 import extensions

    cursor = session.connection().connection.dbapi_connection.cursor()
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    wait = extensions.get_wait_callback()
    extensions.set_wait_callback(None)
    try:
        for text in texts:
            cursor.copy_expert(sql, io.StringIO(text))
    finally:
        extensions.set_wait_callback(wait)
        cursor.close()
