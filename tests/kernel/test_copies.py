"""Memos of a copy, kept between transactions, never outlive a change to the copy: not one made
by another process (another connection), not one of the same transaction, and a change that
rolled back leaves nothing behind. On SQLite and PostgreSQL."""

import pytest
from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.orm import Session

from services.kernel import copies
from services.kernel.copies import CopyMemo
from services.kernel.db import make_engine

META = MetaData()
REVISIONS = copies.revision_table(META)
COLOURS = Table("probe_colours", META, Column("code", String(10), primary_key=True))


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    META.create_all(engine)
    yield engine
    engine.dispose()


def add_colour(engine, code, commit=True):
    """Another process changes the copy: its own connection, its own transaction."""
    session = Session(engine)
    session.execute(COLOURS.insert(), {"code": code})
    copies.bump(session, REVISIONS, "colours")
    if commit:
        session.commit()
    else:
        session.rollback()
    session.close()


def test_a_memo_is_read_again_only_after_the_copy_changed(engine):
    memo = CopyMemo(REVISIONS, "colours")
    reads = []

    def codes(session):
        def read():
            reads.append(1)
            return sorted(session.scalars(select(COLOURS.c.code)))

        with session.begin():
            return memo.get(session, "all", read)

    add_colour(engine, "red")
    with Session(engine) as s:
        assert codes(s) == ["red"]
    with Session(engine) as s:
        assert codes(s) == ["red"]
    assert len(reads) == 1  # the second transaction took the memo

    add_colour(engine, "blue")  # committed elsewhere: the revision moved
    with Session(engine) as s:
        assert codes(s) == ["blue", "red"]
    assert len(reads) == 2

    add_colour(engine, "green", commit=False)  # rolled back: nothing changed
    with Session(engine) as s:
        assert codes(s) == ["blue", "red"]
    assert len(reads) == 2


def test_a_transaction_that_changes_the_copy_sees_its_change_and_keeps_it_to_itself(engine):
    memo = CopyMemo(REVISIONS, "colours")
    add_colour(engine, "red")
    with Session(engine) as s, s.begin():
        assert memo.get(s, "all", lambda: sorted(s.scalars(select(COLOURS.c.code)))) == ["red"]
        s.execute(COLOURS.insert(), {"code": "blue"})
        copies.bump(s, REVISIONS, "colours")
        assert memo.get(s, "all", lambda: sorted(s.scalars(select(COLOURS.c.code)))) == [
            "blue",
            "red",
        ]
        s.rollback()
    # The rolled-back change was never memoized for others: the next real change takes the
    # same revision number, and what is read then is the truth, not the rolled-back "blue".
    add_colour(engine, "green")
    with Session(engine) as s, s.begin():
        assert memo.get(s, "all", lambda: sorted(s.scalars(select(COLOURS.c.code)))) == [
            "green",
            "red",
        ]
