"""Publishing with publisher confirms: a message counts as sent only once the broker has it."""

from __future__ import annotations

import logging

from eventlet.semaphore import Semaphore
from kombu import Connection
from nameko.extensions import SharedExtension

log = logging.getLogger(__name__)


class ConfirmedPublisher(SharedExtension):
    """One confirming channel per container, used by the outbox relay and by retries.

    ``publish`` returns only after the broker confirmed the message; with ``mandatory`` a message
    no queue took raises instead. Greenthreads take turns: py-amqp channels are not re-entrant.
    """

    def setup(self):
        self._lock = Semaphore(1)
        self._conn = None
        self._producer = None

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
        conn, self._conn, self._producer = self._conn, None, None
        if conn is not None:
            try:
                conn.release()
            except Exception:  # the connection is already broken; nothing to save
                log.debug("closing a broken publisher connection failed", exc_info=True)

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
