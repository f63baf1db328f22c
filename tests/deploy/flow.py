"""Issues sent through a failure, and the check that every one arrived once (issue 22): shared
by the cluster test and the restart tests."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pika
from sqlalchemy import create_engine, func, select

from services.reporting.projections import month_of
from services.routing.models import Assignment, Case
from tests.e2e.conftest import get
from tools.client import SubmissionClient

STATIONS = ["gwm", "jnl", "jql", "ytl", "sp"]


class Sender:
    """Publishes ``n`` issues with confirms in a thread, a steady flow; on a lost connection it
    connects again (to whichever node answers, waiting while none does) and re-sends the
    unconfirmed one under the same submission id, as any careful AMQP client would."""

    def __init__(self, uri: str, n: int, tag: str):
        self.uri, self.n, self.tag = uri, n, tag
        self.confirmed: list[str] = []
        self.reconnects = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self) -> Sender:
        self.thread.start()
        return self

    def run(self):
        client = None
        i = 0
        while i < self.n:
            sid = f"{self.tag}-{i:04d}"
            try:
                client = client or SubmissionClient(self.uri)
                client.submit(
                    STATIONS[i % len(STATIONS)],
                    category="property",
                    description=f"第{i}号问题 issue {i} ({self.tag})",
                    submission_id=sid,
                )
            except pika.exceptions.AMQPError:
                self.reconnects += 1
                client = None
                time.sleep(0.2)
                continue
            self.confirmed.append(sid)
            i += 1
            time.sleep(0.005)
        client.close()

    def join(self, timeout: float = 300) -> None:
        self.thread.join(timeout=timeout)
        assert not self.thread.is_alive(), f"{len(self.confirmed)} of {self.n} sent"


def cases(stack) -> int:
    return sum(stack.health("routing")["cases"].values())


def assert_each_once(stack, n: int, sender: Sender) -> None:
    """Sent = confirmed = accepted = cases = assignments = counted = ``n``; nothing parked."""
    month = month_of(datetime.now(UTC))

    def all_counted():
        _, body = get(stack, "reporting", "/stats/monthly", month=month)
        return body["city"].get("issues_assigned", 0) >= n

    stack.wait_for(all_counted, timeout=300, interval=0.5, what=f"{n} assignments counted")
    assert len(sender.confirmed) == len(set(sender.confirmed)) == n
    assert stack.health("intake")["submissions"] == {"accepted": n}
    engine = create_engine(stack.db_urls["routing"])
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Case)) == n
        assert conn.scalar(select(func.count()).select_from(Assignment)) == n
        assert conn.scalar(select(func.count(func.distinct(Assignment.tracking_number)))) == n
    engine.dispose()
    _, body = get(stack, "reporting", "/stats/monthly", month=month)
    assert body["city"]["issues_received"] == n
    assert body["city"]["issues_assigned"] == n
    for service in ("intake", "routing", "reporting", "registry"):
        assert stack.health(service)["parked"] == 0
