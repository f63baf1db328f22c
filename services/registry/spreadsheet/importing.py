"""Import and export of the registry as Excel (.xlsx) and CSV with Chinese column headers.

An import is all or nothing: every row is checked, a bad file names every bad row and field
(``第12行 电话: 格式不正确 / row 12 phone: invalid``) and writes nothing; a good one saves
every row through the registry's own rules in the caller's transaction. Saving identical data
changes nothing, so importing the same file again changes nothing. A column left out of the
file keeps what the registry has (a roster file without phones does not erase them).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.http import ApiError
from services.registry import registry, roster
from services.registry.models import RosterDay, Sector
from services.registry.schemas import LEVEL_NAMES, ROLE_NAMES, SLOT_NAMES, STATION_KIND_NAMES

KINDS = ("sectors", "stations", "studios", "members", "rosters")
LIST_SEP = re.compile(r"\s*[、,，;；]\s*")
PLACE = re.compile(r"^([a-z0-9][a-z0-9-]*)\s*(?:[（(]\s*(\S+?)\s*[)）])?$")
STATUS = {"在职": True, "有效": True, "停用": False, "取消": False}
XLSX_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    required: bool = False


COLUMNS = {
    "sectors": [Column("code", "编号", True), Column("name", "名称", True)],
    "stations": [
        Column("code", "编号", True),
        Column("name", "名称", True),
        Column("district", "区县", True),
        Column("kind", "类型", True),
        Column("street", "街道乡镇"),
        Column("active", "状态"),
    ],
    "studios": [
        Column("code", "编号", True),
        Column("name", "名称", True),
        Column("district", "区县", True),
        Column("location", "地点"),
        Column("sectors", "界别", True),
        Column("active", "状态"),
    ],
    "members": [
        Column("code", "编号", True),
        Column("name", "姓名", True),
        Column("level", "层级", True),
        Column("sector", "界别", True),
        Column("district", "区县", True),
        Column("phone", "电话"),
        Column("expertise", "专长"),
        Column("term", "届期"),
        Column("stations", "工作站"),
        Column("studios", "工作室"),
        Column("active", "状态"),
    ],
    "rosters": [
        Column("date", "日期", True),
        Column("slot", "时段", True),
        Column("station", "工作站"),
        Column("studio", "工作室"),
        Column("members", "值班委员", True),
        Column("active", "状态"),
    ],
}
FILE_NAMES = {
    "sectors": "界别",
    "stations": "委员工作站",
    "studios": "委员工作室",
    "members": "委员",
    "rosters": "值班表",
}


def _invert(names: dict) -> dict:
    return {v: k for k, v in names.items()}


# -- reading a file into rows of text ------------------------------------------------------------


def _not_a_spreadsheet(detail: str) -> ApiError:
    return ApiError(
        "not_a_spreadsheet",
        "文件不是电子表格：请上传 .xlsx 或 .csv 文件",
        f"the file is not a spreadsheet: upload .xlsx or .csv ({detail})",
    )


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone typed as a number
    return str(value).strip()


def read_table(data: bytes) -> list[list[str]]:
    """The first sheet of an .xlsx file, or a CSV file (UTF-8 or GB18030), as rows of text."""
    if not data:
        raise _not_a_spreadsheet("empty file")
    if data.startswith(XLSX_MAGIC):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise _not_a_spreadsheet(type(exc).__name__) from exc
        except Exception as exc:  # openpyxl's own InvalidFileException and kin
            raise _not_a_spreadsheet(type(exc).__name__) from exc
        try:
            sheet = book.worksheets[0]
            return [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    if b"\x00" in data[:4096]:
        raise _not_a_spreadsheet("binary content")
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _not_a_spreadsheet("unknown text encoding")
    try:
        return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]
    except csv.Error as exc:
        raise _not_a_spreadsheet(str(exc)) from exc


def check_headers(kind: str, header_row: list[str]) -> list[Column | None]:
    """Each column's meaning; wrong headers are one clear error naming what is wrong."""
    by_header = {c.header: c for c in COLUMNS[kind]}
    headers = [h.strip() for h in header_row]
    while headers and not headers[-1]:
        headers.pop()
    unknown = [h for h in headers if h and h not in by_header]
    missing = [c.header for c in COLUMNS[kind] if c.required and c.header not in headers]
    repeated = sorted({h for h in headers if h and headers.count(h) > 1})
    if unknown or missing or repeated or not headers:
        expected = "、".join(c.header for c in COLUMNS[kind])
        problems_zh, problems = [], []
        if missing:
            problems_zh.append(f"缺少列：{'、'.join(missing)}")
            problems.append(f"missing columns: {', '.join(missing)}")
        if unknown:
            problems_zh.append(f"不认识的列：{'、'.join(unknown)}")
            problems.append(f"unknown columns: {', '.join(unknown)}")
        if repeated:
            problems_zh.append(f"重复的列：{'、'.join(repeated)}")
            problems.append(f"repeated columns: {', '.join(repeated)}")
        raise ApiError(
            "wrong_headers",
            f"表头不正确（{'；'.join(problems_zh) or '没有表头'}）。第1行应为：{expected}",
            f"wrong headers ({'; '.join(problems) or 'no header row'}); row 1 must be: {expected}",
            fields={"headers": [f"{'；'.join(problems_zh)} / {'; '.join(problems)}"]},
        )
    return [by_header.get(h) for h in headers]


# -- turning a row of text into the record the rules take --------------------------------------


class CellError(ValueError):
    """A cell that cannot be read; its message is 'Chinese / English'."""


def _places(text: str, key: str) -> list[dict]:
    roles = _invert(ROLE_NAMES) | {r: r for r in ROLE_NAMES}
    places = []
    for item in LIST_SEP.split(text):
        if not item:
            continue
        match = PLACE.match(item)
        if not match or (match.group(2) and match.group(2) not in roles):
            raise CellError(f"格式不正确：{item}（应为 编号 或 编号（负责人））/ invalid: {item}")
        places.append({key: match.group(1), "role": roles.get(match.group(2) or "", "member")})
    return places


def _split(text: str) -> list[str]:
    return [x for x in LIST_SEP.split(text) if x]


def _choice(names: dict):
    lookup = _invert(names) | {k: k for k in names}

    def parse(text: str) -> str:
        if text not in lookup:
            raise CellError(
                f"必须是以下之一：{'、'.join(names.values())} / must be one of: {', '.join(names)}"
            )
        return lookup[text]

    return parse


def _status(text: str) -> bool:
    if text not in STATUS:
        raise CellError("应为 在职/有效 或 停用/取消 / must be active or deactivated")
    return STATUS[text]


def _date(text: str) -> str:
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise CellError("日期无效，应为 YYYY-MM-DD / not a date")


class Readers:
    """Per kind and field: text → value. Sectors are written by name and read by name or code."""

    def __init__(self, session: Session):
        sectors = dict(session.execute(select(Sector.name, Sector.code)).all())
        self.sector_codes = sectors | {c: c for c in sectors.values()}

    def sector(self, text: str) -> str:
        if text not in self.sector_codes:
            raise CellError(f"未知界别：{text} / unknown sector: {text}")
        return self.sector_codes[text]

    def for_field(self, kind: str, field: str):
        if field == "active":
            return _status
        table = {
            ("stations", "kind"): _choice(STATION_KIND_NAMES),
            ("studios", "sectors"): lambda t: [self.sector(s) for s in _split(t)],
            ("members", "level"): _choice(LEVEL_NAMES),
            ("members", "sector"): self.sector,
            ("members", "expertise"): _split,
            ("members", "stations"): lambda t: _places(t, "station"),
            ("members", "studios"): lambda t: _places(t, "studio"),
            ("rosters", "date"): _date,
            ("rosters", "slot"): _choice(SLOT_NAMES),
            ("rosters", "members"): _split,
            ("rosters", "station"): lambda t: t or None,
            ("rosters", "studio"): lambda t: t or None,
        }
        return table.get((kind, field), lambda t: t)


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


def import_rows(session: Session, kind: str, data: bytes) -> dict:
    """Check and save every row of a file; raises ApiError naming every bad cell, else counts.

    The caller's transaction makes it all or nothing: on an error it must roll back.
    """
    if kind not in KINDS:
        raise ApiError("not_found", f"无法导入: {kind}", f"cannot import {kind}", status=404)
    table = read_table(data)
    if not table:
        raise _not_a_spreadsheet("no rows")
    columns = check_headers(kind, table[0])
    by_field = {c.field: c for c in columns if c}
    readers = Readers(session)
    registry.preload(session)
    errors: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    counts = {"rows": 0, "created": 0, "updated": 0, "unchanged": 0}

    def fail(row, field, message):
        key, text = row_error(row, by_field.get(field), field, message)
        errors.setdefault(key, []).append(text)

    for number, cells in enumerate(table[1:], start=2):
        if not any(cells):
            continue  # blank lines at the end of a sheet
        counts["rows"] += 1
        record, bad = {}, set()
        for column, text in zip(columns, cells, strict=False):
            if column is None:
                continue
            try:
                if column.required and not text:
                    raise CellError("不能为空 / required")
                record[column.field] = readers.for_field(kind, column.field)(text)
            except CellError as exc:
                fail(number, column.field, str(exc))
                bad.add(column.field)
                record[column.field] = None  # the rules still check the row's other cells
        key = _row_key(kind, record)
        if key in seen and not bad:
            fail(number, "code", f"与第{seen[key]}行重复 / duplicates row {seen[key]}")
            continue
        seen[key] = number
        existing = _existing(session, kind, record)
        if existing is not None:
            record = {**existing, **record}  # a column the file leaves out keeps its value
        try:
            _, changed = _save(session, kind, record)
        except ValidationError as err:
            for field, value in err.messages.items():
                if field not in bad:  # already named by the cell reader
                    for message in _messages(value):
                        fail(number, field, message)
            continue
        if bad:
            continue  # cannot happen (a None the rules accept); the errors roll it back anyway
        if existing is None:
            counts["created"] += 1
        else:
            counts["updated" if changed else "unchanged"] += 1
    if errors:
        raise ApiError(
            "import_invalid",
            f"导入失败：{len(errors)}处错误，未写入任何数据",
            f"import refused: {len(errors)} errors, nothing was written",
            fields=errors,
        )
    return counts


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
        row = registry.lookup(session, RosterDay, _row_key(kind, record))
        return None if row is None else roster.roster_record(row)
    code = record.get("code")
    row = registry.lookup(session, registry.KINDS[kind].model, code) if code else None
    return None if row is None else registry.KINDS[kind].record(row)


def _save(session: Session, kind: str, record: dict):
    if kind == "rosters":
        return roster.save_roster(session, record)
    return registry.KINDS[kind].save(session, record)


# -- export ---------------------------------------------------------------------------------------


def export_rows(session: Session, kind: str, roster_filters: dict | None = None) -> list[list[str]]:
    """The header row and one row per record, as an import reads them back.

    ``roster_filters`` (rosters only): ``station``, ``studio``, ``member``, ``date_from``,
    ``date_to``, as :func:`roster.list_rosters` takes them (one station's month, say).
    """
    if kind not in KINDS:
        raise ApiError("not_found", f"无法导出: {kind}", f"cannot export {kind}", status=404)
    sector_names = dict(session.execute(select(Sector.code, Sector.name)).all())
    if kind == "rosters":
        records = roster.list_rosters(session, **(roster_filters or {}))
    else:
        model = registry.KINDS[kind].model
        records = [
            registry.KINDS[kind].record(r)
            for r in session.scalars(select(model).order_by(model.code))
        ]

    def places(items, key):
        return "、".join(p[key] + ("（负责人）" if p["role"] == "lead" else "") for p in items)

    def cell(field, value):
        if field == "active":
            return (
                ("有效" if value else "取消")
                if kind == "rosters"
                else ("在职" if value else "停用")
            )
        if kind == "stations" and field == "kind":
            return STATION_KIND_NAMES[value]
        if kind == "studios" and field == "sectors":
            return "、".join(sector_names.get(s, s) for s in value)
        if kind == "members":
            if field == "level":
                return LEVEL_NAMES[value]
            if field == "sector":
                return sector_names.get(value, value)
            if field == "expertise":
                return "、".join(value)
            if field in ("stations", "studios"):
                return places(value, field[:-1])
        if kind == "rosters":
            if field == "slot":
                return SLOT_NAMES[value]
            if field == "members":
                return "、".join(value)
        return "" if value is None else str(value)

    columns = COLUMNS[kind]
    rows = [[c.header for c in columns]]
    rows.extend([cell(c.field, r.get(c.field)) for c in columns] for r in records)
    return rows


def to_xlsx(rows: list[list[str]], title: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    for row in rows:
        sheet.append(row)  # every cell as text: phones and codes keep their leading zeros
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8-sig")  # the BOM makes Excel read it as UTF-8


def export_file(
    session: Session, kind: str, fmt: str, roster_filters: dict | None = None
) -> tuple[bytes, str, str]:
    """(content, media type, file name) of one kind as .xlsx or .csv."""
    rows = export_rows(session, kind, roster_filters)
    if fmt == "xlsx":
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return to_xlsx(rows, FILE_NAMES[kind]), media, f"{kind}.xlsx"
    if fmt == "csv":
        return to_csv(rows), "text/csv; charset=utf-8", f"{kind}.csv"
    raise ApiError("bad_format", f"不支持的格式: {fmt}", f"unsupported format: {fmt}")
