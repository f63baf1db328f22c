"""Routing's HTTP entrypoints for 社情民意 reports (a mixin of ``RoutingService``): JSON and pages.

Entrypoints only: each reads its input, calls the rules (:mod:`services.routing.opinion_reports`)
or the reads (:mod:`services.routing.report_views`) in one transaction, and answers; the scope
rule is theirs. ``@guard`` decides the roles: a member writes, the office reviews, admins read.
"""

from __future__ import annotations

from services.kernel.auth import current, guard
from services.kernel.http import ApiError, json_response, read_json
from services.kernel.web import http
from services.routing import opinion_reports as rules
from services.routing import report_pages, report_views, views
from services.routing.pages import page_response

READERS = ("office", "station_admin", "studio_admin", "member")


class ReportRoutes:
    """``/reports``: a member's drafts, the submission, the office's review, the lists."""

    @http("POST", "/reports")
    @guard("member")
    def http_report_create(self, request):
        fields = rules.read_draft(read_json(request))
        who = current(request)
        with self.db.transaction() as session:
            report = rules.create(session, who, fields)
            view = report_views.view(session, who, report)
        return json_response(view, 201)

    @http("PUT", "/reports/<string:number>")
    @guard("member")
    def http_report_update(self, request, number):
        number = rules.report_id(number)
        fields = rules.read_draft(read_json(request), partial=True)
        return self._report_change(request, rules.update, number, fields)

    @http("POST", "/reports/<string:number>/submit")
    @guard("member")
    def http_report_submit(self, request, number):
        number = rules.report_id(number)
        if request.get_data():
            read_json(request)  # a body, if any, must be JSON; nothing in it is used
        return self._report_change(request, rules.submit, number)

    @http("POST", "/reports/<string:number>/review")
    @guard("office")
    def http_report_review(self, request, number):
        number = rules.report_id(number)
        given = rules.read_review(read_json(request))
        return self._report_change(request, rules.review, number, given)

    def _report_change(self, request, change, number, *args):
        who = current(request)
        with self.db.transaction() as session:
            report = change(session, who, number, *args)
            return json_response(report_views.view(session, who, report))

    @http("GET", "/reports")
    @guard(*READERS)
    def http_reports(self, request):
        filters = rules.read_filters(request.args)
        with self.db.transaction() as session:
            found = report_views.listing(session, current(request), filters)
        return json_response({"reports": found})

    @http("GET", "/reports/<string:number>")
    @guard(*READERS)
    def http_report(self, request, number):
        number = rules.report_id(number)
        with self.db.transaction() as session:
            return json_response(report_views.one(session, current(request), number))

    # --- pages ---------------------------------------------------------------------------------

    @http("GET", "/reports/page")
    @guard(*READERS, page=True)
    def page_reports(self, request):
        who = current(request)
        with self.db.transaction() as session:
            choices = report_views.choices(session, who)
            name = views.member_name(session, who.member) if who.member else None
        sign_out = self._sign_out(request)
        try:
            filters = rules.read_filters(request.args)
        except ApiError as err:  # the form again, saying which field is wrong
            page = report_pages.list_page(who, name, {}, [], choices, sign_out, err.fields)
            refused = page_response(page)
            refused.status_code = 400
            return refused
        with self.db.transaction() as session:
            found = report_views.listing(session, who, filters)
        return page_response(report_pages.list_page(who, name, filters, found, choices, sign_out))

    @http("GET", "/reports/new")
    @guard("member", page=True)
    def page_report_new(self, request):
        who = current(request)
        with self.db.transaction() as session:
            form = report_views.form_choices(session, who)
        picked = [n for n in request.args.get("cases", "").split(",") if n][: rules.CASES_MAX]
        page = report_pages.new_page(form, picked, sign_out=self._sign_out(request))
        return page_response(page)

    @http("GET", "/reports/<string:number>/page")
    @guard(*READERS, page=True)
    def page_report(self, request, number):
        who = current(request)
        number = rules.report_id(number)
        with self.db.transaction() as session:
            report = report_views.one(session, who, number)
            editing = who.role == "member" and report["status"] == "draft"
            form = report_views.form_choices(session, who) if editing else None
        page = report_pages.report_page(who, report, form, sign_out=self._sign_out(request))
        return page_response(page)
