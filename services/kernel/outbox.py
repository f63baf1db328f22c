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
from eventlet.event import Event
from nameko.extensions import SharedExtension
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from services.kernel.db import SharedEngine
from services.kernel.events import new_event
from services.kernel.models import OutboxMessage, utcnow
from services.kernel.publisher import ConfirmedPublisher, Outgoing
from services.kernel.topology import EVENTS_EXCHANGE

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


def backlog(session: Session) -> int:
    return session.scalar(select(func.count()).where(OutboxMessage.sent_at.is_(None)))


class OutboxRelay(SharedExtension):
    """Publishes committed outbox rows; woken by commits that wrote one, else polls."""

    db = SharedEngine()
    publisher = ConfirmedPublisher()

    def setup(self):
        cfg = self.container.config.get("outbox", {})
        self.poll_interval = float(cfg.get("poll_interval_s", 0.5))
        self.batch_size = int(cfg.get("batch_size", 200))
        self._wake = Event()
        self._running = False
        self._gt = None
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

        On PostgreSQL the batch stays locked (``FOR UPDATE SKIP LOCKED``) while it is published,
        so relays of several processes share the work. SQLite has no row locks: there the read
        ends before publishing, because a write after a yield could find the snapshot stale.
        """
        session = self.db.sessionmaker()
        try:
            rows = session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.event_id,
                    OutboxMessage.exchange,
                    OutboxMessage.routing_key,
                    OutboxMessage.body,
                )
                .where(OutboxMessage.sent_at.is_(None))
                .order_by(OutboxMessage.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if session.bind.dialect.name == "sqlite":
                session.commit()
            outcome = self.publisher.publish_many(
                [
                    Outgoing(
                        body=row.body.encode("utf-8"),
                        exchange=row.exchange,
                        routing_key=row.routing_key,
                        message_id=row.event_id,
                        type=row.routing_key,
                    )
                    for row in rows
                ]
            )
            # Keep what the broker confirmed up to the first refusal (in id order); the rest is
            # tried again on the next round.
            done, error = [], None
            for row, problem in zip(rows, outcome, strict=True):
                if problem is not None:
                    error = problem
                    break
                done.append(row.id)
            if done:
                session.execute(
                    update(OutboxMessage).where(OutboxMessage.id.in_(done)).values(sent_at=utcnow())
                )
            session.commit()
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()
        if error is not None:
            raise error
        return len(done)
