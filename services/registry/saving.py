"""The one write path of every registry record: save, bump the revision, announce.

Saving identical data changes nothing and announces nothing, so re-imports are harmless. On
PostgreSQL a change reads its row under a row lock (``FOR UPDATE``): with several registry
processes, two changes of one record are made one after the other, each with its own revision. A bulk
save (an import, the demo) first calls :func:`preload`, so look-ups answer from the identity map
and new rows are inserted together at the next flush.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from services.kernel import outbox
from services.registry.models import Member, RosterDay, Sector, Station, Studio

SOURCE = "registry"


def lookup(session: Session, model, key):
    """``session.get``, but only the identity map for tables ``preload`` brought in whole."""
    if model in session.info.get("lx_preloaded_models", ()):
        row = session.identity_map.get(identity_key(model, key))
        return row if row is not None else session.info["lx_created"].get((model, key))
    return session.get(model, key)


def unknown(session: Session, model, codes) -> list[str]:
    """Those of ``codes`` with no row of ``model``, sorted."""
    return [c for c in sorted(set(codes)) if lookup(session, model, c) is None]


def save_row(session, model, key, create, apply, record_fn, payload_fn, event_type):
    """Insert ``create()`` or ``apply`` the change to the row under ``key``; a changed row gets
    the next revision and its ``event_type`` announcement. ``(row, changed)``."""
    row = lookup(session, model, key)
    if row is None:
        row = create()
        session.add(row)
        if model in session.info.get("lx_preloaded_models", ()):
            # a bulk save: keep it findable unflushed, and let one flush insert them all
            session.info["lx_created"][(model, key)] = row
            outbox.record(session, event_type, payload_fn(row), SOURCE)
            return row, True
    else:
        preloaded = model in session.info.get("lx_preloaded_models", ())  # locked by preload
        if session.bind.dialect.name == "postgresql" and not preloaded:
            # Two registry processes may change one record at once: the second waits for the
            # first to commit, then reads its values and revision (never two changes under one
            # revision, the later one ignored by every copy). SQLite has one writer anyway.
            session.refresh(row, with_for_update=True)
        before = record_fn(row)
        apply(row)
        if record_fn(row) == before:
            return row, False
        row.revision += 1
    session.flush()
    outbox.record(session, event_type, payload_fn(row), SOURCE)
    return row, True


def setter(values: dict):
    """An ``apply`` that sets each of ``values`` on the row."""

    def apply(row):
        for name, value in values.items():
            setattr(row, name, value)

    return apply


def preload(session: Session) -> None:
    """Load every record into ``session`` at once, so a bulk save (an import, the demo) finds
    each one in the identity map instead of asking the database row by row, and new rows are
    inserted together at the next flush. Flush before saving rows that refer to new ones of
    another kind (members after their sectors)."""
    session.flush()
    rows, models = [], (Sector, Station, Studio, Member, RosterDay)
    lock = session.bind.dialect.name == "postgresql"  # as save_row's lock, all rows at once
    for model in models:
        query = select(model).with_for_update() if lock else select(model)
        rows.extend(session.scalars(query).all())
    session.info["lx_preloaded"] = rows  # the identity map holds rows weakly; keep them
    session.info["lx_preloaded_models"] = models
    session.info["lx_created"] = {}
