"""End to end: issues published by the project's pika client over many stations until every one
is assigned by routing and counted by reporting, beside raw publish+consume on the same broker.

    make bench                       # N=2000 issues
    BENCH_N=10000 make bench         # the linearity check: compare with 100000
"""

import os
import statistics
import time
import uuid
from datetime import UTC, datetime

import pika
from sqlalchemy import create_engine, select

from services.intake.client import SubmissionClient
from services.intake.models import Submission
from services.reporting.projections import month_of
from services.routing.models import Case
from tests.bench.conftest import report
from tests.conftest import create_vhost, delete_vhost
from tests.e2e.conftest import get, make_stack

N = int(os.environ.get("BENCH_N", "2000"))
RATES = [int(r) for r in os.environ.get("BENCH_RATES", "10,100,500").split(",")]
STATIONS = ["gwm", "jnl", "jql", "ytl", "sp"]


def raw_baseline(n: int) -> float:
    """Persistent publish with confirms, then consume with ack, of n like-sized messages."""
    vhost, uri = create_vhost()
    try:
        conn = pika.BlockingConnection(pika.URLParameters(uri))
        ch = conn.channel()
        ch.queue_declare("bench.raw", durable=True, arguments={"x-queue-type": "quorum"})
        ch.confirm_delivery()
        body = ("{" + '"description": "' + "问题" * 40 + '"}').encode()
        started = time.perf_counter()
        for _ in range(n):
            ch.basic_publish("", "bench.raw", body, pika.BasicProperties(delivery_mode=2))
        ch.basic_qos(prefetch_count=100)
        got = 0
        for method, _props, _body in ch.consume("bench.raw"):
            ch.basic_ack(method.delivery_tag)
            got += 1
            if got == n:
                break
        elapsed = time.perf_counter() - started
        ch.cancel()
        conn.close()
        return n / elapsed
    finally:
        delete_vhost(vhost)


def peak_rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_end_to_end_pipeline(tmp_path, pg_databases):
    baseline_rate = raw_baseline(N)
    stack, vhost, amqp_uri = make_stack(tmp_path, "sqlite", pg_databases)
    month = month_of(datetime.now(UTC))
    try:

        def assigned():
            return get(stack, "reporting", "/stats/monthly", month=month)[1]["city"].get(
                "issues_assigned", 0
            )

        # Throughput: publish N as fast as the client goes, wait until all are counted.
        started = time.perf_counter()
        with SubmissionClient(amqp_uri) as client:
            for i in range(N):
                client.submit(
                    STATIONS[i % len(STATIONS)], category="health", description=f"基准测试问题 {i}"
                )
        published = time.perf_counter() - started
        stack.wait_for(
            lambda: assigned() >= N,
            timeout=max(120, N / 20),
            interval=0.25,
            what=f"{N} issues counted",
        )
        rate = N / (time.perf_counter() - started)
        assert assigned() == N  # nothing lost, nothing twice

        # Latency at fixed offered rates: publish paced, then read assigned_at per issue.
        latency = {}
        intake_db = create_engine(stack.db_urls["intake"])
        routing_db = create_engine(stack.db_urls["routing"])
        total = N
        for offered in RATES:
            count = min(max(offered * 5, 50), 1000)
            sent = {}
            with SubmissionClient(amqp_uri) as client:
                t0 = time.perf_counter()
                for i in range(count):
                    due = t0 + i / offered
                    while time.perf_counter() < due:
                        time.sleep(min(0.001, due - time.perf_counter()))
                    sid = str(uuid.uuid4())
                    sent[sid] = datetime.now(UTC)
                    client.submit(
                        STATIONS[i % len(STATIONS)],
                        category="health",
                        description=f"定速 {offered}/s #{i}",
                        submission_id=sid,
                    )
            total += count
            stack.wait_for(lambda t=total: assigned() >= t, timeout=120, interval=0.25)
            with intake_db.connect() as c:
                numbers = dict(
                    c.execute(
                        select(Submission.submission_id, Submission.tracking_number).where(
                            Submission.submission_id.in_(sent)
                        )
                    ).all()
                )
            with routing_db.connect() as c:
                at = dict(
                    c.execute(
                        select(Case.tracking_number, Case.assigned_at).where(
                            Case.tracking_number.in_(numbers.values())
                        )
                    ).all()
                )
            waits = sorted(
                (
                    datetime.fromisoformat(str(at[numbers[s]])).replace(tzinfo=UTC) - sent[s]
                ).total_seconds()
                * 1000
                for s in sent
            )
            latency[offered] = (statistics.median(waits), waits[int(len(waits) * 0.99) - 1])
        rss = {name: peak_rss_mb(proc.pid) for name, proc in stack.procs.items()}
    finally:
        stack.stop()
        delete_vhost(vhost)

    figures = {"issues_per_s_end_to_end": rate, "publish_only_per_s": N / published}
    for offered, (p50, p99) in latency.items():
        figures[f"p50_ms_publish_to_assigned_at_{offered}/s"] = p50
        figures[f"p99_ms_publish_to_assigned_at_{offered}/s"] = p99
    for name, mb in rss.items():
        figures[f"peak_rss_mb_{name}"] = mb
    report(
        f"pipeline_n{N}",
        figures,
        {"issues_per_s_end_to_end": baseline_rate, "publish_only_per_s": baseline_rate},
    )
