"""The office's import page (导入导出): upload a registry workbook (.xlsx or .csv) from the
browser, check it first (检查, nothing written) or import it, and see every bad cell in a table
(row, column, problem; Chinese first). Export links for every kind.

The import is the API's own (``spreadsheet.import_rows``: all or nothing). A check is that same
import run in a transaction that is then rolled back (:func:`run`), so it finds exactly what the
import would refuse, and writes and announces nothing.
"""

from __future__ import annotations

from html import escape

from werkzeug.wrappers import Response

from services.kernel.http import ApiError, invalid
from services.registry import args, registry, spreadsheet
from services.registry.office_page import Page, notice
from services.registry.spreadsheet.columns import COLUMNS, FILE_NAMES, KINDS
from services.registry.spreadsheet.importing import error_rows

MAX_PAGE_UPLOAD = args.MAX_IMPORT_BYTES + 64 * 1024  # the file and the form around it
LISTED = 50  # saved rows the answer lists


class _Checked(Exception):
    """Leaves the check's transaction so that it rolls back, carrying what it found."""

    def __init__(self, counts: dict):
        super().__init__("checked")
        self.counts = counts


def choice(form) -> tuple[str, bool]:
    """The form's kind and whether to check only (``mode=check``) or import (``mode=import``)."""
    kind = form.get("kind", "")
    mode = form.get("mode", "check")
    wrong = {}
    if kind not in KINDS:
        wrong["kind"] = [f"可选 / one of: {', '.join(KINDS)}"]
    if mode not in ("check", "import"):
        wrong["mode"] = ["应为 check 或 import / check or import"]
    if wrong:
        raise invalid(wrong)
    return kind, mode == "check"


def run(transaction, kind: str, data: bytes, check_only: bool) -> dict:
    """The import's counts; with ``check_only`` the same import rolled back. Raises the
    importer's ApiError (``import_invalid`` naming every bad cell, ``wrong_headers``,
    ``not_a_spreadsheet``) either way."""
    try:
        with transaction() as session:  # an error (or the check) rolls every row back
            counts = spreadsheet.import_rows(session, kind, data)
            if check_only:
                raise _Checked(counts)
    except _Checked as checked:
        return checked.counts
    return counts


def saved_rows(transaction, kind: str, data: bytes) -> list[tuple[str, str]]:
    """(code, name as the registry now has it) of the file's first rows (not for rosters)."""
    if kind == "rosters":
        return []
    table = spreadsheet.read_table(data)
    headers = [h.strip() for h in table[0]]
    if "编号" not in headers:
        return []
    at = headers.index("编号")
    codes = [r[at] for r in table[1:] if len(r) > at and r[at]][:LISTED]
    with transaction() as session:
        found = [(c, registry.find(session, kind, c)) for c in codes]
    return [(c, (f or {}).get("name", "")) for c, f in found]


# -- the page ----------------------------------------------------------------------------------


def _kind_options(chosen: str) -> str:
    return "".join(
        f'<option value="{k}"{" selected" if k == chosen else ""}>{FILE_NAMES[k]} / {k}</option>'
        for k in KINDS
    )


def _upload_form(page: Page, kind: str) -> str:
    limit = args.MAX_IMPORT_BYTES // (1024 * 1024)
    columns = "".join(
        f"<li><b>{FILE_NAMES[k]}</b>：{'、'.join(c.header + ('*' if c.required else '') for c in COLUMNS[k])}</li>"
        for k in KINDS
    )
    inner = (
        "<label for=kind>表格内容 <span class=en>What the file holds</span></label>"
        f"<select id=kind name=kind>{_kind_options(kind)}</select>"
        "<label for=file>文件（.xlsx 或 .csv） <span class=en>File (.xlsx or .csv)</span></label>"
        '<input id=file name=file type=file required accept=".xlsx,.csv,'
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,text/csv">'
        f"<p class=hint>最大 {limit} MB；第1行为表头 / at most {limit} MB; row 1 holds the headers</p>"
        "<button type=submit name=mode value=check id=check-submit class=secondary>先检查（不写入） "
        "<span class=en>Check first (writes nothing)</span></button> "
        "<button type=submit name=mode value=import id=import-submit>导入 "
        "<span class=en>Import</span></button>"
        "<p class=hint>导入是全部或全不：有一处错误就什么也不写入。"
        " <span class=en>All or nothing: one error and nothing is written.</span></p>"
    )
    return (
        "<section id=upload><h2>导入表格 <span class=en>Import a workbook</span></h2>"
        + page.form("import", inner, "import-form", multipart=True)
        + "<details><summary>各表的列（*为必填） <span class=en>Columns (* required)</span>"
        f"</summary><ul>{columns}</ul></details></section>"
    )


def _export_links() -> str:
    rows = "".join(
        f"<li>{FILE_NAMES[k]} <span class=en>{k}</span>："
        f'<a href="../export/{k}.xlsx" id="export-{k}-xlsx">Excel (.xlsx)</a> · '
        f'<a href="../export/{k}.csv" id="export-{k}-csv">CSV</a></li>'
        for k in KINDS
    )
    return (
        "<section id=export><h2>导出 <span class=en>Export</span></h2>"
        "<p class=hint>导出的文件改好后可直接再导入 / an export, edited, imports back</p>"
        f"<ul>{rows}</ul></section>"
    )


def _error_table(kind: str, err: ApiError) -> str:
    head = notice(err.message_zh, err.message, False, "import-error") + (
        "<p class=hint>改正后请重新选择文件再上传 / correct the file, then choose it again</p>"
    )
    if err.code != "import_invalid":  # not a spreadsheet, wrong headers: one message says it
        details = "".join(f"<li>{escape(str(m))}</li>" for ms in err.fields.values() for m in ms)
        return head + (f"<ul id=import-problems>{details}</ul>" if details else "")
    rows = "".join(
        f'<tr class=row-error data-row="{e["row"]}" data-field="{escape(e["field"])}">'
        f'<td data-label="行 Row">第{e["row"]}行 <span class=en>row {e["row"]}</span></td>'
        f'<td data-label="列 Column">{escape(e["header"])} <span class=en>{escape(e["field"])}</span></td>'
        f'<td data-label="问题 Problem">{escape(e["zh"])} <span class=en>{escape(e["en"])}</span></td></tr>'
        for e in error_rows(kind, err.fields)
    )
    return (
        head + "<table class=cards id=row-errors><thead><tr><th>行 <span class=en>Row</span></th>"
        "<th>列 <span class=en>Column</span></th><th>问题 <span class=en>Problem</span></th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _counts(kind: str, counts: dict, check_only: bool, rows: list[tuple[str, str]]) -> str:
    c = counts
    figures = (
        f"共 {c['rows']} 行：新增 {c['created']}，更新 {c['updated']}，不变 {c['unchanged']}",
        f"{c['rows']} rows: {c['created']} new, {c['updated']} updated, {c['unchanged']} unchanged",
    )
    if check_only:
        head = notice(
            f"检查通过，尚未写入。{figures[0]}。确认无误请再选同一文件点“导入”。",
            f"checked, nothing written yet. {figures[1]}. To save it, import the same file.",
            notice_id="import-checked",
        )
    else:
        head = notice(
            f"已导入。{figures[0]}。", f"imported. {figures[1]}.", notice_id="import-done"
        )
    if not rows:
        return head
    listed = "".join(
        f'<tr id="saved-{escape(code)}"><td data-label="编号 Code">{escape(code)}</td>'
        f'<td data-label="名称 Name">{escape(name)}</td></tr>'
        for code, name in rows
    )
    return (
        head + f"<h3>已在名册中 <span class=en>Now in the registry</span></h3>"
        "<table class=cards id=saved-rows><thead><tr><th>编号 <span class=en>Code</span></th>"
        f"<th>名称 <span class=en>Name</span></th></tr></thead><tbody>{listed}</tbody></table>"
    )


def main(page: Page, kind: str = "members", result: str = "") -> str:
    outcome = f"<section id=result>{result}</section>" if result else ""
    return outcome + _upload_form(page, kind) + _export_links()


def answer(page: Page, transaction, request) -> Response:
    """The upload's answer: the counts (checked or imported), or the refusal with every bad
    cell in a table (400)."""
    kind, check_only = choice(request.form)
    try:
        data = args.upload(request)
        counts = run(transaction, kind, data, check_only)
    except ApiError as err:
        if err.code not in ("import_invalid", "wrong_headers", "not_a_spreadsheet", "too_large"):
            raise
        return page.response("import", main(page, kind, _error_table(kind, err)), err.status)
    rows = [] if check_only else saved_rows(transaction, kind, data)
    return page.response("import", main(page, kind, _counts(kind, counts, check_only, rows)))
