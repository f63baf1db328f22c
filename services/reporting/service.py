"""The reporting nameko service: consumes every event, serves the monthly figures."""

from __future__ import annotations

from datetime import UTC, datetime

from nameko.web.handlers import http

from services.kernel import topology
from services.kernel.events import parse_event
from services.kernel.http import ApiError, json_response
from services.kernel.messaging import consume_reliably
from services.kernel.service import ServiceBase
from services.reporting import reporting
from services.reporting.projections import month_of


class ReportingService(ServiceBase):
    name = "reporting"

    def health_details(self, session):
        return {"events": reporting.event_count(session)}

    @consume_reliably(queues=[topology.event_queue("reporting.events")])
    def on_event(self, delivery):
        return self.inbox.process(
            delivery, lambda session, d: reporting.record(session, parse_event(d.body))
        )

    @http("GET", "/stats/monthly")
    def http_monthly(self, request):
        month = request.args.get("month") or month_of(datetime.now(UTC))
        try:
            datetime.strptime(month, "%Y-%m")
        except ValueError:
            return ApiError(
                "invalid",
                "月份格式应为 YYYY-MM",
                "month must be YYYY-MM",
                fields={"month": ["格式应为 YYYY-MM / must be YYYY-MM"]},
            ).response()
        with self.db.transaction() as session:
            return json_response(reporting.monthly(session, month))
