"""Reporting as N replicas: which partitions each one prefers, and handing them over.

The broker does the partitioning (services.kernel.topology): every event reaches exactly one of
the ``REPORTING_PARTITIONS`` queues ``reporting.events.p<k>``, chosen by RabbitMQ's
consistent-hash exchange from the event's ``lx-key`` header (its case, record or activity), and
each queue is *single active consumer*. Every replica subscribes to every partition; RabbitMQ
delivers a partition's messages to one of them at a time and, when that one's connection dies,
to the next at once. Nothing here decides who may consume: this module only decides which
partitions a replica *gives back*, so that the load spreads.

The rule, all of it on the broker:

- **Presence.** A replica claims the lowest free slot ``reporting.replica.<i>``: an exclusive
  queue, which RabbitMQ deletes when the replica's connection closes (a kill -9 closes it at
  once). The live replicas are the slots whose queue answers "locked by another connection".
- **Preference.** With live slots ``s0 < s1 < …`` (those below ``REPORTING_PARTITIONS``),
  partition ``k`` is preferred by ``s[k mod len(s)]``. A replica subscribes to its preferred
  partitions first, then to the others (standby).
- **Handing back.** Every ``TICK_S`` seconds a replica that received messages from a partition
  it does not prefer, while the preferred replica is live, cancels its consumer of that
  partition and subscribes again: RabbitMQ makes the next consumer waiting active, and this one
  waits at the back. Adding a replica therefore moves its share to it within a tick or two;
  a replica dying moves its share to the others at once (RabbitMQ) and the rule then spreads it.

A handover is not a barrier: the old consumer finishes the messages it already had while the new
one starts on the next (so each replica holds at most ``PREFETCH`` of a partition, and, while
several are live, a partition that starts delivering after a quiet moment is held back
``GRACE_S`` for the old holder to finish). That is safe because the live writes take row locks (session_facts.py)
and the inbox records each event once; the worst case is an event handled before an earlier one
of its case, which the projections already expect (``FactMissing`` retries).

The single queue of older releases, ``reporting.events``, is retired here: unbound by the
topology, its messages are moved into the partitions (with their ``lx-key``) and it is deleted
once it has stayed empty for longer than the longest retry delay (a retry of one of its
messages comes back to it) and no parked message of it waits (a replay sends it there: moved on
like the others).

On SQLite (the one-machine default) reporting runs as one process: a second replica finds slot
0 taken and refuses to start.
"""

from __future__ import annotations

import logging
import time

import amqp
import eventlet
from kombu import Connection
from nameko.extensions import DependencyProvider
from sqlalchemy import func, select

from services.kernel import topology
from services.kernel.db import SharedEngine
from services.kernel.messaging import ReliableConsumer
from services.kernel.models import ParkedMessage
from services.kernel.outbox import envelope_partition_key
from services.kernel.settings import kernel_settings

log = logging.getLogger(__name__)

TICK_S = 2.0
# Per partition: what one replica may hold unacked of it. A handover lets the next replica start
# while this one finishes what it holds, so this bounds how many events the two may hold of one
# partition at once (the default prefetch, 200, is per queue too: here eight queues).
PREFETCH = 50
# While more than one replica is live, a partition that starts delivering after a quiet moment
# (one just handed over to this replica) is held back this long: the previous holder's events
# of the same case, already in its hands, go first (services.kernel.messaging).
GRACE_S = 2.0
SLOT_PREFIX = "reporting.replica."


def preferred(live: list[int], k: int) -> int | None:
    """The live slot that prefers partition ``k`` (None when no replica is live)."""
    owners = sorted(s for s in live if s < topology.REPORTING_PARTITIONS)
    return owners[k % len(owners)] if owners else None


def preferred_partitions(live: list[int], slot: int) -> list[int]:
    return [k for k in range(topology.REPORTING_PARTITIONS) if preferred(live, k) == slot]


class SecondReplicaOnSqlite(Exception):
    def __str__(self):
        return (
            "reporting 使用 SQLite，只能运行一个进程（已有一个在运行）/ reporting runs on "
            "SQLite: one process only, and one is running already (use PostgreSQL for replicas: "
            "docs/architecture.md, 'Reporting partitions')"
        )


class Partitions(DependencyProvider):
    """This replica's slot, the partitions it prefers, and the handing back (see the module)."""

    db = SharedEngine()

    def setup(self):
        if getattr(self, "uri", None) is not None:
            return  # set up already: the consumer asked for its queues first
        config = self.container.config
        self.uri = config["AMQP_URI"]
        self.sqlite = str(config.get("DB_URL", "")).startswith("sqlite")
        self.retire_after_s = max(kernel_settings(config).retry_delays_ms) / 1000 + 10
        self.slot: int | None = None
        self.live: list[int] = []
        self.released = 0  # partitions handed back so far
        self._conn: Connection | None = None
        self._seen: dict[str, int] = {}
        self._empty_since: float | None = None
        self._running = False
        self._gt = None

    def get_dependency(self, worker_ctx):
        return self

    # -- presence -------------------------------------------------------------------------

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = Connection(self.uri, connect_timeout=5)
            conn.connect()
            try:
                self.slot = self._claim(conn)
                self.live = self._live(conn)
            except Exception:
                conn.release()
                raise
            self._conn = conn
        return self._conn

    def _claim(self, conn) -> int:
        slot = 0
        while True:
            try:
                conn.channel().queue_declare(
                    SLOT_PREFIX + str(slot), exclusive=True, auto_delete=True
                )
                break
            except amqp.exceptions.ResourceLocked:
                if self.sqlite:
                    raise SecondReplicaOnSqlite() from None
                slot += 1
        log.info("reporting replica slot %d", slot)
        return slot

    def _live(self, conn) -> list[int]:
        live = []
        for slot in range(topology.REPORTING_PARTITIONS):
            if slot == self.slot:
                live.append(slot)
                continue
            channel = conn.channel()
            try:
                channel.queue_declare(SLOT_PREFIX + str(slot), passive=True)
                live.append(slot)  # a plain queue of that name: count it, it does no harm
            except amqp.exceptions.ResourceLocked:
                live.append(slot)  # another replica's connection holds it
            except amqp.exceptions.NotFound:
                pass
            if channel.is_open:
                channel.close()
        return live

    def ordered_queues(self) -> list:
        """Every partition queue, the preferred ones first (the consumer subscribes in order)."""
        self.setup()
        self._connection()
        mine = preferred_partitions(self.live, self.slot)
        rest = [k for k in range(topology.REPORTING_PARTITIONS) if k not in mine]
        return [topology.partition_queue(k) for k in mine + rest]

    def describe(self) -> dict:
        """For /health: this replica's slot, the live ones, what it prefers and handed back."""
        return {
            "slot": self.slot,
            "live": self.live,
            "preferred": [
                topology.partition_queue_name(k) for k in preferred_partitions(self.live, self.slot)
            ]
            if self.slot is not None
            else [],
            "released": self.released,
            "delivered": sum(n for ep in self._consumers() for n in ep.delivered.values()),
        }

    # -- the tick -------------------------------------------------------------------------

    def start(self):
        self._running = True
        self._gt = self.container.spawn_managed_thread(self._run, identifier="partitions")

    def stop(self):
        self._running = False
        if self._gt is not None:
            self._gt.kill()
        self._close()

    def kill(self):
        self.stop()

    def _close(self):
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.release()
            except Exception:  # already broken
                log.debug("closing the partitions connection failed", exc_info=True)

    def _run(self):
        while self._running:
            eventlet.sleep(TICK_S)
            try:
                self.tick()
            except SecondReplicaOnSqlite:
                raise
            except Exception as exc:  # broker away: try again next tick, with a new connection
                log.warning("reporting partitions: tick failed (%s)", exc)
                self._close()

    def tick(self) -> None:
        conn = self._connection()
        self.live = self._live(conn)
        mine = set(preferred_partitions(self.live, self.slot))
        several = len([s for s in self.live if s < topology.REPORTING_PARTITIONS]) > 1
        for ep in self._consumers():
            ep.activation_grace = GRACE_S if several else 0.0
            for k in range(topology.REPORTING_PARTITIONS):
                name = topology.partition_queue_name(k)
                count = ep.delivered.get(name, 0)
                active = count > self._seen.get(name, 0)
                self._seen[name] = count
                if active and k not in mine and preferred(self.live, k) is not None:
                    log.info(
                        "handing %s to replica %s (live %s)",
                        name,
                        preferred(self.live, k),
                        self.live,
                    )
                    ep.resubscribe(name)
                    self.released += 1
        self.retire_single_queue(conn)

    def _consumers(self) -> list[ReliableConsumer]:
        partition = topology.partition_queue_name(0)
        return [
            ep
            for ep in self.container.entrypoints
            if isinstance(ep, ReliableConsumer) and ep.consumes(partition)
        ]

    # -- the retired single queue -----------------------------------------------------------

    def retire_single_queue(self, conn) -> int:
        """Move what the old ``reporting.events`` holds into the partitions; delete it once it
        stayed empty for ``retire_after_s``. Returns how many messages moved."""
        name = topology.REPORTING_QUEUE
        channel = conn.channel()
        try:
            state = channel.queue_declare(name, passive=True)
        except amqp.exceptions.NotFound:
            return 0
        moved, returned = 0, []
        channel.events["basic_return"].add(lambda *args: returned.append(args))
        while True:
            message = channel.basic_get(name, no_ack=False)
            if message is None:
                break
            headers = dict(message.properties.get("application_headers") or {})
            key = message.delivery_info.get("routing_key", "")
            headers[topology.PARTITION_HEADER] = envelope_partition_key(message.body, key)
            props = {k: v for k, v in message.properties.items() if k != "application_headers"}
            channel.basic_publish_confirm(
                amqp.Message(message.body, application_headers=headers, **props),
                exchange=topology.REPORTING_EXCHANGE.name,
                routing_key=key,
                mandatory=True,
            )
            if returned:  # no partition took it (the broker returns it, then confirms)
                raise RuntimeError(f"{name}: an event moved to the partitions was returned")
            channel.basic_ack(message.delivery_tag)
            moved += 1
        if moved:
            log.info("moved %d events from %s into the partitions", moved, name)
        state = channel.queue_declare(name, passive=True)
        if moved or state.message_count or state.consumer_count:
            self._empty_since = None
        elif self._empty_since is None:
            self._empty_since = time.monotonic()
        elif time.monotonic() - self._empty_since > self.retire_after_s and not self._parked(name):
            channel.queue_delete(name)
            log.info("%s was empty for %.0f s: deleted", name, self.retire_after_s)
        channel.close()
        return moved

    def _parked(self, queue: str) -> int:
        """Parked messages of ``queue`` still waiting: a replay sends them back to it (by name),
        so the old queue stays (unbound, moved on each tick) until none is left."""
        with self.db.engine.connect() as conn:
            return conn.scalar(
                select(func.count())
                .select_from(ParkedMessage)
                .where(
                    ParkedMessage.queue == queue,
                    ParkedMessage.replayed_at.is_(None),
                    ParkedMessage.discarded_at.is_(None),
                )
            )


def queues(container) -> list:
    """The queue spec of reporting's consumer: every partition, the preferred ones first."""
    [partitions] = [d for d in container.dependencies if isinstance(d, Partitions)]
    return partitions.ordered_queues()
