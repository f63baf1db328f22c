"""The kernel's promises, on SQLite and on PostgreSQL, against the real broker.

Outbox: events commit with the change or not at all, and reach the broker with confirms.
Inbox: a message handled twice changes things once; a failing handler is retried a bounded
number of times with back-off, parked with its error, and completed by a replay; the messages
behind it keep flowing.
"""

import json
import time
from datetime import timedelta

import pytest
import requests
from kombu import Connection, Queue, binding
from nameko.containers import ServiceContainer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.kernel import outbox, topology
from services.kernel.inbox import Inbox
from services.kernel.models import OutboxMessage, ProcessedMessage, utcnow
from tests.conftest import (
    RABBIT_MGMT,
    auth_headers,
    container_config,
    free_port,
    message_count,
    wait_for,
)
from tests.kernel import probe

OFFICE = auth_headers()


@pytest.fixture
def probe_service(engine, db_url, vhost):
    _, amqp_uri = vhost
    port = free_port()
    config = container_config("probe", amqp_uri, db_url, port, delays_ms=(1000, 1500))
    probe.FAULTY.clear()
    probe.CALLS.clear()
    container = ServiceContainer(probe.ProbeService, config)
    container.start()
    yield container, amqp_uri, f"http://127.0.0.1:{port}"
    container.stop()


def publish(amqp_uri, text, message_id):
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(
            json.dumps({"text": text}),
            exchange="",
            routing_key=probe.PROBE_QUEUE,
            message_id=message_id,
            content_type="application/json",
            delivery_mode=2,
        )


def bind_probe_events(amqp_uri, name="test.probe-events"):
    queue = Queue(
        name,
        bindings=[binding(topology.EVENTS_EXCHANGE, routing_key="probe.#")],
        durable=True,
        auto_delete=False,
    )
    with Connection(amqp_uri) as conn:
        queue(conn.default_channel).declare()
    return queue


def drain(amqp_uri, queue, expected, timeout=20):
    got = []
    with Connection(amqp_uri) as conn:
        q = queue(conn.default_channel)
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            message = q.get(no_ack=True)
            if message is None:
                time.sleep(0.05)
            else:
                got.append(json.loads(message.body))
    return got


def unsent(engine):
    with Session(engine) as session:
        return outbox.backlog(session)


def test_outbox_event_commits_with_the_change_or_not_at_all(engine):
    with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
        session.add(probe.Note(text="rolled back"))
        outbox.record(session, "probe.noted", {"text": "rolled back"}, "probe")
        raise RuntimeError("the change fails")
    with Session(engine) as session, session.begin():
        session.add(probe.Note(text="kept"))
        envelope = outbox.record(session, "probe.noted", {"text": "kept"}, "probe")
    with Session(engine) as session:
        rows = session.query(OutboxMessage).all()
        assert [r.event_id for r in rows] == [envelope["event_id"]]
        assert json.loads(rows[0].body)["payload"] == {"text": "kept"}
        assert probe.notes(session) == ["kept"]


def test_relay_publishes_with_confirms_and_keeps_what_no_queue_took(probe_service, engine):
    _, amqp_uri, _ = probe_service
    # Take away what takes every event (reporting's partitions, through its exchange): nothing
    # is bound to probe.* now, so the broker returns the event and the relay keeps it.
    vhost_name = amqp_uri.rsplit("/", 1)[1]
    requests.delete(
        f"{RABBIT_MGMT}/api/exchanges/{vhost_name}/lianxin.reporting",
        auth=("guest", "guest"),
        timeout=10,
    ).raise_for_status()
    with Session(engine) as session, session.begin():
        first = outbox.record(session, "probe.noted", {"text": "early"}, "probe")
    time.sleep(1.0)
    assert unsent(engine) == 1
    queue = bind_probe_events(amqp_uri)
    wait_for(lambda: unsent(engine) == 0)
    with Session(engine) as session, session.begin():
        second = outbox.record(session, "probe.noted", {"text": "late"}, "probe")
    events = drain(amqp_uri, queue, 2)
    assert [e["event_id"] for e in events] == [first["event_id"], second["event_id"]]
    assert events[0]["type"] == "probe.noted" and events[0]["source"] == "probe"
    assert events[0]["payload"] == {"text": "early"}


def test_same_message_twice_is_handled_once(probe_service, engine):
    _, amqp_uri, _ = probe_service
    queue = bind_probe_events(amqp_uri)
    publish(amqp_uri, "twice", "msg-1")
    publish(amqp_uri, "twice", "msg-1")
    publish(amqp_uri, "after", "msg-2")
    wait_for(lambda: probe.CALLS["after"] == 1)
    time.sleep(0.5)
    with Session(engine) as session:
        assert probe.notes(session) == ["after", "twice"]
    assert probe.CALLS["twice"] == 1  # the second delivery never reached the handler
    events = drain(amqp_uri, queue, 3, timeout=3)
    assert sorted(e["payload"]["text"] for e in events) == ["after", "twice"]


def test_handled_records_older_than_the_window_are_pruned_recent_ones_kept(probe_service, engine):
    container, amqp_uri, _ = probe_service
    publish(amqp_uri, "old", "msg-old")
    publish(amqp_uri, "new", "msg-new")
    wait_for(lambda: probe.CALLS["new"] == 1 and probe.CALLS["old"] == 1)
    wait_for(lambda: processed_ids(engine) == {"msg-new", "msg-old"})
    with Session(engine) as session, session.begin():
        session.execute(
            update(ProcessedMessage)
            .where(ProcessedMessage.message_id == "msg-old")
            .values(processed_at=utcnow() - timedelta(days=40))
        )
    inbox = next(d for d in container.dependencies if isinstance(d, Inbox))
    assert inbox.prune_processed(30, batch=1) == 1
    assert processed_ids(engine) == {"msg-new"}
    publish(amqp_uri, "new", "msg-new")  # a recent message sent again is still recognised
    publish(amqp_uri, "after", "msg-after")
    wait_for(lambda: probe.CALLS["after"] == 1)
    assert probe.CALLS["new"] == 1


def processed_ids(engine) -> set[str]:
    with Session(engine) as session:
        return set(session.scalars(select(ProcessedMessage.message_id)))


def test_failing_handler_is_retried_parked_and_replayed(probe_service, engine):
    _, amqp_uri, base = probe_service
    probe.FAULTY.add("poison")
    publish(amqp_uri, "poison", "poison-1")
    for i in range(5):
        publish(amqp_uri, f"good-{i}", f"good-{i}")

    # The messages behind the failing one flow while it waits for its retries.
    wait_for(lambda: all(probe.CALLS[f"good-{i}"] == 1 for i in range(5)), timeout=10)
    assert probe.CALLS["poison"] < 3

    parked = wait_for(
        lambda: requests.get(f"{base}/admin/parked", headers=OFFICE, timeout=5).json()["parked"]
    )
    assert len(parked) == 1
    assert parked[0]["queue"] == probe.PROBE_QUEUE
    assert parked[0]["attempts"] == 3
    assert "boom on poison" in parked[0]["error"]
    assert json.loads(parked[0]["body"]) == {"text": "poison"}
    assert parked[0]["message_id"] == "poison-1"
    time.sleep(1.0)
    assert probe.CALLS["poison"] == 3  # 1 try + 2 retries, then nothing: no tight loop
    assert requests.get(f"{base}/health", timeout=5).json()["parked"] == 1
    # Each retry went back to its own queue only, not to every queue bound for retries.
    for other in ("routing.events", "intake.events"):  # reporting.events takes probe.noted
        assert message_count(amqp_uri, other) == 0

    probe.FAULTY.clear()  # the fault is fixed
    r = requests.post(f"{base}/admin/parked/{parked[0]['id']}/replay", headers=OFFICE, timeout=5)
    assert r.status_code == 200
    wait_for(lambda: probe.CALLS["poison"] == 4)
    with Session(engine) as session:
        wait_for(lambda: "poison" in probe.notes(Session(engine)))
        assert probe.note_count(session) == 6
    assert requests.get(f"{base}/admin/parked", headers=OFFICE, timeout=5).json()["parked"] == []
    again = requests.post(
        f"{base}/admin/parked/{parked[0]['id']}/replay", headers=OFFICE, timeout=5
    ).json()
    assert again["replayed"]["replayed_at"] is not None
    assert (
        requests.post(f"{base}/admin/parked/999999/replay", headers=OFFICE, timeout=5).status_code
        == 404
    )


def test_body_that_is_not_json_reaches_the_handler_and_is_parked_not_lost(probe_service):
    _, amqp_uri, base = probe_service
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(
            b"\xff\xfe not json",
            exchange="",
            routing_key=probe.PROBE_QUEUE,
            content_type="application/octet-stream",
            delivery_mode=2,
        )
    parked = wait_for(
        lambda: requests.get(f"{base}/admin/parked", headers=OFFICE, timeout=5).json()["parked"]
    )
    assert "not json" in parked[0]["body"]
    assert "UnicodeDecodeError" in parked[0]["error"] or "JSONDecodeError" in parked[0]["error"]
