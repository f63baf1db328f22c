"""Reporting over a store of a million issues and their events (`make bench`), on SQLite and
on PostgreSQL, each figure beside a baseline measured in the same run:

1. Rebuild: the whole store replayed into the projections (``rebuild.rebuild``), in events
   per second. Goal: at least 50,000/s. Baseline: reading the store's rows alone, the same way.
2. The monthly report with every breakdown (``queries.monthly``: figures by city, district,
   station, studio, sector, level, member, channel, category and activity kind, rates, the
   median and the registry counts), from the projections the rebuild wrote. Goal: under
   100 ms (median of the runs). Baseline: ``SELECT COUNT(*)`` over the issues (case_facts).

``LIANXIN_BENCH_ISSUES`` sets the size (default 1,000,000: about 4.2 million events, written in
about a minute or two per backend, see reporting_data.py); ``LIANXIN_BENCH_ISSUES=50000`` gives a
quick run.
"""

import json
import os
import resource
import statistics
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.kernel.db import make_engine
from services.kernel.migrations import upgrade
from services.reporting import event_store, queries, rebuild
from services.reporting.models import CaseFact
from tests.bench import reporting_data
from tests.bench.conftest import report

ISSUES = int(os.environ.get("LIANXIN_BENCH_ISSUES", 1_000_000))
MONTH = "2024-03"
RUNS = 20


def _ms(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request, tmp_path_factory, pg_databases):
    backend = request.param
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('reporting-bench')}/reporting.db"
    else:
        url = pg_databases.create()
    upgrade("reporting", url)
    engine = make_engine(url)
    t = time.perf_counter()
    events = reporting_data.write(engine, reporting_data.Store(ISSUES))
    written_s = time.perf_counter() - t
    print(f"\n[{backend}] {ISSUES:,} issues, {events:,} events written in {written_s:.1f} s")
    yield SimpleNamespace(
        backend=backend, url=url, engine=engine, events=events, written_s=written_s, rebuilt=False
    )
    engine.dispose()


def _cpu() -> float:
    """CPU seconds of this process and of its children that ended (the rebuild's helpers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _rebuild(store) -> tuple[float, float]:
    with Session(store.engine) as s, s.begin():
        t, cpu = time.perf_counter(), _cpu()
        replayed = rebuild.rebuild(s)
        seconds, cpu_seconds = time.perf_counter() - t, _cpu() - cpu
    assert replayed == store.events
    if store.backend == "postgresql":  # what autovacuum does to freshly written tables
        with store.engine.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE case_facts, monthly_figures")
            )
    store.rebuilt = True
    return seconds, cpu_seconds


def test_rebuild_speed_in_events_per_second(store):
    with Session(store.engine) as s:
        t, cpu = time.perf_counter(), time.process_time()
        read = sum(len(rows) for rows in event_store.stored_events(s))
        read_s, read_cpu_s = time.perf_counter() - t, time.process_time() - cpu
    assert read == store.events
    rebuild_s, rebuild_cpu_s = _rebuild(store)
    report(
        f"reporting_rebuild_{store.backend}",
        {
            "events_per_s": store.events / rebuild_s,
            "seconds": rebuild_s,
            # what the processes did with the CPU they got (the rebuild's helpers included):
            # less bent by the other work on the box
            "events_per_cpu_s": store.events / rebuild_cpu_s,
        },
        {
            "events_per_s": store.events / read_s,
            "seconds": read_s,
            "events_per_cpu_s": store.events / read_cpu_s,
        },
        goals={"events_per_s": (">=", 50_000)},
        notes={
            "issues": ISSUES,
            "events": store.events,
            "store_written_in_s": round(store.written_s, 1),
            "workers": rebuild.default_workers(store.url, store.events),
            "baseline": "reading the store's rows alone (event_store.stored_events)",
        },
    )


def test_monthly_report_with_every_breakdown(store):
    if not store.rebuilt:
        _rebuild(store)
    with Session(store.engine) as s:
        issues = lambda: s.scalar(select(func.count()).select_from(CaseFact))  # noqa: E731
        monthly = lambda: queries.monthly(s, MONTH)  # noqa: E731
        monthly()  # warm the caches the way a serving process has them warm
        issues()
        count_ms = _ms(issues, RUNS)
        report_ms = _ms(monthly, RUNS)
        result = monthly()
        in_month = s.scalar(
            select(func.count()).select_from(CaseFact).where(CaseFact.received_month == MONTH)
        )
        encode_ms = _ms(lambda: json.dumps(result, ensure_ascii=False, default=str), 5)
    city = result["city"]
    assert city["issues_received"] == in_month > 0
    assert sum(f.get("issues_received", 0) for f in result["station"].values()) == in_month
    assert result["registry"]["stations"] == 126 and result["registry"]["members"] == 2200
    assert "median_minutes_to_first_response" in city and "response_rate" in city
    keys = {d: len(v) for d, v in result.items() if d not in ("month", "city", "registry")}
    report(
        f"reporting_monthly_report_{store.backend}",
        {
            "report_median_ms": statistics.median(report_ms),
            "report_max_ms": max(report_ms),
            "json_encoding_median_ms": statistics.median(encode_ms),
        },
        {
            "report_median_ms": statistics.median(count_ms),
            "report_max_ms": max(count_ms),
        },
        goals={"report_median_ms": ("<", 100)},
        notes={
            "issues": ISSUES,
            "month": MONTH,
            "issues_in_month": in_month,
            "keys_per_breakdown": json.dumps(keys, sort_keys=True),
            "runs": RUNS,
            "baseline": "SELECT COUNT(*) over case_facts (every issue), same session",
        },
    )
