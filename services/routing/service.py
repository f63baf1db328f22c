"""The routing nameko service: consumes intake and registry events; members act over HTTP.

Entrypoints only: each parses, checks access (``access.py``), calls one rule and answers.
Refusals (``CaseError``, an ``ApiError``) leave in the one error format through ``@guard``.
Citizens' actions (rate, reopen) arrive over RPC from intake, which has checked the tracking
number and lookup code; routing never sees lookup codes.
"""

from __future__ import annotations

from marshmallow import ValidationError
from werkzeug.wrappers import Response

from services.kernel import topology
from services.kernel.auth import current, guard, public_url, sign_in_url
from services.kernel.http import ApiError, json_response, read_json
from services.kernel.messaging import consume_reliably
from services.kernel.rpc import rpc
from services.kernel.service import ServiceBase
from services.kernel.settings import Settings
from services.kernel.web import http
from services.routing import (
    access,
    actions,
    catalogue,
    deadlines,
    handlers,
    inputs,
    notify,
    office,
    office_pages,
    reminding,
    replicas,
    views,
)
from services.routing.consultation_routes import ConsultationRoutes
from services.routing.dependencies import CatalogueAnnouncer, ConfiguredTimer
from services.routing.lifecycle import CaseError
from services.routing.pages import duty_page, page_response, station_page
from services.routing.report_routes import ReportRoutes
from services.routing.settings import RoutingSettings

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEMBER_ACTIONS = ("accept", "respond", "resolve", "close_unresolved", "transfer", "merge")
CITIZEN_ACTIONS = ("rate", "reopen")


def unknown_action(action: str, status: int) -> CaseError:
    return CaseError(
        "unknown_action", f"不支持的操作: {action}", f"unknown action: {action}", status
    )


def rpc_error(err: CaseError, with_field: bool = True) -> dict:
    """A refusal as an RPC answer (intake's status page shows it)."""
    error = {"code": err.code, "message_zh": err.message_zh, "message": err.message}
    return {"error": {**error, "field": err.field} if with_field else error}


class RoutingService(ConsultationRoutes, ReportRoutes, ServiceBase):
    name = "routing"

    catalogue_announcer = CatalogueAnnouncer()
    settings = Settings(RoutingSettings.from_config)

    def health_details(self, session):
        return {"cases": views.counts(session)}

    @consume_reliably(queues=[topology.event_queue("routing.events")], batch=True)
    def on_event(self, deliveries):
        return self.inbox.process_batch(deliveries, handlers.batch_handler(deliveries))

    @ConfiguredTimer.decorator("deadline_check_s")
    def check_deadlines(self):
        with self.db.transaction() as session:
            if replicas.my_round(session, "deadlines"):  # one replica a round
                return deadlines.check_deadlines(session, settings=self.settings)

    @ConfiguredTimer.decorator("notify_interval_s")
    def send_notices(self):
        with self.db.transaction() as session:  # held through the round: one replica a round
            if replicas.my_round(session, "notices"):
                return notify.send_round(self.db.transaction, self.settings.notify)

    @http("GET", "/members/<string:code>/notifications")
    @guard("office", "member")
    def http_get_notifications(self, request, code):
        access.own(request, code)
        with self.db.transaction() as session:
            return json_response(notify.setting_view(session, code))

    @http("PUT", "/members/<string:code>/notifications")
    @guard("office", "member")
    def http_put_notifications(self, request, code):
        access.own(request, code)
        with self.db.transaction() as session:
            access.known_member(session, code)
            notify.save_setting(session, code, read_json(request))
        with self.db.transaction() as session:
            return json_response(notify.setting_view(session, code))

    @http("GET", "/notices")
    @guard("office", "member")
    def http_notices(self, request):
        query = inputs.notice_query(request.args)
        member = access.notices_member(request, query["member"])
        with self.db.transaction() as session:
            notices = notify.list_notices(session, query["status"], member)
        return json_response({"notices": notices})

    @http("GET", "/catalogue")
    @guard()
    def http_catalogue(self, request):
        return json_response(catalogue.published_form())

    @http("GET", "/cases/<string:number>")
    @guard("office", "station_admin", "member")
    def http_case(self, request, number):
        with self.db.transaction() as session:
            view = views.case_view(session, number)
        access.case(request, view, number)
        return json_response(view)

    @http("POST", "/cases/<string:number>/actions/<string:action>")
    @guard("office", "station_admin", "member")
    def http_act(self, request, number, action):
        body = read_json(request)
        if action not in MEMBER_ACTIONS:
            raise unknown_action(action, 404)
        with self.db.transaction() as session:
            holder = views.holder_view(session, number)
        actor = access.case(request, holder, number)
        given = inputs.action_body(body)
        given.pop("actor", None)  # the history records the signed-in caller, never the body's
        scope = access.Scope(current(request))
        actions.perform(
            self.db.transaction, number, action, actor, settings=self.settings, scope=scope, **given
        )
        with self.db.transaction() as session:
            return json_response(views.case_view(session, number))

    @http("POST", "/cases/<string:number>/remind")
    @guard("office", "station_admin")
    def http_remind(self, request, number):
        """催办: a notice to the member holding the case, at most once a day (reminding.py)."""
        if request.get_data():
            read_json(request)  # a body, if any, must be JSON; nothing in it is used
        with self.db.transaction() as session:
            holder = views.holder_view(session, number)
        actor = access.case(request, holder, number)
        with self.db.transaction() as session:
            return json_response(reminding.remind(session, number, actor))

    @http("GET", "/members/<string:code>/cases")
    @guard("office", "member")
    def http_duty_list(self, request, code):
        access.own(request, code)
        with self.db.transaction() as session:
            return json_response({"member": code, "cases": views.duty_list(session, code)})

    @http("GET", "/stations/<string:code>/cases")
    @guard("office", "station_admin")
    def http_station_cases(self, request, code):
        access.station(request, code)
        filters = views.station_filters(request.args)
        with self.db.transaction() as session:
            cases = views.station_cases(session, code, **filters)
        return json_response({"station": code, "cases": cases})

    @http("GET", "/duty/<string:code>")
    @guard("office", "member", page=True)
    def page_duty(self, request, code):
        access.own(request, code)
        view = "closed" if request.args.get("view") == "closed" else "open"
        with self.db.transaction() as session:
            cases = views.duty_list(session, code)
            past = views.past_cases(session, code)
            if view == "closed":
                past = views.with_history(session, past)
            else:
                cases = views.with_history(session, cases)
            name = views.member_name(session, code)
        sign_out = self._sign_out(request)
        call = public_url(self.config, "intake")
        page = duty_page(
            code,
            cases,
            past=past,
            view=view,
            sign_out=sign_out,
            name=name,
            call_base=call,
            office=current(request).is_office,
        )
        return page_response(page)

    @http("GET", "/duty/station/<string:code>")
    @guard("office", "station_admin", page=True)
    def page_station(self, request, code):
        access.station(request, code)
        filters = views.station_filters(request.args)
        with self.db.transaction() as session:
            cases = views.with_history(session, views.station_cases(session, code, **filters))
            members = views.station_members(session, code)
        page = station_page(
            code,
            cases,
            members,
            filters,
            sign_out=self._sign_out(request),
            call_base=public_url(self.config, "intake"),
        )
        return page_response(page)

    # --- the office console's cases (office.py, office_pages.py; issue #18) ---

    def _office_filters(self, request):
        with self.db.transaction() as session:
            reach = office.reach_of(session, current(request))
            filters = office.read_filters(request.args)
            office.check_named(session, reach, filters)
        return reach, filters

    @http("GET", "/office/cases")
    @guard("office", "station_admin", "studio_admin", page=True)
    def page_office_cases(self, request):
        with self.db.transaction() as session:
            reach = office.reach_of(session, current(request))
            choices = office.pickers(session, reach)
        sign_out = self._sign_out(request)
        try:
            filters = office.read_filters(request.args)
        except ApiError as err:  # the form again, saying which field is wrong
            page = office_pages.list_page({}, None, choices, sign_out=sign_out, error=err.fields)
            refused = page_response(page)
            refused.status_code = 400
            return refused
        with self.db.transaction() as session:
            office.check_named(session, reach, filters)
            found = office.find(session, reach, filters)
        return page_response(office_pages.list_page(filters, found, choices, sign_out=sign_out))

    @http("GET", "/office/cases.json")
    @guard("office", "station_admin", "studio_admin")
    def http_office_cases(self, request):
        reach, filters = self._office_filters(request)
        with self.db.transaction() as session:
            return json_response(office.as_json(filters, office.find(session, reach, filters)))

    @http("GET", "/office/cases.xlsx")
    @guard("office", "station_admin", "studio_admin")
    def http_office_export(self, request):
        reach, filters = self._office_filters(request)
        with self.db.transaction() as session:
            data = office.workbook(session, reach, filters)
        return Response(
            data,
            mimetype=XLSX,
            headers={"Content-Disposition": 'attachment; filename="cases.xlsx"'},
        )

    @http("GET", "/office/cases/<string:number>")
    @guard("office", "station_admin", "studio_admin", page=True)
    def page_office_case(self, request, number):
        with self.db.transaction() as session:
            reach = office.reach_of(session, current(request))
            case = office.one_case(session, reach, number[: inputs.NUMBER_MAX])
            may_act = reach.who.role in ("office", "station_admin")
            members = office.handover_members(session, reach, case) if may_act else None
        page = office_pages.case_page(
            case,
            members,
            sign_out=self._sign_out(request),
            intake_base=public_url(self.config, "intake"),
        )
        return page_response(page)

    def _sign_out(self, request) -> str:
        """The registry's sign-in page (it has the 退出登录 button), back here after a sign-in
        (the registry keeps ``next`` only if it is one of the deployment's addresses)."""
        return sign_in_url(self.config, request.base_url)

    @rpc
    def citizen_action(self, number, action, rating=None, comment=None):
        """Rate or reopen, for intake's status page (which checked the lookup code)."""
        if not isinstance(action, str) or action not in CITIZEN_ACTIONS:
            return rpc_error(unknown_action(str(action)[:40], 400), with_field=False)
        try:
            args = inputs.CitizenAction().load(
                {"number": number, "rating": rating, "comment": comment}
            )
        except ValidationError as err:
            field, [message, *_] = next(iter(err.messages.items()))
            zh, _, en = message.partition(" / ")
            return rpc_error(CaseError("invalid", zh, en or zh, 400, field))
        number = args["number"]
        given = {"note": args["comment"], "rating": args["rating"], "settings": self.settings}
        try:
            with self.db.transaction() as session:
                actions.act(session, number, action, "citizen", **given)
        except CaseError as err:
            return rpc_error(err)
        return self.case_status(number)

    @rpc
    def case_status(self, number):
        """What a citizen may see of a case: its state and dates, nobody's personal data."""
        if not isinstance(number, str) or not 0 < len(number) <= inputs.NUMBER_MAX:
            return None
        with self.db.transaction() as session:
            return views.citizen_view(session, number)
