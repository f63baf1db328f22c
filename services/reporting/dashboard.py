"""The dashboard (统计看板): the month's key figures with their definitions, the trend over a
year, and the breakdown by district, as one phone-sized HTML page with inline SVG charts
(no scripts, no outside assets)."""

from __future__ import annotations

from html import escape

from services.reporting.statistics import by_key

KEY_FIGURES = [
    "issues_received",
    "issues_assigned",
    "issues_resolved",
    "response_rate",
    "resolution_rate",
    "on_time_rate",
    "satisfaction_rate",
    "median_minutes_to_first_response",
    "cases_transferred",
    "submissions_rejected",
]

STYLE = """
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;background:#f5f5f5}
header{background:#b71c1c;color:#fff;padding:12px 16px}h1{font-size:1.2em;margin:0}
h2{font-size:1em;margin:16px 0 4px}.en{color:#777;font-size:.85em}header .en{color:#ffd}
main{padding:8px;max-width:960px;margin:auto}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}
.tile{background:#fff;border-radius:8px;padding:10px}.value{font-size:1.6em;font-weight:bold}
.def{font-size:.75em;color:#555;margin-top:4px}
.chart{background:#fff;border-radius:8px;padding:8px;overflow-x:auto}
.registry{background:#fff;border-radius:8px;padding:10px}
nav a{color:#fff;margin-right:12px}
.warn{background:#fff3e0;border-left:6px solid #e65100;padding:10px;margin:8px 0}
"""


def _value(key: str, figures: dict) -> str:
    value = figures.get(key)
    if value is None:
        return "—"
    if key.endswith("_rate"):
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:,.0f}"
    return f"{value:,}"


def _tile(key: str, figures: dict) -> str:
    f = by_key()[key]
    return (
        f'<div class=tile data-key="{key}"><div>{escape(f.name_zh)} '
        f"<span class=en>{escape(f.name_en)}</span></div>"
        f"<div class=value>{_value(key, figures)}</div>"
        f"<div class=def>{escape(f.definition)}</div></div>"
    )


def _bars(
    labels: list[str], series: dict[str, list[int]], colours: list[str], height: int = 160
) -> str:
    """A grouped bar chart as SVG: one group per label, one bar per series."""
    top = max([v for values in series.values() for v in values] + [1])
    group = max(28, 14 * len(series) + 8)
    width = 40 + group * len(labels)
    parts = [
        f'<svg role=img width="{width}" height="{height + 40}" '
        f'viewBox="0 0 {width} {height + 40}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, label in enumerate(labels):
        x0 = 40 + i * group
        for j, (name, values) in enumerate(series.items()):
            h = round(values[i] / top * height)
            parts.append(
                f'<rect x="{x0 + j * 14}" y="{height - h + 10}" width="12" '
                f'height="{h}" fill="{colours[j % len(colours)]}">'
                f"<title>{escape(name)} {escape(label)}: {values[i]}</title></rect>"
            )
        parts.append(f'<text x="{x0}" y="{height + 28}" font-size="10">{escape(label)}</text>')
    parts.append(f'<text x="0" y="18" font-size="10">{top}</text></svg>')
    return "".join(parts)


def _legend(names: list[str], colours: list[str]) -> str:
    return " ".join(
        f'<span style="color:{c}">■</span> {escape(n)}'
        for n, c in zip(names, colours, strict=False)
    )


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


def _balance(balance: dict | None) -> str:
    if not balance or balance.get("holds") is True:
        return ""
    if balance.get("holds") is None:
        text = f"{balance['message_zh']} <span class=en>{escape(balance['message'])}</span>"
    else:
        failed = [c for c in balance["checks"] if not c["holds"]]
        text = "；".join(
            f"{escape(c['check_zh'])}：差 {c['gap']} <span class=en>"
            f"{escape(c['check'])}: off by {c['gap']}</span>"
            for c in failed
        )
    return (
        f"<div class=warn role=alert>⚠ 对账不平 <span class=en>Figures do not reconcile"
        f"</span>：{text}</div>"
    )


def _district_chart(report: dict, names: dict, colours: list[str]) -> str:
    districts = sorted(report.get("district", {}).items())
    return _bars(
        [d for d, _ in districts],
        {
            names.get("issues_received", "issues_received"): [
                f.get("issues_received", 0) for _, f in districts
            ],
            names.get("issues_resolved", "issues_resolved"): [
                f.get("issues_resolved", 0) for _, f in districts
            ],
        },
        colours,
    )


def _registry(reg: dict) -> str:
    levels = {"national": "全国", "provincial": "省", "municipal": "市", "county": "县区"}
    members = "，".join(
        f"{levels.get(k, k)} {v}" for k, v in sorted(reg.get("members_by_level", {}).items())
    )
    return (
        f"<div class=registry>委员工作站 {reg.get('stations', 0)} · 委员工作室 "
        f"{reg.get('studios', 0)} · 委员 {reg.get('members', 0)}（{members}）</div>"
    )


def page(
    report: dict, trend_months: list[str], trend: dict[str, list[int]], balance: dict | None = None
) -> str:
    figures = report["city"]
    month = report["month"]
    colours = ["#c62828", "#1565c0", "#2e7d32"]
    names = {k: f"{by_key()[k].name_zh} {by_key()[k].name_en}" for k in trend}
    trend_chart = _bars(
        [m[2:] for m in trend_months], {names[k]: v for k, v in trend.items()}, colours
    )
    warning = ""
    if any(key not in figures for key in ("issues_received",)):
        warning = "<p>本月暂无数据 <span class=en>No figures for this month yet</span></p>"
    return (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>统计看板 Dashboard {escape(month)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>连心 · 统计看板 <span class=en>Dashboard</span> {escape(month)}</h1>"
        f'<nav><a href="stats/monthly.xlsx?month={escape(month)}">下载 Excel</a>'
        f'<a href="stats/monthly?month={escape(month)}">JSON</a></nav></header><main>'
        f"{_balance(balance)}{_unknown(balance)}{warning}<div class=tiles>{''.join(_tile(k, figures) for k in KEY_FIGURES)}</div>"
        f"<h2>月度趋势 <span class=en>Trend by month</span></h2>"
        f"<div class=chart>{trend_chart}<div>{_legend(list(names.values()), colours)}</div></div>"
        f"<h2>各区县 <span class=en>By district</span></h2>"
        f"<div class=chart>{_district_chart(report, names, colours)}</div>"
        f"<h2>工作站与委员 <span class=en>Stations and members</span></h2>"
        f"{_registry(report.get('registry', {}))}"
        "</main></body></html>"
    )
