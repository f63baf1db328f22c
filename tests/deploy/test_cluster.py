"""The four services on a three-node RabbitMQ cluster, and one node killed under load (issue 22).

Three private nodes (own names, ports and cookie: the shared broker is untouched) are clustered;
the services get all three in ``AMQP_URI`` (``;``-separated, kombu's failover list) and declare
their queues as always: durable quorum queues, which RabbitMQ replicates on the three nodes.
A client publishes issues with confirms while the first node (the one every service and the
client connected to) is killed with SIGKILL; the client reconnects to a surviving node and sends
again what was not confirmed (same submission id: intake takes it once). Then: sent, confirmed,
accepted, assigned and counted are all equal, and each issue was assigned once.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select

from services.routing.models import Case
from tests.conftest import auth_headers
from tests.deploy import cluster, flow
from tests.deploy.flow import Sender
from tests.e2e.conftest import free_ports, prepared_databases, stack_env
from tools.stack import Stack

N = 600
STATIONS = ["gwm", "jnl", "jql", "ytl", "sp"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not cluster.available(), reason="needs RabbitMQ's own scripts"),
]


@pytest.fixture
def rabbits(tmp_path):
    c = cluster.Cluster(tmp_path / "rabbit")
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture
def stack(tmp_path, rabbits, pg_databases):
    urls = prepared_databases(tmp_path / "db", "postgresql", pg_databases)
    stack = Stack(env=stack_env(rabbits.uri, urls, free_ports(4)), log_dir=tmp_path / "log")
    stack.db_urls, stack.amqp_uri = urls, rabbits.uri
    stack.headers = auth_headers(stack.config())
    stack.start()
    try:
        stack.wait_for(
            lambda: len(stack.health("intake")["stations"]) == 5,
            timeout=60,
            what="intake consuming the five demo stations",
        )
        yield stack
    finally:
        stack.stop()


def test_a_node_killed_under_load_loses_nothing(rabbits, stack):
    first, second = rabbits.nodes[0], rabbits.nodes[1]
    assert len(rabbits.running_nodes(second)) == 3
    # every queue the services declared is a quorum queue with a member on each node
    queues = rabbits.queues(second)
    # (nameko's reply queues are a caller's own, exclusive to its connection: classic; so are
    # reporting's presence slots, reporting.replica.<i>: services/reporting/partitions.py)
    ours = [q for q in queues if not q["name"].startswith(("rpc.reply-", "reporting.replica."))]
    assert {"rpc-routing", "rpc-intake", "station.gwm", "routing.events"} <= {
        q["name"] for q in ours
    }
    assert ours and all(q["type"] == "quorum" for q in ours), ours
    assert all(len(q["members"]) == 3 for q in ours), ours

    sender = Sender(rabbits.uri, N, "cluster").start()
    stack.wait_for(
        lambda: flow.cases(stack) >= N // 5, timeout=120, interval=0.05, what="issues flowing"
    )
    first.kill()  # kill -9 of the node everyone is connected to
    assert len(sender.confirmed) < N, "the kill came too late to prove anything"
    sender.join()
    assert sender.reconnects >= 1  # the client did lose its node
    assert len(rabbits.running_nodes(second)) == 2
    flow.assert_each_once(stack, N, sender)

    # RPC still answers after the loss of the node its queues were declared on
    from nameko.standalone.rpc import ClusterRpcProxy

    with create_engine(stack.db_urls["routing"]).connect() as conn:
        number = conn.scalar(select(Case.tracking_number).limit(1))
    with ClusterRpcProxy({"AMQP_URI": rabbits.uri}, timeout=20) as rpc:
        assert rpc.routing.case_status(number)["status"]
