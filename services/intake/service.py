"""The intake nameko service: consumes its stations' queues and the registry's station events,
and serves the HTTP channels (QR pages, status page, staff entry) and intake's admin API.

Every HTTP channel publishes to the station's queue with confirms and waits briefly for the
station's worker (``StationChannel``); the rules live in ``intake``, ``qr_page`` and
``activities``.

Which stations a process serves comes from ``services.intake.stations`` in the deployment
config: ``all`` (every active station intake knows of, growing as the registry announces new
ones) or a list of codes, so a busy station can get an intake process of its own.
"""

from __future__ import annotations

import logging
import time
from functools import partial

import eventlet
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from nameko.timer import timer
from nameko.web.handlers import http
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from services.intake import (
    activities,
    duplicates,
    intake,
    open311,
    personal,
    qr_page,
    throttle,
    unrouted,
)
from services.intake.dependencies import NotQueued, StationChannel
from services.intake.schemas import DESCRIPTION_MAX
from services.intake.web import (
    html_response,
    invalid,
    not_queued,
    open311_response,
    read_body,
    set_csrf_cookie,
    switch_url,
    too_large_page,
)
from services.kernel import auth, topology
from services.kernel.auth import guard, public
from services.kernel.config import station_selection
from services.kernel.db import make_engine
from services.kernel.events import parse_event
from services.kernel.http import ApiError, json_response, not_found
from services.kernel.inbox import OUTCOMES, Inbox
from services.kernel.messaging import consume_reliably
from services.kernel.publisher import ConfirmedPublisher
from services.kernel.sealed import Keys
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

    def list_unrouted(self, limit: int) -> dict:
        return unrouted.peek(self.container.config["AMQP_URI"], limit)

    def consumed(self) -> list[str]:
        return sorted(intake.station_of_queue(q) for q in self._consumer().consuming)


def may_enter(who: auth.Principal, data: dict) -> None:
    """Staff entry: the office anywhere; an admin at its own station or studio; a member only
    an activity the member took part in."""
    if who.is_office:
        return
    station, studio = data.get("station"), data.get("studio")
    allowed = {
        "station_admin": bool(station) and who.may_station(station),
        "studio_admin": bool(studio) and who.may_studio(studio),
        "member": who.member in (data.get("members") or []),
    }
    if not allowed.get(who.role):
        raise auth.forbidden()


class IntakeService(ServiceBase):
    name = "intake"

    routing_rpc = RpcProxy("routing")

    stations = StationQueues()
    channel = StationChannel()
    config = Config()
    keys = Keys()  # seals citizens' names and phones at rest (services.kernel.sealed)
    inbox = Inbox(seal_parked=True, redact=personal.redact_message)

    def health_details(self, session):
        return {"stations": self.stations.consumed(), "submissions": intake.counts(session)}

    @consume_reliably(queues=selected_stations, batch=True)
    def receive_submission(self, deliveries):
        results = self.inbox.process_batch(deliveries, intake.receive)
        for delivery in deliveries:
            self.channel.done(delivery.message_id)  # HTTP channels set message_id = submission_id
        return results

    @consume_reliably(queues=[topology.event_queue("intake.events")], batch=True)
    def on_event(self, deliveries):
        results = self.inbox.process_batch(
            deliveries, lambda session, d: intake.apply_event(session, parse_event(d.body))
        )
        for code in results:  # a station announced: consume its queue if this process serves it
            if code not in (None, *OUTCOMES) and self.stations.serves(code):
                self.stations.consume(code)
        return results

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

    @timer(interval=600)
    def prune_throttle(self):
        with self.db.transaction() as session:
            throttle.prune(session)

    def _address(self, request) -> str:
        return auth.client_address(request, self.config)

    @http("GET", "/categories")
    @public
    def http_categories(self, request):
        with self.db.transaction() as session:
            return json_response({"categories": intake.categories(session)})

    @http("POST", "/admin/unrouted/replay")
    @guard("office")
    def http_replay_unrouted(self, request):
        return json_response(self.stations.replay_unrouted())

    @http("GET", "/submissions")
    @guard("office")
    def http_submissions(self, request):
        limit = min(int(request.args.get("limit", 100)), 1000)
        with self.db.transaction() as session:
            found = intake.submissions(
                session, request.args.get("submission_id"), request.args.get("status"), limit
            )
        return json_response({"submissions": found})

    @http("GET", "/issues/<string:number>")
    @guard("office", "station_admin")
    def http_issue(self, request, number):
        with self.db.transaction() as session:
            status = intake.issue_status(session, number)
        if status is None:
            return not_found(number).response()
        if not auth.current(request).may_station(status["station"]):
            raise auth.forbidden()
        return json_response(status)

    # -- personal data: whole only to those who must call back, and audited ----------------------

    @http("POST", "/issues/<string:number>/contact")
    @guard("office", "station_admin", "member")
    def http_issue_contact(self, request, number):
        """The citizen's name and phone, whole: the office, the issue's station admin, the
        member who has the case (scope checked in ``personal.reveal``). Every answer is
        written to the audit log first."""
        who = auth.current(request)
        try:
            reason = None
            if request.get_data():
                body = read_body(request)
                reason = body.get("reason") if isinstance(body.get("reason"), str) else None
            with self.db.transaction() as session:
                found = personal.reveal(session, who, number, self._address(request), reason)
        except ApiError as err:
            return err.response()
        response = json_response(found)
        response.headers["Cache-Control"] = "no-store"
        return response

    @http("GET", "/admin/audit")
    @guard("office")
    def http_audit(self, request):
        """Who saw which citizen's personal data, when, from where (the office only)."""
        limit = min(int(request.args.get("limit", 100)), 1000)
        with self.db.transaction() as session:
            views = personal.audit_log(
                session, request.args.get("number"), request.args.get("account"), limit
            )
        return json_response({"views": views})

    @http("GET", "/admin/unrouted")
    @guard("office")
    def http_unrouted(self, request):
        limit = min(int(request.args.get("limit", 100)), 500)
        return json_response(self.stations.list_unrouted(limit))

    # -- QR channel (委员码上见) -----------------------------------------------------------------

    def _target(self, request, kind, code, lang):
        """The page a QR code opens and the categories; or the 404 page to answer with."""
        with self.db.transaction() as session:
            page = qr_page.target(session, kind, code) if kind in qr_page.KINDS else None
            categories = intake.categories(session)
        if page is None or not page["stations"]:
            text = qr_page.TEXT[lang]["not_found" if page is None else "no_station"]
            body = qr_page.render(
                "message.html", lang, message=text, switch_url=switch_url(request, lang)
            )
            return None, None, html_response(body, 404)
        return page, categories, None

    def _form_page(
        self,
        request,
        page,
        categories,
        lang,
        form,
        errors=None,
        status=200,
        retry_after=None,
        suggestions=None,
    ):
        cookie, token, new = auth.csrf_pair(request, self.config)
        body = qr_page.render(
            "form.html",
            lang,
            page=page,
            categories=categories,
            form=form,
            errors=errors or {},
            suggestions=suggestions or [],
            action=request.path,
            description_max=DESCRIPTION_MAX,
            switch_url=switch_url(request, lang),
            csrf_token=token,
        )
        response = html_response(body, status)
        if new:
            set_csrf_cookie(response, request, cookie)
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @http("GET", "/q/<string:kind>/<string:code>")
    @public
    def qr_form(self, request, kind, code):
        lang = qr_page.language(request.args.get("lang"))
        page, categories, refusal = self._target(request, kind, code, lang)
        if refusal is not None:
            return refusal
        form = {"submission_id": qr_page.new_submission_id()}
        return self._form_page(request, page, categories, lang, form)

    @http("POST", "/q/<string:kind>/<string:code>")
    @public
    def qr_submit(self, request, kind, code):
        request.max_content_length = intake.MAX_BODY_BYTES
        try:
            form = request.form
        except RequestEntityTooLarge:
            return too_large_page(request)
        lang = qr_page.language(form.get("lang"))
        page, categories, refusal = self._target(request, kind, code, lang)
        if refusal is not None:
            return refusal
        kept = {**form.to_dict(), "submission_id": form.get("submission_id") or ""}
        kept.pop("csrf_token", None)
        if not auth.csrf_ok(request, self.config, form.get("csrf_token")):
            errors = {"_form": [qr_page.TEXT[lang]["expired"]]}
            return self._form_page(request, page, categories, lang, kept, errors, 403)
        try:
            with self.db.transaction() as session:
                throttle.admit_submission(
                    session,
                    "qr",
                    self._address(request),
                    f"{kind}/{code}",
                    throttle.limits(self.config["SERVICE"]),
                )
        except throttle.Slowed as slowed:
            text = qr_page.TEXT[lang]["slow_down"].format(
                minutes=qr_page.minutes(slowed.retry_after)
            )
            return self._form_page(
                request, page, categories, lang, kept, {"_form": [text]}, 429, slowed.retry_after
            )
        message, errors = qr_page.submission_from_form(form, page, categories)
        if errors:
            # the same submission id again: a corrected form still makes one issue at most
            form = {**form.to_dict(), "submission_id": message["submission_id"]}
            return self._form_page(request, page, categories, lang, form, errors, 400)
        # 是否与以下问题相同? Asked once, before sending: the answer rides with the form.
        chosen = qr_page.choice(form)
        if chosen is None or chosen:
            with self.db.transaction() as session:
                offered = duplicates.for_citizen(session, message)
            if chosen is None and offered:
                form = {**form.to_dict(), "submission_id": message["submission_id"]}
                return self._form_page(request, page, categories, lang, form, suggestions=offered)
            # only a case that was offered for this very text may be chosen (a made-up number
            # is a new problem: nothing is merged, nothing the citizen wrote is lost)
            if chosen in {c["tracking_number"] for c in offered}:
                message["same_as"] = chosen
        try:
            result = self.channel.submit(message)
        except NotQueued:
            # The citizen's text stays in the form; sending it again is safe (same submission id).
            form = {**form.to_dict(), "submission_id": message["submission_id"]}
            errors = {"_form": [qr_page.NOT_QUEUED]}
            return self._form_page(request, page, categories, lang, form, errors, 503)
        return self._result_page(request, result, lang, same=bool(message.get("same_as")))

    def _result_page(self, request, result, lang, same=False):
        status = 202 if result["status"] == "pending" else 200
        body = qr_page.render(
            "result.html", lang, result=result, same=same, switch_url=switch_url(request, lang)
        )
        return html_response(body, status)

    @http("GET", "/q/receipt/<string:submission_id>")
    @public
    def qr_receipt(self, request, submission_id):
        """Where "received, being processed" leads: the tracking number once it is made."""
        lang = qr_page.language(request.args.get("lang"))
        result = self.channel.result(submission_id) or {"status": "pending"}
        return self._result_page(request, {**result, "submission_id": submission_id}, lang)

    @http("GET", "/status")
    @public
    def status_page(self, request):
        return self._status_page(request, request.args)

    def _lookup(self, request, number: str, code: str) -> dict | None:
        """A case's public status by tracking number and lookup code, slowed after repeated
        failures (``throttle.Slowed``); an unknown number and a wrong code fail alike."""
        if not (number and code):
            return None  # nothing was tried: nothing to count
        address = self._address(request)
        with self.db.transaction() as session:
            throttle.check_lookup(session, number, address)
            status = intake.public_status(session, number, code)
            if status is None:
                throttle.lookup_failed(session, number, address)
        return status

    def _status_page(
        self, request, args, message: str | None = None, comment: str = "", refused: bool = False
    ):
        lang = qr_page.language(args.get("lang"))
        number = (args.get("number") or "").strip()[:64]
        code = (args.get("code") or "").strip()[:64]
        status, slowed = None, None
        if number and code:
            try:
                status = self._lookup(request, number, code)
            except throttle.Slowed as exc:
                slowed = exc.retry_after
        cookie, token, new = auth.csrf_pair(request, self.config)
        body = qr_page.render(
            "status.html",
            lang,
            number=number,
            code=code,
            asked=bool(number or code),
            status=qr_page.status_view(status) if status else None,
            message=message,
            slowed=(
                qr_page.TEXT[lang]["lookup_slowed"].format(minutes=qr_page.minutes(slowed))
                if slowed
                else None
            ),
            comment=comment,
            csrf_token=token,
            switch_url=switch_url(request, lang),
        )
        code_ = (
            429 if slowed else 403 if refused else 200 if status or not (number or code) else 404
        )
        response = html_response(body, code_)
        if new:
            set_csrf_cookie(response, request, cookie)
        if slowed:
            response.headers["Retry-After"] = str(slowed)
        return response

    @http("POST", "/status/action")
    @public
    def status_action(self, request):
        """The citizen's return visit: rate a resolved case, or ask to reopen it. Routing
        decides (RPC); intake only vouches that the tracking number and lookup code match."""
        request.max_content_length = intake.MAX_BODY_BYTES
        try:
            form = request.form
        except RequestEntityTooLarge:
            return too_large_page(request)
        lang = qr_page.language(form.get("lang"))
        text = qr_page.TEXT[lang]
        comment = (form.get("comment") or "")[:500]
        if not auth.csrf_ok(request, self.config, form.get("csrf_token")):
            return self._status_page(request, form, text["expired"], comment, refused=True)
        try:
            known = self._lookup(
                request, (form.get("number") or "").strip(), (form.get("code") or "").strip()
            )
        except throttle.Slowed:
            known = None  # the page says so
        if known is None:
            return self._status_page(request, form, comment=comment)
        with self.db.transaction() as session:
            # a merged issue's rating or reopening is about the case it follows
            target = intake.case_to_act_on(session, known["tracking_number"])
        try:
            with eventlet.Timeout(10):
                answer = self.routing_rpc.citizen_action(
                    target,
                    form.get("action"),
                    rating=form.get("rating"),
                    comment=(form.get("comment") or "").strip()[:500] or None,
                )
        except (eventlet.Timeout, Exception):  # routing down or slow: say so, keep nothing
            answer = {
                "error": {
                    "message_zh": "系统繁忙，请稍后再试",
                    "message": "busy, please try again later",
                }
            }
        if answer and answer.get("error"):
            err = answer["error"]
            message = text["action_failed"] + (
                err["message_zh"] if lang == "zh" else err["message"]
            )
        else:
            message = text["action_done"]
            self._wait_for_step(target, form.get("action"))
        return self._status_page(request, form, message)

    def _wait_for_step(self, number: str, action: str, timeout: float = 5) -> None:
        """Let routing's event reach intake's copy, so the page shows what the citizen did."""
        step = {"rate": "routing.issue_rated", "reopen": "routing.issue_reopened"}.get(action)
        deadline = time.monotonic() + timeout
        while step and time.monotonic() < deadline:
            with self.db.transaction() as session:
                if intake.has_step(session, number, step):
                    return
            eventlet.sleep(0.1)

    @http("GET", "/api/status")
    @public
    def status_json(self, request):
        try:
            status = self._lookup(
                request, request.args.get("number", "")[:64], request.args.get("code", "")[:64]
            )
        except throttle.Slowed as slowed:
            err = ApiError(
                "slowed",
                f"查询失败次数过多，请 {qr_page.minutes(slowed.retry_after)} 分钟后再试",
                f"too many failed lookups; retry in {slowed.retry_after} s",
                status=429,
            ).response()
            err.headers["Retry-After"] = str(slowed.retry_after)
            return err
        if status is None:
            return not_found("受理编号或查询码 / tracking number or lookup code").response()
        return json_response(status)

    # -- staff channel (工作站/工作室 staff) ------------------------------------------------------

    @http("POST", "/staff/issues")
    @guard("office", "station_admin", "studio_admin")
    def staff_issue(self, request):
        try:
            data = read_body(request)
            may_enter(auth.current(request), data)
            with self.db.transaction() as session:
                message = activities.staff_issue(session, data)
        except activities.Invalid as err:
            return invalid(err.errors).response()
        except ApiError as err:
            return err.response()
        try:
            result = self.channel.submit(message)
        except NotQueued:
            return not_queued().response()
        return self._json_result(result)

    def _json_result(self, result):
        if result["status"] == "rejected":
            return invalid(result["errors"]).response()
        if result.get("tracking_number"):
            with self.db.transaction() as session:
                result["similar"] = duplicates.for_staff(session, result["tracking_number"])
        return json_response(result, 202 if result["status"] == "pending" else 201)

    @http("GET", "/staff/issues/<string:number>/similar")
    @guard("office", "station_admin")
    def staff_similar(self, request, number):
        """Open cases this issue may be the same problem as, with scores: staff merge in
        routing (``POST /cases/<number>/actions/merge``). The office, or an admin of the
        issue's station (the candidates may be at other stations of its district: snippets only,
        never contact data)."""
        with self.db.transaction() as session:
            status = intake.issue_status(session, number)
            if status is None:
                return not_found(number).response()
            if not auth.current(request).may_station(status["station"]):
                raise auth.forbidden()
            found = duplicates.for_staff(session, number)
        if found is None:
            return not_found(number).response()
        return json_response({"tracking_number": number, "similar": found})

    @http("POST", "/staff/activities")
    @guard()
    def staff_activity(self, request):
        try:
            data = read_body(request)
            may_enter(auth.current(request), data)
            with self.db.transaction() as session:
                activity, messages = activities.record_activity(session, data)
        except activities.Invalid as err:
            return invalid(err.errors).response()
        except ApiError as err:
            return err.response()
        try:
            for message in messages:
                self.channel.publish(message)
        except NotQueued:
            return not_queued(
                "活动已记录；用同一 activity_id 重新提交即可送出问题 / the activity is recorded; "
                "post it again with the same activity_id to send its issues"
            ).response()
        results = [self.channel.wait(m["submission_id"]) for m in messages]
        return json_response({**activity, "issues": results}, 201)

    @http("GET", "/activities")
    @guard()
    def http_activities(self, request):
        limit = min(int(request.args.get("limit", 100)), 1000)
        who = auth.current(request)
        station = request.args.get("station") or None
        if station and not who.may_station(station) or who.role == "station_admin" and not station:
            raise auth.forbidden()  # a station admin asks for one of its stations
        studios = None if who.is_office or station else sorted(who.studios)
        member = who.member if who.role == "member" else None
        with self.db.transaction() as session:
            found = activities.activities(session, station, limit, studios, member)
        return json_response({"activities": found})

    # -- Open311 GeoReport v2 (root: /open311/v2) ------------------------------------------------

    def _api_keys(self) -> set[str]:
        keys = self.config["SERVICE"].get("open311_api_keys") or ""
        return {k.strip() for k in str(keys).split(",") if k.strip()}

    def _open311(self, fmt: str, kind: str, produce, status: int = 200) -> Response:
        if fmt not in open311.FORMATS:
            return open311_response(
                "errors", open311.errors(open311.Open311Error(404, f"format {fmt}")), "json", 404
            )
        try:
            return open311_response(kind, produce(), fmt, status)
        except open311.Open311Error as exc:
            response = open311_response("errors", open311.errors(exc), fmt, exc.status)
            if exc.retry_after:
                response.headers["Retry-After"] = str(exc.retry_after)
            return response

    @http("GET", "/open311/v2/services.<string:fmt>")
    @public
    def open311_services(self, request, fmt):
        def produce():
            with self.db.transaction() as session:
                return open311.services(intake.categories(session))

        return self._open311(fmt, "services", produce)

    @http("GET", "/open311/v2/services/<string:code>.<string:fmt>")
    @public
    def open311_definition(self, request, code, fmt):
        def produce():
            with self.db.transaction() as session:
                category = next((c for c in intake.categories(session) if c["code"] == code), None)
                stations = [
                    intake.known_station(session, c) for c in intake.known_station_codes(session)
                ]
            if category is None:
                raise open311.Open311Error(
                    404, f"service_code {code}: 未知的服务 / unknown service"
                )
            return open311.service_definition(category, stations)

        return self._open311(fmt, "service_definition", produce)

    @http("POST", "/open311/v2/requests.<string:fmt>")
    @public
    def open311_post(self, request, fmt):
        def produce():
            request.max_content_length = intake.MAX_BODY_BYTES
            try:
                form = request.form
            except RequestEntityTooLarge as exc:
                raise open311.Open311Error(413, "请求内容过大 / request body too large") from exc
            if form.get("api_key") not in self._api_keys():
                raise open311.Open311Error(403, "api_key 无效 / invalid api_key")
            try:
                with self.db.transaction() as session:
                    throttle.admit_submission(
                        session,
                        "open311",
                        self._address(request),
                        throttle.fingerprint(form["api_key"]),
                        throttle.limits(self.config["SERVICE"]),
                    )
            except throttle.Slowed as slowed:
                raise open311.Open311Error(
                    429,
                    "提交太频繁，请稍后再试 / too many requests, retry later",
                    slowed.retry_after,
                ) from slowed
            with self.db.transaction() as session:
                categories = intake.categories(session)
                stations = set(intake.known_station_codes(session))
            message = open311.submission_from_post(form, categories, stations)
            try:
                return open311.post_answer(self.channel.submit(message))
            except NotQueued as exc:
                raise open311.Open311Error(503, qr_page.NOT_QUEUED) from exc

        return self._open311(fmt, "requests", produce, 201)

    @http("GET", "/open311/v2/requests.<string:fmt>")
    @public
    def open311_requests(self, request, fmt):
        return self._open311(fmt, "requests", lambda: self._requests(request, request.args))

    @http("GET", "/open311/v2/requests/<string:number>.<string:fmt>")
    @public
    def open311_request(self, request, number, fmt):
        def produce():
            found = self._requests(request, {"service_request_id": number})
            if not found:
                raise open311.Open311Error(404, f"service_request_id {number}: 未找到 / not found")
            return found

        return self._open311(fmt, "requests", produce)

    def _requests(self, request, args):
        full = request.args.get("api_key") in self._api_keys()
        with self.db.transaction() as session:
            names = {c["code"]: c["name"] for c in intake.categories(session)}
            return open311.requests(session, args, names, full)

    @http("GET", "/open311/v2/tokens/<string:token_id>.<string:fmt>")
    @public
    def open311_token(self, request, token_id, fmt):
        def produce():
            with self.db.transaction() as session:
                return open311.token(session, token_id)

        return self._open311(fmt, "requests", produce)
