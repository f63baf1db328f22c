"""kill -9 of routing while a thousand issues flow: after a restart each is assigned once."""

import random
from datetime import UTC, datetime

import eventlet
import pytest
from sqlalchemy import create_engine, func, select

from services.reporting.projections import month_of
from services.routing.models import Assignment, Case
from tests.e2e.conftest import get, make_stack
from tools.client import SubmissionClient

N = 1000
STATIONS = ["gwm", "jnl", "jql", "ytl", "sp"]
CATEGORIES = ["property", "sanitation", "health", "childcare", "hazard", "business"]


@pytest.fixture
def crash_stack(tmp_path, pg_databases):
    stack, vhost, amqp_uri = make_stack(tmp_path, "sqlite", pg_databases)
    stack.amqp_uri = amqp_uri
    yield stack
    stack.stop()
    from tests.conftest import delete_vhost

    delete_vhost(vhost)


@pytest.mark.slow
def test_kill_routing_mid_flow_every_issue_assigned_exactly_once(crash_stack):
    stack = crash_stack
    rnd = random.Random(2024)

    def publish():
        with SubmissionClient(stack.amqp_uri) as client:
            for i in range(N):
                client.submit(
                    rnd.choice(STATIONS),
                    category=rnd.choice(CATEGORIES),
                    description=f"第{i}号问题 issue {i}",
                )

    def cases():
        return sum(stack.health("routing")["cases"].values())

    # Watched while the issues are still being published: routing keeps up with one client, so
    # waiting for the last publish first could find every case assigned before the kill.
    publisher = eventlet.spawn(publish)
    stack.wait_for(lambda: cases() >= N // 5, timeout=120, interval=0.05, what="routing to be busy")
    stack.kill("routing")  # kill -9, mid-flow
    publisher.wait()
    with create_engine(stack.db_urls["routing"]).connect() as conn:
        at_kill = conn.scalar(select(func.count()).select_from(Case))
    assert at_kill < N, "the kill came too late to prove anything"
    stack.start_service("routing")
    stack.wait_healthy("routing")

    month = month_of(datetime.now(UTC))

    def all_counted():
        _, body = get(stack, "reporting", "/stats/monthly", month=month)
        return body["city"].get("issues_assigned", 0) >= N

    stack.wait_for(all_counted, timeout=240, interval=0.5, what=f"{N} assignments counted")

    engine = create_engine(stack.db_urls["routing"])
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Case)) == N
        assert conn.scalar(select(func.count()).select_from(Assignment)) == N
        assert conn.scalar(select(func.count(func.distinct(Assignment.tracking_number)))) == N
        assert conn.scalar(select(func.count()).where(Case.status != "assigned")) == 0
    engine.dispose()

    _, body = get(stack, "reporting", "/stats/monthly", month=month)
    assert body["city"]["issues_received"] == N
    assert body["city"]["issues_assigned"] == N
    assert stack.health("intake")["submissions"] == {"accepted": N}
    for service in ("intake", "routing", "reporting"):
        assert stack.health(service)["parked"] == 0
