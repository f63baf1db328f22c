"""Which stations a batch of routing.events locks before assigning (services/routing/replicas.py),
and the timer rounds' rule; the locks themselves are shown working by
tests/deploy/test_routing_replicas.py (two processes on PostgreSQL)."""

import json

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from services.routing import replicas


def event(kind: str, **payload) -> dict:
    return {"type": kind, "payload": payload}


def test_a_batch_locks_its_new_issues_and_member_announcements_stations():
    batch = [
        event("intake.issue_received", tracking_number="LX1", station="jnl"),
        event("intake.issue_received", tracking_number="LX2", station="gwm"),
        event("registry.member_saved", code="m1", stations=[{"station": "sp", "role": "member"}]),
        event("routing.issue_assigned", tracking_number="LX3", station="ytl"),  # assigns nothing
        event("registry.station_saved", code="jql"),  # a station's record assigns nothing
        event("intake.issue_received", tracking_number="LX4"),  # no station: nothing to lock
    ]
    assert replicas.stations_of(batch) == {"jnl", "gwm", "sp"}


def test_the_locks_are_taken_once_each_in_code_order(pg_databases):
    engine = create_engine(pg_databases.create())
    bodies = [
        json.dumps(event("intake.issue_received", station=s)).encode() for s in ("jnl", "gwm")
    ] + [b"not json", json.dumps(event("intake.issue_received", station="gwm")).encode()]
    with Session(engine) as session, session.begin():
        replicas.lock_batch(session, bodies)
        replicas.lock_stations(session, ["gwm", "ytl"])  # gwm held already: only ytl more
        held = session.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                " AND pid = pg_backend_pid()"
            )
        ).scalar()
        assert held == 3
        assert sorted(session.info[replicas._LOCKED]) == [
            replicas.station_key(s) for s in ("gwm", "jnl", "ytl")
        ]
        # another connection cannot take gwm's lock while this transaction holds it
        with engine.connect() as other:
            got = other.execute(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"),
                {"k": replicas.station_key("gwm")},
            ).scalar()
            assert got is False
            other.rollback()
    engine.dispose()


def test_one_replica_a_round_on_postgresql_and_always_on_sqlite(pg_databases, tmp_path):
    engine = create_engine(pg_databases.create())
    with Session(engine) as first, first.begin(), Session(engine) as second, second.begin():
        assert replicas.my_round(first, "deadlines") is True
        assert replicas.my_round(second, "deadlines") is False  # the other replica skips
        assert replicas.my_round(second, "notices") is True  # another round is another lock
    with Session(engine) as later, later.begin():
        assert replicas.my_round(later, "deadlines") is True  # released with the transaction
    engine.dispose()
    lite = create_engine(f"sqlite:///{tmp_path}/r.db")
    with Session(lite) as s:
        assert replicas.my_round(s, "deadlines") is True
        replicas.lock_stations(s, ["gwm"])  # nothing to lock on SQLite (one process)
    lite.dispose()
