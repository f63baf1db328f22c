"""The AMQP topology, declared in full by every service before it publishes or consumes.

Exchanges
  ``lianxin.intake``  topic; channels publish submissions with routing key ``station.<code>``.
                      Its alternate exchange keeps what no station queue takes.
  ``lianxin.intake.unrouted``  fanout → queue ``intake.unrouted``: messages for unknown stations.
  ``lianxin.events``  topic; every domain event, routing key = event type (``routing.issue_assigned``).
  ``lianxin.retry``   headers; a delay queue dead-letters a retried message here, and the header
                      ``lx-retry-queue`` routes it back to the queue it came from.
  ``lianxin.reporting``  x-consistent-hash (RabbitMQ's plugin), bound to ``lianxin.events`` with
                      ``#``: hashes each event's ``lx-key`` header (the case, record or activity it
                      is about: :func:`services.kernel.outbox.partition_key`) onto one of the
                      ``REPORTING_PARTITIONS`` partition queues, so one case's events always reach
                      one queue, in order (docs/architecture.md, "Reporting partitions").
Queues (all durable quorum queues)
  ``station.<code>``  one per station, consumed by the intake process that serves the station.
  ``<service>.events`` one per consuming service, bound to the event types it needs (EVENT_QUEUES).
  ``reporting.events.p<k>``  reporting's partitions, single-active-consumer: every reporting
                      replica subscribes to each, RabbitMQ lets one at a time take its messages.
  ``lianxin.delay.<ms>`` one per back-off step; messages expire into ``lianxin.retry``.

Declaring everything from every service means no start order can lose an event: the outbox
relay also publishes with ``mandatory`` and keeps an event that no queue took.
"""

from __future__ import annotations

import logging
import time

from kombu import Connection, Exchange, Queue, binding

log = logging.getLogger(__name__)

INTAKE_EXCHANGE = Exchange(
    "lianxin.intake",
    "topic",
    durable=True,
    arguments={"alternate-exchange": "lianxin.intake.unrouted"},
)
UNROUTED_EXCHANGE = Exchange("lianxin.intake.unrouted", "fanout", durable=True)
EVENTS_EXCHANGE = Exchange("lianxin.events", "topic", durable=True)
# Needs the rabbitmq_consistent_hash_exchange plugin (deploy/rabbitmq/enabled_plugins).
REPORTING_EXCHANGE = Exchange(
    "lianxin.reporting", "x-consistent-hash", durable=True, arguments={"hash-header": "lx-key"}
)
RETRY_EXCHANGE = Exchange("lianxin.retry", "headers", durable=True)

QUORUM = {"x-queue-type": "quorum"}
UNROUTED_QUEUE = "intake.unrouted"
# Not "x-" names: a headers exchange ignores x- headers when matching.
RETRY_HEADER = "lx-retry-queue"
ATTEMPTS_HEADER = "lx-attempts"
ERROR_HEADER = "lx-error"
# What reporting's partitions hash: the case, record or activity an event is about (set by the
# outbox relay). An event without it is hashed as an empty key: all of them reach one partition.
PARTITION_HEADER = "lx-key"

# Reporting's partitions. A constant of the code, not a setting: every service declares the same
# queues and bindings, and changing the number moves cases between partitions (a release that
# drains the queues first: docs/runbook.md). More replicas than partitions are pure standbys.
REPORTING_PARTITIONS = 8
REPORTING_QUEUE = "reporting.events"  # the family's name; until issue 23 the one queue itself

# Who consumes which domain events: queue name → routing-key patterns on lianxin.events.
EVENT_QUEUES: dict[str, list[str]] = {
    "intake.events": ["registry.#", "routing.#"],  # routing.#: the catalogue, case progress
    "routing.events": ["registry.#", "intake.#"],
}
# What the single reporting queue was bound to: unbound (and the queue drained into the
# partitions, then deleted) by services.reporting.partitions.retire_single_queue.
RETIRED_QUEUES: dict[str, list[str]] = {REPORTING_QUEUE: ["#"]}


def partition_queue_name(k: int) -> str:
    return f"{REPORTING_QUEUE}.p{int(k)}"


def partition_names() -> list[str]:
    return [partition_queue_name(k) for k in range(REPORTING_PARTITIONS)]


def queue_family(name: str) -> str:
    """A partition's family (``reporting.events.p3`` → ``reporting.events``), else the name:
    what per-queue settings (``consume.linger_ms``) and reconciliation's depths are keyed by."""
    base, _, k = name.rpartition(".p")
    return base if base and k.isdigit() else name


def partition_queue(k: int) -> Queue:
    """Partition ``k``: quorum, single active consumer, bound with weight 1 (an equal share)."""
    name = partition_queue_name(k)
    return Queue(
        name,
        bindings=[binding(REPORTING_EXCHANGE, routing_key="1"), _retry_binding(name)],
        durable=True,
        auto_delete=False,
        queue_arguments={**QUORUM, "x-single-active-consumer": True},
    )


EXCHANGES = [
    UNROUTED_EXCHANGE,
    INTAKE_EXCHANGE,
    EVENTS_EXCHANGE,
    REPORTING_EXCHANGE,
    RETRY_EXCHANGE,
]


def _retry_binding(queue_name: str) -> binding:
    return binding(
        RETRY_EXCHANGE, routing_key="", arguments={"x-match": "all", RETRY_HEADER: queue_name}
    )


def reliable_queue(name: str, bindings: list[binding] = ()) -> Queue:
    """A durable quorum queue with its bindings, plus the one that brings its retries home."""
    return Queue(
        name,
        bindings=[*bindings, _retry_binding(name)],
        durable=True,
        auto_delete=False,
        queue_arguments=dict(QUORUM),
    )


def station_queue(code: str) -> Queue:
    key = station_routing_key(code)
    return reliable_queue(key, [binding(INTAKE_EXCHANGE, routing_key=key)])


def station_routing_key(code: str) -> str:
    return f"station.{code}"


def event_queue(name: str) -> Queue:
    return reliable_queue(
        name, [binding(EVENTS_EXCHANGE, routing_key=k) for k in EVENT_QUEUES[name]]
    )


def unrouted_queue() -> Queue:
    return Queue(
        UNROUTED_QUEUE,
        exchange=UNROUTED_EXCHANGE,
        routing_key="",
        durable=True,
        auto_delete=False,
        queue_arguments=dict(QUORUM),
    )


def delay_queue_name(delay_ms: int) -> str:
    return f"lianxin.delay.{int(delay_ms)}"


def delay_queue(delay_ms: int) -> Queue:
    # at-least-once dead-lettering: an expired message leaves only once lianxin.retry took it.
    return Queue(
        delay_queue_name(delay_ms),
        durable=True,
        auto_delete=False,
        queue_arguments={
            **QUORUM,
            "x-message-ttl": int(delay_ms),
            "x-dead-letter-exchange": RETRY_EXCHANGE.name,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )


def all_queues(delays_ms, stations=()) -> list[Queue]:
    return [
        unrouted_queue(),
        *(event_queue(name) for name in EVENT_QUEUES),
        *(partition_queue(k) for k in range(REPORTING_PARTITIONS)),
        *(delay_queue(ms) for ms in sorted(set(delays_ms))),
        *(station_queue(code) for code in stations),
    ]


def declare(connection: Connection, delays_ms, stations=()) -> None:
    """Declare every exchange and queue (idempotent); raises if the broker refuses."""
    from amqp.exceptions import InvalidCommand

    channel = connection.default_channel
    for exchange in EXCHANGES:
        try:
            exchange(channel).declare()
        except InvalidCommand as exc:  # "unknown exchange type": the plugin is not enabled
            if exchange is REPORTING_EXCHANGE:
                raise MissingPlugin(str(exc)) from exc
            raise
    channel.exchange_bind(REPORTING_EXCHANGE.name, EVENTS_EXCHANGE.name, routing_key="#")
    for queue in all_queues(delays_ms, stations):
        queue(channel).declare()
    _unbind_retired(connection)


class MissingPlugin(Exception):
    """The broker lacks the consistent-hash exchange: say how to enable it, do not retry."""

    def __str__(self):
        return (
            "RabbitMQ 缺少一致性哈希交换机插件，请执行 / RabbitMQ lacks the consistent-hash "
            "exchange plugin; run: rabbitmq-plugins enable rabbitmq_consistent_hash_exchange "
            f"({self.args[0] if self.args else ''})"
        )


def _unbind_retired(connection: Connection) -> None:
    """Unbind a retired queue (left by an older release) from the events: the events go to its
    successors from now on; what it holds is drained by its consumer (then it is deleted)."""
    from amqp.exceptions import NotFound

    for name, keys in RETIRED_QUEUES.items():
        channel = connection.channel()
        try:
            channel.queue_declare(name, passive=True)
        except NotFound:
            continue  # never existed, or retired already
        finally:
            try:
                channel.close()
            except Exception:  # closed by the broker's 404 already
                pass
        channel = connection.channel()
        try:
            for key in keys:
                channel.queue_unbind(name, EVENTS_EXCHANGE.name, routing_key=key)
        finally:
            channel.close()


def ensure_quorum_queue(amqp_uri: str, name: str) -> None:
    """Declare ``name`` as a durable quorum queue; a classic queue of that name left by an
    older release (nameko's own RPC queues were classic) is deleted and declared again. Only
    for queues whose messages may be lost on the switch: an RPC request in it times out at its
    caller, which is what a request to a stopped service does anyway."""
    from amqp.exceptions import PreconditionFailed

    with Connection(amqp_uri, connect_timeout=5) as conn:
        try:
            conn.channel().queue_declare(name, durable=True, auto_delete=False, arguments=QUORUM)
        except PreconditionFailed:
            log.warning("queue %s was not a quorum queue: declared again as one", name)
            conn.channel().queue_delete(name)
            conn.channel().queue_declare(name, durable=True, auto_delete=False, arguments=QUORUM)


def declare_with_retry(amqp_uri: str, delays_ms, stations=(), attempts: int | None = None) -> None:
    """Declare the topology, waiting for the broker with back-off (forever if attempts is None)."""
    n = 0
    while True:
        n += 1
        try:
            with Connection(amqp_uri, connect_timeout=5) as conn:
                declare(conn, delays_ms, stations)
            return
        except MissingPlugin:
            raise
        except Exception as exc:  # broker down or starting: keep trying, say so
            if attempts is not None and n >= attempts:
                raise
            wait = min(2**n, 30)
            log.warning("RabbitMQ topology not declared (%s); retrying in %ss", exc, wait)
            time.sleep(wait)


def definitions(delays_ms, vhost: str = "/") -> dict:  # long: it spells out one document
    """The static topology as a RabbitMQ definitions document (queues, exchanges, bindings).

    Station queues are not in it: they follow the registry and intake declares each one when it
    starts consuming it. ``python -m services.kernel.topology definitions`` prints this; the
    deployment loads it at boot (``deploy/rabbitmq/definitions.json``, checked by a test).
    """
    exchanges = EXCHANGES
    queues = all_queues(delays_ms)
    doc = {
        "vhosts": [{"name": vhost}],
        "exchanges": [
            {
                "name": e.name,
                "vhost": vhost,
                "type": e.type,
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": dict(e.arguments or {}),
            }
            for e in exchanges
        ],
        "queues": [
            {
                "name": q.name,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": dict(q.queue_arguments or {}),
            }
            for q in queues
        ],
        "bindings": [
            {
                "source": EVENTS_EXCHANGE.name,
                "vhost": vhost,
                "destination": REPORTING_EXCHANGE.name,
                "destination_type": "exchange",
                "routing_key": "#",
                "arguments": {},
            }
        ],
    }
    for q in queues:
        pairs = [
            (b.exchange.name, b.routing_key or "", dict(b.arguments or {})) for b in q.bindings
        ]
        if q.exchange is not None and q.exchange.name:
            pairs.append((q.exchange.name, q.routing_key or "", {}))
        for source, key, arguments in pairs:
            doc["bindings"].append(
                {
                    "source": source,
                    "vhost": vhost,
                    "destination": q.name,
                    "destination_type": "queue",
                    "routing_key": key,
                    "arguments": arguments,
                }
            )
    return doc


if __name__ == "__main__":
    import json
    import sys

    from services.kernel import config

    if sys.argv[1:] != ["definitions"]:
        sys.exit("usage: python -m services.kernel.topology definitions")
    delays = config.load()["retry"]["delays_ms"]
    print(json.dumps(definitions(delays), indent=2, ensure_ascii=False))
