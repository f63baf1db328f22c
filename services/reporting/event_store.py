"""The event store: every event reporting consumed, once (by event id), in arrival order.

The live path appends each event and projects it in the same transaction (:func:`record`);
a rebuild streams the store back (:func:`stored_events`) through the same projections.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import orjson
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.kernel import logs
from services.reporting.models import StoredEvent
from services.reporting.projections import KNOWN_UNCOUNTED, PROJECTIONS, project
from services.reporting.session_facts import SessionFacts


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


# -- reading the store back ---------------------------------------------------------------------


def stored_events(session: Session, chunk: int = 20_000, upto: int | None = None):
    """The store in arrival order, in chunks of ``(type, payload text, occurred_at)`` rows read
    straight from the driver (a server-side cursor on PostgreSQL). ``occurred_at`` is UTC text,
    ``YYYY-MM-DD HH:MM:SS.ffffff`` on both backends (see :func:`utc_time`)."""
    yield from stream(session.connection(), chunk, upto)


def stream(conn, chunk: int, upto: int | None):
    """:func:`stored_events` on a plain connection (a rebuild's helper process has no session)."""
    at = "occurred_at"
    if conn.dialect.name == "postgresql":
        at = "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    where = f" WHERE seq <= {int(upto)}" if upto is not None else ""
    result = conn.exec_driver_sql(
        f"SELECT type, payload, {at} FROM event_store{where} ORDER BY seq",
        execution_options={"stream_results": True, "yield_per": chunk},
    )
    yield from result.partitions(chunk)


def stored_merges(conn, upto: int | None):
    """Every stored merge (up to ``seq <= upto``) as ``(merged case, the case it went into)``."""
    where = f" AND seq <= {int(upto)}" if upto is not None else ""
    rows = conn.exec_driver_sql(
        f"SELECT payload FROM event_store WHERE type = 'routing.issue_merged'{where}"
    )
    for (payload,) in rows:
        p = loads_payload(payload)
        a, b = p.get("tracking_number"), p.get("into")
        if isinstance(a, str) and isinstance(b, str):
            yield a, b


def utc_time(text: str) -> datetime:
    """A stored ``occurred_at`` read as text (UTC, no zone) as the ORM reads it: zone-aware UTC."""
    return datetime.fromisoformat(text + "+00:00")


def loads_payload(text: str):
    """A stored payload, parsed."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what orjson refuses (NaN, huge integers) json still reads
        return json.loads(text)


_KEY = '"tracking_number"'
_LEAD = '{"tracking_number": "'  # how the services' payloads begin
_LEADING_NUMBER = re.compile(r'\{\s*"tracking_number"\s*:\s*"([^"\\]*)"').match


def tracking_number(payload: str) -> str | None:
    """The top-level ``tracking_number`` of a payload: read without parsing the payload when it
    is its first key, written plainly and once (as the services write it); parsed otherwise.
    (A split rebuild asks this of every event to find its share: parsing them all would cost
    each process the parsing of the whole store.)"""
    end = payload.find('"', 21) if payload.startswith(_LEAD) else -1
    if end >= 21 and "\\" not in payload[21:end] and payload.count(_KEY) == 1:
        return payload[21:end]
    found = _LEADING_NUMBER(payload)
    if found is not None and payload.count(_KEY) == 1:
        return found[1]
    try:
        number = loads_payload(payload).get("tracking_number")
    except (ValueError, AttributeError):
        return None
    return number if isinstance(number, str) else None


# -- what is in it ------------------------------------------------------------------------------


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
