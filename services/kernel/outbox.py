"""The outbox: events committed with the change that caused them, then relayed with confirms.

A handler calls ``record(session, type, payload, source)`` inside its transaction. After the
commit the relay (one greenthread per service process) publishes unsent rows in id order to
``lianxin.events`` with ``mandatory`` and publisher confirms (a batch at a time, one wait for all
its confirms), and marks them sent. A crash between
publish and mark publishes the event again: consumers are idempotent by event id.
"""

from __future__ import annotations

import json
import logging

import eventlet
import orjson
from eventlet.event import Event
from nameko.extensions import SharedExtension
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from services.kernel.db import SharedEngine
from services.kernel.events import new_event
from services.kernel.models import OutboxMessage, utcnow
from services.kernel.publisher import ConfirmedPublisher, Outgoing
from services.kernel.settings import kernel_settings
from services.kernel.topology import EVENTS_EXCHANGE, PARTITION_HEADER

log = logging.getLogger(__name__)


def record(session: Session, event_type: str, payload: dict, source: str, occurred_at=None) -> dict:
    """Add an event to the outbox in ``session``'s transaction; returns its envelope."""
    envelope = new_event(event_type, payload, source, occurred_at=occurred_at)
    # A plain INSERT on the session's connection, now: cheaper than an ORM object flushed later,
    # and in the same transaction all the same.
    session.connection().execute(
        _INSERT,
        {
            "event_id": envelope["event_id"],
            "exchange": EVENTS_EXCHANGE.name,
            "routing_key": event_type,
            "body": json.dumps(envelope, ensure_ascii=False),
            "created_at": utcnow(),
        },
    )
    session.info["lx_outbox"] = True
    return envelope


_INSERT = insert(OutboxMessage.__table__)

# What an event is about, first match wins: (payload field, what its value is) partitions
# reporting (docs/architecture.md, "Reporting partitions"). Every event about one case carries its
# tracking number; a merge goes with the case it is merged *into* (resolving that case serves
# every report merged into it, so the two must keep their order); a registry record its code; a
# practice record its own id. A new event type about a new kind of record adds its id field here
# (before "code"), or its events share one partition per type.
PARTITION_FIELDS = (
    ("into", "tracking_number"),
    ("tracking_number", "tracking_number"),
    ("activity_id", "activity_id"),
    ("visit_id", "visit_id"),
    ("consultation_id", "consultation_id"),
    ("report_id", "report_id"),
    ("code", "code"),
)


def partition_key(event_type: str, payload) -> str:
    """The ``lx-key`` header of an event: ``<what>:<value>`` of the first of
    :data:`PARTITION_FIELDS` in its payload, else its type (so the events of a type about no
    record keep their order with each other)."""
    if isinstance(payload, dict):
        for name, what in PARTITION_FIELDS:
            value = payload.get(name)
            if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
                return f"{what}:{value}"
    return f"type:{event_type}"


def envelope_partition_key(body: str | bytes, event_type: str) -> str:
    """:func:`partition_key` of an envelope as stored in the outbox (JSON text)."""
    try:
        payload = orjson.loads(body).get("payload")
    except (orjson.JSONDecodeError, AttributeError):
        payload = None
    return partition_key(event_type, payload)


def backlog(session: Session) -> int:
    return session.scalar(select(func.count()).where(OutboxMessage.sent_at.is_(None)))


class OutboxRelay(SharedExtension):
    """Publishes committed outbox rows; woken by commits that wrote one, else polls."""

    db = SharedEngine()
    publisher = ConfirmedPublisher()

    def setup(self):
        settings = kernel_settings(self.container.config)
        self.poll_interval = settings.outbox_poll_interval_s
        self.batch_size = settings.outbox_batch_size
        self._wake = Event()
        self._running = False
        self._gt = None
        self._confirmed: list[int] = []  # confirmed by the broker, not marked sent yet (SQLite)
        unsent = OutboxMessage.__table__
        # Built once: a statement built per round costs more than a quiet round's query.
        self._unsent = (
            select(
                unsent.c.id,
                unsent.c.event_id,
                unsent.c.exchange,
                unsent.c.routing_key,
                unsent.c.body,
            )
            .where(unsent.c.sent_at.is_(None))
            .order_by(unsent.c.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        self.db.on_commit(self._on_commit)

    def _on_commit(self, session):
        if session.info.pop("lx_outbox", False) and not self._wake.ready():
            self._wake.send(True)

    def start(self):
        if not self._running:
            self._running = True
            self._gt = self.container.spawn_managed_thread(self._run, identifier="outbox-relay")

    def stop(self):
        self._running = False
        if not self._wake.ready():
            self._wake.send(True)
        if self._gt is not None:
            self._gt.wait()
        try:
            self.flush_marks()
        except Exception as exc:  # the events go out again after a restart: consumers ignore them
            log.warning("outbox: could not mark %d sent events (%s)", len(self._confirmed), exc)

    def kill(self):
        self._running = False
        if self._gt is not None:
            self._gt.kill()

    def _run(self):
        failures = 0
        while self._running:
            try:
                sent = self.relay_once()
                failures = 0
            except Exception as exc:
                failures += 1
                wait = min(0.5 * 2**failures, 15)
                log.warning("outbox relay failed (%s); retrying in %.1fs", exc, wait)
                eventlet.sleep(wait)
                continue
            if sent < self.batch_size:
                with eventlet.Timeout(self.poll_interval, False):
                    self._wake.wait()
                self._wake = Event()

    def relay_once(self) -> int:
        """Publish one batch of unsent events; returns how many were confirmed.

        On PostgreSQL the batch stays locked (``FOR UPDATE SKIP LOCKED``) while it is published
        and is marked sent in that same transaction, so relays of several processes share the
        work and never publish a row twice. SQLite has no row locks: there the read ends before
        publishing (a write after a yield could find the snapshot stale), and what the broker
        confirmed is marked sent at the start of the next round, in the transaction of its read,
        so a quiet service writes once per event, not twice. The next round comes with the next
        commit or within ``poll_interval``; a crash in between publishes those events again,
        which consumers, idempotent by event id, ignore.
        """
        hold_locks = self.db.engine.dialect.name != "sqlite"
        error, done = None, []
        with self.db.engine.connect() as conn:
            tx = conn.begin()
            try:
                if self._confirmed:
                    conn.execute(_MARK_SENT, {"ids": self._confirmed, "at": utcnow()})
                rows = conn.execute(self._unsent).all()
                if not hold_locks:
                    tx.commit()
                    self._confirmed = []
                if rows:
                    done, error = self._publish(rows)
                if hold_locks:
                    if done:
                        conn.execute(_MARK_SENT, {"ids": done, "at": utcnow()})
                    tx.commit()
                else:
                    self._confirmed = done
            except Exception:
                if tx.is_active:
                    tx.rollback()
                raise
        if error is not None:
            raise error
        return len(done)

    def _publish(self, rows) -> tuple[list[int], Exception | None]:
        """Publish ``rows`` with confirms: the ids the broker confirmed up to the first refusal
        (in id order; the rest is tried again on the next round), and that refusal."""
        outcome = self.publisher.publish_many(
            [
                Outgoing(
                    body=row.body.encode("utf-8"),
                    exchange=row.exchange,
                    routing_key=row.routing_key,
                    message_id=row.event_id,
                    type=row.routing_key,
                    headers={PARTITION_HEADER: envelope_partition_key(row.body, row.routing_key)},
                )
                for row in rows
            ]
        )
        done = []
        for row, problem in zip(rows, outcome, strict=True):
            if problem is not None:
                return done, problem
            done.append(row.id)
        return done, None

    def flush_marks(self) -> None:
        """Mark sent what the broker confirmed and is not marked yet (SQLite: see relay_once)."""
        if self._confirmed:
            with self.db.engine.begin() as conn:
                conn.execute(_MARK_SENT, {"ids": self._confirmed, "at": utcnow()})
            self._confirmed = []


_MARK_SENT = (
    update(OutboxMessage.__table__)
    .where(OutboxMessage.__table__.c.id.in_(bindparam("ids", expanding=True)))
    .values(sent_at=bindparam("at"))
)
