"""The inbox: idempotent handling, bounded retries with back-off, and the parked-message store.

``self.inbox.process(delivery, handler)`` runs ``handler(session, delivery)`` in one transaction
with the record that this message was handled, so a redelivered message does nothing twice.
If the handler raises, the transaction rolls back and the message is republished to the delay
queue for its attempt (``retry.delays_ms``); after the last delay it is parked in
``kernel_parked`` with the error and the whole original message. ``replay`` puts a parked
message back on its queue once the fault is fixed.

A service whose messages carry personal data (intake) makes its inbox with ``seal_parked=True``:
parked bodies are then sealed at rest (``services.kernel.sealed``) and listed through its
``redact`` function (the body with the personal data masked), never whole.

The record of handled messages is kept ``inbox.keep_processed_days`` (a redelivery, a retried
relay or a client resending comes within minutes; a month is a wide margin), then pruned by
:meth:`Inbox.prune_processed`, which every service runs hourly.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from datetime import timedelta

from nameko.extensions import DependencyProvider
from sqlalchemy import bindparam, delete, func, insert, select, text, tuple_

from services.kernel import logs, metrics, sealed, topology
from services.kernel.db import SharedEngine
from services.kernel.messaging import Delivery, TopologyDeclarer, retry_delays_ms
from services.kernel.models import ParkedMessage, ProcessedMessage, utcnow
from services.kernel.publisher import ConfirmedPublisher

log = logging.getLogger(__name__)

_KEY_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
_KEY_LOCKS = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(k, 0))"
    " FROM (SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS ordered"
)

_PROCESSED = ProcessedMessage.__table__
_HANDLED = select(_PROCESSED.c.message_id).where(
    _PROCESSED.c.consumer == bindparam("queue"),
    _PROCESSED.c.message_id.in_(bindparam("ids", expanding=True)),
)
_RECORD_HANDLED = insert(_PROCESSED)

DUPLICATE = "duplicate"
RETRYING = "retrying"
PARKED = "parked"
OUTCOMES = (DUPLICATE, RETRYING, PARKED)  # what process() returns instead of a handler's result

# Headers the broker adds when dead-lettering; dropped before a message is sent round again.
_BROKER_HEADERS = (
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
)


def _clean_headers(headers: dict) -> dict:
    return {k: v for k, v in headers.items() if k not in _BROKER_HEADERS}


def _jsonable(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class Inbox(DependencyProvider):
    db = SharedEngine()
    publisher = ConfirmedPublisher()
    topology = TopologyDeclarer()

    def __init__(self, seal_parked: bool = False, redact=None):
        self.seal_parked = seal_parked
        self.redact = redact  # body bytes -> what the parked list shows

    def setup(self):
        self.delays_ms = retry_delays_ms(self.container.config)

    def get_dependency(self, worker_ctx):
        return self

    def process(self, delivery: Delivery, handler, finish=None):
        """Handle ``delivery`` once; returns the handler's result, DUPLICATE, RETRYING or PARKED.

        ``finish(session)``, if given, runs after the handler, in its transaction (a handler that
        keeps its changes in memory for a batch writes them there)."""
        service = self.container.config.get("SERVICE_NAME", "?")
        logs.clear()
        logs.bind(queue=delivery.queue, message_id=delivery.key)
        started, outcome = time.perf_counter(), "requeued"
        try:
            with self.db.transaction() as session:
                if self._handled_already(session, [delivery]):
                    outcome = DUPLICATE
                    return DUPLICATE
                result = handler(session, delivery)
                if finish is not None:
                    finish(session)
                handled = {"consumer": delivery.queue, "message_id": delivery.key}
                session.connection().execute(_RECORD_HANDLED, handled | {"processed_at": utcnow()})
            outcome = "ok"
            return result
        except Exception as exc:
            metrics.FAILED.labels(service, delivery.queue).inc()
            outcome = self.fail(delivery, exc)
            if outcome == PARKED:
                metrics.PARKED.labels(service, delivery.queue).inc()
            return outcome
        finally:
            elapsed = time.perf_counter() - started
            metrics.LATENCY.labels(service, delivery.queue).observe(elapsed)
            metrics.HANDLED.labels(service, delivery.queue, outcome).inc()
            log.debug("handled %s in %.1f ms: %s", delivery.queue, elapsed * 1000, outcome)

    def process_batch(self, deliveries: list[Delivery], handler, finish=None) -> list:
        """Handle many deliveries in one transaction; returns one result each, as ``process``.

        The messages already handled (and repeats inside the batch) are DUPLICATE; the handler
        runs for the others in order, in one session, and the batch commits once with the record
        of all of them. If the handler raises for any, or the commit fails, the whole batch rolls
        back and every message is taken again one at a time by :meth:`process`, so only the
        faulty one is retried or parked and the others lose nothing. ``finish(session)`` runs
        once after the last handler, before the commit.
        """
        if len(deliveries) == 1:
            return [self.process(deliveries[0], handler, finish)]
        started = time.perf_counter()
        try:
            with self.db.transaction() as session:
                done = self._handled_already(session, deliveries)
                results, fresh = [], []
                for delivery in deliveries:
                    key = (delivery.queue, delivery.key)
                    if key in done:
                        results.append(DUPLICATE)
                        continue
                    done.add(key)
                    logs.clear()
                    logs.bind(queue=delivery.queue, message_id=delivery.key)
                    results.append(handler(session, delivery))
                    fresh.append(
                        {"consumer": key[0], "message_id": key[1], "processed_at": utcnow()}
                    )
                if finish is not None:
                    finish(session)
                if fresh:
                    session.connection().execute(_RECORD_HANDLED, fresh)
        except Exception as exc:
            log.warning(
                "a batch of %d from %s failed (%s); handling them one at a time",
                len(deliveries),
                deliveries[0].queue,
                exc,
            )
            return [self.process(d, handler, finish) for d in deliveries]
        finally:
            logs.clear()
        self._observe_batch(deliveries, results, time.perf_counter() - started)
        return results

    @staticmethod
    def _handled_already(session, deliveries: list[Delivery]) -> set[tuple[str, str]]:
        """The ``(queue, key)`` of these messages recorded as handled already.

        On PostgreSQL read under each message's lock: of two deliveries of one message at once
        (a redelivery racing the original) the second waits for the first to commit, then finds
        it handled, instead of running the handler again only to fail on the primary key. Plain
        statements: an ORM get and add cost more than the handler of a small event."""
        keys = sorted({(d.queue, d.key) for d in deliveries})
        if session.bind.dialect.name == "postgresql":
            if len(keys) == 1:
                session.execute(_KEY_LOCK, {"key": "{}:{}".format(*keys[0])})
            else:  # in key order, so two batches sharing messages cannot deadlock
                session.execute(_KEY_LOCKS, {"keys": [f"{q}:{k}" for q, k in keys]})
        conn = session.connection()
        done = set()
        for queue in {q for q, _ in keys}:
            ids = [k for q, k in keys if q == queue]
            done.update((queue, k) for (k,) in conn.execute(_HANDLED, {"queue": queue, "ids": ids}))
        return done

    def _observe_batch(self, deliveries: list[Delivery], results: list, elapsed: float) -> None:
        service = self.container.config.get("SERVICE_NAME", "?")
        for queue in {d.queue for d in deliveries}:
            mine = [r for d, r in zip(deliveries, results, strict=True) if d.queue == queue]
            dup = sum(1 for r in mine if r == DUPLICATE)
            metrics.LATENCY.labels(service, queue).observe(elapsed)
            metrics.HANDLED.labels(service, queue, "ok").inc(len(mine) - dup)
            if dup:
                metrics.HANDLED.labels(service, queue, DUPLICATE).inc(dup)
        log.debug(
            "handled a batch of %d in %.1f ms (%.2f ms each)",
            len(deliveries),
            elapsed * 1000,
            elapsed * 1000 / len(deliveries),
        )

    def fail(self, delivery: Delivery, exc: Exception) -> str:
        """Retry after the next back-off step, or park after the last one."""
        attempt = delivery.attempts + 1
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if attempt <= len(self.delays_ms):
            self._retry_later(delivery, attempt, error)
            return RETRYING
        log.error("handler for %s failed %d times; parked: %s", delivery.queue, attempt, error)
        self._park(delivery, attempt, exc)
        return PARKED

    def _retry_later(self, delivery: Delivery, attempt: int, error: str) -> None:
        """Send the message to the delay queue of its attempt; it comes back by itself."""
        delay = self.delays_ms[attempt - 1]
        log.warning(
            "handler for %s failed (attempt %d, retry in %d ms): %s",
            delivery.queue,
            attempt,
            delay,
            error,
        )
        headers = _clean_headers(delivery.headers)
        headers.update(
            {
                topology.RETRY_HEADER: delivery.queue,
                topology.ATTEMPTS_HEADER: attempt,
                topology.ERROR_HEADER: error[:500],
            }
        )
        self.publisher.publish(
            delivery.body,
            exchange="",
            routing_key=topology.delay_queue_name(delay),
            headers=headers,
            message_id=delivery.message_id,
            content_type=delivery.content_type or "application/octet-stream",
        )

    def _park(self, delivery: Delivery, attempt: int, exc: Exception) -> None:
        """Keep the whole message with its error, for an admin to read and replay."""
        body = sealed.current().seal_body(delivery.body) if self.seal_parked else delivery.body
        headers = json.dumps(_jsonable(_clean_headers(delivery.headers)), ensure_ascii=False)
        with self.db.transaction() as session:
            session.add(
                ParkedMessage(
                    consumer=delivery.queue,
                    queue=delivery.queue,
                    exchange=delivery.exchange,
                    routing_key=delivery.routing_key,
                    message_id=delivery.message_id,
                    content_type=delivery.content_type,
                    headers=headers,
                    body=body,
                    attempts=attempt,
                    error="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
                )
            )

    # -- the parked-message store --------------------------------------------------------------

    def list_parked(self, include_replayed: bool = False, limit: int = 100) -> list[dict]:
        with self.db.transaction() as session:
            query = select(ParkedMessage).order_by(ParkedMessage.id).limit(limit)
            if not include_replayed:
                query = query.where(ParkedMessage.replayed_at.is_(None))
            return [parked_as_dict(p, self.redact) for p in session.scalars(query)]

    def prune_processed(self, older_than_days: float, batch: int = 5000) -> int:
        """Forget handled messages older than ``older_than_days``; returns how many.

        Deletes in batches (one short transaction each) so a large backlog never holds a long
        lock; the ``processed_at`` index finds them.
        """
        cutoff = utcnow() - timedelta(days=older_than_days)
        pruned = 0
        key = tuple_(ProcessedMessage.consumer, ProcessedMessage.message_id)
        while True:
            with self.db.transaction() as session:
                oldest = (
                    select(ProcessedMessage.consumer, ProcessedMessage.message_id)
                    .where(ProcessedMessage.processed_at < cutoff)
                    .limit(batch)
                )
                gone = session.execute(delete(ProcessedMessage).where(key.in_(oldest))).rowcount
            pruned += gone
            if gone < batch:
                return pruned

    def count_parked(self) -> int:
        with self.db.transaction() as session:
            return session.scalar(
                select(func.count())
                .select_from(ParkedMessage)
                .where(ParkedMessage.replayed_at.is_(None))
            )

    def replay(self, parked_id: int) -> dict | None:
        """Put a parked message back on its queue with a fresh set of attempts."""
        with self.db.transaction() as session:
            parked = session.get(ParkedMessage, parked_id)
            if parked is None or parked.replayed_at is not None:
                return parked_as_dict(parked, self.redact) if parked else None
        headers = json.loads(parked.headers or "{}")
        for key in (topology.ATTEMPTS_HEADER, topology.RETRY_HEADER, topology.ERROR_HEADER):
            headers.pop(key, None)
        # The default exchange routes by queue name: straight back where it came from. Publish
        # first, mark after: a crash between the two replays it twice, and handlers are
        # idempotent.
        self.publisher.publish(
            sealed.current().open_body(parked.body),
            exchange="",
            routing_key=parked.queue,
            headers=headers,
            message_id=parked.message_id,
            content_type=parked.content_type or "application/json",
        )
        with self.db.transaction() as session:
            parked = session.get(ParkedMessage, parked_id)
            parked.replayed_at = utcnow()
            return parked_as_dict(parked, self.redact)


def parked_as_dict(p: ParkedMessage, redact=None) -> dict:
    body = p.body
    if sealed.is_sealed_body(body):
        body = sealed.current().open_body(body)
        shown = redact(body) if redact else f"(sealed, {len(body)} bytes)"
    else:
        shown = body.decode("utf-8", "replace")
    return {
        "id": p.id,
        "queue": p.queue,
        "routing_key": p.routing_key,
        "message_id": p.message_id,
        "attempts": p.attempts,
        "error": p.error,
        "body": shown,
        "headers": json.loads(p.headers or "{}"),
        "parked_at": p.parked_at.isoformat(),
        "replayed_at": p.replayed_at.isoformat() if p.replayed_at else None,
    }
