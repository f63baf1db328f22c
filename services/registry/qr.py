"""“委员码上见”: the QR codes that open a member's, station's or studio's intake page.

A code encodes ``{public_urls.intake}/q/<kind>/<code>`` (intake serves that page), so it
depends only on the public code: the same after a restart, a re-import or an edit of the
record. Served as PNG, SVG, and a printable A4 poster (SVG, 210 × 297 mm) with the name,
sector, station, the code and one line of instructions.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

import segno

KINDS = ("member", "station", "studio")
INSTRUCTIONS = "手机扫一扫，直接向委员反映问题、提出建议"
TITLE = "委员码上见"


def target_url(base: str, kind: str, code: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"no QR code for {kind!r}")
    return f"{base.rstrip('/')}/q/{kind}/{code}"


def _make(url: str):
    return segno.make(url, error="m", micro=False)


def png(url: str, scale: int = 10) -> bytes:
    out = io.BytesIO()
    _make(url).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def svg(url: str, scale: int = 10) -> bytes:
    out = io.BytesIO()
    _make(url).save(out, kind="svg", scale=scale, border=4, xmldecl=True, title=url)
    return out.getvalue()


def _modules_path(url: str) -> tuple[str, int]:
    """The dark modules as one SVG path in module units, and the symbol's size."""
    matrix = _make(url).matrix
    parts = [
        f"M{x},{y}h1v1h-1z" for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark
    ]
    return "".join(parts), len(matrix)


def poster(url: str, heading: str, lines: list[str], code: str) -> bytes:
    """An A4 poster: the title, who or what it is, the QR code, the code and the instructions."""
    path, size = _modules_path(url)
    qr_mm = 120
    x0, y0 = (210 - qr_mm) / 2, 92
    text = [
        f'<text x="105" y="32" font-size="16" font-weight="bold">{TITLE}</text>',
        f'<text x="105" y="52" font-size="11">{escape(heading)}</text>',
    ]
    for i, line in enumerate(lines[:3]):
        text.append(f'<text x="105" y="{64 + i * 8}" font-size="6.5">{escape(line)}</text>')
    text.append(
        f'<text x="105" y="{y0 + qr_mm + 14}" font-size="7" font-family="monospace">'
        f"编号 {escape(code)}</text>"
    )
    text.append(
        f'<text x="105" y="{y0 + qr_mm + 30}" font-size="8.5">{escape(INSTRUCTIONS)}</text>'
    )
    text.append(f'<text x="105" y="285" font-size="4" fill="#555">{escape(url)}</text>')
    body = "\n  ".join(text)
    svg_text = f"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" viewBox="0 0 210 297">
  <title>{TITLE} {escape(heading)}</title>
  <rect width="210" height="297" fill="#fff"/>
  <rect x="8" y="8" width="194" height="281" fill="none" stroke="#b71c1c" stroke-width="1.2"/>
  <g text-anchor="middle" font-family="'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', sans-serif">
  {body}
  </g>
  <g transform="translate({x0},{y0}) scale({qr_mm / size})">
    <path d="{path}" fill="#000"/>
  </g>
</svg>
"""
    return svg_text.encode("utf-8")


def describe(session, kind: str, code: str) -> tuple[str, list[str]]:
    """The poster's heading and lines for a record; raises the registry's not-found error."""
    from services.registry import registry, search
    from services.registry.models import Sector, Station, Studio
    from services.registry.schemas import LEVEL_NAMES

    def sector_name(c):
        row = session.get(Sector, c)
        return row.name if row else c

    row = registry.get(session, f"{kind}s", code)
    if kind == "member":
        stations = [session.get(Station, m.station_code) for m in row.memberships]
        studios = [session.get(Studio, m.studio_code) for m in row.studio_memberships]
        lines = [f"{LEVEL_NAMES[row.level]}政协委员 · {sector_name(row.sector_code)}界别"]
        if stations:
            lines.append("工作站：" + "、".join(s.name for s in stations))
        if studios:
            lines.append("工作室：" + "、".join(s.name for s in studios))
        return f"{row.name} 委员", lines
    if kind == "station":
        lines = [f"{row.district} {row.street}".strip()]
        members = search.search_members(session, station=code, active=True, limit=0)[0]
        lines.append(f"在站委员 {members} 名")
        return row.name, lines
    sectors = "、".join(sector_name(s.sector_code) for s in row.sectors)
    return row.name, [f"界别：{sectors}", f"地点：{row.district} {row.location}".strip()]
