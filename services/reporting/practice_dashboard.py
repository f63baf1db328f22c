"""The dashboard's "履职实践 Practice" block: leaders' visits, consultations, 社情民意 reports and
the members who served beside the register's head count, each number a link to the records
behind it (registry's visit list, routing's consultation and report lists), then small tables by
leader, by place, by member and by sector.

The record lists filter by year (their contract: ``year=``), so every link opens the period's
year; a month's number says so beside it rather than pretending to link to the month alone.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from services.reporting.statistics import by_key

TILES = [  # (figure, where its records are: "visits" | "consultations" | "reports", status)
    ("leader_visits", "visits", None),
    ("consultations_held", "consultations", None),
    ("cases_settled_by_consultation", "consultations", None),
    ("reports_submitted", "reports", None),
    ("reports_adopted", "reports", "adopted"),
    ("reports_forwarded", "reports", "forwarded"),
]
SERVED = ["members_served", "members_active"]  # beside the register's head count
# (dimension, zh, en, [(figure, records, filter argument)])
TABLES = [
    ("leader", "联系领导", "By leader", [("leader_visits", "visits", "leader")]),
    (
        "station",
        "工作站",
        "By station",
        [
            ("leader_visits", "visits", "station"),
            ("consultations_held", "consultations", "station"),
            ("cases_settled_by_consultation", "consultations", "station"),
        ],
    ),
    (
        "studio",
        "工作室",
        "By studio",
        [
            ("consultations_held", "consultations", "studio"),
            ("cases_settled_by_consultation", "consultations", "studio"),
        ],
    ),
    (
        "member",
        "委员",
        "By member",
        [
            ("reports_submitted", "reports", "member"),
            ("reports_adopted", "reports", "member"),
            ("reports_forwarded", "reports", "member"),
            ("consultations_joined", "consultations", "member"),
            ("leader_visits_joined", "visits", "member"),
            ("reception_days_joined", None, None),
        ],
    ),
    (
        "sector",
        "界别",
        "By sector",
        [
            ("reports_submitted", "reports", "sector"),
            ("reports_adopted", "reports", "sector"),
            ("reports_forwarded", "reports", "sector"),
        ],
    ),
]
STATUS_OF = {"reports_adopted": "adopted", "reports_forwarded": "forwarded"}


def records_url(view, records: str, **filters) -> str:
    """The list of the records behind a number: registry's ``/office/visits``, routing's
    ``/consultations/page`` or ``/reports/page``, for the view's year."""
    routing = view.routing_url or view.cases_url.removesuffix("/office/cases")
    base = {
        "visits": f"{view.registry_url}/office/visits",
        "consultations": f"{routing}/consultations/page",
        "reports": f"{routing}/reports/page",
    }[records]
    query = {k: v for k, v in filters.items() if v} | {"year": view.year}
    return f"{base}?{urlencode(query)}"


def _number(key: str, figures: dict) -> str:
    value = figures.get(key)
    if value is None:
        return "—" if by_key()[key].kind == "distinct" else "0"
    return f"{value:,}"


def _tile(key: str, figures: dict, href: str | None, year_view: bool) -> str:
    f = by_key()[key]
    explain = f.explain.replace("本月", "本年") if year_view else f.explain
    number = _number(key, figures)
    if href:
        number = f'<a href="{escape(href)}">{number}</a>'
    return (
        f'<div class=tile data-key="{key}"><div>{escape(f.name_zh)} '
        f"<span class=en>{escape(f.name_en)}</span></div>"
        f"<div class=value>{number}</div><div class=def>{escape(explain)}</div>"
        f"<details><summary>计算规则 <span class=en>Precise rule</span></summary>"
        f"<div class=rule>{escape(f.definition)}</div></details></div>"
    )


def _register_tile(report: dict) -> str:
    members = (report.get("registry") or {}).get("members", 0)
    return (
        f'<div class=tile data-key="members_registered"><div>在册委员 '
        f"<span class=en>Members on the register</span></div>"
        f"<div class=value>{members:,}</div><div class=def>注册系统登记在册的委员总数（四级委员），"
        f"不论本期是否履职。<span class=en>The registry's head count of active members, whether "
        f"they served in the period or not.</span></div></div>"
    )


def _table(report: dict, view, dimension: str, zh: str, en: str, columns: list) -> str:
    rows = report.get(dimension, {}) or {}
    names = view.names.get(dimension, {})
    keys = [k for k, _, _ in columns]
    codes = [c for c in rows if any(rows[c].get(k) for k in keys)]
    if dimension == "leader":  # every leader, visits or not: who has not been out is news too
        codes = sorted(set(codes) | set(names))
    if not codes:
        return ""
    codes.sort(key=lambda c: (-(rows.get(c, {}).get(keys[0]) or 0), names.get(c, c)))
    head = "".join(
        f"<th>{escape(by_key()[k].name_zh)}<br><span class=en>{escape(by_key()[k].name_en)}</span>"
        "</th>"
        for k in keys
    )
    body = []
    for code in codes:
        figures = rows.get(code, {})
        cells = [f"<td>{escape(names.get(code, code))}</td>"]
        for key, records, argument in columns:
            value = figures.get(key) or 0
            text = f"{value:,}"
            if records and value:
                href = records_url(view, records, **{argument: code, "status": STATUS_OF.get(key)})
                text = f'<a href="{escape(href)}">{text}</a>'
            cells.append(f'<td data-key="{key}">{text}</td>')
        body.append(f'<tr data-code="{escape(code)}">{"".join(cells)}</tr>')
    return (
        f"<h3>{zh} <span class=en>{en}</span></h3>"
        f'<div class=scroll><table data-practice="{dimension}"><thead><tr>'
        f"<th>名称 <span class=en>Name</span></th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def block(report: dict, view) -> str:
    """The whole block, for the view's month or year."""
    figures = report.get("city", {})
    year_view = not view.month
    tiles = "".join(
        _tile(key, figures, records_url(view, records, status=status), year_view)
        for key, records, status in TILES
    )
    served = "".join(_tile(key, figures, None, year_view) for key in SERVED)
    tables = "".join(_table(report, view, *spec) for spec in TABLES)
    scope = (
        ""
        if year_view
        else (
            f"<p class=note>点击数字打开 {view.year} 年全年的记录（记录列表按年筛选）。"
            f"<span class=en>A number opens the records of the whole year {view.year} (the lists "
            f"filter by year).</span></p>"
        )
    )
    return (
        f"<section id=practice><h2>履职实践 <span class=en>Practice</span></h2>"
        f"<div class='tiles practice'>{tiles}</div>{scope}"
        f"<h3>委员履职 <span class=en>Members who served</span></h3>"
        f"<div class='tiles served'>{served}{_register_tile(report)}</div>"
        f"{tables}</section>"
    )
