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

from services.kernel.http import ApiError, json_response, read_json
from services.kernel.service import ServiceBase
from services.registry import qr, registry, roster, spreadsheet

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


class RegistryService(ServiceBase):
    name = "registry"
    config = Config()  # public_urls.intake: where the QR codes point

    def health_details(self, session):
        return {"stations": registry.counts(session)["stations"]}

    # -- reading ------------------------------------------------------------------------------

    @http("GET", "/sectors")
    def http_sectors(self, request):
        with self.db.transaction() as session:
            return json_response({"sectors": registry.list_sectors(session)})

    @http("GET", "/stations")
    @answers
    def http_stations(self, request):
        active = _flag(request.args.get("active"), "active")
        with self.db.transaction() as session:
            stations = registry.list_stations(session, request.args.get("district"), active)
            return json_response({"stations": stations})

    @http("GET", "/studios")
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
    @answers
    def http_members(self, request):
        filters = member_filters(request.args)
        with self.db.transaction() as session:
            total, members = registry.search_members(session, **filters)
            return json_response({"total": total, "members": members})

    @http("GET", f"/{KIND}/<code>")
    @answers
    def http_get(self, request, kind, code):
        with self.db.transaction() as session:
            row = registry.get(session, kind, code)
            k = registry.KINDS[kind]
            # the office's view: the whole record (a member's phone too) and its revision
            return json_response({**k.record(row), "revision": row.revision})

    @http("GET", "/counts")
    def http_counts(self, request):
        with self.db.transaction() as session:
            return json_response(registry.counts(session))

    # -- changing -----------------------------------------------------------------------------

    @http("POST", f"/{KIND}")
    @answers
    def http_create(self, request, kind):
        data = read_json(request)
        with self.db.transaction() as session:
            row, changed = registry.create(session, kind, data)
            body = {"saved": registry.KINDS[kind].payload(row), "changed": changed}
        return json_response(body, 201 if changed else 200)

    @http("PATCH", f"/{KIND}/<code>")
    @answers
    def http_update(self, request, kind, code):
        data = read_json(request)
        with self.db.transaction() as session:
            row, changed = registry.update(session, kind, code, data)
            body = {"saved": registry.KINDS[kind].payload(row), "changed": changed}
        return json_response(body)

    @http("POST", "/<any(stations, studios, members):kind>/<code>/deactivate")
    @answers
    def http_deactivate(self, request, kind, code):
        with self.db.transaction() as session:
            row, changed = registry.deactivate(session, kind, code)
            body = {"saved": registry.KINDS[kind].payload(row), "changed": changed}
        return json_response(body)

    # -- duty rosters -------------------------------------------------------------------------

    @http("GET", "/rosters")
    @answers
    def http_rosters(self, request):
        filters = roster_filters(request.args)
        with self.db.transaction() as session:
            return json_response({"rosters": roster.list_rosters(session, **filters)})

    @http("POST", "/rosters")
    @answers
    def http_save_roster(self, request):
        data = read_json(request)
        with self.db.transaction() as session:
            row, changed = roster.save_roster(session, data)
            body = {"saved": roster.roster_payload(row), "changed": changed}
        return json_response(body, 201 if changed else 200)

    @http("POST", "/rosters/rotation")
    @answers
    def http_rotation(self, request):
        data = read_json(request)
        weekdays = data.get("weekdays", [2])
        if not isinstance(weekdays, list) or not all(
            isinstance(w, int) and 0 <= w <= 6 for w in weekdays
        ):
            raise ValidationError({"weekdays": ["应为0–6的整数列表 / a list of 0–6 (0 = Monday)"]})
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
    @answers
    def http_on_duty(self, request):
        args = request.args
        if not args.get("station"):
            raise ValidationError({"station": ["必填 / required"]})
        day = _date(args.get("date"), "date", required=True)
        with self.db.transaction() as session:
            members = roster.on_duty(session, args["station"], day, args.get("sector"))
            return json_response({"members": members})

    # -- import and export (Excel, CSV) ------------------------------------------------------

    @http("POST", "/import/<any(sectors, stations, studios, members, rosters):kind>")
    @answers
    def http_import(self, request, kind):
        upload = request.files.get("file")
        data = upload.read() if upload is not None else request.get_data()
        with self.db.transaction() as session:  # an error rolls every row back
            counts = spreadsheet.import_rows(session, kind, data)
        return json_response({"imported": counts})

    @http("GET", "/export/<any(sectors, stations, studios, members, rosters):kind>.<fmt>")
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
    @answers
    def http_qr(self, request, kind, code, fmt):
        with self.db.transaction() as session:
            url = self._qr_url(session, kind, code)
        if fmt == "png":
            return Response(qr.png(url), content_type="image/png")
        return Response(qr.svg(url), content_type="image/svg+xml; charset=utf-8")

    @http("GET", "/qr/<any(member, station, studio):kind>/<code>/poster")
    @answers
    def http_qr_poster(self, request, kind, code):
        with self.db.transaction() as session:
            url = self._qr_url(session, kind, code)
            heading, lines = qr.describe(session, kind, code)
        return Response(
            qr.poster(url, heading, lines, code), content_type="image/svg+xml; charset=utf-8"
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
