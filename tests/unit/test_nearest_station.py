"""Open311 reports with only lat/long (issue 19): each lands at the nearest active station of
the Lanzhou demo registry, told on its place; a point in another province, a bad coordinate and
an address alone are refused naming the field. Against a migrated SQLite intake database fed
the registry's own station announcements."""

import pytest

from services.intake import known, nearest, open311
from services.registry import lanzhou

CATEGORIES = [{"code": "health", "name": "医疗卫生", "name_en": "Health"}]


def announce(session, station: dict, revision: int = 1, active: bool = True) -> None:
    payload = {k: station[k] for k in ("code", "name", "district", "lat", "lng")}
    known.apply_event(
        session,
        {
            "type": "registry.station_saved",
            "occurred_at": "2026-11-30T02:00:00+00:00",
            "payload": payload | {"active": active, "revision": revision},
        },
    )


@pytest.fixture
def intake(session_of):
    session = session_of("intake")
    with session.begin():
        for station in lanzhou.generate()["stations"]:
            announce(session, station)
    return session


def post(session, **form):
    with session.begin():
        codes = set(known.known_station_codes(session))
        placed = known.placed_stations(session)
    form = {"api_key": "k", "service_code": "health", "description": "路灯不亮"} | form
    return open311.submission_from_post(form, CATEGORIES, codes, placed)


def loneliest(stations: list[dict], district: str) -> dict:
    """The district's station farthest from any other: a point 150 m from it is surely its."""
    mine = [s for s in stations if s["district"] == district]

    def gap(s):
        return min(
            nearest.distance_km(s["lat"], s["lng"], o["lat"], o["lng"])
            for o in stations
            if o is not s
        )

    return max(mine, key=gap)


@pytest.mark.parametrize("district", list(lanzhou.DISTRICT_BOXES))
def test_a_point_lands_at_the_nearest_station_of_its_district(intake, district):
    stations = lanzhou.generate()["stations"]
    station = loneliest(stations, district)
    lat, lng = station["lat"] + 0.00135, station["lng"]  # 150 m north of it
    message = post(intake, lat=f"{lat:.5f}", long=f"{lng:.5f}")
    assert message["station"] == station["code"]
    assert "就近分配 / nearest station " + station["code"] in message["place"]
    assert message["place"].startswith(f"{lat:.5f},{lng:.5f}")
    assert "0.1 km" in message["place"] or "0.2 km" in message["place"]


def test_a_point_in_another_province_is_refused_naming_the_field(intake):
    with pytest.raises(open311.Open311Error) as refused:
        post(intake, lat="34.26", long="108.94")  # 西安 / Xi'an
    assert refused.value.status == 400
    assert refused.value.description.startswith("lat/long: 该位置不在兰州市各区县内")
    assert "outside Lanzhou's districts" in refused.value.description


def test_bad_coordinates_and_an_address_alone_are_refused(intake):
    with pytest.raises(open311.Open311Error) as bad:
        post(intake, lat="north", long="103.8")
    assert bad.value.description.startswith("lat/long: 应为 WGS-84 十进制度数")
    with pytest.raises(open311.Open311Error) as alone:
        post(intake, address_string="兰州市城关区酒泉路 12 号")
    assert "attribute[station]: 须提供委员工作站或 lat/long" in alone.value.description
    assert "an address alone cannot be placed" in alone.value.description


def test_an_inactive_station_is_passed_over_and_a_named_station_wins(intake):
    stations = lanzhou.generate()["stations"]
    gwm = next(s for s in stations if s["code"] == "gwm")
    with intake.begin():
        announce(intake, gwm, revision=2, active=False)
    message = post(intake, lat=str(gwm["lat"]), long=str(gwm["lng"]))
    assert message["station"] != "gwm"
    assert message["place"].endswith(" km）")
    named = post(intake, lat=str(gwm["lat"]), long=str(gwm["lng"]), **{"attribute[station]": "jnl"})
    assert named["station"] == "jnl" and "就近" not in named["place"]


def test_the_service_definition_says_the_station_is_optional(intake):
    with intake.begin():
        stations = [known.known_station(intake, c) for c in known.known_station_codes(intake)]
    [station] = open311.service_definition(CATEGORIES[0], stations)["attributes"]
    assert station["required"] is False
    assert "可不填" in station["datatype_description"]
    assert "optional" in station["datatype_description"]
