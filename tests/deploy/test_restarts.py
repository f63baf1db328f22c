"""A single-node broker restart and a PostgreSQL restart under load lose nothing (issue 22).

Like the cluster test (test_cluster.py), each sends issues with confirms through the failure:
the broker is a private node killed with SIGKILL and started again on the same data; the
PostgreSQL server is a private one stopped in ``immediate`` mode (a crash: recovery at the next
start) while every service writes to it, and started again a few seconds later. Afterwards sent,
confirmed, accepted, assigned and counted are all equal, each issue assigned once, nothing
parked.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import auth_headers, create_vhost, delete_vhost
from tests.deploy import cluster, flow
from tests.deploy.flow import Sender
from tests.e2e.conftest import SERVICES, free_ports, prepared_databases, stack_env
from tools.stack import Stack

N = 400

pytestmark = pytest.mark.slow


def started(tmp_path, amqp_uri: str, urls: dict, prepare: bool = False) -> Stack:
    stack = Stack(env=stack_env(amqp_uri, urls, free_ports(4)), log_dir=tmp_path / "log")
    stack.db_urls, stack.amqp_uri = urls, amqp_uri
    stack.headers = auth_headers(stack.config())
    if prepare:
        stack.prepare(demo=True, demo_set="small")
    stack.start()
    stack.wait_for(
        lambda: len(stack.health("intake")["stations"]) == 5,
        timeout=60,
        what="intake consuming the five demo stations",
    )
    return stack


@pytest.mark.skipif(not cluster.available(), reason="needs RabbitMQ's own scripts")
def test_a_broker_restart_under_load_loses_nothing(tmp_path, pg_databases):
    rabbit = cluster.Cluster(tmp_path / "rabbit", size=1)
    stack = None
    try:
        rabbit.start()
        urls = prepared_databases(tmp_path / "db", "postgresql", pg_databases)
        stack = started(tmp_path, rabbit.uri, urls)
        sender = Sender(rabbit.uri, N, "restart").start()
        stack.wait_for(
            lambda: flow.cases(stack) >= N // 5, timeout=120, interval=0.05, what="flowing"
        )
        [node] = rabbit.nodes
        node.kill()  # kill -9 of the only broker
        assert len(sender.confirmed) < N, "the kill came too late to prove anything"
        time.sleep(3)  # down a while: every service and the client notice it
        node.start()
        node.wait_running()
        sender.join()
        assert sender.reconnects >= 1
        flow.assert_each_once(stack, N, sender)
    finally:
        if stack is not None:
            stack.stop()
        rabbit.stop()


@pytest.mark.skipif(not cluster.PgServer.available(), reason="needs PostgreSQL's own programs")
def test_a_postgresql_restart_under_load_loses_nothing(tmp_path):
    # not under tmp_path: its parents are root's alone, and the server runs as postgres
    pg = cluster.PgServer(Path(tempfile.mkdtemp(prefix="lx-pg-")))
    vhost, amqp_uri = create_vhost()
    stack = None
    try:
        pg.init()
        pg.start()
        urls = {s: pg.create(f"lx_{s}") for s in SERVICES}
        stack = started(tmp_path, amqp_uri, urls, prepare=True)
        sender = Sender(amqp_uri, N, "pg-restart").start()
        stack.wait_for(
            lambda: flow.cases(stack) >= N // 5, timeout=120, interval=0.05, what="flowing"
        )
        pg.crash()
        assert len(sender.confirmed) < N, "the crash came too late to prove anything"
        time.sleep(3)  # down a while: every service's writes fail meanwhile
        pg.start()
        sender.join()
        flow.assert_each_once(stack, N, sender)
    finally:
        if stack is not None:
            stack.stop()
        pg.stop()
        shutil.rmtree(pg.base, ignore_errors=True)
        delete_vhost(vhost)
