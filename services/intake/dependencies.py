"""Intake's nameko dependencies: how the HTTP channels hand a submission to the station queues
and learn what became of it (``StationChannel``), which station queues a process consumes
(``selected_stations``, ``StationQueues``), and waiting for routing's word on a case
(``StepWaiter``).

Which stations a process serves comes from ``services.intake.stations`` in the deployment
config: ``all`` (every active station intake knows of, growing as the registry announces new
ones), a list of codes, or a shard, so a busy station can get an intake process of its own.
"""

from __future__ import annotations

import json
import logging
import time
from functools import partial

import eventlet
from eventlet.event import Event
from nameko.extensions import DependencyProvider
from sqlalchemy.orm import Session

from services.intake import known, progress, unrouted
from services.intake.intake import station_of_queue
from services.intake.settings import IntakeSettings
from services.intake.submissions import submission_result
from services.kernel import topology
from services.kernel.db import SharedEngine, make_engine
from services.kernel.http import ApiError
from services.kernel.publisher import ConfirmedPublisher

log = logging.getLogger(__name__)


class NotQueued(ApiError):
    """The broker did not confirm the submission: nothing was queued; the sender should retry.

    An ``ApiError`` (503): ``@guard`` answers it in the one error format; ``note`` says what
    was kept all the same."""

    def __init__(self, reason: str, note: str | None = None):
        super().__init__(
            "not_queued",
            "暂时无法受理，请稍后重新提交",
            "could not queue the submission right now; please send it again",
            fields={"_body": [note]} if note else {},
            status=503,
        )
        self.reason = reason


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
        # read at start, like the service's own ``settings`` (the defaults are there)
        self.wait_s = IntakeSettings.from_config(self.container.config).http_wait_s
        self._waiting: dict[str, Event] = {}

    def done(self, submission_id: str | None) -> None:
        """A worker of this process committed the submission's result: wake its waiter."""
        event = self._waiting.get(submission_id) if submission_id else None
        if event is not None and not event.ready():
            event.send()

    def get_dependency(self, worker_ctx):
        return self

    def publish(self, message: dict, note: str | None = None) -> None:
        """Queue one submission; returns once the broker confirmed it, else raises NotQueued."""
        try:
            self._publish(message)
        except Exception as exc:  # broker down, connection lost, no confirm: say so, never hide
            log.warning("submission %s not queued: %s", message["submission_id"], exc)
            raise NotQueued(str(exc), note) from exc

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
            return submission_result(session, submission_id)

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


def selected_stations(container) -> list:
    """The station queues this process consumes at start (``@consume_reliably`` asks at setup)."""
    wanted = IntakeSettings.from_config(container.config).stations
    if wanted.codes is not None:
        return [topology.station_queue(code) for code in wanted.codes]
    engine = make_engine(container.config["DB_URL"])
    try:
        with Session(engine) as session:
            return [
                topology.station_queue(c)
                for c in known.known_station_codes(session)
                if wanted.serves(c)
            ]
    finally:
        engine.dispose()


class StationQueues(DependencyProvider):
    """Lets a worker start consuming a station's queue when the registry announces it.

    Once a new station's queue is consumed, whatever waited for it in ``intake.unrouted`` is
    sent on (the same happens once at start, for stations that got queues while intake was down).
    """

    publisher = ConfirmedPublisher()

    def get_dependency(self, worker_ctx):
        return self

    def start(self):
        self.container.spawn_managed_thread(self._send_on_waiting, identifier="unrouted-replay")

    def _consumer(self):
        return next(
            ep for ep in self.container.entrypoints if ep.method_name == "receive_submission"
        )

    def consume(self, code: str) -> bool:
        queue = topology.station_queue(code)
        if not self._consumer().add_queue(queue):
            return False
        self.container.spawn_managed_thread(
            partial(self._send_on_waiting, queue.name), identifier="unrouted-replay"
        )
        return True

    def _send_on_waiting(self, queue_name: str | None = None, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        consumer = self._consumer()
        while time.monotonic() < deadline and (
            not consumer.consuming if queue_name is None else queue_name not in consumer.consuming
        ):
            eventlet.sleep(0.1)
        try:
            self.replay_unrouted()
        except Exception:  # the messages stay in intake.unrouted; an operator can replay
            log.exception("could not send on the messages waiting in intake.unrouted")

    def replay_unrouted(self) -> dict:
        return unrouted.replay(self.container.config["AMQP_URI"], self.publisher)

    def list_unrouted(self, limit: int) -> dict:
        return unrouted.peek(self.container.config["AMQP_URI"], limit)

    def consumed(self) -> list[str]:
        return sorted(station_of_queue(q) for q in self._consumer().consuming)


class StepWaiter(DependencyProvider):
    """Waits (briefly, polling intake's copy) until routing's event about a case arrived: after
    a citizen's rating or reopening, the status page then shows what the citizen did."""

    db = SharedEngine()

    def get_dependency(self, worker_ctx):
        return self

    def wait_for(self, number: str, step: str, timeout: float = 5) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.db.transaction() as session:
                if progress.has_step(session, number, step):
                    return True
            eventlet.sleep(0.1)
        return False
