"""The monthly report as the office uses it: an Excel workbook and CSV, Chinese headers.

One sheet per breakdown (全市, 区县, 委员工作站, 界别, 委员层级, 委员, 渠道, 问题类别), one row
per key, one column per figure, in the order and with the names of docs/statistics.md.
"""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook

from services.reporting.breakdowns import DIMENSIONS
from services.reporting.statistics import COLUMNS


def rows(report: dict, dimension: str) -> list[list]:
    """The header and the rows of one breakdown."""
    zh, en = DIMENSIONS[dimension]
    header = [f"{zh} {en}"] + [f"{c.name_zh} {c.name_en}" for c in COLUMNS]
    if dimension == "city":
        table = {"-": report["city"]}
    else:
        table = report.get(dimension, {})
    body = [[key] + [table[key].get(c.key, 0) for c in COLUMNS] for key in sorted(table)]
    return [header, *body]


def workbook(report: dict) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for dimension, (zh, _en) in DIMENSIONS.items():
        sheet = book.create_sheet(title=zh)
        for row in rows(report, dimension):
            sheet.append(row)
        sheet.freeze_panes = "B2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_text(report: dict, dimension: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows(report, dimension):
        writer.writerow(row)
    return "\ufeff" + out.getvalue()  # the BOM makes Excel read the Chinese headers as UTF-8
