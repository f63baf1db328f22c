"""The 履职档案's routes (a mixin of the reporting service): one member's file as a page, JSON,
PDF and Excel, and a sector's members as one PDF or workbook. The rules are in
:mod:`services.reporting.dossier`; the scope rule is :func:`~services.reporting.dossier.may_read`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from werkzeug.wrappers import Response

from services.kernel import auth
from services.kernel.auth import forbidden, guard, public_url
from services.kernel.http import json_response, not_found
from services.kernel.web import http
from services.reporting import dossier, dossier_files, dossier_pages, periods

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READERS = ("office", "station_admin", "studio_admin", "member")
CODE_MAX = 40  # the registry's codes (members, sectors) are at most this long


def _year(request) -> int:
    this_year = periods.today_in_china(datetime.now(UTC)).year
    return periods.year(request.args.get("year") or str(this_year))


def _a_code(text: str) -> bool:
    """Whether ``text`` could be a registry code (else nobody: not looked up at all, so no
    NUL or 10,000 characters reach the database)."""
    return 0 < len(text) <= CODE_MAX and text.isprintable()


def _file_response(body: bytes, mimetype: str, filename: str) -> Response:
    # an ASCII name for old clients, the Chinese one (RFC 5987) for the others
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": disposition})


class DossierRoutes:
    """Mixed into ``ReportingService``: uses its ``db`` and ``config``."""

    def _dossier(self, request, code: str) -> tuple[dict, dict]:
        """The file asked for, after the scope rule (403 outside it, 404 for the office when
        the registry never announced the member), and its links."""
        who = auth.current(request)
        year = _year(request)
        with self.db.transaction() as session:
            member = dossier.members(session, [code]).get(code) if _a_code(code) else None
            if not dossier.may_read(who, member):
                raise forbidden()
            if member is None:
                raise not_found(code)
            file = dossier.dossier(session, code, year)
        bases = {s: public_url(self.config, s) for s in ("routing", "registry", "intake")}
        return file, dossier.links(file, bases, who.role)

    @http("GET", "/dossier/<string:code>")
    @guard(*READERS, page=True)
    def http_dossier_page(self, request, code):
        file, links = self._dossier(request, code)
        this_year = periods.today_in_china(datetime.now(UTC)).year
        role = auth.current(request).role
        html = dossier_pages.page(file, links, dossier.years_of(file, this_year), role)
        return Response(html, mimetype="text/html", content_type="text/html; charset=utf-8")

    @http("GET", "/dossier/<string:code>.json")
    @guard(*READERS)
    def http_dossier_json(self, request, code):
        file, links = self._dossier(request, code)
        return json_response(file | {"links": links})

    @http("GET", "/dossier/<string:code>.xlsx")
    @guard(*READERS)
    def http_dossier_xlsx(self, request, code):
        file, links = self._dossier(request, code)
        name = f"履职档案-{code}-{file['year']}.xlsx"
        return _file_response(dossier_files.workbook(file, links), XLSX, name)

    @http("GET", "/dossier/<string:code>.pdf")
    @guard(*READERS)
    def http_dossier_pdf(self, request, code):
        file, _links = self._dossier(request, code)
        name = f"履职档案-{code}-{file['year']}.pdf"
        return _file_response(dossier_files.pdf(file), "application/pdf", name)

    def _sector(self, request, sector: str) -> tuple[int, list[dict]]:
        year = _year(request)
        with self.db.transaction() as session:
            files = dossier.sector_dossiers(session, sector, year) if _a_code(sector) else []
        if not files:
            raise not_found(sector)
        return year, files

    @http("GET", "/dossier/sector/<string:sector>.xlsx")
    @guard("office")
    def http_sector_xlsx(self, request, sector):
        year, files = self._sector(request, sector)
        body = dossier_files.sector_workbook(sector, year, files)
        return _file_response(body, XLSX, f"履职档案-界别{sector}-{year}.xlsx")

    @http("GET", "/dossier/sector/<string:sector>.pdf")
    @guard("office")
    def http_sector_pdf(self, request, sector):
        year, files = self._sector(request, sector)
        body = dossier_files.sector_pdf(sector, year, files)
        return _file_response(body, "application/pdf", f"履职档案-界别{sector}-{year}.pdf")
