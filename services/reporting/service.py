"""The reporting nameko service: consumes every event, serves the figures and the dashboard.

Entrypoints only: each parses its arguments, calls one rule and answers. What a caller got
wrong (a bad month, range or breakdown) leaves in the one error format through ``@guard``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import eventlet
from nameko.rpc import RpcProxy
from nameko.timer import timer
from werkzeug.wrappers import Response

from services.kernel import sessions
from services.kernel.auth import guard, public_url
from services.kernel.events import parse_event
from services.kernel.http import json_response
from services.kernel.messaging import consume_reliably
from services.kernel.service import ServiceBase
from services.kernel.settings import Settings
from services.kernel.web import http
from services.reporting import dashboard, event_store, exports, periods, queries
from services.reporting.breakdowns import breakdown, month_of
from services.reporting.dossier_routes import DossierRoutes
from services.reporting.partitions import PREFETCH, Partitions
from services.reporting.partitions import queues as partition_queues
from services.reporting.reconcile import reconcile
from services.reporting.settings import ReportingSettings
from services.reporting.snapshot import RETRY_S, ReconciliationSnapshot

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READERS = ("office", "station_admin", "studio_admin")  # who may read the figures


def _month(request) -> str:
    return periods.month(request.args.get("month") or month_of(datetime.now(UTC)))


def _attachment(body, mimetype: str, filename: str, **kwargs) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, mimetype=mimetype, headers=headers, **kwargs)


class ReportingService(DossierRoutes, ServiceBase):  # + the 履职档案's routes
    name = "reporting"

    settings = Settings(ReportingSettings.from_config)
    intake_rpc = RpcProxy("intake")
    routing_rpc = RpcProxy("routing")
    snapshot = ReconciliationSnapshot()  # the last reconciliation: what the dashboard shows
    partitions = Partitions()  # which partitions this replica prefers (partitions.py)

    def health_details(self, session):
        return {
            "events": event_store.event_count(session),
            "partitions": self.partitions.describe(),
        }

    @consume_reliably(queues=partition_queues, batch=True, prefetch_count=PREFETCH)
    def on_event(self, deliveries):
        return self.inbox.process_batch(
            deliveries,
            lambda session, d: self._record(session, parse_event(d.body)),
            finish=event_store.flush,
        )

    @staticmethod
    def _record(session, event: dict) -> None:
        sessions.on_event(session, event)  # an account's sessions ended early (the registry's)
        event_store.record(session, event, batch=True)

    def _monthly(self, request) -> dict:
        month = _month(request)
        with self.db.transaction() as session:
            return queries.monthly(session, month)

    @http("GET", "/stats/monthly")
    @guard(*READERS)
    def http_monthly(self, request):
        chosen = breakdown(request.args.get("breakdown"))
        return json_response(queries.only(self._monthly(request), chosen, "month"))

    @http("GET", "/stats/range")
    @guard(*READERS)
    def http_range(self, request):
        """Figures summed over whole months: ``?from=2024-03-01&to=2024-05-31[&breakdown=…]``."""
        chosen = breakdown(request.args.get("breakdown"))
        first, last, months = periods.date_range(request.args.get("from"), request.args.get("to"))
        with self.db.transaction() as session:
            report = queries.over_months(session, months)
        report = {"from": first.isoformat(), "to": last.isoformat(), **report}
        return json_response(queries.only(report, chosen, "from", "to", "months"))

    @http("GET", "/stats/yearly")
    @guard(*READERS)
    def http_yearly(self, request):
        year = periods.year(request.args.get("year", ""))
        with self.db.transaction() as session:
            return json_response(queries.yearly(session, year))

    @http("GET", "/stats/monthly.xlsx")
    @guard(*READERS)
    def http_workbook(self, request):
        report = self._monthly(request)
        return _attachment(exports.workbook(report), XLSX, f"lianxin-{report['month']}.xlsx")

    @http("GET", "/stats/monthly.csv")
    @guard(*READERS)
    def http_csv(self, request):
        chosen = breakdown(request.args.get("breakdown", "city"))
        report = self._monthly(request)
        return _attachment(
            exports.csv_text(report, chosen),
            "text/csv",
            f"lianxin-{report['month']}-{chosen}.csv",
            content_type="text/csv; charset=utf-8",
        )

    def _ask(self, proxy):
        try:
            with eventlet.Timeout(self.settings.peer_timeout_s):
                return proxy.status.call_async().result()
        except (eventlet.Timeout, Exception):  # down or slow: reconciliation says so
            return None

    def reconciliation(self) -> dict:
        """Reconcile now (asks intake and routing: up to ``peer_timeout_s`` when one is down)
        and keep the answer as the snapshot the dashboard shows."""
        with self.db.transaction() as session:
            mine = queries.own_counts(session)
        mine.update(parked=self.inbox.count_parked(), queues=self.consumers.depths())
        result = reconcile(self._ask(self.intake_rpc), self._ask(self.routing_rpc), mine)
        self.snapshot.store(result)
        return result

    @timer(interval=RETRY_S, eager=True)
    def refresh_reconciliation(self):
        """At start, then every minute (every few seconds while it does not hold): the
        dashboard reads the snapshot and never waits on another service."""
        if self.snapshot.due():
            self.reconciliation()

    @http("GET", "/reconciliation")
    @guard("office")
    def http_reconciliation(self, request):
        return json_response(self.reconciliation())

    @http("GET", "/dashboard")
    @guard(*READERS, page=True)
    def http_dashboard(self, request):
        now = datetime.now(UTC)
        view = dashboard.choose(request.args, periods.today_in_china(now))
        with self.db.transaction() as session:
            if view.month:
                report = queries.monthly(session, view.label)
                months = periods.months_before(view.label, self.settings.trend_months)
            else:
                report = queries.yearly(session, view.year)
                months = view.months()
            trend = queries.trend(session, months, dashboard.TREND)
            view.names, view.years = queries.names(session), queries.years(session)
            view.places = queries.places(session)
        view.cases_url = public_url(self.config, "routing") + "/office/cases"
        view.routing_url = public_url(self.config, "routing")  # its consultations and reports
        view.registry_url = public_url(self.config, "registry")  # its leaders' visits
        balance, view.checked_at = self.snapshot.last()
        view.now = now
        return Response(
            dashboard.page(report, months, trend, balance, view),
            mimetype="text/html",
            content_type="text/html; charset=utf-8",
        )
