"""The reporting nameko service: consumes every event, serves the figures and the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime

import eventlet
from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from services.kernel import topology
from services.kernel.auth import guard
from services.kernel.events import parse_event
from services.kernel.http import ApiError, json_response
from services.kernel.messaging import consume_reliably
from services.kernel.service import ServiceBase
from services.reporting import dashboard, exports, periods, reporting
from services.reporting.projections import DIMENSIONS, month_of
from services.reporting.reconcile import reconcile

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _month(request) -> str:
    return periods.month(request.args.get("month") or month_of(datetime.now(UTC)))


def _breakdown(request, default=None) -> str | None:
    value = request.args.get("breakdown", default)
    if value is not None and value not in DIMENSIONS:
        raise ApiError(
            "invalid",
            "未知的分类维度",
            "unknown breakdown",
            fields={"breakdown": [f"可选 / one of: {', '.join(DIMENSIONS)}"]},
        )
    return value


def _only(report: dict, breakdown: str | None, *head: str) -> dict:
    """The report, or only its head fields and one breakdown."""
    if not breakdown:
        return report
    return {**{k: report[k] for k in head}, breakdown: report.get(breakdown, {})}


def _months_before(month: str, n: int) -> list[str]:
    year, mon = map(int, month.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{year}-{mon:02d}")
        mon -= 1
        if mon == 0:
            year, mon = year - 1, 12
    return out[::-1]


class ReportingService(ServiceBase):
    name = "reporting"

    intake_rpc = RpcProxy("intake")
    routing_rpc = RpcProxy("routing")

    def health_details(self, session):
        return {"events": reporting.event_count(session)}

    @consume_reliably(queues=[topology.event_queue("reporting.events")], batch=True)
    def on_event(self, deliveries):
        return self.inbox.process_batch(
            deliveries,
            lambda session, d: reporting.record(session, parse_event(d.body), batch=True),
            finish=reporting.flush,
        )

    def _report(self, request) -> dict:
        month = _month(request)
        with self.db.transaction() as session:
            return reporting.monthly(session, month)

    @http("GET", "/stats/monthly")
    @guard("office", "station_admin", "studio_admin")
    def http_monthly(self, request):
        try:
            breakdown = _breakdown(request)
            report = self._report(request)
        except ApiError as err:
            return err.response()
        return json_response(_only(report, breakdown, "month"))

    @http("GET", "/stats/range")
    @guard("office", "station_admin", "studio_admin")
    def http_range(self, request):
        """Figures summed over whole months: ``?from=2024-03-01&to=2024-05-31[&breakdown=…]``."""
        try:
            breakdown = _breakdown(request)
            first, last, months = periods.date_range(
                request.args.get("from"), request.args.get("to")
            )
        except ApiError as err:
            return err.response()
        with self.db.transaction() as session:
            report = reporting.over_months(session, months)
        report = {"from": first.isoformat(), "to": last.isoformat(), **report}
        return json_response(_only(report, breakdown, "from", "to", "months"))

    def _ask(self, proxy, timeout: float = 5):
        try:
            with eventlet.Timeout(timeout):
                return proxy.status.call_async().result()
        except (eventlet.Timeout, Exception):  # down or slow: reconciliation says so
            return None

    def reconciliation(self) -> dict:
        with self.db.transaction() as session:
            mine = {
                "issues": reporting.issue_count(session),
                "unknown_events": reporting.unknown_events(session),
            }
        mine.update(parked=self.inbox.count_parked(), queues=self.consumers.depths())
        return reconcile(self._ask(self.intake_rpc), self._ask(self.routing_rpc), mine)

    @http("GET", "/reconciliation")
    @guard("office")
    def http_reconciliation(self, request):
        return json_response(self.reconciliation())

    @http("GET", "/stats/yearly")
    @guard("office", "station_admin", "studio_admin")
    def http_yearly(self, request):
        try:
            year = periods.year(request.args.get("year", ""))
        except ApiError as err:
            return err.response()
        with self.db.transaction() as session:
            return json_response(reporting.yearly(session, year))

    @http("GET", "/stats/monthly.xlsx")
    @guard("office", "station_admin", "studio_admin")
    def http_workbook(self, request):
        try:
            report = self._report(request)
        except ApiError as err:
            return err.response()
        return Response(
            exports.workbook(report),
            mimetype=XLSX,
            headers={
                "Content-Disposition": f'attachment; filename="lianxin-{report["month"]}.xlsx"'
            },
        )

    @http("GET", "/stats/monthly.csv")
    @guard("office", "station_admin", "studio_admin")
    def http_csv(self, request):
        try:
            breakdown = _breakdown(request, "city")
            report = self._report(request)
        except ApiError as err:
            return err.response()
        return Response(
            exports.csv_text(report, breakdown),
            mimetype="text/csv",
            content_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="lianxin-'
                f'{report["month"]}-{breakdown}.csv"'
            },
        )

    @http("GET", "/dashboard")
    @guard("office", "station_admin", "studio_admin", page=True)
    def http_dashboard(self, request):
        try:
            report = self._report(request)
        except ApiError as err:
            return err.response()
        months = _months_before(report["month"], 12)
        with self.db.transaction() as session:
            trend = reporting.trend(session, months, ["issues_received", "issues_resolved"])
        return Response(
            dashboard.page(report, months, trend, self.reconciliation()),
            mimetype="text/html",
            content_type="text/html; charset=utf-8",
        )
