"""The AMQP topology, declared in full by every service before it publishes or consumes.

Exchanges
  ``lianxin.intake``  topic; channels publish submissions with routing key ``station.<code>``.
                      Its alternate exchange keeps what no station queue takes.
  ``lianxin.intake.unrouted``  fanout → queue ``intake.unrouted``: messages for unknown stations.
  ``lianxin.events``  topic; every domain event, routing key = event type (``routing.issue_assigned``).
  ``lianxin.retry``   headers; a delay queue dead-letters a retried message here, and the header
                      ``lx-retry-queue`` routes it back to the queue it came from.
Queues (all durable quorum queues)
  ``station.<code>``  one per station, consumed by the intake process that serves the station.
  ``<service>.events`` one per consuming service, bound to the event types it needs (EVENT_QUEUES).
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
RETRY_EXCHANGE = Exchange("lianxin.retry", "headers", durable=True)

QUORUM = {"x-queue-type": "quorum"}
UNROUTED_QUEUE = "intake.unrouted"
# Not "x-" names: a headers exchange ignores x- headers when matching.
RETRY_HEADER = "lx-retry-queue"
ATTEMPTS_HEADER = "lx-attempts"
ERROR_HEADER = "lx-error"

# Who consumes which domain events: queue name → routing-key patterns on lianxin.events.
EVENT_QUEUES: dict[str, list[str]] = {
    "intake.events": ["registry.#", "routing.#"],  # routing.#: the catalogue, case progress
    "routing.events": ["registry.#", "intake.#"],
    "reporting.events": ["#"],
}


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
        *(delay_queue(ms) for ms in sorted(set(delays_ms))),
        *(station_queue(code) for code in stations),
    ]


def declare(connection: Connection, delays_ms, stations=()) -> None:
    """Declare every exchange and queue (idempotent); raises if the broker refuses."""
    channel = connection.default_channel
    for exchange in (UNROUTED_EXCHANGE, INTAKE_EXCHANGE, EVENTS_EXCHANGE, RETRY_EXCHANGE):
        exchange(channel).declare()
    for queue in all_queues(delays_ms, stations):
        queue(channel).declare()


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
    exchanges = [UNROUTED_EXCHANGE, INTAKE_EXCHANGE, EVENTS_EXCHANGE, RETRY_EXCHANGE]
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
        "bindings": [],
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
