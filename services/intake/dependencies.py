"""How the HTTP channels hand a submission to the station queues and learn what became of it."""

from __future__ import annotations

import json
import time

import eventlet
from nameko.extensions import DependencyProvider

from services.intake import intake
from services.kernel import topology
from services.kernel.db import SharedEngine
from services.kernel.publisher import ConfirmedPublisher

# How long an HTTP channel waits for the station's intake worker before answering "received".
DEFAULT_WAIT_S = 5.0


class StationChannel(DependencyProvider):
    """Publishes a submission to ``lianxin.intake``/``station.<code>`` with confirms, then polls
    intake's database (by submission id) for the result the station's worker recorded.

    The worker may run in another intake process: the database is the meeting point.
    """

    publisher = ConfirmedPublisher()
    db = SharedEngine()

    def setup(self):
        self.wait_s = float(self.container.config["SERVICE"].get("http_wait_s", DEFAULT_WAIT_S))

    def get_dependency(self, worker_ctx):
        return self

    def publish(self, message: dict) -> None:
        """Queue one submission; returns once the broker confirmed it."""
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
        pause = 0.02
        while True:
            found = self.result(submission_id)
            if found is not None:
                return {**found, "submission_id": submission_id}
            if time.monotonic() >= deadline:
                return {"status": "pending", "submission_id": submission_id}
            eventlet.sleep(pause)
            pause = min(pause * 1.5, 0.2)

    def submit(self, message: dict) -> dict:
        self.publish(message)
        return self.wait(message["submission_id"])
