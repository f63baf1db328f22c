"""Registry benchmarks over the full Lanzhou demo set (`make bench`).

- on-duty look-up (station, sector, date) → members, in process on SQLite: p50/p99, beside a
  baseline of the cheapest query there is (a station's name by primary key) measured in the same run.
  Goal: p99 under 1 ms.
- importing a 2,200-row members workbook into a registry that has the stations and studios,
  then importing it again (nothing changes), beside a baseline of only reading the workbook.
  Goal: under 5 s.

Figures are printed and written by ``report()`` to var/bench/registry_*.json.
"""

import random
import statistics
import time
from datetime import date

import pytest
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from services.kernel.db import make_engine
from services.kernel.migrations import upgrade
from services.registry import demo, roster, spreadsheet
from services.registry.models import (
    LeaderVisitMember,
    Member,
    Membership,
    RosterDay,
    RosterDuty,
    Station,
    StudioMembership,
)
from tests.bench.conftest import report

YEAR = 2026


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(fn, args_list):
    out = []
    for args in args_list:
        t = time.perf_counter()
        fn(*args)
        out.append((time.perf_counter() - t) * 1000)
    return out


def summary(ms):
    return {
        "p50_ms": round(percentile(ms, 50), 4),
        "p99_ms": round(percentile(ms, 99), 4),
        "mean_ms": round(statistics.fmean(ms), 4),
    }


@pytest.fixture(scope="module")
def full_db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('bench')}/registry.db"
    upgrade("registry", url)
    demo.load_into(url, "lanzhou", year=YEAR)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_on_duty_look_up(full_db):
    rng = random.Random(1)
    with Session(full_db) as s:
        days = s.execute(select(RosterDay.station_code, RosterDay.day)).all()
        days = [d for d in days if d.station_code]
        sectors = [c for (c,) in s.execute(select(Member.sector_code).distinct())]
        stations = [c for (c,) in s.execute(select(Station.code))]
        hits = [(s, st, day, rng.choice(sectors)) for st, day in rng.choices(days, k=3000)]
        misses = [
            (s, rng.choice(stations), date(YEAR, rng.randint(1, 12), rng.randint(1, 28)), None)
            for _ in range(1000)
        ]
        queries = hits + misses
        rng.shuffle(queries)
        timed(roster.on_duty, queries[:200])  # warm the statement cache
        by_key = select(Station.name).where(Station.code == bindparam("code"))
        baseline = timed(
            lambda code: s.execute(by_key, {"code": code}).all(),
            [(rng.choice(stations),) for _ in range(4000)],
        )
        look_ups = timed(roster.on_duty, queries)
        found = sum(1 for q in hits[:200] if roster.on_duty(*q))
    report(
        "registry_on_duty",
        summary(look_ups),
        summary(baseline),
        goals={"p99_ms": ("<", 1.0)},
        notes={"queries": len(queries), "baseline": "a station's name by primary key"},
    )
    assert found > 0  # the look-ups did find members on duty


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_import_a_2200_row_workbook(full_db, tmp_path, backend, pg_databases):
    with Session(full_db) as s:
        workbook, _, _ = spreadsheet.export_file(s, "members", "xlsx")
    url = f"sqlite:///{tmp_path}/empty-members.db" if backend == "sqlite" else pg_databases.create()
    upgrade("registry", url)
    demo.load_into(url, "lanzhou", year=YEAR)
    engine = make_engine(url)
    try:
        with Session(engine) as s, s.begin():  # keep places, drop every member
            # the demo's leader visits name members too (issue 21)
            for model in (
                LeaderVisitMember,
                RosterDuty,
                RosterDay,
                Membership,
                StudioMembership,
                Member,
            ):
                s.execute(delete(model))

        t = time.perf_counter()
        rows = spreadsheet.read_table(workbook)
        read_s = time.perf_counter() - t

        def run():
            with Session(engine) as s, s.begin():
                t = time.perf_counter()
                counts = spreadsheet.import_rows(s, "members", workbook)
            return counts, time.perf_counter() - t

        first, first_s = run()
        again, again_s = run()
    finally:
        engine.dispose()
    assert first["created"] == len(rows) - 1 == 2200
    assert again["unchanged"] == 2200
    report(
        f"registry_import_members_{backend}",
        {"first_import_s": first_s, "reimport_unchanged_s": again_s},
        {"first_import_s": read_s, "reimport_unchanged_s": read_s},
        goals={"first_import_s": ("<", 5.0)},
        notes={"rows": 2200, "baseline": "only reading the workbook"},
    )
