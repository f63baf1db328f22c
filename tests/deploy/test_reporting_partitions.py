"""Reporting as two replicas over its partitions, one killed mid-run and another started (issue 23;
the rule: docs/architecture.md, "Reporting partitions").

Two reporting processes on one PostgreSQL database consume the partition queues (RabbitMQ's
consistent-hash exchange, single active consumer). A publisher sends a few thousand events as the
services' outbox relays do (``lx-key`` header, persistent, confirmed): the registry's stations and
members, then 900 cases through their lifecycle (received, assigned, responded, resolved or closed
unresolved, merged into another case, transferred, rated, reopened), reception days, members and a
station changed mid-run, and some events sent twice (a relay that crashed before marking them
sent). Meanwhile one replica is killed with SIGKILL and a third is started, which takes its share.

At the end: every event is in the store once and each was handled by one partition's consumer
once; the monthly figures (and each key's rollup) equal a rebuild from the store and a single
process fed the same events in the order they were sent; nothing is parked. An older release's
single ``reporting.events`` queue, left with events in it, is unbound, moved into the partitions
(its events counted like the others) and deleted.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pika
import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from services.kernel import topology
from services.kernel.events import new_event
from services.kernel.models import ProcessedMessage
from services.kernel.outbox import partition_key
from services.reporting.facts import MemoryFacts
from services.reporting.models import MonthlyFigure, StoredEvent
from services.reporting.projections import project
from services.reporting.rebuild import replay
from tests.conftest import (
    AUTH,
    RABBIT_MGMT,
    auth_headers,
    create_vhost,
    delete_vhost,
    message_count,
)
from tests.e2e.conftest import free_ports, prepared_databases, stack_env
from tools.stack import Stack

CASES = 900
STATIONS = {"gwm": "城关区", "jnl": "七里河区", "jql": "安宁区", "ytl": "西固区", "sp": "红古区"}
MEMBERS = [
    (f"pm{i:02d}", ("national", "provincial", "municipal", "county")[i % 4]) for i in range(12)
]
SECTORS = ["jiaoyu", "qingnian", "yiyao", "jingji"]
START = datetime(2024, 1, 5, 2, 0, tzinfo=UTC)

pytestmark = pytest.mark.slow


def event(kind: str, payload: dict, at: datetime) -> dict:
    return new_event(kind, payload, kind.split(".")[0], occurred_at=at)


def lifecycle() -> tuple[list[dict], list[dict]]:
    """The registry's events, then every case's, in rounds (as the services would send them:
    each case's events in their order, many cases in between); plus the old queue's events."""
    rng = random.Random(23)
    registry = [
        event("registry.station_saved", {"code": c, "name": f"站{c}", "district": d,
                                         "active": True}, START)
        for c, d in STATIONS.items()
    ] + [
        event("registry.member_saved", {"code": code, "name": f"委员{code}", "level": level,
                                        "sector": SECTORS[i % 4], "active": True}, START)
        for i, (code, level) in enumerate(MEMBERS)
    ]  # fmt: skip
    at = START
    clock = {}

    def tick(number: str, days: float) -> datetime:
        clock[number] = clock.get(number, START) + timedelta(days=days, minutes=rng.randint(1, 600))
        return clock[number]

    numbers = [f"LX24{i:05d}" for i in range(CASES)]
    rounds: list[list[dict]] = [[] for _ in range(6)]
    for i, n in enumerate(numbers):
        station = list(STATIONS)[i % len(STATIONS)]
        received = START + timedelta(days=rng.randint(0, 80), hours=rng.randint(0, 23))
        clock[n] = received
        base = {"tracking_number": n, "station": station, "category": "childcare"}
        rounds[0].append(event("intake.issue_received", {**base, "channel": "qr",
                               "received_at": received.isoformat()}, received))  # fmt: skip
        member = MEMBERS[i % len(MEMBERS)][0]
        rounds[1].append(event("routing.issue_assigned", {**base, "member": member,
                               "rule": "sector"}, tick(n, 0.1)))  # fmt: skip
        at = tick(n, rng.choice([0.5, 2, 9]))
        rounds[2].append(event("routing.issue_responded", {**base, "member": member,
                               "at": at.isoformat(), "on_time": rng.random() < 0.8}, at))  # fmt: skip
        if i % 20 == 19:  # merged into the case before it (another partition, most likely)
            at = tick(n, 0.2)
            rounds[3].append(event("routing.issue_merged", {**base, "into": numbers[i - 1],
                                   "at": at.isoformat()}, at))  # fmt: skip
            continue
        if i % 7 == 3:
            at = tick(n, 0.3)
            rounds[3].append(event("routing.issue_transferred", {**base, "member":
                             MEMBERS[(i + 5) % len(MEMBERS)][0]}, at))  # fmt: skip
        at = tick(n, rng.choice([1, 5, 20]))
        if i % 11 == 5:
            rounds[4].append(event("routing.issue_closed_unresolved", {**base,
                                   "at": at.isoformat()}, at))  # fmt: skip
            continue
        rounds[4].append(event("routing.issue_resolved", {**base, "at": at.isoformat(),
                               "on_time": rng.random() < 0.7}, at))  # fmt: skip
        if i % 3 == 0:
            rating = rng.choice(["satisfied", "basically_satisfied", "dissatisfied"])
            reopened = rating == "dissatisfied" and i % 2 == 0
            rounds[5].append(event("routing.issue_rated", {**base, "rating": rating,
                                   "reopened": reopened}, tick(n, 1)))  # fmt: skip
            if reopened:
                rounds[5].append(event("routing.issue_reopened", base, tick(n, 0.01)))
                at = tick(n, 2)
                rounds[5].append(event("routing.issue_resolved", {**base, "at": at.isoformat(),
                                       "on_time": False}, at))  # fmt: skip
    # changes of the shared rows mid-run: a member's level, a station's district
    rounds[1].insert(CASES // 2, event("registry.member_saved", {"code": "pm01", "name": "委员pm01",
                     "level": "national", "sector": "qingnian", "active": True}, START))  # fmt: skip
    rounds[2].insert(CASES // 3, event("registry.station_saved", {"code": "jql", "name": "站jql",
                     "district": "兰州新区", "active": True}, START))  # fmt: skip
    for k in range(60):
        day = START + timedelta(days=k)
        rounds[2 + k % 3].append(event("intake.activity_recorded", {
            "activity_id": f"act-{k}", "date": day.date().isoformat(), "kind":
            "reception_day" if k % 2 else "visit", "station": list(STATIONS)[k % 5],
            "people_served": k % 9, "members": [MEMBERS[k % 12][0], MEMBERS[(k + 1) % 12][0]]},
            day))  # fmt: skip
    old = [event("registry.member_saved", {"code": f"old{k}", "name": f"旧{k}", "level": "county",
                 "sector": "jingji", "active": True}, START) for k in range(20)]  # fmt: skip
    return registry, [e for r in rounds for e in r], old


def publish(amqp_uri: str, events: list[dict], per_second: float | None = None, again=()) -> None:
    """Send ``events`` as an outbox relay does: persistent, confirmed, ``lx-key`` set; the
    indexes in ``again`` are sent a second time right after (a relay that did not mark them)."""
    conn = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    ch = conn.channel()
    ch.confirm_delivery()
    started = time.monotonic()
    for i, e in enumerate(events):
        props = pika.BasicProperties(
            delivery_mode=2,
            message_id=e["event_id"],
            content_type="application/json",
            type=e["type"],
            headers={topology.PARTITION_HEADER: partition_key(e["type"], e["payload"])},
        )
        body = json.dumps(e, ensure_ascii=False).encode()
        for _ in range(2 if i in again else 1):
            ch.basic_publish("lianxin.events", e["type"], body, props, mandatory=True)
        if per_second:
            ahead = started + i / per_second - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    conn.close()


def single_process(events: list[dict]) -> dict:
    """The figures one process computes from ``events`` in this order."""
    facts = MemoryFacts()
    for e in events:
        project(facts, e["type"], e["payload"], datetime.fromisoformat(e["occurred_at"]))
    return flat(facts)


def flat(facts) -> dict:
    return {
        (month, metric, d, str(k)): n
        for (month, metric), counts in facts.figures.items()
        for (d, k), n in counts.items()
        if n
    }


def live_figures(conn) -> dict:
    t = MonthlyFigure.__table__
    rows = conn.execute(select(t.c.month, t.c.metric, t.c.dimension, t.c.key, t.c.value))
    return {(m, metric, d, k): v for m, metric, d, k, v in rows if v}


def live_rollups(conn) -> dict:
    rows = conn.execute(text('SELECT month, dimension, "key", figures FROM monthly_rollups'))
    return {
        (m, metric, d, k): v
        for m, d, k, figures in rows
        for metric, v in json.loads(figures).items()
        if v
    }


def queue_states(vhost: str) -> dict:
    """Each partition's ready and unacked messages and consumers (the management API), for a
    failure's message."""
    queues = requests.get(f"{RABBIT_MGMT}/api/queues/{vhost}", auth=AUTH, timeout=5).json()
    return {
        q["name"]: (q.get("messages_ready"), q.get("messages_unacknowledged"), q.get("consumers"))
        for q in queues
        if q["name"].startswith("reporting.")
    }


def wait(stack: Stack, vhost: str, predicate, timeout: float, what: str, interval: float = 0.2):
    try:
        return stack.wait_for(predicate, timeout=timeout, interval=interval, what=what)
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; queues: {queue_states(vhost)}") from None


def replica_health(stack: Stack, name: str) -> dict:
    return requests.get(stack.replica_url(name, "/health"), timeout=5).json()


def test_two_replicas_one_killed_one_added_count_every_event_once(tmp_path, pg_databases):
    urls = prepared_databases(tmp_path / "db", "postgresql", pg_databases)
    vhost, amqp_uri = create_vhost()
    env = stack_env(amqp_uri, urls, free_ports(4))
    env["LIANXIN_RETRY_DELAYS_MS"] = "[200, 1000, 3000]"
    stack = Stack(env=env, log_dir=tmp_path / "log")
    stack.headers = auth_headers(stack.config())
    db = create_engine(urls["reporting"])
    registry, cases, old = lifecycle()
    try:
        with db.connect() as c:
            assert c.scalar(select(func.count()).select_from(StoredEvent)) == 0
        # An older release's single queue, bound to every event, with events in it.
        with pika.BlockingConnection(pika.URLParameters(amqp_uri)) as conn:
            ch = conn.channel()
            ch.exchange_declare("lianxin.events", "topic", durable=True)
            args = {"x-queue-type": "quorum"}
            ch.queue_declare(topology.REPORTING_QUEUE, durable=True, arguments=args)
            ch.queue_bind(topology.REPORTING_QUEUE, "lianxin.events", "#")
            for e in old:
                ch.basic_publish("lianxin.events", e["type"], json.dumps(e).encode(),
                                 pika.BasicProperties(delivery_mode=2, message_id=e["event_id"]))  # fmt: skip

        stack.start(("reporting",), replicas={"reporting": 2})

        def stored() -> int:
            with db.connect() as c:
                return c.scalar(select(func.count()).select_from(StoredEvent))

        publish(amqp_uri, registry)
        wait(stack, vhost, lambda: stored() == len(registry) + len(old), 60, "registry")
        assert message_count(amqp_uri, topology.REPORTING_QUEUE) == 0  # moved, and unbound:
        bindings = requests.get(
            f"{RABBIT_MGMT}/api/queues/{vhost}/{topology.REPORTING_QUEUE}/bindings",
            auth=AUTH,
            timeout=5,
        ).json()
        assert "lianxin.events" not in {b["source"] for b in bindings}, bindings

        total = len(registry) + len(old) + len(cases)
        again = set(range(0, len(cases), 97))  # sent twice, as a relay that crashed would
        sender = threading.Thread(target=publish, args=(amqp_uri, cases, 160, again))
        sender.start()
        wait(stack, vhost, lambda: stored() >= total // 4, 120, "flowing", 0.1)
        first = replica_health(stack, "reporting")["partitions"]
        second = replica_health(stack, "reporting-2")["partitions"]
        assert first["delivered"] and second["delivered"], (first, second)  # both at work
        assert sorted(first["preferred"] + second["preferred"]) == sorted(
            topology.partition_names()
        ), (first, second)
        stack.kill("reporting-2")  # kill -9, mid-run
        assert stored() < total * 0.5, "the kill came too late to prove anything"
        stack.start_replica("reporting", 3)  # and another one, while the events still come
        stack.wait_healthy("reporting", name="reporting-3", timeout=90)
        assert sender.is_alive(), "the new replica came too late to take a share"
        sender.join(timeout=300)
        wait(stack, vhost, lambda: stored() >= total, 180, "every event", 0.5)

        def settled():
            return sum(message_count(amqp_uri, q) for q in topology.partition_names()) == 0

        stack.wait_for(settled, timeout=60, what="partitions drained")
        time.sleep(1.5)  # a duplicate still being handled
        third = replica_health(stack, "reporting-3")["partitions"]
        assert third["delivered"] > 0, third  # the new replica took its share
        assert third["preferred"], third
        for name in ("reporting", "reporting-3"):
            assert replica_health(stack, name)["parked"] == 0, name

        with db.connect() as c:
            assert stored() == total  # every event once, duplicates and redeliveries ignored
            per_message = Counter(
                c.scalars(
                    select(ProcessedMessage.message_id).where(
                        ProcessedMessage.consumer.like("reporting.events.p%")
                    )
                )
            )
            assert len(per_message) == len(cases) + len(registry) + len(old)
            assert max(per_message.values()) == 1  # one partition, once
            live = live_figures(c)
            assert live_rollups(c) == live  # each key's rollup holds the same figures
            rebuilt, replayed = replay(c)
            assert replayed == total
        # Keys read from a registry row (district, level, sector) may differ where that row
        # changed mid-run: the change and a case are in different partitions, handled at once,
        # so which one a case's event saw is not the order they were sent, nor the store's
        # order a rebuild reads (a CI run saw 'level national' differ by a few). Every key a
        # case alone decides (its station, member, channel …) is exact; the others add up to
        # the city's figure (below).
        from_rows = {"district", "level", "sector"}

        def by_case(figures: dict) -> dict:
            return {k: n for k, n in figures.items() if k[2] not in from_rows}

        assert by_case(live) == by_case(flat(rebuilt))  # the rebuild from the store
        # One process fed the events in the order they were sent: the same, key for key.
        sent = single_process(registry + old + cases)
        differ = {
            k: (live.get(k), sent.get(k))
            for k in set(live) | set(sent)
            if k[2] not in from_rows and live.get(k) != sent.get(k)
        }
        assert not differ, sorted(differ.items())[:20]
        for figures in (live, flat(rebuilt)):  # those still add up to the city, live and rebuilt
            for (month, metric, dimension, _), _n in figures.items():
                if dimension in from_rows:
                    total_of = sum(
                        n
                        for (m, me, d, _), n in figures.items()
                        if (m, me, d) == (month, metric, dimension)
                    )
                    assert total_of == figures.get((month, metric, "city", "-"), 0), (
                        month,
                        metric,
                        dimension,
                    )
        assert live[("2024-01", "issues_received", "city", "-")] > 0
        assert sum(n for k, n in live.items() if k[1:3] == ("issues_received", "city")) == CASES
        # the old queue: deleted once it stayed empty (retry delays in this stack: 3 s at most)
        stack.wait_for(
            lambda: (
                requests.get(
                    f"http://127.0.0.1:15672/api/queues/{vhost}/{topology.REPORTING_QUEUE}",
                    auth=("guest", "guest"),
                    timeout=5,
                ).status_code
                == 404
            ),
            timeout=30,
            what="the old queue deleted",
        )
    finally:
        db.dispose()
        stack.stop()
        delete_vhost(vhost)


def test_the_preference_rule_spreads_partitions_over_the_live_slots():
    from services.reporting.partitions import preferred, preferred_partitions

    assert preferred([], 3) is None
    assert preferred_partitions([0], 0) == list(range(topology.REPORTING_PARTITIONS))
    assert preferred_partitions([0, 1], 1) == [1, 3, 5, 7]
    assert preferred_partitions([0, 2], 2) == [1, 3, 5, 7]  # a gap left by a dead replica
    three = [preferred_partitions([0, 1, 2], s) for s in (0, 1, 2)]
    assert sorted(k for share in three for k in share) == list(range(8))
    assert {len(share) for share in three} == {2, 3}
    # a replica beyond the partitions' number is a standby: it prefers none
    assert preferred_partitions(list(range(9)), 8) == []


def test_a_merge_goes_with_the_case_it_follows_and_records_with_their_id():
    assert partition_key("routing.issue_resolved", {"tracking_number": "A"}) == "tracking_number:A"
    merged = {"tracking_number": "B", "into": "A"}
    assert partition_key("routing.issue_merged", merged) == "tracking_number:A"
    assert partition_key("registry.member_saved", {"code": "m1"}) == "code:m1"
    assert partition_key("routing.visit_saved", {"visit_id": 7, "code": "x"}) == "visit_id:7"
    assert (
        partition_key("registry.sessions_ended", {"login": "a"}) == "type:registry.sessions_ended"
    )


def test_a_second_replica_on_sqlite_refuses_to_start():
    from services.reporting.partitions import Partitions, SecondReplicaOnSqlite

    vhost, amqp_uri = create_vhost()
    first, second = Partitions(), Partitions()
    try:
        for p in (first, second):
            p.uri, p.sqlite, p.slot, p._conn = amqp_uri, True, None, None
        first._connection()
        assert first.slot == 0 and first.live == [0]
        with pytest.raises(SecondReplicaOnSqlite, match="SQLite"):
            second._connection()
        first._close()  # the first one gone (its connection closed): the next one starts
        second._connection()
        assert second.slot == 0
    finally:
        for p in (first, second):
            p._close()
        delete_vhost(vhost)
