"""The 履职档案 page: one member's year on a phone, Chinese first, every figure a link to the
records behind it (routing's case list, consultations and reports; the registry's visits; the
activities listed on the page itself), with a year picker and the PDF, Excel and JSON twins."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from services.reporting import dossier

STYLE = """
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;background:#f5f5f5}
header{background:#b71c1c;color:#fff;padding:12px 16px}h1{font-size:1.15em;margin:0}
header p{margin:4px 0 0;font-size:.85em}.en{color:#777;font-size:.85em}header .en{color:#ffd}
main{padding:8px;max-width:860px;margin:auto}h2{font-size:1em;margin:18px 0 6px}
nav a{color:#fff;margin-right:12px;white-space:nowrap}
form.year{margin-top:8px;display:flex;flex-wrap:wrap;gap:6px;align-items:center}
form.year select,form.year button{font-size:1em;padding:4px 6px}
.figures{background:#fff;border-radius:8px;margin:0;padding:0;list-style:none}
.figures li{display:flex;justify-content:space-between;gap:8px;padding:8px 10px;
border-bottom:1px solid #eee}
.figures li.sub{padding-left:28px;font-size:.9em}
.figures .name{overflow-wrap:anywhere}.figures a{color:#b71c1c;font-weight:bold;white-space:nowrap}
.scroll{overflow-x:auto;background:#fff;border-radius:8px}
table{border-collapse:collapse;font-size:.85em;min-width:100%}
th,td{padding:6px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td{overflow-wrap:anywhere}td:first-child{white-space:nowrap}.none{color:#777;font-size:.9em;background:#fff;padding:8px;border-radius:8px}
.note{font-size:.8em;color:#555}header button .en{color:#555}
"""


def _figure(row: dict, links: dict) -> str:
    href = links.get(row["key"])
    value = escape(row["text"])
    shown = f'<a href="{escape(href)}">{value}</a>' if href else value
    return (
        f'<li class="{"sub" if row["sub"] else "top"}" data-key="{escape(row["key"])}"'
        f' data-value="{"" if row["value"] is None else row["value"]}">'
        f"<span class=name>{escape(row['zh'])} <span class=en>{escape(row['en'])}</span></span>"
        f"{shown}</li>"
    )


def _table(table: dict) -> str:
    heading = (
        f'<h2 id="{table["anchor"]}">{escape(table["zh"])} <span class=en>'
        f"{escape(table['en'])}</span>（{len(table['body'])}）</h2>"
    )
    if not table["body"]:
        return heading + "<p class=none>无 <span class=en>None</span></p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in table["head"])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in line) + "</tr>" for line in table["body"]
    )
    return (
        f'{heading}<div class=scroll><table data-records="{table["anchor"]}"><thead><tr>{head}'
        f"</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _picker(file: dict, years: list[int]) -> str:
    options = "".join(
        f'<option value="{y}"{" selected" if y == file["year"] else ""}>{y} 年</option>'
        for y in reversed(years)
    )
    return (
        f'<form class=year method=get action="{escape(quote(file["member"]["code"]))}">'
        f"<label for=year>年度 <span class=en>Year</span></label>"
        f"<select id=year name=year>{options}</select>"
        f"<button type=submit id=show>查看 <span class=en>Show</span></button></form>"
    )


def page(file: dict, links: dict, years: list[int], role: str = "office") -> str:
    """``role``: the reader's. A member reads the own file (no dashboard to go back to); the
    office also gets the member's sector's files (every member of the sector)."""
    code, year = quote(file["member"]["code"]), file["year"]
    downloads = "".join(
        f'<a id="{kind}" href="{code}.{kind}?year={year}">{label}</a>'
        for kind, label in (("pdf", "打印 PDF"), ("xlsx", "Excel"), ("json", "JSON"))
    )
    if role != "member":
        downloads = (
            f'<a id=dashboard href="../dashboard?year={year}">看板 Dashboard</a>' + downloads
        )
    sector = file["member"]["sector"]
    if role == "office" and sector:
        downloads += "".join(
            f'<a id="sector-{kind}" href="sector/{quote(sector)}.{kind}?year={year}">'
            f"本界别 {label}</a>"
            for kind, label in (("pdf", "PDF"), ("xlsx", "Excel"))
        )
    figures = "".join(_figure(row, links) for row in dossier.rows(file))
    return (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(dossier.title(file))}</title><style>{STYLE}</style></head><body>"
        f"<header><h1 id=title>{escape(dossier.title(file))}</h1>"
        f"<p>{escape(dossier.describe(file))} <span class=en>Annual performance file</span></p>"
        f"<nav>{downloads}</nav>{_picker(file, years)}</header><main>"
        f"<h2>年度履职 <span class=en>The year in figures</span></h2>"
        f"<ul class=figures id=figures>{figures}</ul>"
        "<p class=note>每个数字都链接到它所统计的记录；“—”表示无法计算（如没有评价），不是 0。"
        "<span class=en>Every figure links to the records it counts; “—” means undefined "
        "(nobody rated), not 0.</span></p>"
        + "".join(_table(t) for t in dossier.tables(file))
        + "</main></body></html>"
    )
