"""The routing nameko service: consumes intake and registry events, serves cases over HTTP."""

from __future__ import annotations

from nameko.extensions import DependencyProvider
from nameko.web.handlers import http

from services.kernel import topology
from services.kernel.db import SharedEngine
from services.kernel.events import parse_event
from services.kernel.http import json_response, not_found
from services.kernel.messaging import consume_reliably
from services.kernel.service import ServiceBase
from services.routing import catalogue, routing


class CatalogueAnnouncer(DependencyProvider):
    """At start, announces the dispatch catalogue if its content changed since last time."""

    db = SharedEngine()

    def start(self):
        with self.db.transaction() as session:
            routing.publish_catalogue(session)

    def get_dependency(self, worker_ctx):
        return None


class RoutingService(ServiceBase):
    name = "routing"

    catalogue_announcer = CatalogueAnnouncer()

    def health_details(self, session):
        return {"cases": routing.counts(session)}

    @consume_reliably(queues=[topology.event_queue("routing.events")])
    def on_event(self, delivery):
        return self.inbox.process(
            delivery, lambda session, d: routing.handle_event(session, parse_event(d.body))
        )

    @http("GET", "/catalogue")
    def http_catalogue(self, request):
        return json_response(catalogue.published_form())

    @http("GET", "/cases/<string:number>")
    def http_case(self, request, number):
        with self.db.transaction() as session:
            view = routing.case_view(session, number)
        if view is None:
            return not_found(number).response()
        return json_response(view)
