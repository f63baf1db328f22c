"""Spreadsheet files as rows of text: the first sheet of an .xlsx, or a CSV (UTF-8 or GB18030);
and rows of text written back as either."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime

from services.kernel.http import ApiError

XLSX_MAGIC = b"PK\x03\x04"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def not_a_spreadsheet(detail: str) -> ApiError:
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


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise not_a_spreadsheet(type(exc).__name__) from exc
    except Exception as exc:  # openpyxl's own InvalidFileException and kin
        raise not_a_spreadsheet(type(exc).__name__) from exc
    try:
        sheet = book.worksheets[0]
        return [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _read_csv(data: bytes) -> list[list[str]]:
    if b"\x00" in data[:4096]:
        raise not_a_spreadsheet("binary content")
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise not_a_spreadsheet("unknown text encoding")
    try:
        return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]
    except csv.Error as exc:
        raise not_a_spreadsheet(str(exc)) from exc


def read_table(data: bytes) -> list[list[str]]:
    """The first sheet of an .xlsx file, or a CSV file (UTF-8 or GB18030), as rows of text."""
    if not data:
        raise not_a_spreadsheet("empty file")
    return _read_xlsx(data) if data.startswith(XLSX_MAGIC) else _read_csv(data)


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
