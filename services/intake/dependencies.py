"""How the HTTP channels hand a submission to the station queues and learn what became of it."""

from __future__ import annotations

import json
import logging
import time

from eventlet.event import Event
from nameko.extensions import DependencyProvider

from services.intake import intake
from services.kernel import topology
from services.kernel.db import SharedEngine
from services.kernel.publisher import ConfirmedPublisher

log = logging.getLogger(__name__)

# How long an HTTP channel waits for the station's intake worker before answering "received".
DEFAULT_WAIT_S = 5.0


class NotQueued(Exception):
    """The broker did not confirm the submission: nothing was queued; the sender should retry."""


class ChannelPublisher(ConfirmedPublisher):
    """The HTTP channels' own confirming connection: a citizen's submission does not queue
    behind the outbox relay's events (nameko shares an extension per class)."""


class StationChannel(DependencyProvider):
    """Publishes a submission to ``lianxin.intake``/``station.<code>`` with confirms, then polls
    intake's database (by submission id) for the result the station's worker recorded.

    The worker may run in another intake process: the database is the meeting point. When it
    runs in this one, it wakes the waiting request as soon as it committed (``done``), so the
    answer does not wait for the next poll.
    """

    publisher = ChannelPublisher()
    db = SharedEngine()

    def setup(self):
        self.wait_s = float(self.container.config["SERVICE"].get("http_wait_s", DEFAULT_WAIT_S))
        self._waiting: dict[str, Event] = {}

    def done(self, submission_id: str | None) -> None:
        """A worker of this process committed the submission's result: wake its waiter."""
        event = self._waiting.get(submission_id) if submission_id else None
        if event is not None and not event.ready():
            event.send()

    def get_dependency(self, worker_ctx):
        return self

    def publish(self, message: dict) -> None:
        """Queue one submission; returns once the broker confirmed it, else raises NotQueued."""
        try:
            self._publish(message)
        except Exception as exc:  # broker down, connection lost, no confirm: say so, never hide
            log.warning("submission %s not queued: %s", message["submission_id"], exc)
            raise NotQueued(str(exc)) from exc

    def _publish(self, message: dict) -> None:
        self.publisher.publish(
            json.dumps(message, ensure_ascii=False).encode("utf-8"),
            exchange=topology.INTAKE_EXCHANGE.name,
            routing_key=topology.station_routing_key(message["station"]),
            message_id=message["submission_id"],
            content_type="application/json; charset=utf-8",
        )

    def result(self, submission_id: str) -> dict | None:
        with self.db.transaction() as session:
            return intake.submission_result(session, submission_id)

    def wait(self, submission_id: str, timeout: float | None = None) -> dict:
        """The submission's result, or ``{"status": "pending"}`` when it takes too long."""
        deadline = time.monotonic() + (self.wait_s if timeout is None else timeout)
        event = self._waiting.setdefault(submission_id, Event())
        pause = 0.05
        try:
            while True:
                found = self.result(submission_id)
                if found is not None:
                    return {**found, "submission_id": submission_id}
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return {"status": "pending", "submission_id": submission_id}
                if event.ready():
                    event = self._waiting[submission_id] = Event()
                event.wait(min(pause, remaining))
                pause = min(pause * 1.5, 0.3)
        finally:
            self._waiting.pop(submission_id, None)

    def submit(self, message: dict) -> dict:
        # waiting before publishing: a worker of this process may finish before publish returns
        self._waiting.setdefault(message["submission_id"], Event())
        try:
            self.publish(message)
        except NotQueued:
            self._waiting.pop(message["submission_id"], None)
            raise
        return self.wait(message["submission_id"])
