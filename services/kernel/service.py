"""What every Lianxin service has: its database, its inbox, health and the parked store.

A service class inherits :class:`ServiceBase` and adds its own entrypoints. ``GET /health``
answers 200 with JSON while the database answers; ``/admin/parked`` lists messages whose
handlers kept failing and ``POST /admin/parked/<id>/replay`` sends one back to its queue.
"""

from __future__ import annotations

from nameko.dependency_providers import Config
from nameko.web.handlers import http
from sqlalchemy import text

from services.kernel import outbox
from services.kernel.db import Database
from services.kernel.http import ApiError, json_response, not_found
from services.kernel.inbox import Inbox
from services.kernel.outbox import OutboxRelay


class RelayDependency(Database):
    """Pulls the outbox relay into every service that has a database."""

    relay = OutboxRelay()


class ServiceBase:
    name = "base"

    db = RelayDependency()
    inbox = Inbox()
    config = Config()  # the flattened deployment config; the service's own section is SERVICE

    def health_details(self, session) -> dict:
        """Service-specific figures for /health; override to add some."""
        return {}

    @http("GET", "/health")
    def health(self, request):
        try:
            with self.db.transaction() as session:
                session.execute(text("SELECT 1"))
                body = {
                    "service": self.name,
                    "status": "ok",
                    "outbox_backlog": outbox.backlog(session),
                    **self.health_details(session),
                }
            body["parked"] = self.inbox.count_parked()
            return json_response(body)
        except Exception as exc:  # the answer itself says what is wrong
            return json_response({"service": self.name, "status": "error", "error": str(exc)}, 503)

    @http("GET", "/admin/parked")
    def list_parked(self, request):
        include = request.args.get("all") in ("1", "true")
        return json_response({"parked": self.inbox.list_parked(include_replayed=include)})

    @http("POST", "/admin/parked/<int:parked_id>/replay")
    def replay_parked(self, request, parked_id):
        try:
            replayed = self.inbox.replay(parked_id)
            if replayed is None:
                raise not_found(f"parked message {parked_id}")
        except ApiError as err:
            return err.response()
        return json_response({"replayed": replayed})
