"""The intake nameko service: consumes its stations' queues and the registry's and routing's
events, and serves the HTTP channels (QR pages, status page, staff entry, Open311) and intake's
admin API. Entrypoints only: each parses, calls one rule, answers.

The rules: receiving a submission (``intake``), the copies of other services' data (``known``),
a case's progress (``progress``), submissions as received (``submissions``), the staff channel
(``activities``), personal data (``personal``), similar cases (``duplicates``), slowing abuse
(``throttle``). The pages: ``qr_page``, ``status_page``, ``open311_http``; who may do what:
``access``; the dependencies (station queues, the HTTP channels' publisher, waiting for
routing's word): ``dependencies``; settings: ``settings``.
"""

from __future__ import annotations

from functools import partial

from nameko.rpc import RpcProxy
from nameko.timer import timer

from services.intake import (
    access,
    activities,
    clerk_pages,
    duplicates,
    intake,
    known,
    notices,
    open311_http,
    personal,
    photos,
    progress,
    qr_page,
    status_page,
    submissions,
    throttle,
)
from services.intake.call_page import call_page
from services.intake.dependencies import (
    StationChannel,
    StationQueues,
    StepWaiter,
    selected_stations,
)
from services.intake.pages import Call
from services.intake.settings import IntakeSettings
from services.intake.web import read_body
from services.kernel import auth, sessions, topology
from services.kernel.auth import guard, public
from services.kernel.events import parse_event
from services.kernel.http import int_arg, json_response, not_found
from services.kernel.inbox import OUTCOMES, Inbox
from services.kernel.messaging import consume_reliably
from services.kernel.sealed import Keys
from services.kernel.service import ServiceBase
from services.kernel.settings import Settings
from services.kernel.web import http

ACTIVITY_NOT_QUEUED = (
    "活动已记录；用同一 activity_id 重新提交即可送出问题 / the activity is recorded; "
    "post it again with the same activity_id to send its issues"
)


def _limit(request, maximum: int) -> int:
    return min(int_arg(request.args.get("limit"), "limit", 100), maximum)


class IntakeService(ServiceBase):
    name = "intake"

    routing_rpc = RpcProxy("routing")

    settings = Settings(IntakeSettings.from_config)
    stations = StationQueues()
    channel = StationChannel()
    steps = StepWaiter()
    keys = Keys()  # seals citizens' names and phones at rest (services.kernel.sealed)
    inbox = Inbox(seal_parked=True, redact=personal.redact_message)

    def health_details(self, session):
        return {"stations": self.stations.consumed(), "submissions": submissions.counts(session)}

    def _call(self, request) -> Call:
        return Call(
            request,
            self.config,
            self.db,
            self.settings,
            self.channel,
            self.routing_rpc,
            self.steps,
        )

    # -- messages ----------------------------------------------------------------------------------

    @consume_reliably(queues=selected_stations, batch=True)
    def receive_submission(self, deliveries):
        results = self.inbox.process_batch(deliveries, partial(intake.receive, config=self.config))
        for delivery in deliveries:
            self.channel.done(delivery.message_id)  # HTTP channels set message_id = submission_id
        return results

    @consume_reliably(queues=[topology.event_queue("intake.events")], batch=True)
    def on_event(self, deliveries):
        results = self.inbox.process_batch(deliveries, self._apply_event)
        for code in results:  # a station announced: consume its queue if this process serves it
            if code not in (None, *OUTCOMES) and self.settings.stations.serves(code):
                self.stations.consume(code)
        return results

    def _apply_event(self, session, delivery):
        """One event: intake's copies, and the citizens' notices it gives (same transaction)."""
        event = parse_event(delivery.body)
        sessions.on_event(session, event)  # an account's sessions ended early (the registry's)
        station = known.apply_event(session, event)
        notices.on_event(session, event, auth.public_url(self.config, "intake") + "/status")
        return station

    @timer(interval=notices.ROUND_S)
    def send_notices(self):
        """Notices to citizens that are due (answered, reopened, closed; with consent)."""
        s = self.settings
        return notices.deliver_due(self.db.transaction, s.notify, s.notice_quiet)

    @timer(interval=5)
    def pick_up_stations(self):
        """Consume every known station this process serves. Several intake processes share
        ``intake.events``, so the one that took a station's announcement may not be the one
        that serves it: the others find the station here, in the shared copy, within seconds."""
        with self.db.transaction() as session:
            codes = known.known_station_codes(session)
        for code in codes:
            if self.settings.stations.serves(code):
                self.stations.consume(code)

    @timer(interval=600)
    def prune_throttle(self):
        with self.db.transaction() as session:
            throttle.prune(session)

    @timer(interval=3600)
    def prune_photos(self):
        """Photos of QR forms never sent, after 30 days (``photos.prune_unsent``)."""
        with self.db.transaction() as session:
            photos.prune_unsent(session)

    # -- intake's API ------------------------------------------------------------------------------

    @http("GET", "/categories")
    @public
    def http_categories(self, request):
        with self.db.transaction() as session:
            return json_response({"categories": known.categories(session)})

    @http("POST", "/admin/unrouted/replay")
    @guard("office")
    def http_replay_unrouted(self, request):
        return json_response(self.stations.replay_unrouted())

    @http("GET", "/admin/unrouted")
    @guard("office")
    def http_unrouted(self, request):
        return json_response(self.stations.list_unrouted(_limit(request, 500)))

    @http("GET", "/submissions")
    @guard("office")
    def http_submissions(self, request):
        args, limit = request.args, _limit(request, 1000)
        with self.db.transaction() as session:
            found = submissions.submissions(
                session, args.get("submission_id"), args.get("status"), limit
            )
        return json_response({"submissions": found})

    @http("GET", "/issues/<string:number>")
    @guard("office", "station_admin")
    def http_issue(self, request, number):
        with self.db.transaction() as session:
            status = progress.issue_status(session, number)
        if status is None:
            raise not_found(number)
        access.submission(auth.current(request), status["station"])
        return json_response(status)

    # -- personal data: whole only to those who must call back, and audited ----------------------

    @http("POST", "/issues/<string:number>/contact")
    @guard("office", "station_admin", "member")
    def http_issue_contact(self, request, number):
        """The citizen's name and phone, whole: the office, the issue's station admin, the
        member who has the case (scope checked in ``personal.reveal``). Every answer is
        written to the audit log first."""
        reason = read_body(request).get("reason") if request.get_data() else None
        with self.db.transaction() as session:
            found = personal.reveal(
                session,
                auth.current(request),
                number,
                auth.client_address(request, self.config),
                reason if isinstance(reason, str) else None,
            )
        response = json_response(found)
        response.headers["Cache-Control"] = "no-store"
        return response

    @http("GET", "/issues/<string:number>/call")
    @guard("office", "station_admin", "member", page=True)
    def page_call(self, request, number):
        """联系群众: the page that reveals the contact on a tap (audited) and dials it. Who may
        open it is who may reveal; opening it reveals and records nothing."""
        with self.db.transaction() as session:
            personal.may_call(session, auth.current(request), number)
        who = auth.current(request)
        back = auth.public_url(self.config, "routing")
        back += f"/duty/{who.member}" if who.role == "member" else ""
        return call_page(number, back)

    @http("GET", "/issues/<string:number>/photos/<int:k>")
    @guard("office", "station_admin", "member")
    def http_issue_photo(self, request, number, k):
        """The citizen's photo ``k`` (1…): to whoever may call the citizen back (the office,
        the case's station admin, the member who has it), never on a public page."""
        return self._photo(request, number, k, thumb=False)

    @http("GET", "/issues/<string:number>/photos/<int:k>/thumb")
    @guard("office", "station_admin", "member")
    def http_issue_photo_thumb(self, request, number, k):
        return self._photo(request, number, k, thumb=True)

    def _photo(self, request, number, k, thumb):
        with self.db.transaction() as session:
            personal.may_call(session, auth.current(request), number)
            data = photos.image(session, number, k, thumb)
        return photos.response(data)

    @http("GET", "/admin/notices")
    @guard("office")
    def http_notices(self, request):
        """Notices to citizens (never the address): kind, channel, status, attempts, last error;
        ``?number=``, ``?status=pending|sent|failed|skipped``."""
        args, limit = request.args, _limit(request, 1000)
        with self.db.transaction() as session:
            found = notices.list_notices(session, args.get("number"), args.get("status"), limit)
        return json_response({"notices": found})

    @http("GET", "/admin/audit")
    @guard("office")
    def http_audit(self, request):
        """Who saw which citizen's personal data, when, from where (the office only)."""
        args, limit = request.args, _limit(request, 1000)
        with self.db.transaction() as session:
            views = personal.audit_log(session, args.get("number"), args.get("account"), limit)
        return json_response({"views": views})

    # -- QR channel (委员码上见) and the status page -------------------------------------------------

    @http("GET", "/q/<string:kind>/<string:code>")
    @public
    def qr_form(self, request, kind, code):
        return qr_page.show(self._call(request), kind, code)

    @http("POST", "/q/<string:kind>/<string:code>")
    @public(max_body=photos.MAX_UPLOAD_BYTES)  # up to 3 photos (services.intake.photos)
    def qr_submit(self, request, kind, code):
        return qr_page.submit(self._call(request), kind, code)

    @http("GET", "/q/receipt/<string:submission_id>")
    @public
    def qr_receipt(self, request, submission_id):
        """The receipt of a pending QR submission: the path part is the receipt id the result
        page made (signed: ``qr_page.receipt_id``), not a submission id, which may be guessed."""
        return qr_page.receipt(self._call(request), submission_id)

    @http("GET", "/status")
    @public
    def status_page(self, request):
        return status_page.page(self._call(request), request.args)

    @http("POST", "/status/action")
    @public
    def status_action(self, request):
        """The citizen's return visit: rate a resolved case, or ask to reopen it."""
        return status_page.action(self._call(request), self.routing_rpc, self.steps)

    @http("GET", "/api/status")
    @public
    def status_json(self, request):
        return status_page.as_json(self._call(request))

    # -- staff channel (工作站/工作室 staff) ------------------------------------------------------

    @http("POST", "/staff/issues")
    @guard("office", "station_admin", "studio_admin")
    def staff_issue(self, request):
        """One issue staff heard (scope: ``access.staff_issue``). A ``submission_id`` sent again
        answers the same issue only when it is the caller's own and the same; else 409."""
        who = auth.current(request)
        message, sub = activities.load_staff_issue(read_body(request))  # types first: 400
        access.staff_issue(None, who, sub)  # 403 before anything is read
        with self.db.transaction() as session:
            access.staff_issue(session, who, sub)
            message = activities.staff_issue(session, who, message, sub)
            activities.check_new_or_own(session, who, [message], "submission_id")
        result = self.channel.submit(message)
        with self.db.transaction() as session:
            answer = activities.staff_answer(session, who, message, result)
        return json_response(answer, 202 if answer["status"] == "pending" else 201)

    @http("GET", "/staff/issues/<string:number>/similar")
    @guard("office", "station_admin")
    def staff_similar(self, request, number):
        """Open cases this issue may be the same problem as, with scores: staff merge in
        routing (``POST /cases/<number>/actions/merge``). The office, or an admin of the
        issue's station; the candidates are those in the caller's scope (never contact data)."""
        who = auth.current(request)
        with self.db.transaction() as session:
            status = progress.issue_status(session, number)
            if status is None:
                raise not_found(number)
            access.submission(who, status["station"])
            found = access.similar_in_scope(who, duplicates.for_staff(session, number))
        if found is None:
            raise not_found(number)
        return json_response({"tracking_number": number, "similar": found})

    @http("POST", "/staff/activities")
    @guard()
    def staff_activity(self, request):
        """An activity (scope: ``access.record_activity``); an ``activity_id`` sent again answers
        the same activity only when it is the caller's own and the same; else 409."""
        who = auth.current(request)
        a = activities.load_activity(read_body(request))  # types and bounds first: 400
        access.record_activity(None, who, a)  # 403 before anything is read
        with self.db.transaction() as session:
            activity, messages = activities.record_activity(session, who, a)
        for message in messages:
            self.channel.publish(message, note=ACTIVITY_NOT_QUEUED)
        results = [self.channel.wait(m["submission_id"]) for m in messages]
        with self.db.transaction() as session:
            results = [
                activities.own_result(session, who, m, r)
                for m, r in zip(messages, results, strict=True)
            ]
        return json_response({**activity, "issues": results}, 201)

    @http("GET", "/staff/<string:station>/issue")
    @guard("office", "station_admin", page=True)
    def clerk_issue_page(self, request, station):
        """The clerk's page for a phone, letter or visit issue: posts to ``POST /staff/issues``."""
        return clerk_pages.issue_page(self._call(request), station)

    @http("GET", "/staff/<string:station>/activity")
    @guard("office", "station_admin", page=True)
    def clerk_activity_page(self, request, station):
        """The clerk's page for a reception day or activity: posts to ``POST /staff/activities``."""
        return clerk_pages.activity_page(self._call(request), station)

    @http("GET", "/activities")
    @guard()
    def http_activities(self, request):
        limit = _limit(request, 1000)
        scope = access.activities_scope(auth.current(request), request.args.get("station") or None)
        with self.db.transaction() as session:
            found = activities.activities(session, scope[0], limit, *scope[1:])
        return json_response({"activities": found})

    # -- Open311 GeoReport v2 (root: /open311/v2) ------------------------------------------------

    @http("GET", "/open311/v2/services.<string:fmt>")
    @public
    def open311_services(self, request, fmt):
        return open311_http.services(self._call(request), fmt)

    @http("GET", "/open311/v2/services/<string:code>.<string:fmt>")
    @public
    def open311_definition(self, request, code, fmt):
        return open311_http.definition(self._call(request), code, fmt)

    @http("POST", "/open311/v2/requests.<string:fmt>")
    @public(max_body=photos.MAX_UPLOAD_BYTES)  # up to 3 photos (services.intake.photos)
    def open311_post(self, request, fmt):
        return open311_http.post(self._call(request), fmt)

    @http("GET", "/open311/v2/requests.<string:fmt>")
    @public
    def open311_requests(self, request, fmt):
        return open311_http.requests(self._call(request), fmt)

    @http("GET", "/open311/v2/requests/<string:number>.<string:fmt>")
    @public
    def open311_request(self, request, number, fmt):
        return open311_http.one_request(self._call(request), number, fmt)

    @http("GET", "/open311/v2/tokens/<string:token_id>.<string:fmt>")
    @public
    def open311_token(self, request, token_id, fmt):
        return open311_http.token(self._call(request), token_id, fmt)
