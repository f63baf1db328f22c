"""A small service made only of kernel pieces, with a fault the test can switch on and off."""

from collections import Counter

from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kernel import outbox, topology
from services.kernel.messaging import consume_reliably
from services.kernel.service import ServiceBase

PROBE_QUEUE = "probe.in"
FAULTY: set[str] = set()  # texts whose handling raises, until the test removes them
CALLS: Counter = Counter()  # how often the handler ran, per text
ATTEMPTS: dict[str, list[int]] = {}  # per text, the delivery's attempt number at each run


class ProbeBase(DeclarativeBase):
    pass


class Note(ProbeBase):
    __tablename__ = "probe_notes"

    text: Mapped[str] = mapped_column(String(100), primary_key=True)


def handle(session, delivery):
    text = delivery.json()["text"]
    CALLS[text] += 1
    ATTEMPTS.setdefault(text, []).append(delivery.attempts)
    if text in FAULTY:
        raise RuntimeError(f"boom on {text}")
    session.add(Note(text=text))
    outbox.record(session, "probe.noted", {"text": text}, "probe")


def notes(session) -> list[str]:
    return list(session.scalars(select(Note.text).order_by(Note.text)))


def note_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Note))


class ProbeService(ServiceBase):
    name = "probe"

    @consume_reliably(queues=[topology.reliable_queue(PROBE_QUEUE)])
    def on_message(self, delivery):
        return self.inbox.process(delivery, handle)


class BatchProbeService(ServiceBase):
    """The same, consuming in batches as intake, routing and reporting do."""

    name = "probe"

    @consume_reliably(queues=[topology.reliable_queue(PROBE_QUEUE)], batch=True)
    def on_message(self, deliveries):
        BATCHES.append(len(deliveries))
        return self.inbox.process_batch(deliveries, handle)


BATCHES: list[int] = []  # the size of every batch the batch probe was given
