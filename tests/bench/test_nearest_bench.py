"""Nearest-station look-up (issue 19, `make bench`): ``nearest.nearest`` over every station of
the full Lanzhou demo set (126, all placed), for random points over the city's districts,
p50/p99, beside a baseline of one distance computation measured in the same run; for
information, reading the placed stations from intake's copy (SQLite), as each Open311 POST
without a station does. Goal: p99 under 1 ms. Figures in var/bench/intake_nearest.json."""

import random

from sqlalchemy.orm import Session

from services.intake import known, nearest
from services.kernel.db import make_engine
from services.kernel.migrations import upgrade
from services.registry import lanzhou
from tests.bench.conftest import report
from tests.bench.test_registry_bench import summary, timed


def test_nearest_station_look_up(tmp_path):
    stations = lanzhou.generate()["stations"]
    rng = random.Random(19)
    boxes = list(lanzhou.DISTRICT_BOXES.values())
    points = []
    for _ in range(5000):
        lat_lo, lat_hi, lng_lo, lng_hi = rng.choice(boxes)
        points.append((rng.uniform(lat_lo, lat_hi), rng.uniform(lng_lo, lng_hi)))
    placed = [{k: s[k] for k in ("code", "name", "district", "lat", "lng")} for s in stations]
    timed(lambda lat, lng: nearest.nearest(placed, lat, lng), points[:200])  # warm
    look_ups = timed(lambda lat, lng: nearest.nearest(placed, lat, lng), points)
    one = placed[0]
    baseline = timed(lambda lat, lng: nearest.distance_km(lat, lng, one["lat"], one["lng"]), points)
    found = sum(1 for p in points if nearest.nearest(placed, *p) is not None)

    url = f"sqlite:///{tmp_path}/intake.db"
    upgrade("intake", url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        for s in placed:
            known.apply_event(
                session,
                {
                    "type": "registry.station_saved",
                    "occurred_at": "2026-11-30T02:00:00+00:00",
                    "payload": s | {"active": True, "revision": 1},
                },
            )
    with Session(engine) as session:
        reads = timed(lambda: known.placed_stations(session), [()] * 500)
    engine.dispose()
    report(
        "intake_nearest",
        summary(look_ups),
        summary(baseline),
        goals={"p99_ms": ("<", 1.0)},
        notes={
            "stations": len(placed),
            "points": len(points),
            "baseline": "one haversine distance",
            "reading the placed stations from SQLite (ms, p50/p99)": summary(reads),
        },
    )
    assert found == len(points)  # every point in a district box has a station within 40 km
