"""End to end: issues published by the project's pika client over many stations until every one
is assigned by routing and counted by reporting, beside raw publish+consume on the same broker.

    make bench PYTEST_ARGS='-k pipeline'                   # 10,000 issues, then 100,000
    BENCH_BACKEND=postgresql make bench PYTEST_ARGS='-k pipeline'   # the services on PostgreSQL
    BENCH_N=2000 BENCH_LINEAR_N=0 make bench PYTEST_ARGS='-k pipeline'   # a quick look
    BENCH_REPLICAS_N=3000 make bench PYTEST_ARGS='-k replicas'   # 1 and 2 processes per service

Publishing: one client (one AMQP connection, publisher confirms) per station, all at once, as
the stations' own systems would. The baseline does exactly that on the same broker: the same
number of persistent messages of the same size, published with confirms by as many connections
into a quorum queue, then consumed and acked; its rate is the ceiling for anything built on
this broker on this machine.

Figures: issues/s end to end (first publish → every issue assigned and counted), the same at
``BENCH_LINEAR_N`` issues on a fresh stack (the rate must not fall as the databases grow),
p50/p99 latency publish → assigned at fixed offered rates, CPU milliseconds per issue of each
service and of the broker, and each service's peak resident memory.

``test_pipeline_with_one_and_two_replicas_per_service``: the same flow on PostgreSQL with one,
then two processes of every service, side by side (issues/s and CPU per issue of each service,
its processes summed): what replicas cost and give on one machine (issue 23).
"""

import os
import statistics
import subprocess
import time
import uuid
from datetime import UTC, datetime

import eventlet
import pika
import requests
from sqlalchemy import create_engine, select

from services.intake.models import Submission
from services.reporting.projections import month_of
from services.routing.models import Case
from tests.bench.conftest import report
from tests.conftest import auth_headers, create_vhost, delete_vhost
from tests.deploy import cluster
from tests.e2e.conftest import (
    SERVICES,
    free_ports,
    get,
    make_stack,
    prepared_databases,
    stack_env,
)
from tools.client import SubmissionClient
from tools.stack import Stack

N = int(os.environ.get("BENCH_N", "10000"))
LINEAR_N = int(os.environ.get("BENCH_LINEAR_N", str(10 * N)))
RATES = [int(r) for r in os.environ.get("BENCH_RATES", "10,100,500").split(",")]
BACKEND = os.environ.get("BENCH_BACKEND", "sqlite")  # or postgresql: the services' databases
STATIONS = ["gwm", "jnl", "jql", "ytl", "sp"]  # the small demo set's stations: one client each
DESCRIPTION = "基准测试问题：小区门口的路灯坏了两周，晚上很黑，老人出行不便，请尽快修理 #{}"


def in_parallel(jobs) -> None:
    """Run the callables at once (green threads: the test process is monkey-patched)."""
    pool = eventlet.GreenPool(len(jobs))
    threads = [pool.spawn(job) for job in jobs]
    for thread in threads:
        thread.wait()


def publish_issues(amqp_uri: str, n: int) -> None:
    """``n`` issues, spread over the stations, each station's share by its own client."""

    def station(k: int):
        def job():
            with SubmissionClient(amqp_uri) as client:
                for i in range(k, n, len(STATIONS)):
                    client.submit(STATIONS[k], category="health", description=DESCRIPTION.format(i))

        return job

    in_parallel([station(k) for k in range(len(STATIONS))])


def raw_baseline(n: int) -> float:
    """The same shape on the bare broker: persistent publishes with confirms by one connection
    per station into a quorum queue, then consume with ack; messages per second."""
    vhost, uri = create_vhost()
    try:
        conn = pika.BlockingConnection(pika.URLParameters(uri))
        ch = conn.channel()
        ch.queue_declare("bench.raw", durable=True, arguments={"x-queue-type": "quorum"})
        body = ('{"description": "' + DESCRIPTION.format(0) + '"}').encode()

        def station(k: int):
            def job():
                c = pika.BlockingConnection(pika.URLParameters(uri))
                channel = c.channel()
                channel.confirm_delivery()
                for _ in range(k, n, len(STATIONS)):
                    channel.basic_publish(
                        "", "bench.raw", body, pika.BasicProperties(delivery_mode=2)
                    )
                c.close()

            return job

        started = time.perf_counter()
        in_parallel([station(k) for k in range(len(STATIONS))])
        ch.basic_qos(prefetch_count=200)
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


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    found = subprocess.run(["pgrep", "-f", "beam.smp"], capture_output=True, text=True).stdout
    return int(found.split()[0]) if found.strip() else None


def peak_rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def assigned_count(stack, month) -> int:
    city = get(stack, "reporting", "/stats/monthly", month=month)[1]["city"]
    return city.get("issues_assigned", 0)


def throughput(
    stack, amqp_uri: str, n: int, already: int = 0, broker: int | None = None
) -> tuple[float, dict]:
    """Publish ``n`` issues, wait until reporting counts them all assigned: (issues/s, CPU ms per
    issue of each service process and of the broker)."""
    month = month_of(datetime.now(UTC))
    pids = process_pids(stack, broker)
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    publish_issues(amqp_uri, n)
    stack.wait_for(
        lambda: assigned_count(stack, month) >= already + n,
        timeout=max(300, n / 20),
        interval=0.25,
        what=f"{n} issues counted",
    )
    rate = n / (time.perf_counter() - started)
    assert assigned_count(stack, month) == already + n  # nothing lost, nothing twice
    cpu = {name: (cpu_seconds(pid) - cpu0[name]) * 1000 / n for name, pid in pids.items()}
    return rate, cpu


def process_pids(stack, broker: int | None = None) -> dict[str, int]:
    pids = {name: proc.pid for name, proc in stack.procs.items()}
    broker = broker or broker_pid()
    if broker:
        pids["rabbitmq"] = broker
    return pids


def latencies(stack, amqp_uri: str, offered: int, total: int):
    """Publish at ``offered`` issues/s for a while: p50 and p99 of publish → assigned (ms), the
    number published, and the CPU milliseconds per issue of each process meanwhile."""
    count = min(max(offered * 5, 50), 1000)
    sent = {}
    pids = process_pids(stack)
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
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
    month = month_of(datetime.now(UTC))
    stack.wait_for(lambda: assigned_count(stack, month) >= total + count, timeout=120)
    cpu = {name: (cpu_seconds(pid) - cpu0[name]) * 1000 / count for name, pid in pids.items()}
    intake_db = create_engine(stack.db_urls["intake"])
    routing_db = create_engine(stack.db_urls["routing"])
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
    intake_db.dispose()
    routing_db.dispose()
    waits = sorted(
        (datetime.fromisoformat(str(at[numbers[s]])).replace(tzinfo=UTC) - sent[s]).total_seconds()
        * 1000
        for s in sent
    )
    return statistics.median(waits), waits[int(len(waits) * 0.99) - 1], count, cpu


def test_end_to_end_pipeline(tmp_path, pg_databases):
    baseline_rate = raw_baseline(N)
    stack, vhost, amqp_uri = make_stack(tmp_path / "small", BACKEND, pg_databases)
    try:
        rate, cpu = throughput(stack, amqp_uri, N)
        latency, paced_cpu, total = {}, {}, N
        for offered in RATES:
            p50, p99, count, paced_cpu[offered] = latencies(stack, amqp_uri, offered, total)
            latency[offered] = (p50, p99)
            total += count
        rss = {name: peak_rss_mb(proc.pid) for name, proc in stack.procs.items()}
    finally:
        stack.stop()
        delete_vhost(vhost)

    large_rate = None
    if LINEAR_N:
        stack, vhost, amqp_uri = make_stack(tmp_path / "large", BACKEND, pg_databases)
        try:
            large_rate, _ = throughput(stack, amqp_uri, LINEAR_N)
            for name, proc in stack.procs.items():
                rss[name] = max(rss[name], peak_rss_mb(proc.pid))
        finally:
            stack.stop()
            delete_vhost(vhost)

    figures = {"issues_per_s_end_to_end": rate, "share_of_raw_broker_rate": rate / baseline_rate}
    goals = {"issues_per_s_end_to_end": (">=", 1000), "share_of_raw_broker_rate": (">=", 0.5)}
    if large_rate is not None:
        figures[f"issues_per_s_at_{LINEAR_N}"] = large_rate
        figures["rate_large_over_small"] = large_rate / rate
        goals["rate_large_over_small"] = (">=", 0.8)
    for offered, (p50, p99) in latency.items():
        figures[f"p50_ms_to_assigned_at_{offered}/s"] = p50
        figures[f"p99_ms_to_assigned_at_{offered}/s"] = p99
    goals["p99_ms_to_assigned_at_100/s"] = ("<=", 50)
    for name, ms in cpu.items():
        figures[f"cpu_ms_per_issue_{name}"] = ms
    for offered, by_process in paced_cpu.items():  # a trickle's cost: no batches to share it
        for name, ms in by_process.items():
            if name != "registry":
                figures[f"cpu_ms_per_issue_at_{offered}/s_{name}"] = ms
    for name, mb in rss.items():
        figures[f"peak_rss_mb_{name}"] = mb
        goals[f"peak_rss_mb_{name}"] = ("<", 150)
    goals = {k: v for k, v in goals.items() if k in figures}
    report(
        f"pipeline_n{N}" + ("" if BACKEND == "sqlite" else f"_{BACKEND}"),
        figures,
        {"issues_per_s_end_to_end": baseline_rate},
        goals,
        notes={
            "issues": N,
            "linearity_run": LINEAR_N or "skipped",
            "publishers": f"{len(STATIONS)} clients, one per station, confirms on",
            "baseline": "raw persistent publish with confirms by as many connections into a "
            "quorum queue, then consume with ack (messages/s)",
            "backend": "SQLite (the one-machine default)" if BACKEND == "sqlite" else BACKEND,
        },
    )


REPLICAS_N = int(os.environ.get("BENCH_REPLICAS_N", "3000"))


class PartitionedNode(cluster.Node):
    """A private RabbitMQ node (own port and data) with the consistent-hash exchange reporting's
    partitions need: the bench measures on a broker of its own, not on the shared one that
    every other test uses (and whose vhost operations may take a minute when it is busy)."""

    def env(self) -> dict:
        return {**super().env(), "RABBITMQ_ENABLED_PLUGINS": "rabbitmq_consistent_hash_exchange"}

    def beam_pid(self) -> int | None:
        found = subprocess.run(
            ["pgrep", "-f", f"beam.smp.*{self.name.split('@')[0]}"], capture_output=True, text=True
        ).stdout.split()
        return int(found[0]) if found else None


def replicated_stack(tmp_path, pg_databases, replicas: int, amqp_uri: str) -> Stack:
    """The four services on PostgreSQL, ``replicas`` processes of each (intakes all on every
    station, sharing each station's queue), on the broker at ``amqp_uri``."""
    urls = prepared_databases(tmp_path / "db", "postgresql", pg_databases)
    stack = Stack(env=stack_env(amqp_uri, urls, free_ports(4)), log_dir=tmp_path / "log")
    stack.db_urls = urls
    stack.headers = auth_headers(stack.config())
    stack.start(replicas=dict.fromkeys(SERVICES, replicas))
    for name in [n for n in stack.procs if n.startswith("intake")]:
        stack.wait_for(
            lambda name=name: (
                len(requests.get(stack.replica_url(name, "/health"), timeout=5).json()["stations"])
                == len(STATIONS)
            ),
            timeout=60,
            what=f"{name} consuming the demo stations",
        )
    return stack


def test_pipeline_with_one_and_two_replicas_per_service(tmp_path, pg_databases):
    """The same pipeline on PostgreSQL with one, then two processes of every service, in one
    run: issues/s end to end and CPU milliseconds per issue of each service (its processes
    summed) and of the broker, so the cost of running replicas is known."""
    figures, baseline = {}, {}
    for replicas in (1, 2):
        node = PartitionedNode(tmp_path / f"rabbit{replicas}", f"lxbench{replicas}", "benchcookie")
        stack = None
        try:
            node.start()
            node.wait_running()
            stack = replicated_stack(tmp_path / f"r{replicas}", pg_databases, replicas, node.uri)
            rate, cpu = throughput(stack, node.uri, REPLICAS_N, broker=node.beam_pid())
        finally:
            if stack is not None:
                stack.stop()
            node.kill()
        by_service: dict[str, float] = {}
        for name, ms in cpu.items():
            service = name.split("-")[0]
            by_service[service] = by_service.get(service, 0.0) + ms
        out = figures if replicas == 2 else baseline
        out["issues_per_s_end_to_end"] = rate
        for service, ms in by_service.items():
            out[f"cpu_ms_per_issue_{service}"] = ms
        out["cpu_ms_per_issue_all"] = sum(by_service.values())
    report(
        f"pipeline_replicas_n{REPLICAS_N}",
        figures,
        baseline,
        notes={
            "issues": REPLICAS_N,
            "figures": "two processes of every service (the baseline column: one of each)",
            "backend": "PostgreSQL on the same machine (replicas share one database each)",
            "publishers": f"{len(STATIONS)} clients, one per station, confirms on",
            "cpu": "user+system seconds of every process of a service (/proc), per issue",
        },
    )
