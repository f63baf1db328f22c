"""The inbox: idempotent handling, bounded retries with back-off, and the parked-message store.

``self.inbox.process(delivery, handler)`` runs ``handler(session, delivery)`` in one transaction
with the record that this message was handled, so a redelivered message does nothing twice.
If the handler raises, the transaction rolls back and the message is republished to the delay
queue for its attempt (``retry.delays_ms``); after the last delay it is parked in
``kernel_parked`` with the error and the whole original message. ``replay`` puts a parked
message back on its queue once the fault is fixed; ``discard`` closes it for good, with who,
when and why kept on its row (and a log line).

The record of a handled message keeps a hash of its body: the same message id with the same
body again is a duplicate (acked, counted, nothing done); the same id with a *different* body is
a conflict, never dropped: it is parked (``kind`` ``conflict``, not handled) for the office to
replay (sent again under an id of its own, its body's hash) or discard, and logged.

Whatever a stored message holds, listing it is bounded (``MAX_SHOWN_CHARS``, ``MAX_DEPTH``):
no body, header or error, however large or deeply nested, can break ``/admin/parked``.

A service whose messages carry personal data (intake) makes its inbox with ``seal_parked=True``:
parked bodies are then sealed at rest (``services.kernel.sealed``) and listed through its
``redact`` function (the body with the personal data masked), never whole.

A failure while the service's own database does not answer (down, restarting, unreachable:
a ``SELECT 1`` on a fresh connection fails too) is not the message's fault and costs it no
attempt: :class:`DatabaseUnavailable` leaves the worker, and the consumer puts the message back
on its queue after a pause (``retry.requeue_delay_s``), as long as the outage lasts. Without
this a restart of PostgreSQL parked every message in flight once its few retries ran out
(tests/deploy/test_restarts.py showed it).

The record of handled messages is kept ``inbox.keep_processed_days`` (a redelivery, a retried
relay or a client resending comes within minutes; a month is a wide margin), then pruned by
:meth:`Inbox.prune_processed`, which every service runs hourly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import traceback
from datetime import timedelta

from nameko.extensions import DependencyProvider
from sqlalchemy import bindparam, delete, func, insert, select, text, tuple_

from services.kernel import logs, metrics, sealed, topology
from services.kernel.db import SharedEngine
from services.kernel.http import ApiError, nesting_depth
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
_HANDLED = select(_PROCESSED.c.message_id, _PROCESSED.c.body_hash).where(
    _PROCESSED.c.consumer == bindparam("queue"),
    _PROCESSED.c.message_id.in_(bindparam("ids", expanding=True)),
)
_RECORD_HANDLED = insert(_PROCESSED)

DUPLICATE = "duplicate"


class DatabaseUnavailable(Exception):
    """The handler failed while the service's database did not answer: requeue, no attempt."""


RETRYING = "retrying"
PARKED = "parked"
CONFLICT = "conflict"  # a message id seen before, with another body: parked, not handled
# what process() returns instead of a handler's result
OUTCOMES = (DUPLICATE, RETRYING, PARKED, CONFLICT)

# Kinds of parked message: a handler kept failing, or a message id came again with another body.
FAILED_KIND = "failed"
CONFLICT_KIND = "conflict"

# What the parked list shows of one message, at most: no stored message can break the listing.
MAX_SHOWN_CHARS = 16 * 1024  # of a body, of the headers, of an error
MAX_DEPTH = 64  # JSON nesting read back (headers) or redacted (intake's bodies)
MAX_REASON_CHARS = 500  # of a discard's reason

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


def _jsonable(value, depth: int = 0):
    """Headers as plain JSON types, nested at most ``MAX_DEPTH`` (deeper is cut, not recursed)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict | list | tuple) and depth >= MAX_DEPTH:
        return f"(nested deeper than {MAX_DEPTH} levels, cut)"
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, depth + 1) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def body_hash(body: bytes) -> str:
    """What the record of a handled message keeps of its body (hex SHA-256)."""
    return hashlib.sha256(body).hexdigest()


def json_bounds_error(raw: bytes, max_bytes: int, max_depth: int) -> str | None:
    """Why ``raw`` is too big or too deep to parse (Chinese / English), or None when it is not.

    Checked on the bytes, before anything recursive reads them."""
    if len(raw) > max_bytes:
        return (
            f"内容过大（{len(raw)} 字节，上限 {max_bytes}）/ "
            f"body too large ({len(raw)} bytes, limit {max_bytes})"
        )
    if nesting_depth(raw, stop_above=max_depth) > max_depth:
        return f"内容嵌套过深（超过 {max_depth} 层）/ body nested too deep (more than {max_depth} levels)"
    return None


def clip(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """``text`` cut to about ``limit`` characters, its head and its tail kept, saying so."""
    if len(text) <= limit:
        return text
    head, tail = limit // 4, limit - limit // 4
    return f"{text[:head]}\n… ({len(text) - head - tail} characters cut) …\n{text[-tail:]}"


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
            digest = body_hash(delivery.body)
            with self.db.transaction() as session:
                handled = self._handled_already(session, [delivery])
                if handled:
                    outcome = self._seen_before(session, delivery, digest, *handled.values())
                    return outcome
                result = handler(session, delivery)
                if finish is not None:
                    finish(session)
                handled = {"consumer": delivery.queue, "message_id": delivery.key}
                session.connection().execute(
                    _RECORD_HANDLED,
                    handled | {"processed_at": utcnow(), "body_hash": digest},
                )
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
                    digest = body_hash(delivery.body)
                    logs.clear()
                    logs.bind(queue=delivery.queue, message_id=delivery.key)
                    if key in done:
                        results.append(self._seen_before(session, delivery, digest, done[key]))
                        continue
                    done[key] = digest
                    results.append(handler(session, delivery))
                    fresh.append(
                        {
                            "consumer": key[0],
                            "message_id": key[1],
                            "processed_at": utcnow(),
                            "body_hash": digest,
                        }
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
    def _handled_already(session, deliveries: list[Delivery]) -> dict[tuple[str, str], str | None]:
        """The ``(queue, key)`` of these messages recorded as handled already, each with the hash
        of the body it was handled with (None for a record older than the hash).

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
        done = {}
        for queue in {q for q, _ in keys}:
            ids = [k for q, k in keys if q == queue]
            done.update(
                ((queue, k), h) for k, h in conn.execute(_HANDLED, {"queue": queue, "ids": ids})
            )
        return done

    def _seen_before(self, session, delivery: Delivery, digest: str, handled: str | None) -> str:
        """A message whose id was handled already: a duplicate if its body is the same (or the
        record is too old to say), else a conflict, parked in ``session`` (never dropped)."""
        if handled is None or handled == digest:
            return DUPLICATE
        service = self.container.config.get("SERVICE_NAME", "?")
        metrics.PARKED.labels(service, delivery.queue).inc()
        exists = session.scalar(
            select(ParkedMessage.id).where(
                ParkedMessage.consumer == delivery.queue,
                ParkedMessage.message_id == delivery.message_id,
                ParkedMessage.kind == CONFLICT_KIND,
                ParkedMessage.body_hash == digest,
            )
        )
        if exists is not None:  # this very message again (a redelivery): parked once is enough
            log.warning(
                "message id %s on %s reused with another body: parked already (#%d)",
                delivery.key,
                delivery.queue,
                exists,
            )
            return CONFLICT
        error = (
            f"消息 id {delivery.key} 已被另一条内容不同的消息使用（sha256 {handled[:12]}…），"
            f"本条（sha256 {digest[:12]}…）未处理 / message id {delivery.key} was already used by "
            f"a message with another body (sha256 {handled[:12]}…); this one (sha256 "
            f"{digest[:12]}…) was not handled: replay sends it under an id of its own, or discard it"
        )
        log.warning(
            "message id %s on %s reused with another body: parked as a conflict",
            delivery.key,
            delivery.queue,
        )
        session.add(self._parked_row(delivery, 0, error, CONFLICT_KIND, digest))
        return CONFLICT

    def _observe_batch(self, deliveries: list[Delivery], results: list, elapsed: float) -> None:
        service = self.container.config.get("SERVICE_NAME", "?")
        for queue in {d.queue for d in deliveries}:
            mine = [r for d, r in zip(deliveries, results, strict=True) if d.queue == queue]
            dup = sum(1 for r in mine if r == DUPLICATE)
            conflicts = sum(1 for r in mine if r == CONFLICT)
            metrics.LATENCY.labels(service, queue).observe(elapsed)
            metrics.HANDLED.labels(service, queue, "ok").inc(len(mine) - dup - conflicts)
            if dup:
                metrics.HANDLED.labels(service, queue, DUPLICATE).inc(dup)
            if conflicts:
                metrics.HANDLED.labels(service, queue, CONFLICT).inc(conflicts)
        log.debug(
            "handled a batch of %d in %.1f ms (%.2f ms each)",
            len(deliveries),
            elapsed * 1000,
            elapsed * 1000 / len(deliveries),
        )

    def fail(self, delivery: Delivery, exc: Exception) -> str:
        """Retry after the next back-off step, or park after the last one; or, while the
        database does not answer, :class:`DatabaseUnavailable` (the message goes back to its
        queue after a pause, its attempts untouched)."""
        if not self.database_answers():
            raise DatabaseUnavailable(f"{delivery.queue}: the database does not answer") from exc
        attempt = delivery.attempts + 1
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if attempt <= len(self.delays_ms):
            self._retry_later(delivery, attempt, error)
            return RETRYING
        log.error("handler for %s failed %d times; parked: %s", delivery.queue, attempt, error)
        self._park(delivery, attempt, exc)
        return PARKED

    def database_answers(self) -> bool:
        """Whether a fresh connection to the service's database answers ``SELECT 1`` now."""
        try:
            with self.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:  # any failure to reach it is the answer
            return False

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
        error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with self.db.transaction() as session:
            session.add(self._parked_row(delivery, attempt, error, FAILED_KIND))

    def _parked_row(
        self, delivery: Delivery, attempt: int, error: str, kind: str, digest: str | None = None
    ) -> ParkedMessage:
        body = sealed.current().seal_body(delivery.body) if self.seal_parked else delivery.body
        headers = json.dumps(_jsonable(_clean_headers(delivery.headers)), ensure_ascii=False)
        return ParkedMessage(
            consumer=delivery.queue,
            queue=delivery.queue,
            exchange=delivery.exchange,
            routing_key=delivery.routing_key,
            message_id=delivery.message_id,
            content_type=delivery.content_type,
            headers=headers,
            body=body,
            attempts=attempt,
            error=error,
            kind=kind,
            body_hash=digest or body_hash(delivery.body),
        )

    # -- the parked-message store --------------------------------------------------------------

    def list_parked(self, include_replayed: bool = False, limit: int = 100) -> list[dict]:
        """The parked messages waiting (oldest first); with ``include_replayed`` the replayed
        and discarded ones too. Each is shown bounded (:func:`parked_as_dict`)."""
        with self.db.transaction() as session:
            query = select(ParkedMessage).order_by(ParkedMessage.id).limit(limit)
            if not include_replayed:
                query = query.where(
                    ParkedMessage.replayed_at.is_(None), ParkedMessage.discarded_at.is_(None)
                )
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
                .where(ParkedMessage.replayed_at.is_(None), ParkedMessage.discarded_at.is_(None))
            )

    def replay(self, parked_id: int) -> dict | None:
        """Put a parked message back on its queue with a fresh set of attempts.

        A conflict (its id was handled with another body) goes back under an id of its own, the
        hash of its body, so that it is handled and not found in conflict again. A discarded
        message is not replayed (409)."""
        with self.db.transaction() as session:
            parked = session.get(ParkedMessage, parked_id)
            if parked is not None and parked.discarded_at is not None:
                raise _closed("discarded", parked_id)
            if parked is None or parked.replayed_at is not None:
                return parked_as_dict(parked, self.redact) if parked else None
        headers = _loads_bounded(parked.headers)
        if not isinstance(headers, dict):
            headers = {}
        body = sealed.current().open_body(parked.body)
        message_id = parked.message_id
        if parked.kind == CONFLICT_KIND:
            message_id = "sha256:" + body_hash(body)
        for key in (topology.ATTEMPTS_HEADER, topology.RETRY_HEADER, topology.ERROR_HEADER):
            headers.pop(key, None)
        # The default exchange routes by queue name: straight back where it came from. Publish
        # first, mark after: a crash between the two replays it twice, and handlers are
        # idempotent.
        self.publisher.publish(
            body,
            exchange="",
            routing_key=parked.queue,
            headers=headers,
            message_id=message_id,
            content_type=parked.content_type or "application/json",
        )
        with self.db.transaction() as session:
            parked = session.get(ParkedMessage, parked_id)
            parked.replayed_at = utcnow()
            log.info("parked message %d of %s replayed", parked_id, parked.queue)
            return parked_as_dict(parked, self.redact)

    def discard(self, parked_id: int, account: str, reason: str) -> dict | None:
        """Close a parked message for good: it leaves the list, its row stays with who discarded
        it, when and why (``/admin/parked?all=1`` shows them), and a log line says so.

        None for an unknown id; discarding twice answers the first discard; a replayed message
        cannot be discarded (409): it has been handled since."""
        reason = (reason or "").strip()
        if not reason:
            raise ValueError("a discard needs a reason")
        with self.db.transaction() as session:
            parked = session.get(ParkedMessage, parked_id)
            if parked is None:
                return None
            if parked.discarded_at is None:
                if parked.replayed_at is not None:
                    raise _closed("replayed", parked_id)
                parked.discarded_at = utcnow()
                parked.discarded_by = account[:100]
                parked.discard_reason = reason[:MAX_REASON_CHARS]
                log.warning(
                    "parked message %d of %s (message id %s) discarded by %s: %s",
                    parked_id,
                    parked.queue,
                    parked.message_id,
                    parked.discarded_by,
                    parked.discard_reason,
                )
            return parked_as_dict(parked, self.redact)


def _closed(how: str, parked_id: int) -> ApiError:
    zh = {"discarded": "已被丢弃", "replayed": "已重放"}[how]
    return ApiError(
        "conflict",
        f"暂存消息 {parked_id} {zh}",
        f"parked message {parked_id} was {how} already",
        status=409,
    )


def _loads_bounded(text: str | None):
    """Stored JSON (headers) read back only when small and shallow enough: else a note."""
    text = text or "{}"
    raw = text.encode("utf-8", "replace")
    too = json_bounds_error(raw, MAX_SHOWN_CHARS, MAX_DEPTH)
    if too is not None:
        return {"_not_shown": too}
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return {"_not_shown": "不是有效的 JSON / not JSON"}


def _shown_body(body: bytes, redact) -> str:
    if sealed.is_sealed_body(body):
        body = sealed.current().open_body(body)
        shown = redact(body) if redact else f"(sealed, {len(body)} bytes)"
    else:
        shown = body[: MAX_SHOWN_CHARS * 4].decode("utf-8", "replace")
        if len(body) > MAX_SHOWN_CHARS * 4:
            shown += f"… ({len(body)} bytes in all)"
    return clip(shown)


def parked_as_dict(p: ParkedMessage, redact=None) -> dict:
    """One parked message as listed: body (redacted when sealed), headers and error each cut
    to ``MAX_SHOWN_CHARS``; a body that cannot be shown says why instead of failing the list."""
    try:
        shown = _shown_body(p.body, redact)
    except Exception as exc:  # whatever a stored message holds, the listing answers
        log.warning("parked message %s cannot be shown: %r", p.id, exc)
        shown = f"(cannot be shown: {type(exc).__name__}, {len(p.body or b'')} bytes)"
    return {
        "id": p.id,
        "kind": p.kind or FAILED_KIND,
        "queue": p.queue,
        "routing_key": p.routing_key,
        "message_id": p.message_id,
        "attempts": p.attempts,
        "error": clip(p.error or ""),
        "body": shown,
        "body_bytes": len(p.body or b""),
        "headers": _loads_bounded(p.headers),
        "parked_at": p.parked_at.isoformat(),
        "replayed_at": p.replayed_at.isoformat() if p.replayed_at else None,
        "discarded_at": p.discarded_at.isoformat() if p.discarded_at else None,
        "discarded_by": p.discarded_by,
        "discard_reason": p.discard_reason,
    }
