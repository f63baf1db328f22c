"""The 履职档案 as files: an Excel workbook and a printable PDF, per member and per sector.

Both show :func:`services.reporting.dossier.rows` and :func:`~services.reporting.dossier.tables`,
the same figures and records as the page. The PDF is drawn by reportlab with its built-in CID
font STSong-Light (Adobe's Chinese font that every PDF reader has), so no font file is shipped
or embedded and the text stays text (it can be searched and copied).
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.styles import Font
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.reporting import dossier

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
STYLES = {
    "title": ParagraphStyle("title", fontName=FONT, fontSize=16, leading=22, spaceAfter=4),
    "h2": ParagraphStyle(
        "h2", fontName=FONT, fontSize=12, leading=17, spaceBefore=8, keepWithNext=1
    ),
    "body": ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, wordWrap="CJK"),
    "note": ParagraphStyle("note", fontName=FONT, fontSize=8, leading=11, textColor="#555555"),
}


# -- Excel -----------------------------------------------------------------------------------------


def _figures_sheet(book: Workbook, file: dict, links: dict) -> None:
    sheet = book.active
    sheet.title = "履职档案"
    sheet.append([dossier.title(file)])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([dossier.describe(file)])
    sheet.append(["项目 Item", "数值 Value", "说明 Reads", "记录 Records"])
    for row in dossier.rows(file):
        name = f"{'　其中 ' if row['sub'] else ''}{row['zh']} {row['en']}"
        link = links.get(row["key"], "")
        sheet.append([name, row["value"], row["text"], link if link.startswith("http") else ""])
    sheet.column_dimensions["A"].width = 44
    sheet.column_dimensions["D"].width = 60


def _record_sheets(book: Workbook, file: dict) -> None:
    for table in dossier.tables(file):
        sheet = book.create_sheet(title=table["zh"][:31])
        sheet.append(table["head"])
        for line in table["body"]:
            sheet.append(line)
        sheet.freeze_panes = "A2"


def workbook(file: dict, links: dict) -> bytes:
    """One member's file: its figures (with the address of each figure's records), then a
    sheet per kind of record."""
    book = Workbook()
    _figures_sheet(book, file, links)
    _record_sheets(book, file)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sector_workbook(sector: str, year: int, files: list[dict]) -> bytes:
    """A sector's members, one row each, one column per figure of the file."""
    book = Workbook()
    sheet = book.active
    sheet.title = f"{sector} {year}"[:31]
    heads = dossier.rows(files[0]) if files else []
    sheet.append(
        ["委员 Member", "编号 Code"]
        + [f"{'其中 ' if h['sub'] else ''}{h['zh']} {h['en']}" for h in heads]
    )
    for file in files:
        figures = [r["value"] for r in dossier.rows(file)]
        sheet.append([file["member"]["name"], file["member"]["code"], *figures])
    sheet.freeze_panes = "C2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- PDF ---------------------------------------------------------------------------------------


# STSong-Light (Adobe-GB1) has no glyph for the Latin middle dot and its look-alikes that names
# use (民建·社会科学·科协界别委员工作室): the PDF shows them as the katakana middle dot it has.
_NO_GLYPH = str.maketrans({"\u00b7": "\u30fb", "\u2022": "\u30fb", "\u2027": "\u30fb"})


def _p(text, style="body") -> Paragraph:
    return Paragraph(escape(str(text).translate(_NO_GLYPH)), STYLES[style])


def _grid(data, widths, head_rows=1) -> Table:
    table = Table(data, colWidths=widths, repeatRows=head_rows)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 9),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, head_rows - 1), colors.HexColor("#e8eef7")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _member_story(file: dict) -> list:
    story = [_p(dossier.title(file), "title"), _p(dossier.describe(file), "note")]
    figures = [[_p("项目 Item"), _p("数值 Value")]]
    for row in dossier.rows(file):
        name = f"{'　其中 ' if row['sub'] else ''}{row['zh']}  {row['en']}"
        figures.append([_p(name), _p(row["text"])])
    story += [Spacer(1, 4 * mm), _grid(figures, [120 * mm, 50 * mm])]
    for table in dossier.tables(file):
        story.append(_p(f"{table['zh']} {table['en']}（{len(table['body'])}）", "h2"))
        if not table["body"]:
            story.append(_p("无 None", "note"))
            continue
        width = 170 * mm / len(table["head"])
        data = [[_p(h) for h in table["head"]]] + [[_p(c) for c in line] for line in table["body"]]
        story.append(_grid(data, [width] * len(table["head"])))
    return story


def _document(story: list, heading: str) -> bytes:
    out = io.BytesIO()

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawString(
            20 * mm,
            10 * mm,
            f"连心 Lianxin — {heading} — 第 {doc.page} 页 / page {doc.page}".translate(_NO_GLYPH),
        )
        canvas.restoreState()

    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=heading,
        author="连心 Lianxin",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def pdf(file: dict) -> bytes:
    """One member's file, printable (A4)."""
    return _document(_member_story(file), dossier.title(file))


SUMMARY = (  # the sector cover's columns: (figure, heading)
    ("reception_days", "接待日"),
    ("cases", "承办案件"),
    ("on_time_share", "按时办结"),
    ("satisfaction", "满意率"),
    ("consultations", "协商"),
    ("reports", "社情民意"),
    ("leader_visits", "领导走访"),
)


def _summary(files: list[dict]) -> Table:
    """The cover's table: one line per member, the file's main figures."""
    head = [_p("委员 Member")] + [_p(h) for _k, h in SUMMARY]
    lines = [head]
    for file in files:
        f, m = file["figures"], file["member"]
        cells = [
            dossier.percent(f[k]) if k in ("on_time_share", "satisfaction") else str(f[k])
            for k, _h in SUMMARY
        ]
        lines.append([_p(f"{m['name']}（{m['code']}）")] + [_p(c) for c in cells])
    return _grid(lines, [38 * mm] + [18.8 * mm] * len(SUMMARY))


def sector_pdf(sector: str, year: int, files: list[dict]) -> bytes:
    """A sector's members: a cover with one line per member, then one section per member,
    each starting on a new page."""
    name = files[0]["member"].get("sector_name") or sector if files else sector
    heading = f"界别 {name} {year} 年度委员履职档案"
    story = [_p(heading, "title"), _p(f"委员 {len(files)} 人 / {len(files)} members", "note")]
    story += [Spacer(1, 4 * mm), _summary(files)]
    for file in files:
        story += [PageBreak(), *_member_story(file)]
    return _document(story, heading)
