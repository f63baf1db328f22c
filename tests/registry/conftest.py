"""The registry service in a nameko container on a private vhost, with an event tap.

HTTP and RPC go through the real RabbitMQ; the database is a migrated SQLite file or
PostgreSQL database (each test runs on both).
"""

import json

import pytest
from kombu import Connection, Queue, binding
from nameko.containers import ServiceContainer
from nameko.standalone.rpc import ClusterRpcProxy

from services.kernel import topology
from services.kernel.migrations import upgrade
from services.registry.service import RegistryService
from tests.conftest import container_config, free_port

INTAKE = "http://intake.example.cn"
ROUTING = "http://routing.example.cn"


class EventTap:
    """A queue bound to every ``registry.*`` event, read back as parsed envelopes."""

    def __init__(self, amqp_uri):
        self.amqp_uri = amqp_uri
        self.queue = Queue(
            "test.registry-tap",
            bindings=[binding(topology.EVENTS_EXCHANGE, routing_key="registry.#")],
            durable=False,
        )
        with Connection(amqp_uri) as conn:
            topology.EVENTS_EXCHANGE(conn.default_channel).declare()
            self.queue(conn.default_channel).declare()
        self.seen = []

    def drain(self, timeout=1.0) -> list[dict]:
        """Every event that arrived since the last call (waits ``timeout`` for stragglers)."""
        raw = []
        with Connection(self.amqp_uri) as conn:
            with conn.Consumer(self.queue, callbacks=[lambda b, m: (raw.append(m.body), m.ack())]):
                while True:
                    try:
                        conn.drain_events(timeout=timeout)
                    except TimeoutError:
                        break
        events = [json.loads(b) for b in raw]
        self.seen.extend(events)
        return events


@pytest.fixture
def registry_service(db_url, vhost):
    """(base URL, rpc proxy config, event tap) of a running registry service, on SQLite and
    on PostgreSQL (``db_url`` is parametrized)."""
    _, amqp_uri = vhost
    upgrade("registry", db_url)
    port = free_port()
    config = container_config(
        "registry",
        amqp_uri,
        db_url,
        port,
        public_urls={"intake": INTAKE, "routing": ROUTING},
        security={"sign_in_max_failures": 3, "sign_in_window_s": 60},
    )
    tap = EventTap(amqp_uri)
    container = ServiceContainer(RegistryService, config)
    container.start()
    try:
        yield f"http://127.0.0.1:{port}", {"AMQP_URI": amqp_uri}, tap
    finally:
        container.stop()


@pytest.fixture
def rpc(registry_service):
    _, config, _ = registry_service
    with ClusterRpcProxy(config, timeout=20) as proxy:
        yield proxy.registry
