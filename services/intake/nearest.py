"""The nearest member workstation to a point (an Open311 report's ``lat``/``long``).

The rule (issue 19): a report with a location and no station goes to the nearest *active*
station of the point's district. Intake has no county boundaries offline (``cnmaps`` was not
adopted: see docs/intake.md, "Nearest station"), so the point's district is taken to be the
district of the nearest active station, which makes the rule "the nearest active station"; a
point farther than :data:`MAX_KM` from every active station is outside every district (another
province, a typo'd coordinate) and is refused. Coordinates are WGS-84, as a phone's GPS and the
registry give them (a GCJ-02 point from a Chinese web map is off by a few hundred metres: still
the right station almost always, and no conversion is made).

Distances are great-circle (haversine, mean Earth radius 6371.0088 km). The look-up is a plain
scan: 126 stations cost well under a millisecond (tests/bench/test_nearest_bench.py).
"""

from __future__ import annotations

import math

EARTH_KM = 6371.0088
MAX_KM = 40.0  # farther than this from every active station: outside Lanzhou's districts


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance between two WGS-84 points, in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def nearest(stations: list[dict], lat: float, lng: float) -> tuple[dict, float] | None:
    """``(station, km)`` of the nearest of ``stations`` (dicts with ``lat``/``lng``, the active
    placed ones) within :data:`MAX_KM`, ties to the smaller code; None when there is none."""
    best, best_km = None, MAX_KM
    for s in stations:
        km = distance_km(lat, lng, s["lat"], s["lng"])
        if km < best_km or (km == best_km and best is not None and s["code"] < best["code"]):
            best, best_km = s, km
    return None if best is None else (best, best_km)


def parse_point(lat: str | None, lng: str | None) -> tuple[float, float] | None:
    """A WGS-84 point from two texts, or None when either is not a coordinate."""
    try:
        point = float(lat or ""), float(lng or "")
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in point):
        return None
    if not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
        return None
    return point
