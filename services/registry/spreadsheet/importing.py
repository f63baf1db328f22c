"""An import: every row of a file checked and saved through the registry's own rules, all or
nothing (the caller's transaction rolls back on the error that names every bad cell)."""

from __future__ import annotations

from datetime import date

from marshmallow import ValidationError
from sqlalchemy.orm import Session

from services.kernel.http import ApiError
from services.registry import registry, roster
from services.registry.models import RosterDay
from services.registry.saving import lookup, preload
from services.registry.spreadsheet.cells import CellError, Readers
from services.registry.spreadsheet.columns import COLUMNS, KINDS, Column, check_headers
from services.registry.spreadsheet.files import not_a_spreadsheet, read_table


def _messages(value) -> list[str]:
    if isinstance(value, dict):
        return [m for v in value.values() for m in _messages(v)]
    if isinstance(value, list):
        return [m for v in value for m in _messages(v)]
    return [str(value)]


def row_error(row: int, column: Column | None, field: str, message: str) -> tuple[str, str]:
    zh, _, en = message.partition(" / ")
    header = column.header if column else field
    return f"{row}.{field}", f"第{row}行 {header}: {zh} / row {row} {field}: {en or zh}"


def error_rows(kind: str, fields: dict[str, list[str]]) -> list[dict]:
    """An ``import_invalid`` answer's fields as a table, in row order: ``row``, ``field``,
    ``header`` (the column's Chinese header) and each message's ``zh`` and ``en`` halves, as
    :func:`row_error` wrote them."""
    headers = {c.field: c.header for c in COLUMNS.get(kind, [])}
    found = []
    for key, texts in fields.items():
        row, _, field = key.partition(".")
        for text in texts:
            zh, _, en = text.partition(f" / row {row} {field}: ")
            zh = zh.split(": ", 1)[1] if ": " in zh else zh
            number = int(row) if row.isdigit() else 0
            header = headers.get(field, field)
            found.append({"row": number, "field": field, "header": header, "zh": zh, "en": en})
    return sorted(found, key=lambda e: (e["row"], e["field"]))


def _row_key(kind: str, record: dict) -> str:
    if kind == "rosters":
        try:
            day = date.fromisoformat(record.get("date") or "")
        except ValueError:
            return repr(record)
        return roster.roster_code(
            day, record.get("slot", "am"), record.get("station"), record.get("studio")
        )
    return str(record.get("code"))


def _existing(session: Session, kind: str, record: dict) -> dict | None:
    if kind == "rosters":
        row = lookup(session, RosterDay, _row_key(kind, record))
        return None if row is None else roster.roster_record(row)
    code = record.get("code")
    row = lookup(session, registry.KINDS[kind].model, code) if code else None
    return None if row is None else registry.KINDS[kind].record(row)


def _save(session: Session, kind: str, record: dict):
    if kind == "rosters":
        return roster.save_roster(session, record)
    return registry.KINDS[kind].save(session, record)


class _Import:
    """One file's import: the errors of every row, the rows seen, the counts."""

    def __init__(self, session: Session, kind: str, columns: list[Column | None]):
        self.session, self.kind, self.columns = session, kind, columns
        self.by_field = {c.field: c for c in columns if c}
        self.readers = Readers(session)
        self.errors: dict[str, list[str]] = {}
        self.seen: dict[str, int] = {}
        self.counts = {"rows": 0, "created": 0, "updated": 0, "unchanged": 0}

    def fail(self, row: int, field: str, message: str) -> None:
        key, text = row_error(row, self.by_field.get(field), field, message)
        self.errors.setdefault(key, []).append(text)

    def read(self, number: int, cells: list[str]) -> tuple[dict, set[str]]:
        """The row's record, and the fields whose cells could not be read (None in it)."""
        record, bad = {}, set()
        for column, text in zip(self.columns, cells, strict=False):
            if column is None:
                continue
            try:
                if column.required and not text:
                    raise CellError("不能为空 / required")
                record[column.field] = self.readers.for_field(self.kind, column.field)(text)
            except CellError as exc:
                self.fail(number, column.field, str(exc))
                bad.add(column.field)
                record[column.field] = None  # the rules still check the row's other cells
        return record, bad

    def row(self, number: int, cells: list[str]) -> None:
        self.counts["rows"] += 1
        record, bad = self.read(number, cells)
        key = _row_key(self.kind, record)
        if key in self.seen and not bad:
            self.fail(
                number, "code", f"与第{self.seen[key]}行重复 / duplicates row {self.seen[key]}"
            )
            return
        self.seen[key] = number
        existing = _existing(self.session, self.kind, record)
        if existing is not None:
            record = {**existing, **record}  # a column the file leaves out keeps its value
        try:
            _, changed = _save(self.session, self.kind, record)
        except ValidationError as err:
            for field, value in err.messages.items():
                if field not in bad:  # already named by the cell reader
                    for message in _messages(value):
                        self.fail(number, field, message)
            return
        if bad:
            return  # cannot happen (a None the rules accept); the errors roll it back anyway
        if existing is None:
            self.counts["created"] += 1
        else:
            self.counts["updated" if changed else "unchanged"] += 1


def import_rows(session: Session, kind: str, data: bytes) -> dict:
    """Check and save every row of a file; raises ApiError naming every bad cell, else counts.

    The caller's transaction makes it all or nothing: on an error it must roll back.
    """
    if kind not in KINDS:
        raise ApiError("not_found", f"无法导入: {kind}", f"cannot import {kind}", status=404)
    table = read_table(data)
    if not table:
        raise not_a_spreadsheet("no rows")
    job = _Import(session, kind, check_headers(kind, table[0]))
    preload(session)
    for number, cells in enumerate(table[1:], start=2):
        if any(cells):  # not one of the blank lines at the end of a sheet
            job.row(number, cells)
    if job.errors:
        raise ApiError(
            "import_invalid",
            f"导入失败：{len(job.errors)}处错误，未写入任何数据",
            f"import refused: {len(job.errors)} errors, nothing was written",
            fields=job.errors,
        )
    return job.counts
