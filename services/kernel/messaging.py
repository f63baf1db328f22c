"""The one way a service consumes: ``@consume_reliably(queues)``, never dropping a message.

nameko's own ``@consume``/``@event_handler`` ack and drop a message whose handler raised, or
with ``requeue_on_error`` redeliver it in a tight loop. Here the worker gets the raw
:class:`Delivery` (bytes, so a body that is not JSON still reaches the handler, which stores it
as rejected) and hands it to :class:`~services.kernel.inbox.Inbox`, which retries with back-off
and parks. The message is acked only after the worker returned; if even retrying or parking
failed (database or broker down), it is requeued after a pause, never in a tight loop.
The set of queues can grow at run time (:meth:`ReliableConsumer.add_queue`): intake starts
consuming a new station's queue as soon as the registry announces the station.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from functools import partial

import eventlet
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import Entrypoint, SharedExtension
from nameko.messaging import QueueConsumer

from services.kernel import topology
from services.kernel.settings import kernel_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """A message as it came off a queue."""

    queue: str
    body: bytes
    routing_key: str = ""
    exchange: str = ""
    message_id: str | None = None
    content_type: str | None = None
    headers: dict = field(default_factory=dict)
    redelivered: bool = False

    @property
    def attempts(self) -> int:
        """How many times a handler already failed on this message."""
        try:
            return int(self.headers.get(topology.ATTEMPTS_HEADER, 0))
        except (TypeError, ValueError):
            return 0

    @property
    def key(self) -> str:
        """The id that makes handling idempotent: the message id, else a hash of the body."""
        return self.message_id or "sha256:" + hashlib.sha256(self.body).hexdigest()

    def json(self):
        """The body as JSON; raises ``ValueError`` (with the reason) if it is not."""
        return json.loads(self.body.decode("utf-8"))

    @classmethod
    def from_kombu(cls, queue: str, message) -> Delivery:
        props = message.properties or {}
        info = message.delivery_info or {}
        body = message.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        return cls(
            queue=queue,
            body=body or b"",
            routing_key=info.get("routing_key", ""),
            exchange=info.get("exchange", ""),
            message_id=props.get("message_id"),
            content_type=message.content_type,
            headers=dict(message.headers or {}),
            redelivered=bool(info.get("redelivered")),
        )


class TopologyDeclarer(SharedExtension):
    """Declares the whole topology once per container, before anything consumes or publishes."""

    def setup(self):
        if not getattr(self, "declared", False):
            config = self.container.config
            topology.declare_with_retry(config["AMQP_URI"], retry_delays_ms(config))
            self.declared = True


def retry_delays_ms(config: dict) -> list[int]:
    return list(kernel_settings(config).retry_delays_ms)


class ReliableQueueConsumer(QueueConsumer):
    """nameko's queue consumer, with one kombu consumer per queue and queues added at run time."""

    topology = TopologyDeclarer()

    def __init__(self):
        super().__init__()
        self._pending_queues = []
        self._pending_resubscribe = []
        self._channel = None
        self._unacked: dict = {}  # channel → delivery tags handed to workers, not yet settled

    def add_queue(self, provider, queue) -> None:
        # kombu consumers may only be touched from the consumer thread: hand it over.
        self._pending_queues.append((provider, queue))

    def _make_consumer(self, consumer_cls, provider, queue):
        consumer = consumer_cls(
            queues=[queue], on_message=partial(self.handle_message, provider, queue.name)
        )
        consumer.qos(prefetch_count=provider.prefetch_count or self.prefetch_count)
        return consumer

    def get_consumers(self, consumer_cls, channel):
        self._consumer_cls = consumer_cls
        for provider in self._providers:
            self._consumers[provider] = [
                self._make_consumer(consumer_cls, provider, queue) for queue in provider.queues()
            ]
        return [c for consumers in self._consumers.values() for c in consumers]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self._channel = channel
        self._unacked = {}  # a new connection: what the old one delivered went back to the queue
        for provider, provider_consumers in self._consumers.items():
            provider.consuming = {q.name for c in provider_consumers for q in c.queues}
        super().on_consume_ready(connection, channel, consumers, **kwargs)

    def _add_pending_queues(self):
        pending, self._pending_queues = self._pending_queues, []
        for provider, queue in pending:
            if self._channel is None or provider not in self._consumers:
                continue  # not connected yet: get_consumers will pick it up from provider
            consumer = self._make_consumer(self._consumer_cls, provider, queue)
            consumer.consume()
            self._consumers[provider].append(consumer)
            provider.consuming.add(queue.name)
            log.info("now consuming %s", queue.name)

    def resubscribe(self, provider, queue_name: str) -> None:
        """Cancel this process's consumer of ``queue_name`` and subscribe again at once: on a
        single-active-consumer queue the broker hands the queue to the next consumer waiting
        and this one waits at the back (services.reporting.partitions)."""
        self._pending_resubscribe.append((provider, queue_name))

    def _resubscribe_pending(self):
        pending, self._pending_resubscribe = self._pending_resubscribe, []
        for provider, name in pending:
            consumers = self._consumers.get(provider)
            if self._channel is None or consumers is None:
                continue
            for consumer in [c for c in consumers if any(q.name == name for q in c.queues)]:
                consumer.cancel()  # what it delivered before stays ours to ack
                consumers.remove(consumer)
                queue = next(q for q in consumer.queues if q.name == name)
                fresh = self._make_consumer(self._consumer_cls, provider, queue)
                fresh.consume()
                consumers.append(fresh)
                log.info("released %s: subscribed again, behind the other consumers", name)

    def _cancel_consumers_if_requested(self):
        removals, self._pending_remove_providers = self._pending_remove_providers.items(), {}
        for provider, removed_event in removals:
            for consumer in self._consumers.pop(provider, []):
                consumer.cancel()
            removed_event.send()

    def on_iteration(self):
        self._add_pending_queues()
        self._resubscribe_pending()
        super().on_iteration()
        if self.should_stop:
            self.flush_acks()  # while the connection is still open

    def handle_message(self, provider, queue_name, message):
        self._unacked.setdefault(message.channel, set()).add(message.delivery_tag)
        self.container.spawn_managed_thread(
            partial(provider.handle_message, queue_name, message),
            identifier=f"{type(provider).__name__}.handle_message[{queue_name}]",
        )

    def _forget(self, message) -> None:
        self._unacked.get(message.channel, set()).discard(message.delivery_tag)

    def ack_message(self, message):
        self._forget(message)
        super().ack_message(message)

    def requeue_message(self, message):
        self._forget(message)
        super().requeue_message(message)

    def setup(self):
        super().setup()
        self.ack_delay = kernel_settings(self.container.config).ack_delay_ms / 1000
        self._settled: dict = {}  # channel → delivery tags handled, their ack not sent yet
        self._ack_flush = None

    def ack_messages(self, messages) -> None:
        """Ack handled messages within ``consume.ack_delay_ms``, with as few frames as the
        channel allows.

        Each ack is a write on the broker's socket, which on one machine costs about as much
        as a small handler: so acks are gathered for a moment (or until 100 wait) and sent as
        one ``multiple`` ack covering every tag up to the highest settled one below any message
        still being handled on the channel (another entrypoint's, or one waiting for the next
        batch); the rest one by one. A message handled but not yet acked when the process dies
        is delivered again, and found handled (the inbox's record).
        """
        for message in messages:
            self._settled.setdefault(message.channel, set()).add(message.delivery_tag)
        if sum(len(tags) for tags in self._settled.values()) >= 100 or not self.ack_delay:
            self.flush_acks()
        elif self._ack_flush is None:
            self._ack_flush = eventlet.spawn_after(self.ack_delay, self.flush_acks)

    def flush_acks(self) -> None:
        if self._ack_flush is not None:
            self._ack_flush.cancel()
            self._ack_flush = None
        settled, self._settled = self._settled, {}
        for channel, mine in settled.items():
            outstanding = self._unacked.get(channel, set())
            outstanding -= mine
            if not channel.connection:
                continue  # the broker took them back with the connection
            others = min(outstanding, default=None)
            below = [t for t in mine if others is None or t < others]
            try:
                if below:
                    channel.basic_ack(max(below), multiple=True)
                for tag in sorted(mine):
                    if others is not None and tag > others:
                        channel.basic_ack(tag)
            except ConnectionError:  # pragma: no cover - closing inside the check
                pass

    def stop(self):
        self.flush_acks()
        super().stop()

    def kill(self):
        if self._ack_flush is not None:
            self._ack_flush.cancel()
        super().kill()


class ReliableConsumer(Entrypoint):
    """Entrypoint: call the decorated method with a :class:`Delivery` from any of ``queues``.

    ``queues`` is a list of kombu queues, or a callable ``(container) -> list`` evaluated at
    setup (intake uses it to pick its stations from config and its local station copy).

    With ``batch=True`` the method gets a list of deliveries instead: every message that arrived
    while the previous batch was being handled, up to ``consume.batch_size``, so a quiet queue
    is handled one message at a time (no added wait) and a busy one in batches (one transaction,
    one commit for many: ``Inbox.process_batch``). One batch of an entrypoint is handled at a
    time; its messages are acked when the method returned, or all requeued if it raised.

    A queue named in ``consume.linger_ms`` is not on anyone's critical path (reporting's figures,
    intake's copy of case progress): its consumer lets a batch fill for up to that long after
    its first message. Under a steady trickle that turns one transaction per message into one
    per batch, and leaves the CPU to the queues people wait on.
    """

    queue_consumer = ReliableQueueConsumer()

    def __init__(self, queues, prefetch_count: int | None = None, batch: bool = False, **kwargs):
        self.queue_spec = queues
        self.prefetch_count = prefetch_count
        self.batch = batch
        self._timer = None  # a lingering batch's wake-up (batch=True)
        super().__init__(**kwargs)

    def setup(self):
        spec = self.queue_spec
        self._queues = list(spec(self.container) if callable(spec) else spec)
        self.consuming: set[str] = set()  # queues declared, bound and consumed right now
        self.delivered: dict[str, int] = {}  # queue name → messages it delivered here
        settings = kernel_settings(self.container.config)
        self.requeue_delay = settings.requeue_delay_s
        if self.batch:
            self.batch_size = settings.batch_size
            if self.prefetch_count is None:
                self.prefetch_count = settings.prefetch
            lingers = settings.linger_ms
            self.linger = (
                max(
                    (
                        lingers.get(q.name, lingers.get(topology.queue_family(q.name), 0.0))
                        for q in self._queues
                    ),
                    default=0,
                )
                / 1000
            )
            self._waiting: list = []  # (delivery, message) not yet handed to a worker
            self._held: dict[str, list] = {}  # queue → deliveries held back (activation_grace)
            self._last_delivery: dict[str, float] = {}  # queue → when it last delivered
            self._busy = False
            self._due = None  # when the oldest waiting message must be handed over (linger)
        self.queue_consumer.register_provider(self)

    def stop(self):
        if self._timer is not None:
            self._timer.cancel()
        self.queue_consumer.unregister_provider(self)

    def queues(self):
        """Every queue this entrypoint consumes or is about to (see ``consuming``)."""
        return list(self._queues)

    def consumes(self, queue_name: str) -> bool:
        return any(q.name == queue_name for q in self._queues)

    def add_queue(self, queue) -> bool:
        """Start consuming one more queue (declared on the way); False if already consumed."""
        if self.consumes(queue.name):
            return False
        self._queues.append(queue)
        self.queue_consumer.add_queue(self, queue)
        return True

    def resubscribe(self, queue_name: str) -> None:
        """Give a single-active-consumer queue to the next consumer (see the queue consumer)."""
        self.queue_consumer.resubscribe(self, queue_name)

    # A single-active-consumer queue handed over (services.reporting.partitions): the consumer
    # that gave it up still finishes what it held while this one starts on what follows. Set
    # by the owner of such queues, ``activation_grace`` seconds holds back what a queue delivers
    # after ``quiet_s`` of silence (a queue this process may just have been given), so the
    # previous holder's events of the same case come first. 0: no holding.
    activation_grace: float = 0.0
    quiet_s: float = 2.0

    def handle_message(self, queue_name, message):
        self.delivered[queue_name] = self.delivered.get(queue_name, 0) + 1
        delivery = Delivery.from_kombu(queue_name, message)
        if self.batch and self._held_back(queue_name, delivery, message):
            return
        self._take(delivery, message)

    def _held_back(self, queue_name: str, delivery, message) -> bool:
        now = time.monotonic()
        last = self._last_delivery.get(queue_name)
        self._last_delivery[queue_name] = now
        held = self._held.get(queue_name)
        if held is not None:
            held.append((delivery, message))
            return True
        if self.activation_grace and (last is None or now - last > self.quiet_s):
            self._held[queue_name] = [(delivery, message)]
            eventlet.spawn_after(self.activation_grace, self._release_held, queue_name)
            return True
        return False

    def _release_held(self, queue_name: str) -> None:
        for delivery, message in self._held.pop(queue_name, []):
            self._take(delivery, message)

    def _take(self, delivery, message):
        if self.batch:
            if not self._waiting:
                self._due = time.monotonic() + self.linger
            self._waiting.append((delivery, message))
            if not self._busy:
                self._next_batch()
            return
        try:
            self.container.spawn_worker(
                self, (delivery,), {}, handle_result=partial(self.handle_result, [message])
            )
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def _next_batch(self):
        if not self._waiting:
            self._busy = False
            return
        wait = self._due - time.monotonic() if self._due is not None else 0
        if wait > 0 and len(self._waiting) < self.batch_size:
            # Lingering (``consume.linger_ms``): let the batch fill a while longer.
            self._busy = False
            if self._timer is None:
                self._timer = eventlet.spawn_after(wait, self._linger_over)
            return
        self._busy = True
        taken, self._waiting = (
            self._waiting[: self.batch_size],
            self._waiting[self.batch_size :],
        )
        self._due = None  # what is left over waited long enough: it goes next, at once
        messages = [m for _, m in taken]
        try:
            self.container.spawn_worker(
                self,
                ([d for d, _ in taken],),
                {},
                handle_result=partial(self.handle_result, messages),
            )
        except ContainerBeingKilled:
            self._busy = False
            for message in messages:
                self.queue_consumer.requeue_message(message)

    def _linger_over(self):
        self._timer = None
        if not self._busy:
            self._next_batch()

    def handle_result(self, messages, worker_ctx, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_messages(messages)
        else:
            # Retrying or parking failed too: the messages stay ours, back on the queue later.
            log.error(
                "could not retry or park %d message(s) from %s; requeue in %ss",
                len(messages),
                messages[0].delivery_info.get("routing_key"),
                self.requeue_delay,
                exc_info=exc_info,
            )
            eventlet.sleep(self.requeue_delay)
            for message in messages:
                self.queue_consumer.requeue_message(message)
        if self.batch:
            # From a thread of its own: this worker still holds its slot in the worker pool.
            self.container.spawn_managed_thread(
                self._next_batch, identifier=f"{self.method_name}.next_batch"
            )
        return result, exc_info


consume_reliably = ReliableConsumer.decorator
