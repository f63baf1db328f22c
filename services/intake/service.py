"""The intake nameko service: consumes its stations' queues and the registry's station events.

Which stations a process serves comes from ``services.intake.stations`` in the deployment
config: ``all`` (every active station intake knows of, growing as the registry announces new
ones) or a list of codes, so a busy station can get an intake process of its own.
"""

from __future__ import annotations

import logging
import time
from functools import partial

import eventlet
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from nameko.web.handlers import http
from sqlalchemy.orm import Session

from services.intake import intake, unrouted
from services.kernel import topology
from services.kernel.config import station_selection
from services.kernel.db import make_engine
from services.kernel.events import parse_event
from services.kernel.http import json_response, not_found
from services.kernel.messaging import consume_reliably
from services.kernel.publisher import ConfirmedPublisher
from services.kernel.service import ServiceBase

log = logging.getLogger(__name__)


def selected_stations(container) -> list:
    """The station queues this process consumes at start."""
    wanted = station_selection(container.config["SERVICE"].get("stations"))
    if wanted.codes is not None:
        return [topology.station_queue(code) for code in wanted.codes]
    engine = make_engine(container.config["DB_URL"])
    try:
        with Session(engine) as session:
            return [
                topology.station_queue(c)
                for c in intake.known_station_codes(session)
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

    def serves(self, code: str) -> bool:
        return station_selection(self.container.config["SERVICE"].get("stations")).serves(code)

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

    def consumed(self) -> list[str]:
        return sorted(intake.station_of_queue(q) for q in self._consumer().consuming)


class IntakeService(ServiceBase):
    name = "intake"

    stations = StationQueues()

    def health_details(self, session):
        return {"stations": self.stations.consumed(), "submissions": intake.counts(session)}

    @consume_reliably(queues=selected_stations)
    def receive_submission(self, delivery):
        return self.inbox.process(delivery, intake.receive)

    @consume_reliably(queues=[topology.event_queue("intake.events")])
    def on_event(self, delivery):
        return self.inbox.process(delivery, self._apply_event)

    def _apply_event(self, session, delivery):
        code = intake.apply_event(session, parse_event(delivery.body))
        if code is not None and self.stations.serves(code):
            self.stations.consume(code)

    @timer(interval=5)
    def pick_up_stations(self):
        """Consume every known station this process serves. Several intake processes share
        ``intake.events``, so the one that took a station's announcement may not be the one
        that serves it: the others find the station here, in the shared copy, within seconds."""
        with self.db.transaction() as session:
            codes = intake.known_station_codes(session)
        for code in codes:
            if self.stations.serves(code):
                self.stations.consume(code)

    @http("GET", "/categories")
    def http_categories(self, request):
        with self.db.transaction() as session:
            return json_response({"categories": intake.categories(session)})

    @http("POST", "/admin/unrouted/replay")
    def http_replay_unrouted(self, request):
        return json_response(self.stations.replay_unrouted())

    @http("GET", "/submissions")
    def http_submissions(self, request):
        limit = min(int(request.args.get("limit", 100)), 1000)
        with self.db.transaction() as session:
            found = intake.submissions(
                session, request.args.get("submission_id"), request.args.get("status"), limit
            )
        return json_response({"submissions": found})

    @http("GET", "/issues/<string:number>")
    def http_issue(self, request, number):
        with self.db.transaction() as session:
            status = intake.issue_status(session, number)
        if status is None:
            return not_found(number).response()
        return json_response(status)
