"""Routing: the assignment decision over the full Lanzhou demo registry, in process.

The registry's own demo loader writes the full set (126 stations, 133 studios, 2,200 members,
a year of rosters) into a registry database; its outbox events are fed to routing's handlers,
exactly as they would arrive, to build routing's copy. Then ``decide`` is timed for random
(station, category, day) cases, beside a baseline of the cheapest query there is on the same
session (a member by primary key). Goal: p99 under 5 ms.
"""

import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.db import make_engine
from services.kernel.events import parse_event
from services.kernel.migrations import upgrade
from services.kernel.models import OutboxMessage
from services.registry import demo
from services.routing import catalogue, deciding, handlers
from services.routing.models import Case, MemberCopy, StationCopy
from tests.bench.conftest import report

SAMPLES = 2000


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def test_assignment_decision_over_the_full_registry(tmp_path):
    registry_url, routing_url = f"sqlite:///{tmp_path}/registry.db", f"sqlite:///{tmp_path}/r.db"
    upgrade("registry", registry_url)
    upgrade("routing", routing_url)
    demo.load_into(registry_url, "lanzhou", year=2026)
    reg, rout = make_engine(registry_url), make_engine(routing_url)
    with Session(reg) as r, Session(rout) as s:
        started = time.perf_counter()
        events = 0
        for (body,) in r.execute(select(OutboxMessage.body).order_by(OutboxMessage.id)):
            handlers.handle_event(s, parse_event(body))
            events += 1
        s.commit()
        copy_seconds = time.perf_counter() - started
        stations = list(s.scalars(select(StationCopy.code)))
        members = list(s.scalars(select(MemberCopy.code)))
        categories = list(catalogue.load()["categories"])
        rnd = random.Random(2026)
        start = datetime(2026, 1, 5, 2, tzinfo=UTC)
        decide_ms, lookup_ms, rules = [], [], {}
        for i in range(SAMPLES):
            case = Case(
                tracking_number=f"B{i}",
                station_code=rnd.choice(stations),
                category=rnd.choice(categories),
                status="waiting",
                received_at=start + timedelta(days=rnd.randrange(300)),
            )
            t = time.perf_counter()
            decision = deciding.decide(s, case)
            decide_ms.append((time.perf_counter() - t) * 1000)
            rules[decision.rule] = rules.get(decision.rule, 0) + 1
            code = rnd.choice(members)
            t = time.perf_counter()
            s.get(MemberCopy, code, populate_existing=True)
            lookup_ms.append((time.perf_counter() - t) * 1000)
    reg.dispose()
    rout.dispose()
    assert sum(rules.values()) == SAMPLES and "waiting" not in rules
    report(
        "routing_decision",
        {
            "decide_p50_ms": percentile(decide_ms, 50),
            "decide_p99_ms": percentile(decide_ms, 99),
            "decide_mean_ms": statistics.fmean(decide_ms),
            "registry_events_copied_per_s": events / copy_seconds,
        },
        {
            "decide_p50_ms": percentile(lookup_ms, 50),
            "decide_p99_ms": percentile(lookup_ms, 99),
            "decide_mean_ms": statistics.fmean(lookup_ms),
        },
        goals={"decide_p99_ms": ("<", 5)},
        notes={
            "samples": SAMPLES,
            "rules_used": json.dumps(rules, sort_keys=True),
            "baseline": "a member by primary key, same session",
        },
    )
