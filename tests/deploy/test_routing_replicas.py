"""Two routing processes on one PostgreSQL database, assigning at once to one station's members
(issue 23; the rule: docs/architecture.md, "Replicas").

Six members of the two sectors the ``childcare`` category names sit at station gwm (the small
demo's two and four more). Issues of that category at gwm are published straight onto the
events exchange, as intake announces them, while both replicas consume ``routing.events``
(RabbitMQ hands out the messages in turn). Afterwards every issue is one case with one
assignment, both replicas assigned some, each member's stored load equals its open cases, and
the loads of the six differ by at most one: what one process gives, which the station's
assignment lock promises.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime

import pika
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from services.kernel.events import new_event
from services.registry.members import save_member
from services.routing.lifecycle import ACTIVE
from services.routing.models import Assignment, Case, MemberCopy, MemberLoad
from tests.conftest import auth_headers, create_vhost, delete_vhost
from tests.e2e.conftest import free_ports, prepared_databases, stack_env
from tools.stack import Stack

N = 600
EXTRA = [("m101", "jiaoyu"), ("m102", "qingnian"), ("m103", "jiaoyu"), ("m104", "qingnian")]
GROUP = {"m002", "m014", *(code for code, _ in EXTRA)}  # gwm's jiaoyu and qingnian members

pytestmark = pytest.mark.slow


def add_members(registry_url: str) -> None:
    engine = create_engine(registry_url)
    with Session(engine) as session, session.begin():
        for code, sector in EXTRA:
            save_member(
                session,
                {
                    "code": code,
                    "name": f"测试委员{code}",
                    "level": "county",
                    "sector": sector,
                    "district": "城关区",
                    "stations": [{"station": "gwm", "role": "member"}],
                },
            )
    engine.dispose()


def publish_issues(amqp_uri: str, n: int, tag: str, publishers: int = 2) -> None:
    """``n`` ``intake.issue_received`` events for gwm, by ``publishers`` connections at once."""

    def run(k: int):
        conn = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        ch = conn.channel()
        ch.confirm_delivery()
        for i in range(k, n, publishers):
            event = new_event(
                "intake.issue_received",
                {
                    "tracking_number": f"{tag}{i:05d}",
                    "station": "gwm",
                    "category": "childcare",
                    "channel": "qr",
                    "description": f"假期孩子无人看护 #{i}",
                    "received_at": datetime.now(UTC).isoformat(),
                },
                "intake",
            )
            ch.basic_publish(
                "lianxin.events",
                "intake.issue_received",
                json.dumps(event).encode(),
                pika.BasicProperties(
                    delivery_mode=2, message_id=event["event_id"], content_type="application/json"
                ),
            )
        conn.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(publishers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)


def open_counts(conn) -> Counter:
    rows = conn.execute(
        select(Case.member_code, func.count())
        .where(Case.status.in_(ACTIVE), Case.member_code.is_not(None))
        .group_by(Case.member_code)
    ).all()
    return Counter(dict(rows))


def test_two_routing_replicas_assign_each_case_once_and_keep_loads_fair(tmp_path, pg_databases):
    urls = prepared_databases(tmp_path / "db", "postgresql", pg_databases)
    add_members(urls["registry"])
    vhost, amqp_uri = create_vhost()
    stack = Stack(env=stack_env(amqp_uri, urls, free_ports(4)), log_dir=tmp_path / "log")
    stack.headers = auth_headers(stack.config())
    routing_db = create_engine(urls["routing"])
    try:
        stack.start(("registry", "routing"), replicas={"routing": 2})

        def copied():
            with routing_db.connect() as c:
                return c.scalar(select(func.count()).where(MemberCopy.code.in_(GROUP))) == 6

        stack.wait_for(copied, timeout=60, what="routing's copy of the six members")
        publish_issues(amqp_uri, N, "RR")

        def all_cases():
            with routing_db.connect() as c:
                return c.scalar(select(func.count()).select_from(Case)) >= N

        stack.wait_for(all_cases, timeout=240, interval=0.5, what=f"{N} cases")
        with routing_db.connect() as c:
            assert c.scalar(select(func.count()).select_from(Case)) == N
            assert c.scalar(select(func.count()).select_from(Assignment)) == N
            assert c.scalar(select(func.count(func.distinct(Assignment.tracking_number)))) == N
            rules = Counter(c.scalars(select(Assignment.rule)))
            order = list(c.scalars(select(Assignment.member_code).order_by(Assignment.assigned_at)))
            counts = open_counts(c)
            stored = dict(c.execute(select(MemberLoad.member_code, MemberLoad.open_cases)).all())
        assert rules == {"sector": N}, rules
        assert set(counts) == GROUP, counts
        for member in set(stored) | set(counts):  # every stored load is the count of its cases
            assert stored.get(member, 0) == counts.get(member, 0), (member, stored, counts)
        loads = [counts[m] for m in GROUP]
        assert max(loads) - min(loads) <= 1, counts  # the fairness one process gives
        # Step by step, in the order they were made (under the station's lock that is the order
        # of their transactions), each case went to a member with the fewest open cases then.
        held, unfair = dict.fromkeys(GROUP, 0), []
        for i, member in enumerate(order):
            if held[member] != min(held.values()):
                unfair.append((i, member, dict(held)))
            held[member] += 1
        assert not unfair, unfair[:3]
        by_replica = {
            name: (tmp_path / "log" / f"{name}.log").read_text().count(" assigned to ")
            for name in ("routing", "routing-2")
        }
        assert all(by_replica.values()), by_replica  # both assigned: the race was real
        for name in ("routing", "routing-2"):
            health = stack.wait_healthy("routing", name=name)
            assert health["parked"] == 0, (name, health)
    finally:
        routing_db.dispose()
        stack.stop()
        delete_vhost(vhost)
