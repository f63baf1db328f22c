"""Several routing processes on one database: the rules that keep them from stepping on each
other (docs/architecture.md, "Replicas").

Assignment: the replicas share ``routing.events`` (RabbitMQ hands each batch to one of them), so
two of them may assign cases of one station at the same moment. Each batch first takes a
transaction lock on every station it may assign at (the stations of its new issues and of its
member announcements, which assign the cases waiting there), all at once and in code order, so
two batches never wait on each other in a circle. Under that lock a replica reads the station's
member loads after the other replica's assignment there committed: the tie-break by open cases
sees every earlier assignment at the station, exactly as one process would. The loads
themselves are changed by one atomic ``+1``/``-1`` statement each (``loads.py``), so they stay
equal to the open cases whatever the order.

Timers (the deadline check, the notice round): one replica does a round while the others skip
it (a ``pg_try_advisory_xact_lock``), so no case is announced overdue twice and no notice is
sent twice by two rounds at once.

SQLite is one process by design (its database allows one writer): nothing to lock there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

_LOCKS = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(k, 0))"
    " FROM (SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS ordered"
)
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))")
_LOCKED = "lx_routing_station_locks"


def _postgresql(session: Session) -> bool:
    return session.bind.dialect.name == "postgresql"


def station_key(code: str) -> str:
    return f"routing.assign.station:{code}"


def stations_of(events: Iterable[dict]) -> set[str]:
    """The stations a batch of events may assign cases at."""
    out = set()
    for event in events:
        p = event.get("payload") or {}
        if event.get("type") == "intake.issue_received" and p.get("station"):
            out.add(p["station"])
        elif event.get("type") == "registry.member_saved":
            out.update(m["station"] for m in p.get("stations") or () if m.get("station"))
    return out


def lock_stations(session: Session, stations: Iterable[str]) -> None:
    """Wait for, then hold until the transaction ends, the assignment lock of each station not
    held yet by this transaction (in code order)."""
    if not _postgresql(session):
        return
    held = session.info.setdefault(_LOCKED, set())
    keys = sorted({station_key(s) for s in stations} - held)
    if keys:
        session.execute(_LOCKS, {"keys": keys})
        held.update(keys)


def lock_batch(session: Session, bodies: Iterable[bytes]) -> None:
    """Take the assignment locks of every station a batch of raw event bodies may assign at."""
    if not _postgresql(session):
        return
    events = []
    for body in bodies:
        try:
            events.append(json.loads(body))
        except (ValueError, TypeError):
            continue  # the handler refuses it on its own
    lock_stations(session, stations_of(e for e in events if isinstance(e, dict)))


def wait_turn(session: Session, name: str) -> None:
    """Wait until no other replica's transaction holds ``name``, then hold it until this one
    ends (e.g. the catalogue's announcement at start: two replicas starting together would
    both find it unannounced and the second fail on its primary key)."""
    if _postgresql(session):
        session.execute(_LOCKS, {"keys": [f"routing.turn:{name}"]})


def my_round(session: Session, name: str) -> bool:
    """True when this replica does the timer round ``name`` now (it holds the round's lock until
    ``session``'s transaction ends); False when another replica is doing it."""
    if not _postgresql(session):
        return True
    return bool(session.scalar(_TRY_LOCK, {"key": f"routing.round:{name}"}))
