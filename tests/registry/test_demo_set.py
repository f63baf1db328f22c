"""The full demo registry: Lanzhou's shape, counted through the API; the same for a seed."""

from collections import Counter

import pytest
import requests
from nameko.containers import ServiceContainer

from services.kernel.migrations import upgrade
from services.registry import demo, lanzhou
from services.registry.service import RegistryService
from tests.conftest import auth_headers, container_config, create_vhost, delete_vhost
from tests.registry.conftest import INTAKE, free_port


@pytest.fixture(scope="module")
def full_registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lanzhou")
    vhost, amqp_uri = create_vhost()
    db_url = f"sqlite:///{tmp}/registry.db"
    upgrade("registry", db_url)
    assert demo.load_into(db_url, "lanzhou", year=2026, if_empty=True) > 4000
    assert demo.load_into(db_url, "lanzhou", year=2026, if_empty=True) is None
    port = free_port()
    container = ServiceContainer(
        RegistryService,
        container_config("registry", amqp_uri, db_url, port, public_urls={"intake": INTAKE}),
    )
    container.start()
    yield f"http://127.0.0.1:{port}", db_url
    container.stop()
    delete_vhost(vhost)


def get(base, path, **params):
    r = requests.get(f"{base}{path}", params=params, headers=auth_headers(), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_counts_the_city_reports(full_registry):
    base, _ = full_registry
    assert len(get(base, "/stations")["stations"]) == 126
    assert len(get(base, "/studios")["studios"]) == 133
    assert len(get(base, "/sectors")["sectors"]) == 30
    assert get(base, "/members", limit=1)["total"] == 2200
    by_level = {
        lv: get(base, "/members", level=lv, limit=1)["total"] for lv in lanzhou.LEVEL_COUNTS
    }
    assert by_level == lanzhou.LEVEL_COUNTS
    counts = get(base, "/counts")
    assert counts["members_by_level"] == lanzhou.LEVEL_COUNTS
    assert len(counts["members_by_sector"]) == 30
    assert sum(counts["members_by_sector"].values()) == 2200
    assert (
        get(base, "/members", sector="yiyao", limit=1)["total"]
        == counts["members_by_sector"]["yiyao"]
    )
    districts = Counter(s["district"] for s in get(base, "/stations")["stations"])
    assert len(districts) == 9
    assert get(base, "/members", station="gwm", limit=1)["total"] == 75  # as the article says


def test_the_small_set_is_inside_it_unchanged(full_registry):
    base, _ = full_registry
    m003 = get(base, "/members/m003")
    assert (m003["sector"], m003["level"]) == ("yiyao", "county")
    assert {s["station"] for s in m003["stations"]} == {"gwm", "jql"}
    codes = {s["code"] for s in get(base, "/stations")["stations"]}
    assert {"gwm", "jnl", "jql", "ytl", "sp"} <= codes


def test_every_station_and_studio_has_one_lead_and_stations_a_year_of_rosters(full_registry):
    base, _ = full_registry
    stations = get(base, "/stations")["stations"]
    for station in stations[:: len(stations) // 10]:
        members = get(base, "/members", station=station["code"])["members"]
        leads = [
            m for m in members if {"station": station["code"], "role": "lead"} in m["stations"]
        ]
        assert len(leads) == 1, station["code"]
        year = get(base, "/rosters", station=station["code"], **{"from": "2026-01-01"})
        months = {r["date"][:7] for r in year["rosters"]}
        assert len(months) == 12
    studios = get(base, "/studios")["studios"]
    members = get(base, "/members")["members"]
    leads = Counter(p["studio"] for m in members for p in m["studios"] if p["role"] == "lead")
    assert set(leads) == {s["code"] for s in studios} and set(leads.values()) == {1}
    day = get(base, "/rosters", station="gwm")["rosters"][0]
    on_duty = get(base, "/on-duty", station="gwm", date=day["date"])["members"]
    assert sorted(m["code"] for m in on_duty) == day["members"]


def test_the_same_seed_gives_the_same_registry_and_another_seed_another():
    first, again = lanzhou.generate(7), lanzhou.generate(7)
    assert first == again
    assert lanzhou.roster_plan(first, 2026, 7) == lanzhou.roster_plan(again, 2026, 7)
    other = lanzhou.generate(8)
    assert [m["name"] for m in other["members"]] != [m["name"] for m in first["members"]]
    assert len(other["stations"]) == 126 and len(other["members"]) == 2200
