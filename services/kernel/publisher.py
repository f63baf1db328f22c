"""Publishing with publisher confirms: a message counts as sent only once the broker has it.

``publish`` sends one message and waits for its confirm. ``publish_many`` sends a whole batch
on a confirming channel, then waits once for every confirm: one round trip per batch instead
of one per message, which is what lets the outbox relay keep up with a busy service.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import amqp
from eventlet.semaphore import Semaphore
from kombu import Connection
from nameko.extensions import SharedExtension

log = logging.getLogger(__name__)


@dataclass
class Outgoing:
    """One message for :meth:`ConfirmedPublisher.publish_many`."""

    body: bytes
    exchange: str
    routing_key: str
    message_id: str
    headers: dict = field(default_factory=dict)
    content_type: str = "application/json"
    type: str | None = None


class NotConfirmed(Exception):
    """The broker did not take a message: returned (no queue bound), nacked, or no answer."""


class ConfirmedPublisher(SharedExtension):
    """One confirming channel per container, used by the outbox relay and by retries.

    ``publish`` returns only after the broker confirmed the message; with ``mandatory`` a message
    no queue took raises instead. Greenthreads take turns: py-amqp channels are not re-entrant.
    """

    confirm_timeout_s = 30.0

    def setup(self):
        self._lock = Semaphore(1)
        self._conn = None
        self._producer = None
        self._batch_conn = None
        self._batch_channel = None

    def _connect(self):
        if self._conn is None:
            conn = Connection(
                self.container.config["AMQP_URI"],
                connect_timeout=5,
                transport_options={"confirm_publish": True},
            )
            conn.connect()
            self._conn = conn
            self._producer = conn.Producer(serializer=None)
        return self._producer

    def _reset(self):
        conns = (self._conn, self._batch_conn)
        self._conn, self._producer = None, None
        self._batch_conn, self._batch_channel = None, None
        for conn in conns:
            if conn is not None:
                try:
                    conn.release()
                except Exception:  # the connection is already broken; nothing to save
                    log.debug("closing a broken publisher connection failed", exc_info=True)

    def _batch(self) -> amqp.Channel:
        """A plain py-amqp channel in confirm mode; confirms are counted, not awaited one by one."""
        if self._batch_channel is None:
            conn = Connection(self.container.config["AMQP_URI"], connect_timeout=5)
            conn.connect()
            channel = conn.connection.channel()
            channel.confirm_select()
            channel.lx_seq = 0  # the broker numbers confirms 1, 2, … per channel
            channel.lx_acked = 0  # every tag up to here is confirmed
            channel.lx_bad = {}  # tag → why the broker did not take it
            channel.lx_single = set()  # tags confirmed one by one above lx_acked
            channel.lx_returned = set()  # message ids returned as unroutable

            def on_ack(tag, multiple):
                if multiple:
                    channel.lx_acked = max(channel.lx_acked, tag)
                else:
                    channel.lx_single.add(tag)

            def on_nack(tag, multiple):
                channel.lx_bad[tag] = "nacked by the broker"
                on_ack(tag, multiple)

            def on_return(exc, exchange, routing_key, message):
                channel.lx_returned.add(message.properties.get("message_id"))

            channel.events["basic_ack"].add(on_ack)
            channel.events["basic_nack"].add(on_nack)
            channel.events["basic_return"].add(on_return)
            self._batch_conn, self._batch_channel = conn, channel
        return self._batch_channel

    def publish_many(self, messages: list[Outgoing]) -> list[Exception | None]:
        """Publish ``messages`` (persistent, mandatory) and wait for every confirm.

        Returns, per message, ``None`` when the broker confirmed it and routed it to at least
        one queue, else the exception saying why not (returned as unroutable, nacked). A broken
        connection or no confirm within ``confirm_timeout_s`` raises: then nothing of the batch
        counts as sent, and sending it again is safe (consumers are idempotent).
        """
        if not messages:
            return []
        with self._lock:
            try:
                return self._publish_many(messages)
            except Exception:
                self._reset()
                raise

    def _publish_many(self, messages: list[Outgoing]) -> list[Exception | None]:
        channel = self._batch()
        channel.lx_returned.clear()
        first = channel.lx_seq + 1
        for m in messages:
            props = {
                "content_type": m.content_type,
                "content_encoding": "utf-8",
                "delivery_mode": 2,
                "message_id": m.message_id,
                "application_headers": m.headers or {},
            }
            if m.type:
                props["type"] = m.type
            channel.basic_publish(
                amqp.Message(m.body, **props),
                exchange=m.exchange,
                routing_key=m.routing_key,
                mandatory=True,
            )
            channel.lx_seq += 1
        last = channel.lx_seq
        self._await_confirms(channel, first, last)
        outcome = []
        for tag, m in zip(range(first, last + 1), messages, strict=True):
            if tag in channel.lx_bad:
                outcome.append(NotConfirmed(channel.lx_bad.pop(tag)))
            elif m.message_id in channel.lx_returned:
                outcome.append(NotConfirmed(f"unroutable: {m.exchange} {m.routing_key}"))
            else:
                outcome.append(None)
        return outcome

    def _await_confirms(self, channel, first: int, last: int) -> None:
        """Read the broker's confirms until every tag from ``first`` to ``last`` has one."""
        deadline = time.monotonic() + self.confirm_timeout_s

        def confirmed(tag):
            return tag <= channel.lx_acked or tag in channel.lx_single

        while not all(confirmed(tag) for tag in range(first, last + 1)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotConfirmed(f"no confirm for {last - first + 1} messages in time")
            self._batch_conn.drain_events(timeout=remaining)
        channel.lx_acked = max(channel.lx_acked, last)
        channel.lx_single = {t for t in channel.lx_single if t > last}

    def publish(
        self,
        body: bytes,
        *,
        exchange: str,
        routing_key: str,
        headers: dict | None = None,
        message_id: str | None = None,
        content_type: str = "application/json",
        mandatory: bool = True,
        **properties,
    ) -> None:
        with self._lock:
            try:
                producer = self._connect()
                producer.publish(
                    body,
                    exchange=exchange,
                    routing_key=routing_key,
                    headers=headers or {},
                    message_id=message_id,
                    content_type=content_type,
                    content_encoding="utf-8",
                    delivery_mode=2,
                    mandatory=mandatory,
                    retry=False,
                    **properties,
                )
            except Exception:
                self._reset()
                raise

    def stop(self):
        with self._lock:
            self._reset()

    def kill(self):
        self._reset()
