"""What a service works out from its copy of another service's data, kept between transactions.

Intake checks every submission against its copy of routing's dispatch catalogue; routing picks
members from its copy of the registry. Read afresh for every transaction, those copies cost more
than the rest of handling a quiet queue's message. A :class:`CopyMemo` keeps what was read in
the process, for as long as the copy's *revision* is unchanged.

The revision is one row per copy in the service's own ``copy_revisions`` table
(:func:`revision_table`). Whatever changes a copy calls :func:`bump` in the same transaction,
so every process of the service (several intake processes share one database) sees the new
revision with the change, and each transaction reads the revision once (one primary-key read)
before it uses a memo. The revision is read before the copy, so a memo can hold data newer than
its revision, never older. A transaction that changed the copy itself memoizes nothing beyond
its own end (it may still roll back).
"""

from __future__ import annotations

import weakref

from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select, update
from sqlalchemy.orm import Session

_OWN = "lx_copy_changed"  # session.info: names of the copies this transaction changed
_SEEN = "lx_copy_revisions"  # session.info: name → revision read in this transaction


def revision_table(metadata: MetaData) -> Table:
    """The ``copy_revisions`` table in a service's own metadata (and its migrations)."""
    return Table(
        "copy_revisions",
        metadata,
        Column("name", String(40), primary_key=True),
        Column("revision", Integer, nullable=False, default=0),
    )


def bump(session: Session, table: Table, name: str) -> None:
    """Say, in the transaction that changes it, that copy ``name`` changed."""
    done = session.connection().execute(
        update(table).where(table.c.name == name).values(revision=table.c.revision + 1)
    )
    if done.rowcount == 0:
        session.connection().execute(table.insert(), {"name": name, "revision": 1})
    session.info.setdefault(_OWN, set()).add(name)
    session.info.pop(_local(name), None)  # what this transaction read of it is stale too


def _local(name: str) -> str:
    return f"lx_copy_memo_{name}"  # session.info: the memo of a transaction that changed it


class CopyMemo:
    """Values derived from copy ``name``, per database, valid while its revision stands."""

    def __init__(self, table: Table, name: str):
        self.table, self.name = table, name
        self._revision = select(table.c.revision).where(table.c.name == bindparam("name"))
        # engine → (revision, {key: value}); an engine gone (a test's database) is forgotten
        self._by_engine: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self, session: Session, key, read):
        """``read()`` for ``key``, or what it gave before at this revision of the copy."""
        if self.name in session.info.get(_OWN, ()):
            local = session.info.setdefault(_local(self.name), {})
            if key not in local:
                local[key] = read()
            return local[key]
        seen = session.info.setdefault(_SEEN, {})
        if self.name not in seen:
            found = session.connection().execute(self._revision, {"name": self.name}).scalar()
            seen[self.name] = found or 0
        revision = seen[self.name]
        engine = session.get_bind()
        memo = self._by_engine.get(engine)
        if memo is None or memo[0] != revision:
            memo = self._by_engine[engine] = (revision, {})
        values = memo[1]
        if key not in values:
            values[key] = read()
        return values[key]


def newer(session: Session, model, code: str, revision: int):
    """The copy row an announcement of ``code`` at ``revision`` should write, or None when the
    copy already holds that revision or a later one (a repeated or overtaken announcement).

    A new row is added to the session; the caller sets its fields (and ``revision``)."""
    row = session.get(model, code)
    if row is not None and row.revision is not None and row.revision >= revision:
        return None
    if row is None:
        row = model(code=code)
        session.add(row)
    return row
