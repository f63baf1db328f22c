"""Prometheus metrics of one service process, served at ``GET /metrics``.

Counted as messages flow (by the inbox): messages handled by outcome, handler failures,
parked messages, handler latency. Read at scrape time: outbox backlog, parked and not replayed,
and the depth of every queue the process consumes (for intake: one per station).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry()

HANDLED = Counter(
    "lianxin_messages_handled_total",
    "Messages handled, by outcome",
    ["service", "queue", "outcome"],
    registry=REGISTRY,
)
FAILED = Counter(
    "lianxin_messages_failed_total",
    "Handler attempts that raised",
    ["service", "queue"],
    registry=REGISTRY,
)
PARKED = Counter(
    "lianxin_messages_parked_total",
    "Messages parked after their last retry",
    ["service", "queue"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "lianxin_handler_seconds",
    "Time to handle one message, in its transaction",
    ["service", "queue"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_BACKLOG = Gauge(
    "lianxin_outbox_backlog",
    "Events committed but not yet confirmed",
    ["service"],
    registry=REGISTRY,
)
PARKED_WAITING = Gauge(
    "lianxin_parked_waiting", "Parked messages not replayed yet", ["service"], registry=REGISTRY
)
QUEUE_DEPTH = Gauge(
    "lianxin_queue_depth",
    "Ready messages in a queue this process consumes",
    ["service", "queue"],
    registry=REGISTRY,
)


def render() -> bytes:
    return generate_latest(REGISTRY)
