"""Consuming in batches keeps every promise of consuming one by one: a batch commits once for
all its messages, a failing message rolls back only itself (it is retried and parked alone),
every message is acked exactly once, and nothing is lost or done twice."""

import time

import pytest
import requests
from kombu import Connection
from nameko.containers import ServiceContainer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel import topology
from services.kernel.models import OutboxMessage, ProcessedMessage
from tests.conftest import auth_headers, container_config, free_port, wait_for
from tests.kernel import probe
from tests.kernel.test_kernel_reliability import bind_probe_events, drain, publish

OFFICE = auth_headers()


def start(amqp_uri, db_url, **consume):
    """A batch probe started after its queue filled up, so its batches are big ones."""
    port = free_port()
    config = container_config("probe", amqp_uri, db_url, port, delays_ms=(500, 800))
    config["consume"] = {"prefetch": 200, "batch_size": 50, **consume}
    container = ServiceContainer(probe.BatchProbeService, config)
    container.start()
    return container, f"http://127.0.0.1:{port}"


def declare_probe_queue(amqp_uri):
    with Connection(amqp_uri) as conn:
        topology.declare(conn, [500, 800])
        topology.reliable_queue(probe.PROBE_QUEUE)(conn.default_channel).declare()


def notes(engine) -> list[str]:
    with Session(engine) as session:
        return probe.notes(session)


def put(producer, text: str, message_id: str) -> None:
    """One persistent message straight onto the probe queue."""
    producer.publish(
        {"text": text},
        exchange="",
        routing_key=probe.PROBE_QUEUE,
        message_id=message_id,
        serializer="json",
        delivery_mode=2,
    )


def unsent(engine) -> int:
    with Session(engine) as session:
        return session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )


def queue_depth(amqp_uri) -> tuple[int, int]:
    """(ready, unacked) of the probe queue, from the management API's live figures."""
    vhost = amqp_uri.rsplit("/", 1)[1]
    q = requests.get(
        f"http://127.0.0.1:15672/api/queues/{vhost}/{probe.PROBE_QUEUE}",
        auth=("guest", "guest"),
        timeout=10,
    ).json()
    return q.get("messages_ready", 0), q.get("messages_unacknowledged", 0)


@pytest.fixture
def fresh(vhost):
    probe.FAULTY.clear()
    probe.CALLS.clear()
    probe.ATTEMPTS.clear()
    probe.BATCHES.clear()
    return vhost[1]


def test_a_faulty_message_in_a_batch_fails_alone_the_others_commit_once(fresh, engine, db_url):
    amqp_uri = fresh
    declare_probe_queue(amqp_uri)
    events = bind_probe_events(amqp_uri)
    probe.FAULTY.add("poison")
    texts = [f"note-{i:03d}" for i in range(120)]
    texts.insert(60, "poison")
    for i, text in enumerate(texts):
        publish(amqp_uri, text, f"m-{i}")
    container, base = start(amqp_uri, db_url)
    try:
        parked = wait_for(
            lambda: requests.get(f"{base}/admin/parked", headers=OFFICE, timeout=5).json()[
                "parked"
            ],
            timeout=20,
        )
        assert [p["message_id"] for p in parked] == ["m-60"]
        assert parked[0]["attempts"] == 3 and "boom on poison" in parked[0]["error"]
        assert max(probe.BATCHES) > 1  # it really took batches
        with Session(engine) as session:
            assert probe.note_count(session) == 120
            assert "poison" not in probe.notes(session)
            handled = session.scalar(select(func.count()).select_from(ProcessedMessage))
            assert handled == 120  # the poison is not recorded as handled: it can be replayed
        got = drain(amqp_uri, events, 121, timeout=5)
        assert sorted(e["payload"]["text"] for e in got) == sorted(texts[:60] + texts[61:])
        # the others were rolled back with the failing batch and done again, once each
        assert all(probe.CALLS[t] <= 2 for t in texts if t != "poison")
        # one try and two retries, then parked: the first try in the batch that failed, then
        # alone; a retry runs alone, or (when it comes back while others flow) in a batch that
        # fails, then alone, so never more than twice per attempt
        tries = probe.ATTEMPTS["poison"]
        assert tries[:2] == [0, 0] and sorted(set(tries)) == [0, 1, 2]
        assert all(tries.count(attempt) <= 2 for attempt in (0, 1, 2)), tries
        wait_for(lambda: queue_depth(amqp_uri) == (0, 0), timeout=15)

        probe.FAULTY.clear()  # fixed: the replay completes it, alone
        parked_id = parked[0]["id"]
        r = requests.post(f"{base}/admin/parked/{parked_id}/replay", headers=OFFICE, timeout=5)
        assert r.status_code == 200
        wait_for(lambda: "poison" in notes(engine))
        assert len(notes(engine)) == 121
    finally:
        container.stop()


def test_every_message_of_many_batches_is_acked_once_and_handled_once(fresh, engine, db_url):
    amqp_uri = fresh
    declare_probe_queue(amqp_uri)
    container, _ = start(amqp_uri, db_url)
    try:
        # Two publishers at once (a burst): batches form while earlier ones are handled.
        with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
            producer = conn.Producer()
            for i in range(400):
                put(producer, f"burst-{i:03d}", f"b-{i}")
        wait_for(lambda: len(notes(engine)) == 400, timeout=30)
        wait_for(lambda: queue_depth(amqp_uri) == (0, 0), timeout=15)
        time.sleep(0.5)
        assert len(notes(engine)) == 400
        assert set(probe.CALLS.values()) == {1}  # no redelivery: each acked exactly once
        assert sum(probe.BATCHES) == 400
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 400
            wait_for(
                lambda: (
                    Session(engine).scalar(
                        select(func.count())
                        .select_from(OutboxMessage)
                        .where(OutboxMessage.sent_at.is_(None))
                    )
                    == 0
                )
            )
    finally:
        container.stop()


def test_a_queue_no_one_waits_on_takes_a_trickle_in_few_batches(fresh, engine, db_url):
    """``consume.linger_ms``: a message arriving alone waits that long for company, so a steady
    trickle is handled in a few transactions, not one per message; nothing is lost or late by
    more than the linger."""
    amqp_uri = fresh
    declare_probe_queue(amqp_uri)
    container, _ = start(amqp_uri, db_url, linger_ms={probe.PROBE_QUEUE: 400})
    try:
        with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
            producer = conn.Producer()
            for i in range(30):  # one every 20 ms: 0.6 s in all
                put(producer, f"drip-{i:02d}", f"d-{i}")
                time.sleep(0.02)
            wait_for(lambda: len(notes(engine)) == 30, timeout=10)
            assert sum(probe.BATCHES) == 30
            assert len(probe.BATCHES) <= 5  # about 0.6 s / 0.4 s; one per message without it

            probe.BATCHES.clear()
            sent = time.monotonic()
            put(producer, "alone", "d-alone")
        wait_for(lambda: "alone" in notes(engine), timeout=5, interval=0.02)
        waited = time.monotonic() - sent
        assert 0.35 <= waited < 2  # it waited for company, then went on its own
        assert probe.BATCHES == [1]
        wait_for(lambda: queue_depth(amqp_uri) == (0, 0), timeout=15)  # every ack went out
        assert set(probe.CALLS.values()) == {1}
    finally:
        container.stop()
