"""What every Lianxin service has: its database, its inbox, health, metrics, the parked store.

A service class inherits :class:`ServiceBase` and adds its own entrypoints. ``GET /health``
(liveness) answers 200 with JSON while the database answers; ``GET /ready`` answers 200 once
every queue the process should consume is consumed; ``GET /metrics`` is Prometheus text;
``/admin/parked`` lists messages whose handlers kept failing (or that reused a handled message's
id with another body), ``POST /admin/parked/<id>/replay`` sends one back to its queue and
``POST /admin/parked/<id>/discard`` (with a reason) closes one for good, audited on its row (all
three the office's; health, ready and metrics answer anybody, for probes: docs/security.md).
"""

from __future__ import annotations

import logging

from kombu import Connection
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from werkzeug.wrappers import Response

from services.kernel import metrics, outbox
from services.kernel.auth import current, guard, public
from services.kernel.db import Database
from services.kernel.http import flag_arg, int_arg, invalid, json_response, not_found, read_json
from services.kernel.inbox import MAX_REASON_CHARS, Inbox
from services.kernel.messaging import ReliableConsumer
from services.kernel.outbox import OutboxRelay
from services.kernel.rpc import rpc
from services.kernel.sessions import EndedSessions
from services.kernel.settings import kernel_settings
from services.kernel.web import http

log = logging.getLogger(__name__)


class RelayDependency(Database):
    """Pulls the outbox relay into every service that has a database."""

    relay = OutboxRelay()


class Consumers(DependencyProvider):
    """What this process consumes, for readiness and queue-depth metrics."""

    def get_dependency(self, worker_ctx):
        return self

    def entrypoints(self) -> list[ReliableConsumer]:
        return [ep for ep in self.container.entrypoints if isinstance(ep, ReliableConsumer)]

    def ready(self) -> bool:
        return all({q.name for q in ep.queues()} <= ep.consuming for ep in self.entrypoints())

    def depths(self) -> dict[str, int]:
        names = sorted({name for ep in self.entrypoints() for name in ep.consuming})
        with Connection(self.container.config["AMQP_URI"], connect_timeout=5) as conn:
            channel = conn.default_channel
            return {name: channel.queue_declare(name, passive=True).message_count for name in names}


class ServiceBase:
    name = "base"

    db = RelayDependency()
    inbox = Inbox()
    config = Config()  # the flattened deployment config; the service's own section is SERVICE
    consumers = Consumers()
    ended_sessions = EndedSessions()  # @guard refuses a session the registry ended early

    def health_details(self, session) -> dict:
        """Service-specific figures for /health; override to add some."""
        return {}

    def _status(self) -> dict:
        with self.db.transaction() as session:
            session.execute(text("SELECT 1"))
            body = {
                "service": self.name,
                "status": "ok",
                "outbox_backlog": outbox.backlog(session),
                **self.health_details(session),
            }
        body["parked"] = self.inbox.count_parked()
        return body

    @http("GET", "/health")
    @public
    def health(self, request):
        try:
            return json_response(self._status())
        except Exception as exc:  # the answer itself says what is wrong
            return json_response({"service": self.name, "status": "error", "error": str(exc)}, 503)

    @rpc
    def status(self):
        """/health over RPC, with the depth of every queue this process consumes."""
        return {**self._status(), "queues": self.consumers.depths()}

    @http("GET", "/ready")
    @public
    def ready(self, request):
        ready = self.consumers.ready()
        return json_response({"service": self.name, "ready": ready}, 200 if ready else 503)

    @http("GET", "/metrics")
    @public
    def http_metrics(self, request):
        with self.db.transaction() as session:
            metrics.OUTBOX_BACKLOG.labels(self.name).set(outbox.backlog(session))
        metrics.PARKED_WAITING.labels(self.name).set(self.inbox.count_parked())
        for queue, depth in self.consumers.depths().items():
            metrics.QUEUE_DEPTH.labels(self.name, queue).set(depth)
        return Response(metrics.render(), mimetype="text/plain", content_type=CONTENT_TYPE_LATEST)

    @timer(interval=3600)
    def prune_processed(self):
        """Hourly: forget handled messages older than ``inbox.keep_processed_days``."""
        days = kernel_settings(self.config).keep_processed_days
        pruned = self.inbox.prune_processed(days)
        if pruned:
            log.info("pruned %d handled-message records older than %s days", pruned, days)

    @http("GET", "/admin/parked")
    @guard("office")
    def list_parked(self, request):
        include = flag_arg(request.args.get("all"), "all") or False
        limit = int_arg(request.args.get("limit"), "limit", 100, minimum=1, maximum=500)
        return json_response(
            {"parked": self.inbox.list_parked(include_replayed=include, limit=limit)}
        )

    @http("POST", "/admin/parked/<int:parked_id>/replay")
    @guard("office")
    def replay_parked(self, request, parked_id):
        replayed = self.inbox.replay(parked_id)
        if replayed is None:
            raise not_found(f"parked message {parked_id}")
        return json_response({"replayed": replayed})

    @http("POST", "/admin/parked/<int:parked_id>/discard")
    @guard("office")
    def discard_parked(self, request, parked_id):
        """Close a parked message for good, with a reason: ``{"reason": "…"}``. The row stays
        with who discarded it, when and why (``/admin/parked?all=1``)."""
        reason = discard_reason(request)
        discarded = self.inbox.discard(parked_id, current(request).account, reason)
        if discarded is None:
            raise not_found(f"parked message {parked_id}")
        return json_response({"discarded": discarded})


REASON_BODY_BYTES = 8 * 1024


def discard_reason(request) -> str:
    """The required ``reason`` of a discard, from a small JSON object body (the kernel's input
    layer: size, charset and depth checked before it is parsed), or an ``invalid`` answer."""
    request.max_content_length = REASON_BODY_BYTES
    data = read_json(request, max_depth=8) if request.get_data(cache=True) else {}
    reason = data.get("reason") if isinstance(data, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        raise invalid({"reason": ["须写明丢弃原因 / a reason is required"]})
    if len(reason.strip()) > MAX_REASON_CHARS:
        raise invalid(
            {
                "reason": [
                    f"原因最多 {MAX_REASON_CHARS} 字 / "
                    f"a reason has at most {MAX_REASON_CHARS} characters"
                ]
            }
        )
    return reason.strip()
