"""The dashboard (统计看板): the programme's headline row, then the case figures, each with what
it means in Chinese and its precise rule one click away; a month and year picker; the trend;
the map of districts and stations (citymap.py); districts as labelled rows (labels never overlap); tables of stations, studios and members,
sortable by each figure, each row linking to its cases in routing's office list. One
phone-sized HTML page: inline SVG and CSS, one small inline script for sorting in place (the
column links sort on the server without it), no outside assets.

A figure that is undefined for a row (nobody rated; a figure kept for the city only) is "—",
never 0 (queries.blanks makes it null first).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html import escape
from urllib.parse import urlencode

from services.kernel.http import ApiError
from services.reporting import citymap, periods, practice_dashboard
from services.reporting.statistics import by_key

HEADLINE = [  # the programme's own figures, as the city reports them each month and year
    "reception_days",
    "people_served",
    "matters_handled",
    "reporters_served",
    "activities_held",
    "members_active",
]
KEY_FIGURES = [  # then the cases
    "issues_received",
    "issues_assigned",
    "issues_resolved",
    "issues_overdue",
    "response_rate",
    "resolution_rate",
    "on_time_rate",
    "satisfaction_rate",
    "median_minutes_to_first_response",
    "cases_transferred",
    "issues_merged",
    "submissions_rejected",
]
# The tables: which figures each shows, and the query argument naming a row in routing's list.
TABLES = {
    "station": (
        "委员工作站",
        "Stations",
        "station",
        [
            "reception_days",
            "activities_held",
            "people_served",
            "issues_received",
            "matters_handled",
            "issues_overdue",
            "response_rate",
            "resolution_rate",
            "satisfaction_rate",
        ],
    ),
    "studio": (
        "委员工作室",
        "Studios",
        "studio",
        ["reception_days", "activities_held", "people_served"],
    ),
    "member": (
        "委员",
        "Members",
        "member",
        [
            "activities_joined",
            "issues_assigned",
            "issues_responded",
            "issues_resolved",
            "issues_overdue",
            "response_rate",
            "satisfaction_rate",
        ],
    ),
}
DISTRICT_BARS = [  # (figure, colour) per district row
    ("issues_received", "#c62828"),
    ("matters_handled", "#2e7d32"),
    ("reception_days", "#1565c0"),
]
TREND = [key for key, _ in DISTRICT_BARS]  # the same figures month by month

STYLE = """
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;background:#f5f5f5}
header{background:#b71c1c;color:#fff;padding:12px 16px}h1{font-size:1.2em;margin:0}
h2{font-size:1em;margin:18px 0 6px}.en{color:#777;font-size:.85em}header .en{color:#ffd}
main{padding:8px;max-width:1100px;margin:auto}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}
.headline .tile{border-top:4px solid #b71c1c}
.tile{background:#fff;border-radius:8px;padding:10px}.value{font-size:1.6em;font-weight:bold}
.def{font-size:.8em;color:#444;margin-top:4px}
details{font-size:.75em;color:#555;margin-top:4px}summary{cursor:pointer;color:#1565c0}
.chart{background:#fff;border-radius:8px;padding:8px;overflow-x:auto}
.registry{background:#fff;border-radius:8px;padding:10px}
nav a{color:#fff;margin-right:12px}
form.period{margin-top:8px;display:flex;flex-wrap:wrap;gap:6px;align-items:center}
form.period select,form.period button{font-size:1em;padding:4px 6px}
.warn{background:#fff3e0;border-left:6px solid #e65100;padding:10px;margin:8px 0}
.note{background:#fff;border-left:6px solid #1565c0;padding:8px 10px;margin:8px 0;font-size:.85em}
.hrow{display:grid;grid-template-columns:6.5em 1fr;gap:6px;align-items:center;padding:4px 0;
border-bottom:1px solid #eee}
.hrow .label{font-size:.9em;overflow-wrap:anywhere}
.bar{display:flex;align-items:center;gap:4px;font-size:.75em;height:14px}
.bar i{display:inline-block;height:10px;min-width:1px}
.map{background:#fff;border-radius:8px;padding:8px}
.map a:hover .area,.map a:focus .area{stroke:#000;stroke-width:2}
.maps{display:flex;flex-wrap:wrap;gap:8px}
.maps .panel{flex:1 1 320px;margin:0;min-width:0}
.maps figcaption{font-size:.85em;color:#333}
.maplegend{font-size:.8em;color:#333;line-height:1.9}.maplegend .item{white-space:nowrap}
.maplegend .sw{display:inline-block;width:1.4em;height:.9em;border:1px solid #ccc;margin:0 3px 0 8px;
vertical-align:middle}
.maplegend .dot{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin:0 3px 0 8px;
vertical-align:middle}
.maplegend .unplaced{margin:4px 0 0;color:#e65100}
.scroll{overflow-x:auto;background:#fff;border-radius:8px}
table{border-collapse:collapse;font-size:.85em;min-width:100%}
th,td{padding:6px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left;position:sticky;left:0;background:#fff;
white-space:normal;min-width:6em;max-width:10em;box-shadow:1px 0 0 #eee}
th a{color:#1565c0;text-decoration:none}th[aria-sort] a{font-weight:bold}
td a{color:#b71c1c}
h3{font-size:.95em;margin:14px 0 6px}.value a{color:#b71c1c;text-decoration:none}
.practice .tile{border-top:4px solid #2e7d32}.served .tile{border-top:4px solid #1565c0}
"""

SORT_SCRIPT = """
document.querySelectorAll('table[data-table]').forEach(function(t){
 t.querySelectorAll('th a[data-col]').forEach(function(a){
  a.addEventListener('click',function(e){
   e.preventDefault();var i=+a.dataset.col,th=a.parentNode;
   var down=th.getAttribute('aria-sort')!=='descending';if(i===0)down=th.getAttribute('aria-sort')==='ascending';
   t.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort')});
   th.setAttribute('aria-sort',down?'descending':'ascending');
   var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);
   rows.sort(function(x,y){var p=x.cells[i].dataset.v,q=y.cells[i].dataset.v;
    if(p===''&&q!=='')return 1;if(q===''&&p!=='')return -1;
    var c=i===0?p.localeCompare(q,'zh'):(+p)-(+q);return down?-c:c});
   rows.forEach(function(r){b.appendChild(r)});
  });
 });
});
"""


@dataclass
class View:
    """What the page shows: a month (``month`` set) or a whole year, and how the tables sort."""

    year: int
    month: int | None = None  # None: the whole year
    sort: tuple[str, str, bool] | None = None  # (table, figure or "name", descending)
    years: list[int] = field(default_factory=list)  # the year picker's choices
    cases_url: str = "/office/cases"  # routing's office case list
    routing_url: str = ""  # routing's public address: its consultation and report lists
    registry_url: str = ""  # the registry's: its leaders' visit list
    names: dict = field(default_factory=dict)  # dimension → code → name
    places: dict = field(default_factory=dict)  # station code → (lat, lng), the placed ones
    checked_at: datetime | None = None  # when the reconciliation shown was made
    now: datetime | None = None

    @property
    def label(self) -> str:
        return f"{self.year}-{self.month:02d}" if self.month else str(self.year)

    @property
    def first(self) -> date:
        return date(self.year, self.month or 1, 1)

    @property
    def last(self) -> date:
        month = self.month or 12
        return date(self.year, month, calendar.monthrange(self.year, month)[1])

    def months(self) -> list[str]:
        if self.month:
            return [self.label]
        return [f"{self.year}-{m:02d}" for m in range(1, 13)]

    def query(self, **more) -> str:
        args = {"month": self.label} if self.month else {"year": self.year}
        return "dashboard?" + urlencode({**args, **more})


def choose(args, today: date) -> View:
    """The dashboard's query: ``month=YYYY-MM``, or the picker's ``year=YYYY`` and ``mon=MM``
    (``mon`` empty or absent: the whole year), and ``sort=<table>.<figure>`` with
    ``dir=asc|desc``. Anything else is an ApiError naming the field."""
    if args.get("month"):
        year, month = map(int, periods.month(args["month"]).split("-"))
    elif args.get("year"):
        year = periods.year(args["year"])
        mon = (args.get("mon") or "").strip()
        month = int(periods.month(f"{year}-{mon}", "mon")[5:]) if mon else None
    else:
        year, month = today.year, today.month
    return View(year=year, month=month, sort=_sort(args.get("sort"), args.get("dir")))


def _sort(value: str | None, direction: str | None) -> tuple[str, str, bool] | None:
    if not value:
        return None
    table, _, key = value.partition(".")
    if table not in TABLES or (key != "name" and key not in TABLES[table][3]):
        choices = ", ".join(f"{t}.{k}" for t, spec in TABLES.items() for k in ["name", *spec[3]])
        raise ApiError(
            "invalid",
            "无法按此排序",
            "cannot sort by this",
            fields={"sort": [f"可选 / one of: {choices}"]},
        )
    if direction not in (None, "", "asc", "desc"):
        raise ApiError("invalid", "排序方向有误", "bad direction", fields={"dir": ["asc / desc"]})
    return table, key, (direction or ("asc" if key == "name" else "desc")) == "desc"


# -- values ----------------------------------------------------------------------------------


def _value(key: str, figures: dict) -> str:
    value = figures.get(key, None if _undefined_when_absent(key) else 0)
    if value is None:
        return "—"
    if key.endswith("_rate"):
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:,.1f}".removesuffix(".0")
    return f"{value:,}"


def _undefined_when_absent(key: str) -> bool:
    return by_key()[key].kind in ("rate", "median", "distinct")


def _sort_value(key: str, figures: dict):
    value = figures.get(key, None if _undefined_when_absent(key) else 0)
    return value


def _tile(key: str, figures: dict, year_view: bool = False) -> str:
    f = by_key()[key]
    explain = f.explain.replace("本月", "本年") if year_view else f.explain
    return (
        f'<div class=tile data-key="{key}"><div>{escape(f.name_zh)} '
        f"<span class=en>{escape(f.name_en)}</span></div>"
        f"<div class=value>{_value(key, figures)}</div>"
        f"<div class=def>{escape(explain)}</div>"
        f"<details><summary>计算规则 <span class=en>Precise rule</span></summary>"
        f"<div class=rule>{escape(f.definition)}</div></details></div>"
    )


# -- charts ----------------------------------------------------------------------------------


def _bars(labels: list[str], series: dict[str, list[int]], colours: list[str]) -> str:
    """A grouped bar chart as SVG: one group per label, one bar per series; each label in its
    own slot at least as wide as the label, so labels never overlap. It scales down to the
    screen's width (a phone shows the whole year)."""
    height = 160
    top = max([v for values in series.values() for v in values] + [1])
    group = max(12 * len(series) + 10, 46)  # room for a month's label (12月) at 16px
    width = 40 + group * len(labels)
    parts = [
        f'<svg role=img width="100%" style="max-width:{width}px" '
        f'viewBox="0 0 {width} {height + 48}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, label in enumerate(labels):
        x0 = 40 + i * group
        for j, (name, values) in enumerate(series.items()):
            h = round(values[i] / top * height)
            parts.append(
                f'<rect x="{x0 + j * 12}" y="{height - h + 10}" width="10" '
                f'height="{h}" fill="{colours[j % len(colours)]}">'
                f"<title>{escape(name)} {escape(label)}: {values[i]}</title></rect>"
            )
        text, _, under = label.partition("\n")
        parts.append(f'<text x="{x0}" y="{height + 28}" font-size="16">{escape(text)}</text>')
        if under:
            parts.append(
                f'<text x="{x0}" y="{height + 46}" font-size="14" fill="#777">{escape(under)}</text>'
            )
    parts.append(f'<text x="0" y="18" font-size="12">{top}</text></svg>')
    return "".join(parts)


def _month_labels(months: list[str]) -> list[str]:
    """``2025-01`` → ``1月`` with its year beneath, on January and the first month shown."""
    out = []
    for i, m in enumerate(months):
        year, mon = m.split("-")
        out.append(f"{int(mon)}月" + (f"\n{year}" if i == 0 or mon == "01" else ""))
    return out


def _legend(names: list[str], colours: list[str]) -> str:
    return " ".join(
        f'<span style="color:{c}">■</span> {escape(n)}'
        for n, c in zip(names, colours, strict=False)
    )


def _district_rows(report: dict, view: View) -> str:
    """One row per district, its name in a column of its own and its bars beside it (an SVG's
    labels under narrow bars overlapped: 七里河区 / 兰州新区 / 城关区)."""
    districts = sorted(report.get("district", {}).items())
    if not districts:
        return "<p>暂无数据 <span class=en>No figures</span></p>"
    top = max([f.get(k) or 0 for _, f in districts for k, _ in DISTRICT_BARS] + [1])
    rows = []
    for name, figures in districts:
        bars = "".join(
            f'<div class=bar data-figure="{k}"><i style="width:{(figures.get(k) or 0) / top * 75:.1f}%;'
            f'background:{c}"></i>{figures.get(k) or 0}</div>'
            for k, c in DISTRICT_BARS
        )
        link = _cases_link(view, "district", name)
        rows.append(
            f'<div class=hrow data-district="{escape(name)}"><a class=label href="{escape(link)}">'
            f"{escape(name)}</a><div>{bars}</div></div>"
        )
    legend = _legend(
        [f"{by_key()[k].name_zh} {by_key()[k].name_en}" for k, _ in DISTRICT_BARS],
        [c for _, c in DISTRICT_BARS],
    )
    return f"<div class=chart>{''.join(rows)}<div>{legend}</div></div>"


def _map(report: dict, view: View, period_zh: str) -> str:
    """The districts and stations on the map of Lanzhou (citymap.py), linking to their cases."""
    return citymap.svg(
        report,
        view.names.get("station", {}),
        view.places,
        lambda argument, value: _cases_link(view, argument, value),
        period_zh,
    )


# -- tables ----------------------------------------------------------------------------------


def _cases_link(view: View, argument: str, code: str) -> str:
    query = urlencode({argument: code, "from": view.first.isoformat(), "to": view.last.isoformat()})
    return f"{view.cases_url}?{query}"


def _table(report: dict, view: View, table: str) -> str:
    zh, en, argument, columns = TABLES[table]
    names = view.names.get(table, {})
    rows = report.get(table, {})
    codes = sorted(set(rows) | (set(names) if table != "member" else set()))
    if not codes:
        return (
            f"<h2 id={table}s>{zh} <span class=en>{en}</span></h2>"
            "<p>暂无数据 <span class=en>No figures</span></p>"
        )
    # as asked, else by the table's first figure, most first (the busiest stations on top)
    sort = view.sort if view.sort and view.sort[0] == table else (table, columns[0], True)
    if sort:
        _, key, descending = sort
        if key == "name":
            codes.sort(key=lambda c: names.get(c, c), reverse=descending)
        else:
            defined = [c for c in codes if _sort_value(key, rows.get(c, {})) is not None]
            blank = [c for c in codes if c not in defined]
            defined.sort(key=lambda c: _sort_value(key, rows.get(c, {})), reverse=descending)
            codes = defined + blank  # a blank is no figure: last, whichever way
    head = [("name", "名称 <span class=en>Name</span>")] + [
        (k, f"{escape(by_key()[k].name_zh)}<br><span class=en>{escape(by_key()[k].name_en)}</span>")
        for k in columns
    ]
    ths = []
    for i, (key, text) in enumerate(head):
        state = ""
        if sort and sort[1] == key:
            state = f' aria-sort="{"descending" if sort[2] else "ascending"}"'
        if sort and sort[1] == key:  # sorted by this column: the link turns it round
            descending = not sort[2]
        else:
            descending = key != "name"
        href = view.query(sort=f"{table}.{key}", dir="desc" if descending else "asc")
        ths.append(f'<th{state}><a data-col="{i}" href="{escape(href)}#{table}s">{text}</a></th>')
    body = []
    for code in codes:
        figures = rows.get(code, {})
        name = names.get(code, code)
        cells = [
            f'<td data-v="{escape(name)}"><a href="{escape(_cases_link(view, argument, code))}">'
            f"{escape(name)}</a>"
            + (  # the member's 履职档案 of the year (dossier_routes.py)
                f' <a class=dossier href="/dossier/{escape(code)}?year={view.year}">档案</a>'
                if table == "member"
                else ""
            )
            + "</td>"
        ]
        for key in columns:
            value = _sort_value(key, figures)
            cells.append(
                f'<td data-key="{key}" data-v="{"" if value is None else value}">'
                f"{_value(key, figures)}</td>"
            )
        body.append(f'<tr data-code="{escape(code)}">{"".join(cells)}</tr>')
    return (
        f"<h2 id={table}s>{zh} <span class=en>{en}</span></h2>"
        f'<div class=scroll><table data-table="{table}"><thead><tr>{"".join(ths)}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


# -- reconciliation --------------------------------------------------------------------------


def _unknown(balance: dict | None) -> str:
    """Events of a type reporting does not know: kept in the store, counted in no figure."""
    unknown = (balance or {}).get("unknown_events") or {}
    if not unknown.get("total"):
        return ""
    types = "，".join(f"<code>{escape(t)}</code> {n}" for t, n in unknown["by_type"].items())
    return (
        f"<div class=warn role=alert data-unknown-events={unknown['total']}>"
        f"⚠ 有 {unknown['total']} 条未知类型的事件已保存、尚未计入任何数字 <span class=en>"
        f"{unknown['total']} events of an unknown type are kept but counted in no figure</span>："
        f"{types}</div>"
    )


def _age(view: View) -> str:
    if view.checked_at is None:
        return ""
    now = view.now or datetime.now(UTC)
    minutes = max(0, int((now - view.checked_at).total_seconds() // 60))
    zh = "刚刚" if minutes < 1 else f"{minutes} 分钟前"
    en = "just now" if minutes < 1 else f"{minutes} min ago"
    return f"（{zh}检查 <span class=en>checked {en}</span>）"


def _balance(balance: dict | None, view: View | None = None) -> str:
    view = view or View(year=2000)
    age = _age(view)
    if balance is None:
        return (
            "<div class=note data-reconciliation=pending>对账结果尚未取得：服务启动后每分钟对账一次"
            "，本页不等待其他服务 <span class=en>Reconciliation not checked yet: it runs every"
            " minute after the service starts; this page never waits for other services</span>"
            "</div>"
        )
    if balance.get("holds") is True:
        return (
            f"<div class=note data-reconciliation=holds>对账一致{age} "
            "<span class=en>The services' counts agree</span></div>"
        )
    if balance.get("holds") is None:
        state = "unknown"
        text = f"{balance['message_zh']} <span class=en>{escape(balance['message'])}</span>"
    else:
        state = "broken"
        failed = [c for c in balance["checks"] if not c["holds"]]
        text = "；".join(
            f"{escape(c['check_zh'])}：差 {c['gap']} <span class=en>"
            f"{escape(c['check'])}: off by {c['gap']}</span>"
            for c in failed
        )
    return (
        f"<div class=warn role=alert data-reconciliation={state}>⚠ 对账不平{age} "
        f"<span class=en>Figures do not reconcile</span>：{text}</div>"
    )


# -- the page --------------------------------------------------------------------------------


def _registry(reg: dict) -> str:
    levels = {"national": "全国", "provincial": "省", "municipal": "市", "county": "县区"}
    members = "，".join(
        f"{levels.get(k, k)} {v}" for k, v in sorted(reg.get("members_by_level", {}).items())
    )
    return (
        f"<div class=registry>委员工作站 {reg.get('stations', 0)} · 委员工作室 "
        f"{reg.get('studios', 0)} · 委员 {reg.get('members', 0)}（{members}）</div>"
    )


def _picker(view: View) -> str:
    years = sorted(set(view.years) | {view.year}, reverse=True)
    year_options = "".join(
        f'<option value="{y}"{" selected" if y == view.year else ""}>{y} 年</option>' for y in years
    )
    month_options = f'<option value=""{"" if view.month else " selected"}>全年 Whole year</option>'
    month_options += "".join(
        f'<option value="{m:02d}"{" selected" if m == view.month else ""}>{m} 月</option>'
        for m in range(1, 13)
    )
    return (
        '<form class=period method=get action="dashboard">'
        "<label for=year>年份 <span class=en>Year</span></label>"
        f"<select id=year name=year>{year_options}</select>"
        "<label for=mon>月份 <span class=en>Month</span></label>"
        f"<select id=mon name=mon>{month_options}</select>"
        "<button id=show type=submit>查看 Show</button></form>"
    )


def _downloads(view: View) -> str:
    if view.month:
        m = escape(view.label)
        return (
            f'<a href="stats/monthly.xlsx?month={m}">下载 Excel</a>'
            f'<a href="stats/monthly.csv?month={m}&amp;breakdown=station">CSV</a>'
            f'<a href="stats/monthly?month={m}">JSON</a>'
        )
    return f'<a href="stats/yearly?year={view.year}">JSON</a>'


def page(
    report: dict,
    trend_months: list[str],
    trend: dict[str, list[int]],
    balance: dict | None = None,
    view: View | None = None,
) -> str:
    figures = report["city"]
    if view is None:
        year, month = map(int, report["month"].split("-"))
        view = View(year=year, month=month)
    colours = [dict(DISTRICT_BARS).get(k, "#777") for k in trend]
    names = {k: f"{by_key()[k].name_zh} {by_key()[k].name_en}" for k in trend}
    trend_chart = _bars(
        _month_labels(trend_months), {names[k]: v for k, v in trend.items()}, colours
    )
    warning = ""
    if not any(figures.get(k) for k in HEADLINE + ["issues_received"]):
        warning = (
            f"<p class=note>{escape(view.label)} 暂无数据 "
            f"<span class=en>No figures for this period yet</span></p>"
        )
    period_zh = f"{view.year} 年 {view.month} 月" if view.month else f"{view.year} 年全年"
    return (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>统计看板 Dashboard {escape(view.label)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>连心 · 统计看板 <span class=en>Dashboard</span> "
        f"<span id=period>{escape(period_zh)}</span></h1>"
        f"<nav>{_downloads(view)}</nav>{_picker(view)}</header><main>"
        f"{_balance(balance, view)}{_unknown(balance)}{warning}"
        f"<h2>履职总览 <span class=en>The programme</span></h2>"
        f"<div class='tiles headline'>{''.join(_tile(k, figures, not view.month) for k in HEADLINE)}</div>"
        f"{practice_dashboard.block(report, view)}"
        f"<h2>问题办理 <span class=en>Cases</span></h2>"
        f"<div class=tiles>{''.join(_tile(k, figures, not view.month) for k in KEY_FIGURES)}</div>"
        f"<p class=note>“—” 表示该项无法计算（如没有人评价、只按全市统计），不是 0。"
        f"<span class=en>“—” means the figure is undefined here (nobody rated; kept for the"
        f" city only), not 0.</span></p>"
        f"<h2>月度趋势 <span class=en>Trend by month</span></h2>"
        f"<div class=chart>{trend_chart}<div>{_legend(list(names.values()), colours)}</div></div>"
        f"<h2>各区县 <span class=en>By district</span></h2>"
        f"<div id=district-map class=map>{_map(report, view, period_zh)}</div>"
        f"{_district_rows(report, view)}"
        f"{''.join(_table(report, view, t) for t in TABLES)}"
        f"<h2>工作站与委员 <span class=en>Stations and members</span></h2>"
        f"{_registry(report.get('registry', {}))}"
        f"</main><script>{SORT_SCRIPT}</script></body></html>"
    )
