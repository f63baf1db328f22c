"""Routing's consultation routes (有事好商量, ``consultations.py``), a mixin of the service class:
nameko collects inherited entrypoints. Each route parses, calls one rule and answers; refusals
leave in the one error format through ``@guard``.

- ``POST /consultations``: record one (office, station admins, studio admins), 201 with it;
- ``GET /consultations?station=&studio=&member=&year=``: the list, JSON;
- ``GET /consultations/<id>``: one, JSON;
- pages ``/consultations/page?…`` (the list), ``/consultations/new?station=|studio=`` (the
  form), ``/consultations/<id>/page``.
"""

from __future__ import annotations

from sqlalchemy import select

from services.kernel import auth
from services.kernel.auth import current, guard
from services.kernel.http import ApiError, json_response, not_found, read_json
from services.kernel.web import http
from services.routing import (
    consultation_pages,
    consultation_views,
    consultations,
    lifecycle,
    office,
    views,
)
from services.routing.models import Case, StationCopy, StudioCopy, StudioMembershipCopy
from services.routing.pages import page_response
from services.routing.records import now
from services.routing.workdays import CHINA

ROLES = ("office", "station_admin", "studio_admin")


class ConsultationRoutes:
    """The consultation entrypoints of ``RoutingService`` (its ``db``, ``settings``,
    ``_sign_out``)."""

    @http("POST", "/consultations")
    @guard(*ROLES)
    def http_record_consultation(self, request):
        who = current(request)
        data = read_json(request)
        with self.db.transaction() as session:
            cid = consultations.record(session, who, data, self.settings).id
        with self.db.transaction() as session:
            return json_response(consultation_views.one(session, who, cid), 201)

    @http("GET", "/consultations")
    @guard(*ROLES)
    def http_consultations(self, request):
        filters = consultation_views.read_filters(request.args)
        with self.db.transaction() as session:
            found = consultation_views.find(session, current(request), filters)
        return json_response({"consultations": found})

    @http("GET", "/consultations/<int:cid>")
    @guard(*ROLES)
    def http_consultation(self, request, cid):
        with self.db.transaction() as session:
            return json_response(consultation_views.one(session, current(request), cid))

    @http("GET", "/consultations/page")
    @guard(*ROLES, page=True)
    def page_consultations(self, request):
        who = current(request)
        with self.db.transaction() as session:
            choices = _choices(session, who)
        sign_out = self._sign_out(request)
        try:
            filters = consultation_views.read_filters(request.args)
        except ApiError as err:  # the form again, saying which field is wrong
            page = consultation_pages.list_page(
                None, {}, choices, sign_out=sign_out, error=err.fields
            )
            refused = page_response(page)
            refused.status_code = 400
            return refused
        with self.db.transaction() as session:
            found = consultation_views.find(session, who, filters)
        page = consultation_pages.list_page(found, filters, choices, sign_out=sign_out)
        return page_response(page)

    @http("GET", "/consultations/new")
    @guard(*ROLES, page=True)
    def page_new_consultation(self, request):
        who = current(request)
        with self.db.transaction() as session:
            choices = _choices(session, who)
            convener = _convener(session, who, request.args)
            cases, members = _open_cases(session, who, convener)
        today = now().astimezone(CHINA).date().isoformat()
        page = consultation_pages.new_page(
            convener, choices, cases, members, today, sign_out=self._sign_out(request)
        )
        return page_response(page)

    @http("GET", "/consultations/<int:cid>/page")
    @guard(*ROLES, page=True)
    def page_consultation(self, request, cid):
        with self.db.transaction() as session:
            found = consultation_views.one(session, current(request), cid)
        page = consultation_pages.detail_page(found, sign_out=self._sign_out(request))
        return page_response(page)


# --- what the pages show (reads only; every one in the caller's scope) ------------------------


def _choices(session, who) -> dict:
    """The stations and studios the caller may convene or filter by: (code, label) pairs."""
    stations = session.execute(
        select(StationCopy.code, StationCopy.name).order_by(StationCopy.code)
    )
    studios = session.execute(select(StudioCopy.code, StudioCopy.name).order_by(StudioCopy.code))
    return {
        "stations": [(c, f"{n}（{c}）") for c, n in stations if who.may_station(c)],
        "studios": [(c, f"{n or c}（{c}）") for c, n in studios if who.may_studio(c)],
    }


def _convener(session, who, args) -> dict | None:
    """The station or studio the form is for: the one named (403 outside the caller's scope,
    404 unknown), else the caller's only one, else None (the page asks)."""
    station, studio = args.get("station") or None, args.get("studio") or None
    if station is None and studio is None:
        own = [("station", s) for s in sorted(who.stations)] if who.role == "station_admin" else []
        own += [("studio", s) for s in sorted(who.studios)] if who.role == "studio_admin" else []
        if len(own) != 1:
            return None
        (kind, code), *_ = own
    else:
        kind, code = ("station", station) if station else ("studio", studio)
    allowed = who.may_station(code) if kind == "station" else who.may_studio(code)
    if not allowed:
        raise auth.forbidden()
    row = session.get(StationCopy if kind == "station" else StudioCopy, code[:40])
    if row is None:
        raise not_found(code[:40])
    return {"kind": kind, "code": row.code, "name": row.name or row.code}


def _open_cases(session, who, convener) -> tuple[list[dict], dict[str, str]]:
    """The convener's open cases (a station's; those held by a studio's members), newest first,
    those in the caller's reach only, and the convener's members, for the form's checkboxes."""
    if convener is None:
        return [], {}
    query = select(Case).where(Case.status.in_(lifecycle.OPEN))
    if convener["kind"] == "station":
        query = query.where(Case.station_code == convener["code"])
        members = views.station_members(session, convener["code"])
    else:
        serving = select(StudioMembershipCopy.member_code).where(
            StudioMembershipCopy.studio_code == convener["code"]
        )
        codes = sorted(session.scalars(serving))
        query = query.where(Case.member_code.in_(codes))
        members = {code: views.member_name(session, code) or code for code in codes}
    reach = office.reach_of(session, who)
    rows = session.scalars(query.order_by(Case.received_at.desc()).limit(500))
    return [views._summary(c) for c in rows if reach.may_see(c)], members
