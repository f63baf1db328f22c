"""The routing nameko service: consumes intake and registry events; members act over HTTP.

Citizens' actions (rate, reopen) arrive over RPC from intake, which has checked the tracking
number and lookup code; routing never sees lookup codes.
"""

from __future__ import annotations

from marshmallow import ValidationError
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.timer import Timer
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from services.kernel import auth, topology
from services.kernel.auth import guard
from services.kernel.db import SharedEngine
from services.kernel.events import parse_event
from services.kernel.http import ApiError, json_response, not_found, read_json
from services.kernel.messaging import consume_reliably
from services.kernel.service import ServiceBase
from services.routing import catalogue, notify, pages, routing
from services.routing.lifecycle import CaseError

MEMBER_ACTIONS = ("accept", "respond", "resolve", "close_unresolved", "transfer", "merge")
CITIZEN_ACTIONS = ("rate", "reopen")


class CatalogueAnnouncer(DependencyProvider):
    """At start, announces the dispatch catalogue if its content changed since last time."""

    db = SharedEngine()

    def start(self):
        with self.db.transaction() as session:
            routing.publish_catalogue(session)

    def get_dependency(self, worker_ctx):
        return None


class ConfiguredTimer(Timer):
    """A nameko timer whose interval comes from the service's config section."""

    def __init__(self, key: str, default: float, **kwargs):
        self.key, self.default = key, default
        super().__init__(interval=default, **kwargs)

    def setup(self):
        self.interval = float(self.container.config["SERVICE"].get(self.key, self.default))


def _html(text: str) -> Response:
    return Response(text, mimetype="text/html", content_type="text/html; charset=utf-8")


def _error(err: CaseError):
    fields = {err.field: [f"{err.message_zh} / {err.message}"]} if err.field else {}
    return ApiError(err.code, err.message_zh, err.message, fields, err.status).response()


def own(request, member: str) -> None:
    """A member's own things (cases, duty page, notification settings): the member, the office."""
    if not auth.current(request).may_member(member):
        raise auth.forbidden()


def may_see_case(who: auth.Principal, case: dict) -> str:
    """Who may see and act on a case: the office, the member it is assigned to, an admin of its
    station. Returns the actor its history records (the member's code, else the login)."""
    if not (who.may_station(case["station"]) or who.may_member(case["member"])):
        raise auth.forbidden()
    return who.member if who.role == "member" else who.account


class RoutingService(ServiceBase):
    name = "routing"

    catalogue_announcer = CatalogueAnnouncer()

    @property
    def settings(self) -> routing.Settings:
        return routing.Settings.from_config(self.config["SERVICE"])

    def health_details(self, session):
        return {"cases": routing.counts(session)}

    @consume_reliably(queues=[topology.event_queue("routing.events")], batch=True)
    def on_event(self, deliveries):
        return self.inbox.process_batch(
            deliveries, lambda session, d: routing.handle_event(session, parse_event(d.body))
        )

    @ConfiguredTimer.decorator("deadline_check_s", 60)
    def check_deadlines(self):
        with self.db.transaction() as session:
            return routing.check_deadlines(session, settings=self.settings)

    @property
    def notify_settings(self) -> notify.Settings:
        return notify.Settings.from_config(self.config["SERVICE"].get("notify"))

    @ConfiguredTimer.decorator("notify_interval_s", 5)
    def send_notices(self):
        settings = self.notify_settings
        with self.db.transaction() as session:
            notify.make_digests(session, settings)
        return notify.deliver_due(self.db.transaction, settings)

    @http("GET", "/members/<string:code>/notifications")
    @guard("office", "member")
    def http_get_notifications(self, request, code):
        own(request, code)
        with self.db.transaction() as session:
            return json_response(notify.setting_view(session, code))

    @http("PUT", "/members/<string:code>/notifications")
    @guard("office", "member")
    def http_put_notifications(self, request, code):
        own(request, code)
        try:
            with self.db.transaction() as session:
                notify.save_setting(session, code, read_json(request))
        except ValidationError as err:
            return ApiError(
                "invalid",
                "输入有误，请检查标出的字段",
                "invalid input, see fields",
                fields=err.messages,
            ).response()
        except ApiError as err:
            return err.response()
        with self.db.transaction() as session:
            return json_response(notify.setting_view(session, code))

    @http("GET", "/notices")
    @guard("office", "member")
    def http_notices(self, request):
        who = auth.current(request)
        member = who.member if who.role == "member" else request.args.get("member")
        with self.db.transaction() as session:
            return json_response(
                {"notices": notify.list_notices(session, request.args.get("status"), member)}
            )

    @http("GET", "/catalogue")
    @guard()
    def http_catalogue(self, request):
        return json_response(catalogue.published_form())

    @http("GET", "/cases/<string:number>")
    @guard("office", "station_admin", "member")
    def http_case(self, request, number):
        with self.db.transaction() as session:
            view = routing.case_view(session, number)
        if view is None:
            return not_found(number).response()
        may_see_case(auth.current(request), view)
        return json_response(view)

    @http("POST", "/cases/<string:number>/actions/<string:action>")
    @guard("office", "station_admin", "member")
    def http_act(self, request, number, action):
        actor = None
        try:
            body = read_json(request)
            if action not in MEMBER_ACTIONS:
                raise CaseError(
                    "unknown_action", f"不支持的操作: {action}", f"unknown action: {action}", 404
                )
            with self.db.transaction() as session:
                view = routing.case_view(session, number)
                if view is None:
                    raise not_found(number)
                actor = may_see_case(auth.current(request), view)
                routing.act(
                    session,
                    number,
                    action,
                    actor,
                    note=body.get("note"),
                    version=body.get("version"),
                    settings=self.settings,
                    to_member=body.get("to_member"),
                    to_station=body.get("to_station"),
                    into=body.get("into"),
                )
            with self.db.transaction() as session:
                return json_response(routing.case_view(session, number))
        except ApiError as err:
            return err.response()
        except CaseError as err:
            if action == "merge" and actor:
                # the refusal goes to the case's audit trail; the case itself does not change
                with self.db.transaction() as session:
                    routing.refuse(session, number, action, actor, err)
            return _error(err)

    @http("GET", "/members/<string:code>/cases")
    @guard("office", "member")
    def http_duty_list(self, request, code):
        own(request, code)
        with self.db.transaction() as session:
            return json_response({"member": code, "cases": routing.duty_list(session, code)})

    @http("GET", "/stations/<string:code>/cases")
    @guard("office", "station_admin")
    def http_station_cases(self, request, code):
        if not auth.current(request).may_station(code):
            raise auth.forbidden()
        with self.db.transaction() as session:
            return json_response({"station": code, "cases": routing.station_cases(session, code)})

    @http("GET", "/duty/<string:code>")
    @guard("office", "member", page=True)
    def page_duty(self, request, code):
        own(request, code)
        with self.db.transaction() as session:
            return _html(pages.duty_page(code, routing.duty_list(session, code)))

    @http("GET", "/duty/station/<string:code>")
    @guard("office", "station_admin", page=True)
    def page_station(self, request, code):
        if not auth.current(request).may_station(code):
            raise auth.forbidden()
        with self.db.transaction() as session:
            return _html(pages.station_page(code, routing.station_cases(session, code)))

    @rpc
    def citizen_action(self, number, action, rating=None, comment=None):
        """Rate or reopen, for intake's status page (which checked the lookup code)."""
        if action not in CITIZEN_ACTIONS:
            return {
                "error": {
                    "code": "unknown_action",
                    "message_zh": f"不支持的操作: {action}",
                    "message": f"unknown action: {action}",
                }
            }
        try:
            with self.db.transaction() as session:
                routing.act(
                    session,
                    number,
                    action,
                    "citizen",
                    note=comment,
                    rating=rating,
                    settings=self.settings,
                )
        except CaseError as err:
            return {
                "error": {
                    "code": err.code,
                    "message_zh": err.message_zh,
                    "message": err.message,
                    "field": err.field,
                }
            }
        return self.case_status(number)

    @rpc
    def case_status(self, number):
        """What a citizen may see of a case: its state and dates, nobody's personal data."""
        with self.db.transaction() as session:
            view = routing.case_view(session, number)
        if view is None:
            return None
        keep = (
            "tracking_number",
            "status",
            "status_name",
            "response_due",
            "resolution_due",
            "responded_at",
            "resolved_at",
            "rating",
        )
        return {k: view[k] for k in keep}
