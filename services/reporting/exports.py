"""The monthly report as the office uses it: an Excel workbook and CSV, Chinese headers.

One sheet per breakdown (全市, 区县, 委员工作站, 界别, 委员层级, 委员, 渠道, 问题类别, 委员工作室,
活动类型, 联系领导: breakdowns.DIMENSIONS), one row per key, one column per figure, in the order
and with the names of docs/statistics.md. A rate or median that is not defined is a blank cell, a
count that did not happen a 0 (:func:`cell`).
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
    body = [[key] + [cell(table[key], c) for c in COLUMNS] for key in sorted(table)]
    return [header, *body]


def cell(figures: dict, column) -> int | float | str:
    """A figure as the sheet shows it: a count or cohort not recorded is 0 (nothing happened);
    a rate or median not defined (nobody rated, nothing answered; the median per station is not
    kept) is blank, never 0, which would read as "0 % satisfied"."""
    value = figures.get(column.key)
    if value is None:
        return 0 if column.kind in ("count", "cohort") else ""
    return value


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
