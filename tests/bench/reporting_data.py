"""A reporting event store of N issues and their events, written fast (`make bench`).

Deterministic for a seed: the Lanzhou-sized registry (126 stations in 8 districts, 133 studios,
2,200 members of four levels in 34 sectors), a year of activities, then N issues spread over 2024
(Beijing time) with their lives: received and assigned (2 % waiting first), 3 % transferred,
90 % answered, 75 % resolved, 5 % closed unresolved, 40 % of the resolved rated, 4 % of the
unsatisfied reopened by the rating and resolved again: about 4 events per issue.

Rows are written the way the service stores them (the same columns and formats), in bulk:
executemany of one statement per 50,000 rows on SQLite, COPY on PostgreSQL.
"""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

DISTRICTS = ["城关区", "七里河区", "西固区", "安宁区", "红古区", "永登县", "皋兰县", "榆中县"]
LEVELS = ["national"] * 2 + ["provincial"] * 8 + ["municipal"] * 30 + ["county"] * 60
CHANNELS = ["qr", "qr", "qr", "staff", "amqp", "open311"]
CATEGORIES = [
    "health",
    "property",
    "utilities",
    "education",
    "employment",
    "elderly",
    "traffic",
    "hazard",
    "environment",
    "social_security",
    "housing",
    "consultation",
]
START = datetime(2023, 12, 31, 16, tzinfo=UTC)  # 2024-01-01 00:00 in Beijing
YEAR_S = 366 * 24 * 3600


class Store:
    """Generated event rows: ``(event_id, type, source, occurred_at, payload)``."""

    def __init__(self, issues: int, seed: int = 2024):
        self.issues, self.seed = issues, seed
        self.events = 0

    def rows(self):
        rnd = random.Random(self.seed)
        n = 0

        def ev(kind, at, payload):
            nonlocal n
            n += 1
            return (f"00000000-0000-4000-8000-{n:012d}", kind, kind.split(".")[0], at, payload)

        t0 = START - timedelta(days=1)
        stations = [(f"s{i:03d}", DISTRICTS[i % len(DISTRICTS)]) for i in range(126)]
        for code, district in stations:
            yield ev(
                "registry.station_saved",
                t0,
                json.dumps(
                    {"code": code, "name": code, "district": district, "active": True},
                    ensure_ascii=False,
                ),
            )
        for i in range(133):
            yield ev(
                "registry.studio_saved",
                t0,
                f'{{"code": "w{i:03d}", "name": "w{i}", "district": "{DISTRICTS[i % 8]}", '
                '"active": true}',
            )
        members = [f"m{i:04d}" for i in range(2200)]
        for i, code in enumerate(members):
            yield ev(
                "registry.member_saved",
                t0,
                f'{{"code": "{code}", "name": "{code}", "level": "{LEVELS[i % 100]}", '
                f'"sector": "sector{i % 34:02d}", "active": true}}',
            )
        for i in range(3000):
            day = (START + timedelta(days=rnd.randrange(366), hours=8)).date().isoformat()
            kind = "reception_day" if i < 1290 else rnd.choice(["visit", "clinic", "consultation"])
            place = (
                f'"station": "{stations[i % 126][0]}", "studio": null'
                if i % 3
                else f'"station": null, "studio": "w{i % 133:03d}"'
            )
            yield ev(
                "intake.activity_recorded",
                t0,
                f'{{"activity_id": "a{i}", "kind": "{kind}", {place}, "date": "{day}", '
                f'"people_served": {rnd.randrange(0, 12)}}}',
            )
        random_, randrange, choice = rnd.random, rnd.randrange, rnd.choice
        for i in range(self.issues):
            number = f"LX{i:010d}"
            station = stations[randrange(126)][0]
            received = START + timedelta(seconds=randrange(YEAR_S))
            rec = received.isoformat()
            head = f'"tracking_number": "{number}", "station": "{station}"'
            yield ev(
                "intake.issue_received",
                received,
                f'{{{head}, "channel": "{choice(CHANNELS)}", "category": "{choice(CATEGORIES)}", '
                f'"member": null, "received_at": "{rec}"}}',
            )
            at = received + timedelta(minutes=1)
            if random_() < 0.02:
                yield ev("routing.issue_waiting", at, f'{{{head}, "reason": "no member"}}')
                at += timedelta(hours=randrange(1, 48))
            member = members[randrange(2200)]
            yield ev(
                "routing.issue_assigned",
                at,
                f'{{{head}, "member": "{member}", "rule": "sector", "received_at": "{rec}"}}',
            )
            if random_() < 0.03:
                at += timedelta(hours=randrange(1, 24))
                station = stations[randrange(126)][0]
                head = f'"tracking_number": "{number}", "station": "{station}"'
                yield ev(
                    "routing.issue_transferred",
                    at,
                    f'{{{head}, "member": "{members[randrange(2200)]}"}}',
                )
            r = random_()
            if r >= 0.9:
                continue
            at += timedelta(minutes=randrange(10, 4 * 24 * 60))
            yield ev(
                "routing.issue_responded",
                at,
                f'{{{head}, "at": "{at.isoformat()}", "on_time": {_b(random_() < 0.85)}}}',
            )
            if r >= 0.75:  # 75 % of all issues are resolved, 5 % closed unresolved
                if r < 0.8:
                    at += timedelta(days=randrange(1, 20))
                    yield ev("routing.issue_closed_unresolved", at, f"{{{head}}}")
                continue
            at += timedelta(hours=randrange(2, 24 * 20))
            yield ev(
                "routing.issue_resolved",
                at,
                f'{{{head}, "at": "{at.isoformat()}", "on_time": {_b(random_() < 0.8)}}}',
            )
            if random_() < 0.4:
                at += timedelta(days=randrange(1, 10))
                rating = choice(["satisfied", "satisfied", "basically_satisfied", "unsatisfied"])
                reopened = rating == "unsatisfied" and random_() < 0.16
                yield ev(
                    "routing.issue_rated",
                    at,
                    f'{{{head}, "rating": "{rating}", "reopened": {_b(reopened)}}}',
                )
                if reopened:  # the rating reopened it (counted by the rating): resolved again
                    at += timedelta(days=randrange(1, 5))
                    yield ev(
                        "routing.issue_resolved",
                        at,
                        f'{{{head}, "at": "{at.isoformat()}", "on_time": true}}',
                    )
        self.events = n


def _b(value: bool) -> str:
    return "true" if value else "false"


def write(engine: Engine, store: Store, batch: int = 50_000) -> int:
    """Append the store's rows to ``event_store``; returns how many."""
    rows = store.rows()
    recorded = "2025-01-02 00:00:00"
    if engine.dialect.name == "sqlite":
        sql = (
            "INSERT INTO event_store (event_id, type, source, version, occurred_at, payload,"
            " recorded_at) VALUES (?, ?, ?, 1, ?, ?, ?)"
        )
        with engine.begin() as conn:
            chunk = []
            for event_id, kind, source, at, payload in rows:
                # the format SQLAlchemy's SQLite DateTime stores (UTC, no zone)
                chunk.append(
                    (event_id, kind, source, f"{at:%Y-%m-%d %H:%M:%S}.000000", payload, recorded)
                )
                if len(chunk) >= batch:
                    conn.exec_driver_sql(sql, chunk)
                    chunk = []
            if chunk:
                conn.exec_driver_sql(sql, chunk)
        return store.events
    raw = engine.raw_connection()
    try:
        from psycopg2 import extensions

        wait = extensions.get_wait_callback()
        extensions.set_wait_callback(None)  # COPY refuses a green wait callback
        cur = raw.cursor()
        copy = (
            "COPY event_store (event_id, type, source, version, occurred_at, payload, recorded_at)"
            " FROM STDIN"
        )
        done = False
        while not done:
            lines = []
            for event_id, kind, source, at, payload in rows:
                payload = payload.replace("\\", "\\\\")
                lines.append(f"{event_id}\t{kind}\t{source}\t1\t{at:%Y-%m-%d %H:%M:%S}+00\t")
                lines.append(f"{payload}\t{recorded}+00\n")
                if len(lines) >= 2 * batch:
                    break
            else:
                done = True
            cur.copy_expert(copy, io.StringIO("".join(lines)))
        raw.commit()
        cur.execute("ANALYZE event_store")
        raw.commit()
        extensions.set_wait_callback(wait)
    finally:
        raw.close()
    return store.events
