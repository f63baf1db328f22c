"""The registry nameko service: HTTP for the office, RPC for the other services.

Entrypoints only parse, call the rules in ``registry.py`` / ``roster.py`` and answer; every
error leaves through the kernel's one error format.
"""

from __future__ import annotations

import functools
from datetime import date

from marshmallow import ValidationError
from nameko.dependency_providers import Config
from nameko.rpc import rpc
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from services.kernel import auth
from services.kernel.auth import guard, public
from services.kernel.http import ApiError, json_response, read_json
from services.kernel.service import ServiceBase
from services.registry import accounts, qr, registry, roster, signin, spreadsheet
from services.registry.models import Member

KIND = "<any(sectors, stations, studios, members):kind>"


def _invalid(err: ValidationError) -> ApiError:
    return ApiError(
        "invalid", "输入有误，请检查标出的字段", "invalid input, see fields", fields=err.messages
    )


def answers(fn):
    """Turns the rules' exceptions into the one error format."""

    @functools.wraps(fn)
    def wrapper(self, request, *args, **kwargs):
        try:
            return fn(self, request, *args, **kwargs)
        except ValidationError as err:
            return _invalid(err).response()
        except ApiError as err:
            return err.response()

    return wrapper


def _flag(value, name):
    if value is None or value == "":
        return None
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise ValidationError({name: ["应为 true 或 false / must be true or false"]})


def _int(value, name, default=None, minimum=0):
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise ValidationError(
            {name: [f"应为不小于{minimum}的整数 / must be an integer ≥ {minimum}"]}
        )
    return number


def _date(value, name, required=False):
    if not value:
        if required:
            raise ValidationError({name: ["必填 / required"]})
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError({name: ["日期无效，应为 YYYY-MM-DD / not a date"]}) from exc


def member_filters(args) -> dict:
    filters = {
        k: args.get(k) or None
        for k in ("q", "level", "sector", "district", "station", "studio", "expertise")
    }
    filters["active"] = _flag(args.get("active"), "active")
    filters["limit"] = _int(args.get("limit"), "limit", minimum=1)
    filters["offset"] = _int(args.get("offset"), "offset", default=0)
    return filters


def roster_filters(args) -> dict:
    return {
        "station": args.get("station") or None,
        "studio": args.get("studio") or None,
        "member": args.get("member") or None,
        "date_from": _date(args.get("from"), "from"),
        "date_to": _date(args.get("to"), "to"),
    }


def may_see_member(who: auth.Principal, member: Member) -> bool:
    """A member's whole record (phone included): the office, the member, or an admin of a
    station or studio the member serves at."""
    return (
        who.may_member(member.code)
        or any(who.may_station(m.station_code) for m in member.memberships)
        or any(who.may_studio(m.studio_code) for m in member.studio_memberships)
    )


def may_change_roster(who: auth.Principal, data: dict) -> None:
    """The office any roster; an admin only its own station's or studio's."""
    if who.is_office:
        return
    station, studio = data.get("station"), data.get("studio")
    if not (station or studio) or (station and not who.may_station(station)):
        raise auth.forbidden()
    if studio and not who.may_studio(studio):
        raise auth.forbidden()


class RegistryService(ServiceBase):
    name = "registry"
    config = Config()  # public_urls.intake: where the QR codes point

    def health_details(self, session):
        return {"stations": registry.counts(session)["stations"]}

    # -- reading ------------------------------------------------------------------------------

    @http("GET", "/sectors")
    @guard()
    def http_sectors(self, request):
        with self.db.transaction() as session:
            return json_response({"sectors": registry.list_sectors(session)})

    @http("GET", "/stations")
    @guard()
    @answers
    def http_stations(self, request):
        active = _flag(request.args.get("active"), "active")
        with self.db.transaction() as session:
            stations = registry.list_stations(session, request.args.get("district"), active)
            return json_response({"stations": stations})

    @http("GET", "/studios")
    @guard()
    @answers
    def http_studios(self, request):
        args = request.args
        active = _flag(args.get("active"), "active")
        with self.db.transaction() as session:
            studios = registry.list_studios(
                session, args.get("district"), args.get("sector"), active
            )
            return json_response({"studios": studios})

    @http("GET", "/members")
    @guard()
    @answers
    def http_members(self, request):
        filters = member_filters(request.args)
        with self.db.transaction() as session:
            total, members = registry.search_members(session, **filters)
            return json_response({"total": total, "members": members})

    @http("GET", f"/{KIND}/<code>")
    @guard()
    @answers
    def http_get(self, request, kind, code):
        with self.db.transaction() as session:
            row = registry.get(session, kind, code)
            if kind == "members" and not may_see_member(auth.current(request), row):
                raise auth.forbidden()
            k = registry.KINDS[kind]
            # the office's view: the whole record (a member's phone too) and its revision
            return json_response({**k.record(row), "revision": row.revision})

    @http("GET", "/counts")
    @guard()
    def http_counts(self, request):
        with self.db.transaction() as session:
            return json_response(registry.counts(session))

    # -- changing -----------------------------------------------------------------------------

    @http("POST", f"/{KIND}")
    @guard("office")
    @answers
    def http_create(self, request, kind):
        data = read_json(request)
        with self.db.transaction() as session:
            row, changed = registry.create(session, kind, data)
            body = {"saved": registry.KINDS[kind].payload(row), "changed": changed}
        return json_response(body, 201 if changed else 200)

    @http("PATCH", f"/{KIND}/<code>")
    @guard("office")
    @answers
    def http_update(self, request, kind, code):
        data = read_json(request)
        with self.db.transaction() as session:
            row, changed = registry.update(session, kind, code, data)
            body = {"saved": registry.KINDS[kind].payload(row), "changed": changed}
        return json_response(body)

    @http("POST", "/<any(stations, studios, members):kind>/<code>/deactivate")
    @guard("office")
    @answers
    def http_deactivate(self, request, kind, code):
        with self.db.transaction() as session:
            row, changed = registry.deactivate(session, kind, code)
            body = {"saved": registry.KINDS[kind].payload(row), "changed": changed}
        return json_response(body)

    # -- duty rosters -------------------------------------------------------------------------

    @http("GET", "/rosters")
    @guard()
    @answers
    def http_rosters(self, request):
        filters = roster_filters(request.args)
        who = auth.current(request)
        if not (
            who.is_office
            or (filters["station"] and who.may_station(filters["station"]))
            or (filters["studio"] and who.may_studio(filters["studio"]))
            or (filters["member"] and who.may_member(filters["member"]))
        ):
            raise auth.forbidden()
        with self.db.transaction() as session:
            return json_response({"rosters": roster.list_rosters(session, **filters)})

    @http("POST", "/rosters")
    @guard("office", "station_admin", "studio_admin")
    @answers
    def http_save_roster(self, request):
        data = read_json(request)
        may_change_roster(auth.current(request), data)
        with self.db.transaction() as session:
            row, changed = roster.save_roster(session, data)
            body = {"saved": roster.roster_payload(row), "changed": changed}
        return json_response(body, 201 if changed else 200)

    @http("POST", "/rosters/rotation")
    @guard("office", "station_admin", "studio_admin")
    @answers
    def http_rotation(self, request):
        data = read_json(request)
        weekdays = data.get("weekdays", [2])
        if not isinstance(weekdays, list) or not all(
            isinstance(w, int) and 0 <= w <= 6 for w in weekdays
        ):
            raise ValidationError({"weekdays": ["应为0–6的整数列表 / a list of 0–6 (0 = Monday)"]})
        may_change_roster(auth.current(request), data)
        with self.db.transaction() as session:
            rows = roster.generate_rotation(
                session,
                month=str(data.get("month", "")),
                station=data.get("station"),
                studio=data.get("studio"),
                weekdays=tuple(weekdays),
                slot=data.get("slot", "am"),
                per_day=_int(str(data.get("per_day", 2)), "per_day", minimum=1),
            )
            body = {"rosters": [roster.roster_payload(r) for r in rows]}
        return json_response(body, 201)

    @http("GET", "/on-duty")
    @guard("office", "station_admin")
    @answers
    def http_on_duty(self, request):
        args = request.args
        if not args.get("station"):
            raise ValidationError({"station": ["必填 / required"]})
        day = _date(args.get("date"), "date", required=True)
        if not auth.current(request).may_station(args["station"]):
            raise auth.forbidden()
        with self.db.transaction() as session:
            members = roster.on_duty(session, args["station"], day, args.get("sector"))
            return json_response({"members": members})

    # -- import and export (Excel, CSV) ------------------------------------------------------

    @http("POST", "/import/<any(sectors, stations, studios, members, rosters):kind>")
    @guard("office")
    @answers
    def http_import(self, request, kind):
        upload = request.files.get("file")
        data = upload.read() if upload is not None else request.get_data()
        with self.db.transaction() as session:  # an error rolls every row back
            counts = spreadsheet.import_rows(session, kind, data)
        return json_response({"imported": counts})

    @http("GET", "/export/<any(sectors, stations, studios, members, rosters):kind>.<fmt>")
    @guard("office")
    @answers
    def http_export(self, request, kind, fmt):
        filters = roster_filters(request.args) if kind == "rosters" else None
        with self.db.transaction() as session:
            content, media, filename = spreadsheet.export_file(session, kind, fmt, filters)
        return Response(
            content,
            content_type=media,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    # -- “委员码上见” QR codes ----------------------------------------------------------------

    def _qr_url(self, session, kind, code):
        registry.get(session, f"{kind}s", code)  # 404 for an unknown code
        base = self.config.get("public_urls", {}).get("intake", "")
        return qr.target_url(base, kind, code)

    @http("GET", "/qr/<any(member, station, studio):kind>/<code>.<any(png, svg):fmt>")
    @public
    @answers
    def http_qr(self, request, kind, code, fmt):
        with self.db.transaction() as session:
            url = self._qr_url(session, kind, code)
        if fmt == "png":
            return Response(qr.png(url), content_type="image/png")
        return Response(qr.svg(url), content_type="image/svg+xml; charset=utf-8")

    @http("GET", "/qr/<any(member, station, studio):kind>/<code>/poster")
    @public
    @answers
    def http_qr_poster(self, request, kind, code):
        with self.db.transaction() as session:
            url = self._qr_url(session, kind, code)
            heading, lines = qr.describe(session, kind, code)
        return Response(
            qr.poster(url, heading, lines, code), content_type="image/svg+xml; charset=utf-8"
        )

    # -- signing in (登录) ---------------------------------------------------------------------

    def _sign_in(self, request, login, password) -> auth.Principal | None:
        """The principal, or None for a wrong login or password (recorded for the throttle);
        :class:`accounts.Throttled` while too many recent attempts failed."""
        throttle = accounts.Throttle.from_config(self.config)
        address = auth.client_address(request, self.config)
        with self.db.transaction() as session:
            account = accounts.sign_in(session, login, password, address, throttle)
            return accounts.principal(account) if account else None

    def _signed_in(self, response, who: auth.Principal) -> str:
        """Sets the session cookie on ``response``; the token."""
        token = auth.issue_token(who, self.config)
        signin.set_session_cookie(response, token, self.config)
        return token

    @http("POST", "/auth/sign-in")
    @public
    def http_sign_in(self, request):
        """JSON ``{login, password}``: the token (for ``Authorization: Bearer``) and the cookie."""
        try:
            if request.mimetype != "application/json":
                raise ApiError("bad_json", "请以 JSON 提交", "send the sign-in as JSON", status=415)
            data = read_json(request)
            who = self._sign_in(request, data.get("login"), data.get("password"))
            if who is None:
                raise ApiError("sign_in_failed", *signin.WRONG, status=401)
        except accounts.Throttled as throttled:
            return signin.throttled(throttled.retry_after)
        except ApiError as err:
            return err.response()
        response = json_response({})
        token = self._signed_in(response, who)
        who = auth.read_token(token, self.config)
        response.set_data(
            json_response({"token": token, "expires": who.expires, "account": signin.me(who)}).data
        )
        return response

    @http("POST", "/auth/sign-out")
    @public
    def http_sign_out(self, request):
        """Forgets the session cookie (a Bearer token simply stops being sent); from a page's
        form, back to the sign-in page."""
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            # relative, so it holds behind nginx's /registry/ prefix too
            response = Response(status=303, headers={"Location": "../sign-in"})
        else:
            response = json_response({"signed_out": True})
        response.delete_cookie(auth.SESSION_COOKIE, path="/", samesite="Lax", httponly=True)
        return response

    @http("GET", "/auth/me")
    @guard()
    def http_me(self, request):
        return json_response(signin.me(auth.current(request)))

    @http("POST", "/auth/password")
    @guard()
    @answers
    def http_own_password(self, request):
        """Change one's own password: ``{current_password, password}``."""
        data = read_json(request)
        who = auth.current(request)
        try:
            if self._sign_in(request, who.account, data.get("current_password")) is None:
                raise ValidationError(
                    {"current_password": ["当前密码不对 / the current password is wrong"]}
                )
        except accounts.Throttled as throttled:
            return signin.throttled(throttled.retry_after)
        with self.db.transaction() as session:
            accounts.set_password(session, who.account, data.get("password"))
        return json_response({"changed": True})

    def _page(self, request, next_url, login="", error=None, status=200, retry_after=None):
        cookie, token, new = auth.csrf_pair(request, self.config)
        who = auth.principal(request, self.config) if status == 200 else None
        body = signin.page(token, next_url, login, error, who)
        response = Response(body, status=status, content_type="text/html; charset=utf-8")
        if new:
            response.set_cookie(auth.CSRF_COOKIE, cookie, httponly=True, samesite="Lax", path="/")
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @http("GET", "/sign-in")
    @public
    def page_sign_in(self, request):
        return self._page(request, auth.safe_next(request.args.get("next"), self.config) or "")

    @http("POST", "/sign-in")
    @public
    def page_sign_in_post(self, request):
        form = request.form
        next_url = auth.safe_next(form.get("next"), self.config) or ""
        login = (form.get("login") or "").strip()
        if not auth.csrf_ok(request, self.config, form.get(auth.CSRF_FIELD)):
            return self._page(request, next_url, login, signin.CSRF, 403)
        try:
            who = self._sign_in(request, login, form.get("password"))
        except accounts.Throttled as throttled:
            wait = throttled.retry_after
            return self._page(request, next_url, login, signin.wait(wait), 429, wait)
        if who is None:
            return self._page(request, next_url, login, signin.WRONG, 401)
        response = Response(
            status=303, headers={"Location": next_url or signin.landing(who, self.config)}
        )
        self._signed_in(response, who)
        return response

    # -- accounts (账号), the office's -----------------------------------------------------------

    @http("GET", "/accounts")
    @guard("office")
    @answers
    def http_accounts(self, request):
        active = _flag(request.args.get("active"), "active")
        with self.db.transaction() as session:
            found = accounts.list_accounts(session, request.args.get("role"), active)
        return json_response({"accounts": found})

    @http("POST", "/accounts")
    @guard("office")
    @answers
    def http_create_account(self, request):
        data = read_json(request)
        with self.db.transaction() as session:
            body = accounts.view(accounts.create(session, data))
        return json_response(body, 201)

    @http("GET", "/accounts/<login>")
    @guard("office")
    @answers
    def http_account(self, request, login):
        with self.db.transaction() as session:
            return json_response(accounts.view(accounts.get(session, login)))

    @http("PATCH", "/accounts/<login>")
    @guard("office")
    @answers
    def http_update_account(self, request, login):
        data = read_json(request)
        with self.db.transaction() as session:
            return json_response(accounts.view(accounts.update(session, login, data)))

    @http("POST", "/accounts/<login>/deactivate")
    @guard("office")
    @answers
    def http_deactivate_account(self, request, login):
        with self.db.transaction() as session:
            return json_response(accounts.view(accounts.deactivate(session, login)))

    @http("POST", "/accounts/<login>/password")
    @guard("office")
    @answers
    def http_reset_password(self, request, login):
        data = read_json(request)
        with self.db.transaction() as session:
            return json_response(
                accounts.view(accounts.set_password(session, login, data.get("password")))
            )

    # -- RPC for the other services (no personal data) ----------------------------------------

    @rpc
    def list_stations(self):
        with self.db.transaction() as session:
            return registry.list_stations(session)

    @rpc
    def list_sectors(self):
        with self.db.transaction() as session:
            return registry.list_sectors(session)

    @rpc
    def list_studios(self, district=None, sector=None):
        with self.db.transaction() as session:
            return registry.list_studios(session, district, sector)

    @rpc
    def list_members(self, station=None):
        with self.db.transaction() as session:
            return registry.list_members(session, station=station)

    @rpc
    def search_members(self, **filters):
        with self.db.transaction() as session:
            total, members = registry.search_members(session, **filters)
            return {"total": total, "members": members}

    @rpc
    def get_member(self, code):
        """The member's record as events carry it (no phone), or None."""
        with self.db.transaction() as session:
            row = session.get(registry.KINDS["members"].model, code)
            return None if row is None else registry.member_payload(row)

    @rpc
    def get_station(self, code):
        with self.db.transaction() as session:
            row = session.get(registry.KINDS["stations"].model, code)
            return None if row is None else registry.station_payload(row)

    @rpc
    def on_duty(self, station, day, sector=None):
        """Members on duty at ``station`` on ``day`` (ISO date), of ``sector`` if given."""
        with self.db.transaction() as session:
            return roster.on_duty(session, station, date.fromisoformat(day), sector)
