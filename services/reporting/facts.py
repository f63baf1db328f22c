"""The state the projections read and change, in memory: :class:`MemoryFacts`.

A rebuild holds the whole state in plain Python objects and one dict of figure totals, and
writes them in bulk at the end (:mod:`services.reporting.bulk`: COPY on PostgreSQL).
The live path (:class:`services.reporting.session_facts.SessionFacts`) is the same state for
one batch of events, read from and written back to the database. The handlers
(:mod:`services.reporting.projections`) only see this interface, so both paths run the same
rules.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter, itemgetter

import orjson
from sqlalchemy.orm import Session

from services.reporting.breakdowns import issue_place_breakdowns, member_breakdowns
from services.reporting.bulk import bulk_insert, encode, indexes_after, write_encoded
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
    StudioDim,
)

CASE_DEFAULTS = {
    "member": None,
    "member_level": None,
    "member_sector": None,
    "first_response_minutes": None,
    "rated": False,
    "handled": False,
    "merged_into": None,
    "served": False,
    "closed_unresolved": False,
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
    __slots__ += ("closed_unresolved",)

    def __init__(self, tracking_number, received_month, received_at, station, district, channel,
                 category, member=None, member_level=None, member_sector=None,
                 first_response_minutes=None, rated=False, handled=False, merged_into=None,
                 served=False, closed_unresolved=False):  # fmt: skip
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
        self.closed_unresolved = closed_unresolved  # counted in cohort_closed_unresolved


CASE_COLUMNS = Case.__slots__


class MemoryFacts:
    """The projections' state in memory, for a rebuild from empty tables; :meth:`write` stores it."""

    def __init__(self):
        self.dims = {StationDim: {}, MemberDim: {}, StudioDim: {}, LeaderDim: {}, SectorDim: {}}
        self.cases: dict[str, Case] = {}
        self.merges: dict[str, list[Case]] = {}  # case number → the cases merged into it
        self.activities: dict[str, Row] = {}
        self.figures: dict[tuple[str, str], Counter] = {}  # (month, metric) → {(dim, key): n}
        self.pairs: dict = {}  # (dimension, key) → itself: one tuple per pair
        self.places: dict = {}  # (station, district, channel, category) → their breakdowns
        self.members: dict = {}  # (member, level, sector) → their breakdowns
        self.practices: dict[tuple[str, str], Row] = {}  # (kind, record id) → visit, report …
        self.practices_saved: set[tuple[str, str]] = set()  # changed since read (live path)

    def station(self, code):
        return self.dims[StationDim].get(code)

    def member(self, code):
        return self.dims[MemberDim].get(code)

    def studio(self, code):
        return self.dims[StudioDim].get(code)

    def leader(self, code):
        return self.dims[LeaderDim].get(code)

    def case(self, number):
        return self.cases.get(number)

    def practice(self, kind: str, record_id: str):
        """A visit, consultation or report as last counted (``revision``, ``state``,
        ``counted``; see practice.py), or None."""
        return self.practices.get((kind, record_id))

    def save_practice(self, kind: str, record_id: str, **fields) -> None:
        self.practices[kind, record_id] = Row(kind=kind, record_id=record_id, **fields)
        self.practices_saved.add((kind, record_id))

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
        if delta == 1:  # nearly always: Counter.update counts the pairs in C
            counts.update(keys)
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
        bulk_insert(
            session, PracticeFact, PRACTICE_COLUMNS, map(practice_row, self.practices.values())
        )
        with indexes_after(session, CaseFact):
            bulk_insert(session, CaseFact, CASE_COLUMNS, self._case_rows())
            for figures, cases in more:
                write_encoded(session, CaseFact, CASE_COLUMNS, cases)
                self._add_figures(figures)
        figures = self._figures()
        with indexes_after(session, MonthlyFigure):
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


_PK_ORDER = itemgetter(0, 3, 1, 2)
PRACTICE_COLUMNS = ("kind", "record_id", "revision", "state", "counted")


def practice_row(row: Row) -> tuple:
    """A practice record as ``practice_facts`` keeps it (state and counted as JSON text)."""
    dumps = orjson.dumps
    state, counted = dumps(row.state).decode(), dumps(row.counted).decode()
    return row.kind, row.record_id, row.revision, state, counted


def practice_of(kind, record_id, revision, state, counted) -> Row:
    """A ``practice_facts`` row read back."""
    return Row(kind=kind, record_id=record_id, revision=revision, state=orjson.loads(state),
               counted=orjson.loads(counted))  # fmt: skip


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
