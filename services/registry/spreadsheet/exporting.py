"""An export: one kind as rows of text an import reads back, in an .xlsx or a .csv file."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.http import ApiError
from services.registry import registry, roster
from services.registry.spreadsheet.cells import Writers
from services.registry.spreadsheet.columns import COLUMNS, FILE_NAMES, KINDS
from services.registry.spreadsheet.files import XLSX_MEDIA, to_csv, to_xlsx


def _records(session: Session, kind: str, roster_filters: dict | None) -> list[dict]:
    if kind == "rosters":
        return roster.list_rosters(session, **(roster_filters or {}))
    k = registry.KINDS[kind]
    return [k.record(r) for r in session.scalars(select(k.model).order_by(k.model.code))]


def export_rows(session: Session, kind: str, roster_filters: dict | None = None) -> list[list[str]]:
    """The header row and one row per record, as an import reads them back.

    ``roster_filters`` (rosters only): ``station``, ``studio``, ``member``, ``date_from``,
    ``date_to``, as :func:`roster.list_rosters` takes them (one station's month, say).
    """
    if kind not in KINDS:
        raise ApiError("not_found", f"无法导出: {kind}", f"cannot export {kind}", status=404)
    writers = Writers(session)
    columns = COLUMNS[kind]
    rows = [[c.header for c in columns]]
    rows.extend(
        [writers.text(kind, c.field, r.get(c.field)) for c in columns]
        for r in _records(session, kind, roster_filters)
    )
    return rows


def export_file(
    session: Session, kind: str, fmt: str, roster_filters: dict | None = None
) -> tuple[bytes, str, str]:
    """(content, media type, file name) of one kind as .xlsx or .csv."""
    rows = export_rows(session, kind, roster_filters)
    if fmt == "xlsx":
        return to_xlsx(rows, FILE_NAMES[kind]), XLSX_MEDIA, f"{kind}.xlsx"
    if fmt == "csv":
        return to_csv(rows), "text/csv; charset=utf-8", f"{kind}.csv"
    raise ApiError("bad_format", f"不支持的格式: {fmt}", f"unsupported format: {fmt}")
