"""The registry nameko service: HTTP for the office, RPC for the other services.

Entrypoints only parse (``args.py``), check the scope (``access.py``), call one rule and
answer; ``@guard`` / ``@public`` turn every refusal into the one error format.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from marshmallow import ValidationError
from werkzeug.wrappers import Response

from services.kernel import auth
from services.kernel.auth import guard, public
from services.kernel.http import flag_arg, json_response
from services.kernel.rpc import rpc
from services.kernel.service import ServiceBase
from services.kernel.settings import Settings
from services.kernel.web import http
from services.registry import (
    access,
    accounts,
    accounts_pages,
    args,
    finder,
    import_page,
    office_page,
    qr,
    registry,
    roster,
    rotation,
    search,
    signin,
    signin_page,
    spreadsheet,
)
from services.registry.leaders_pages import LeaderRoutes
from services.registry.settings import RegistrySettings
from services.registry.throttle import Throttled

KIND = "<any(sectors, stations, studios, members):kind>"
SHEET = "<any(sectors, stations, studios, members, rosters):kind>"
QR_KIND = "<any(member, station, studio):kind>"
SVG = "image/svg+xml; charset=utf-8"


def saved(payload: dict, changed: bool, status: int = 200) -> Response:
    return json_response({"saved": payload, "changed": changed}, status)


def attachment(content: bytes, media: str, filename: str) -> Response:
    disposition = f'attachment; filename="{filename}"'
    return Response(content, content_type=media, headers={"Content-Disposition": disposition})


class RegistryService(LeaderRoutes, ServiceBase):
    name = "registry"
    settings = Settings(RegistrySettings.from_config)

    def health_details(self, session):
        return {"stations": search.counts(session)["stations"]}

    # -- reading ------------------------------------------------------------------------------

    @http("GET", "/sectors")
    @guard()
    def http_sectors(self, request):
        with self.db.transaction() as session:
            return json_response({"sectors": search.list_sectors(session)})

    @http("GET", "/stations")
    @guard()
    def http_stations(self, request):
        active = flag_arg(request.args.get("active"), "active")
        district = args.text_arg(request.args.get("district"), "district")
        with self.db.transaction() as session:
            stations = search.list_stations(session, district, active)
            return json_response({"stations": stations})

    @http("GET", "/studios")
    @guard()
    def http_studios(self, request):
        query = request.args
        active = flag_arg(query.get("active"), "active")
        district = args.text_arg(query.get("district"), "district")
        sector = args.text_arg(query.get("sector"), "sector")
        with self.db.transaction() as session:
            studios = search.list_studios(session, district, sector, active)
            return json_response({"studios": studios})

    @http("GET", "/members")
    @guard()
    def http_members(self, request):
        filters = args.member_filters(request.args)
        with self.db.transaction() as session:
            total, members = search.search_members(session, **filters)
            return json_response({"total": total, "members": members})

    @http("GET", f"/{KIND}/<code>")
    @guard()
    def http_get(self, request, kind, code):
        with self.db.transaction() as session:
            row = registry.get(session, kind, code)
            if kind == "members":
                access.see_member(auth.current(request), row)
            # the office's view: the whole record (a member's phone too) and its revision
            return json_response({**registry.KINDS[kind].record(row), "revision": row.revision})

    @http("GET", "/counts")
    @guard()
    def http_counts(self, request):
        with self.db.transaction() as session:
            return json_response(search.counts(session))

    # -- changing -----------------------------------------------------------------------------

    @http("POST", f"/{KIND}")
    @guard("office")
    def http_create(self, request, kind):
        data = args.body(request)
        with self.db.transaction() as session:
            row, changed = registry.create(session, kind, data)
            payload = registry.KINDS[kind].payload(row)
        return saved(payload, changed, 201 if changed else 200)

    @http("PATCH", f"/{KIND}/<code>")
    @guard("office")
    def http_update(self, request, kind, code):
        data = args.body(request)
        with self.db.transaction() as session:
            row, changed = registry.update(session, kind, code, data)
            payload = registry.KINDS[kind].payload(row)
        return saved(payload, changed)

    @http("POST", "/<any(stations, studios, members):kind>/<code>/deactivate")
    @guard("office")
    def http_deactivate(self, request, kind, code):
        with self.db.transaction() as session:
            row, changed = registry.deactivate(session, kind, code)
            payload = registry.KINDS[kind].payload(row)
        return saved(payload, changed)

    # -- duty rosters -------------------------------------------------------------------------

    @http("GET", "/rosters")
    @guard()
    def http_rosters(self, request):
        filters = args.roster_filters(request.args)
        access.read_rosters(auth.current(request), filters)
        with self.db.transaction() as session:
            return json_response({"rosters": roster.list_rosters(session, **filters)})

    @http("POST", "/rosters")
    @guard("office", "station_admin", "studio_admin")
    def http_save_roster(self, request):
        data = args.body(request)
        duty_day = roster.parse(data)  # types and bounds first: the scope sees only codes
        with self.db.transaction() as session:
            access.change_roster(auth.current(request), session, duty_day)
            row, changed = roster.save_roster(session, data)
            payload = roster.roster_payload(row)
        return saved(payload, changed, 201 if changed else 200)

    @http("POST", "/rosters/rotation")
    @guard("office", "station_admin", "studio_admin")
    def http_rotation(self, request):
        plan = args.rotation(args.body(request))
        access.plan_rotation(auth.current(request), plan)
        with self.db.transaction() as session:
            rows = rotation.generate_rotation(session, **plan)
            body = {"rosters": [roster.roster_payload(r) for r in rows]}
        return json_response(body, 201)

    @http("GET", "/on-duty")
    @guard("office", "station_admin")
    def http_on_duty(self, request):
        station, day, sector = args.on_duty(request.args)
        access.see_station(auth.current(request), station)
        with self.db.transaction() as session:
            return json_response({"members": roster.on_duty(session, station, day, sector)})

    # -- import and export (Excel, CSV) ------------------------------------------------------

    @http("POST", f"/import/{SHEET}")
    @guard("office", max_body=args.MAX_IMPORT_BYTES)
    def http_import(self, request, kind):
        data = args.upload(request)
        with self.db.transaction() as session:  # an error rolls every row back
            counts = spreadsheet.import_rows(session, kind, data)
        return json_response({"imported": counts})

    @http("GET", f"/export/{SHEET}.<fmt>")
    @guard("office")
    def http_export(self, request, kind, fmt):
        filters = args.roster_filters(request.args) if kind == "rosters" else None
        with self.db.transaction() as session:
            return attachment(*spreadsheet.export_file(session, kind, fmt, filters))

    # -- “委员码上见” QR codes ----------------------------------------------------------------

    @http("GET", f"/qr/{QR_KIND}/<code>.<any(png, svg):fmt>")
    @public
    def http_qr(self, request, kind, code, fmt):
        with self.db.transaction() as session:
            registry.get(session, f"{kind}s", code)  # 404 for an unknown code
        url = qr.target_url(self.settings.intake_url, kind, code)
        if fmt == "png":
            return Response(qr.png(url), content_type="image/png")
        return Response(qr.svg(url), content_type=SVG)

    @http("GET", f"/qr/{QR_KIND}/<code>/poster")
    @public
    def http_qr_poster(self, request, kind, code):
        with self.db.transaction() as session:
            heading, lines = qr.describe(session, kind, code)  # 404 for an unknown code
        url = qr.target_url(self.settings.intake_url, kind, code)
        return Response(qr.poster(url, heading, lines, code), content_type=SVG)

    # -- the public station finder and reception-day calendars (issue 19) -------------------

    @http("GET", "/finder")
    @public
    def page_finder(self, request):
        with self.db.transaction() as session:
            found = finder.places(session, finder.today())
        return Response(
            finder.page(found, self.settings.intake_url), content_type="text/html; charset=utf-8"
        )

    @http("GET", "/<any(stations, studios):kind>/<code>/reception.ics")
    @public
    def http_reception_ics(self, request, kind, code):
        with self.db.transaction() as session:
            body = finder.calendar(session, kind[:-1], code, finder.today(), datetime.now(UTC))
        return Response(
            body,
            content_type="text/calendar; charset=utf-8",
            headers={"Content-Disposition": f'inline; filename="{code}-reception.ics"'},
        )

    # -- signing in (登录) ---------------------------------------------------------------------

    def _sign_in(self, request, login, password) -> auth.Principal | None:
        """The principal, or None for a wrong login or password (recorded for the throttle);
        :class:`~services.registry.throttle.Throttled` while too many recent attempts failed."""
        address = auth.client_address(request, self.config)
        with self.db.transaction() as session:
            account = accounts.sign_in(session, login, password, address, self.settings.throttle)
            return accounts.principal(account) if account else None

    @http("POST", "/auth/sign-in")
    @public
    def http_sign_in(self, request):
        """JSON ``{login, password}``: the token (for ``Authorization: Bearer``) and the cookie."""
        signin.must_be_json(request)
        data = args.body(request)
        signin.credentials(data, "login", "password")
        who = self._sign_in(request, data.get("login"), data.get("password"))
        if who is None:
            raise signin.wrong_password()
        return signin.token_answer(who, self.config, self.settings)

    @http("POST", "/auth/sign-out")
    @public
    def http_sign_out(self, request):
        """Forgets the cookie: as JSON or with a Bearer header, or from this site's page with
        its CSRF token (back to the sign-in page); anything else is refused and changes nothing."""
        answer = signin.signed_out(request, self.config)
        if answer is not None:
            return answer
        if request.mimetype in signin.FORMS:  # a page's stale form: the page again, one more tap
            page = (request, self.config, "", "", signin_page.SIGN_OUT_EXPIRED, 403)
            return signin_page.answer(*page)
        raise signin.sign_out_refused()

    @http("GET", "/auth/me")
    @guard()
    def http_me(self, request):
        return json_response(signin.me(auth.current(request)))

    @http("POST", "/auth/password")
    @guard()
    def http_own_password(self, request):
        """Change one's own password: ``{current_password, password}``."""
        data = args.body(request)
        signin.credentials(data, "current_password", "password")
        who = auth.current(request)
        if self._sign_in(request, who.account, data.get("current_password")) is None:
            raise ValidationError(
                {"current_password": ["当前密码不对 / the current password is wrong"]}
            )
        with self.db.transaction() as session:
            accounts.set_password(session, who.account, data.get("password"))
        return json_response({"changed": True})

    @http("GET", "/sign-in")
    @public
    def page_sign_in(self, request):
        next_url = auth.safe_next(request.args.get("next"), self.config) or ""
        return signin_page.answer(request, self.config, next_url)

    @http("POST", "/sign-in")
    @public
    def page_sign_in_post(self, request):
        form = request.form
        next_url = auth.safe_next(form.get("next"), self.config) or ""
        login = (form.get("login") or "").strip()
        page = (request, self.config, next_url, login)
        if not auth.csrf_ok(request, self.config, form.get(auth.CSRF_FIELD)):
            return signin_page.answer(*page, signin_page.CSRF, 403)
        try:
            who = self._sign_in(request, login, form.get("password"))
        except Throttled as throttled:  # a page, not the JSON refusal
            wait = (throttled.message_zh, throttled.message)
            return signin_page.answer(*page, wait, 429, throttled.retry_after)
        if who is None:
            return signin_page.answer(*page, signin_page.WRONG, 401)
        return signin.page_answer(who, next_url, self.config, self.settings)

    # -- accounts (账号), the office's -----------------------------------------------------------

    @http("GET", "/accounts")
    @guard("office")
    def http_accounts(self, request):
        active = flag_arg(request.args.get("active"), "active")
        role = args.text_arg(request.args.get("role"), "role")
        with self.db.transaction() as session:
            found = accounts.list_accounts(session, role, active)
        return json_response({"accounts": found})

    @http("POST", "/accounts")
    @guard("office")
    def http_create_account(self, request):
        data = args.body(request)
        with self.db.transaction() as session:
            return json_response(accounts.view(accounts.create(session, data)), 201)

    @http("GET", "/accounts/<login>")
    @guard("office")
    def http_account(self, request, login):
        with self.db.transaction() as session:
            return json_response(accounts.view(accounts.get(session, login)))

    @http("PATCH", "/accounts/<login>")
    @guard("office")
    def http_update_account(self, request, login):
        data = args.body(request)
        with self.db.transaction() as session:
            return json_response(accounts.view(accounts.update(session, login, data)))

    @http("POST", "/accounts/<login>/deactivate")
    @guard("office")
    def http_deactivate_account(self, request, login):
        with self.db.transaction() as session:
            return json_response(accounts.view(accounts.deactivate(session, login)))

    @http("POST", "/accounts/<login>/password")
    @guard("office")
    def http_reset_password(self, request, login):
        data = args.body(request)
        signin.credentials(data, "password")
        password = data.get("password")
        with self.db.transaction() as session:
            account = accounts.set_password(session, login, password, end=True)
            return json_response(accounts.view(account))

    # -- the office's pages: accounts, import and export (forms with the CSRF token) ----------

    @http("GET", "/office/accounts")
    @guard("office", page=True)
    def page_accounts(self, request):
        page = office_page.Page(request, self.config)
        wanted = accounts_pages.filters(request.args)
        with self.db.transaction() as session:
            return page.response("accounts", accounts_pages.main(page, session, wanted))

    @http("POST", "/office/accounts")
    @guard("office", page=True)
    def page_add_account(self, request):
        page = office_page.Page(request, self.config)
        with self.db.transaction() as session:
            html, status = accounts_pages.add(page, session, request.form)
        return page.response("accounts", html, status, no_store=True)

    @http("POST", "/office/account-active")
    @guard("office", page=True)
    def page_account_active(self, request):
        page = office_page.Page(request, self.config)
        with self.db.transaction() as session:
            html = accounts_pages.set_active(page, session, request.form)
        return page.response("accounts", html)

    @http("POST", "/office/account-password")
    @guard("office", page=True)
    def page_reset_password(self, request):
        page = office_page.Page(request, self.config)
        with self.db.transaction() as session:
            html = accounts_pages.reset_password(page, session, request.form)
        return page.response("accounts", html, no_store=True)

    @http("GET", "/office/import")
    @guard("office", page=True)
    def page_import(self, request):
        page = office_page.Page(request, self.config)
        return page.response("import", import_page.main(page))

    @http("POST", "/office/import")
    @guard("office", page=True, max_body=import_page.MAX_PAGE_UPLOAD)
    def page_import_post(self, request):
        page = office_page.Page(request, self.config)
        return import_page.answer(page, self.db.transaction, request)

    # -- RPC for the other services (no personal data) ----------------------------------------

    @rpc
    def list_stations(self):
        with self.db.transaction() as session:
            return search.list_stations(session)

    @rpc
    def list_sectors(self):
        with self.db.transaction() as session:
            return search.list_sectors(session)

    @rpc
    def list_studios(self, district=None, sector=None):
        with self.db.transaction() as session:
            return search.list_studios(session, district, sector)

    @rpc
    def list_members(self, station=None):
        with self.db.transaction() as session:
            return search.list_members(session, station=station)

    @rpc
    def search_members(self, **filters):
        with self.db.transaction() as session:
            total, members = search.search_members(session, **filters)
            return {"total": total, "members": members}

    @rpc
    def get_member(self, code):
        """The member's record as events carry it (no phone), or None."""
        with self.db.transaction() as session:
            return registry.find(session, "members", code)

    @rpc
    def get_station(self, code):
        with self.db.transaction() as session:
            return registry.find(session, "stations", code)

    @rpc
    def on_duty(self, station, day, sector=None):
        """Members on duty at ``station`` on ``day`` (ISO date), of ``sector`` if given."""
        with self.db.transaction() as session:
            return roster.on_duty(session, station, date.fromisoformat(day), sector)
