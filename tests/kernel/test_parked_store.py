"""The parked store under bad messages (issue #20), on SQLite and PostgreSQL, real broker.

No stored message can break ``/admin/parked``: a body nested 5,000 levels, a 2 MB body, headers
nested deeply, an error of a megabyte. A parked message can be discarded, with a reason, by the
office only; its row stays with who, when and why. A message id handled already comes again with
another body: parked as a conflict (never dropped), once; the same body again is a duplicate.
"""

import json
import logging
import time

import pytest
import requests
from alembic import command
from kombu import Connection
from nameko.containers import ServiceContainer
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from services.kernel.db import make_engine
from services.kernel.http import nesting_depth
from services.kernel.inbox import parked_as_dict
from services.kernel.migrations import alembic_config, upgrade
from services.kernel.models import ParkedMessage, ProcessedMessage, utcnow
from tests.conftest import auth_headers, container_config, free_port, wait_for
from tests.kernel import probe

OFFICE = auth_headers(account="li-office")
DEEP = 5000


@pytest.fixture(params=["single", "batch"])
def probe_service(request, engine, db_url, vhost):
    _, amqp_uri = vhost
    port = free_port()
    config = container_config("probe", amqp_uri, db_url, port, delays_ms=(300, 300))
    probe.FAULTY.clear()
    probe.CALLS.clear()
    cls = probe.ProbeService if request.param == "single" else probe.BatchProbeService
    container = ServiceContainer(cls, config)
    container.start()
    yield container, amqp_uri, f"http://127.0.0.1:{port}"
    container.stop()


def publish(amqp_uri, body: bytes, message_id=None, headers=None):
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(
            body,
            exchange="",
            routing_key=probe.PROBE_QUEUE,
            message_id=message_id,
            headers=headers or {},
            content_type="application/json",
            delivery_mode=2,
        )


def note(text_: str) -> bytes:
    return json.dumps({"text": text_}).encode()


def listing(base, all_=False, headers=OFFICE):
    r = requests.get(f"{base}/admin/parked", params={"all": 1} if all_ else {}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["parked"]


def test_depth_is_read_from_the_bytes_without_recursion():
    assert nesting_depth(b"[" * 100_000 + b"]" * 100_000) == 100_000
    assert nesting_depth(b'{"a": "[[[[[[", "b": [{"c": "]]\\"[["}]}') == 3
    assert nesting_depth(b'{"a":' * DEEP + b"1" + b"}" * DEEP, stop_above=64) == 65
    assert nesting_depth(b"not json") == 0


def test_a_poisoned_message_parks_and_the_list_still_answers(probe_service, engine):
    """A body nested 5,000 (or 20,000) levels fails its handler (RecursionError in json.loads) every time:
    it is parked, and the list shows it, cut, next to the others."""
    _, amqp_uri, base = probe_service
    deep = b"[" * 4 * DEEP + b"]" * 4 * DEEP  # 40 KB: shown cut
    publish(amqp_uri, deep, "deep-1")
    publish(amqp_uri, b'{"a":' * DEEP + b"1" + b"}" * DEEP, "deep-2")
    probe.FAULTY.add("poison")
    publish(amqp_uri, note("poison"), "poison-1")
    parked = wait_for(lambda: len(listing(base)) == 3 and listing(base), timeout=20)
    by_id = {p["message_id"]: p for p in parked}
    assert by_id["deep-1"]["kind"] == "failed" and by_id["deep-1"]["attempts"] == 3
    assert "RecursionError" in by_id["deep-1"]["error"]
    assert by_id["deep-1"]["body_bytes"] == len(deep)
    assert len(by_id["deep-1"]["body"]) < 17_000  # cut, head and tail kept
    assert "characters cut" in by_id["deep-1"]["body"]
    assert json.loads(by_id["poison-1"]["body"]) == {"text": "poison"}
    assert requests.get(f"{base}/health", timeout=5).json()["parked"] == 3


def test_no_stored_message_breaks_the_list(probe_service, engine):
    """Rows written straight into the store, as nothing the inbox writes would look: a 2 MB
    body, headers nested 5,000 levels, headers that are not JSON, a 1 MB error."""
    _, _, base = probe_service
    rows = [
        dict(body=b"x" * (2 * 1024 * 1024), headers="{}", error="big body"),
        dict(body=b"{}", headers='{"a":' * DEEP + "1" + "}" * DEEP, error="deep headers"),
        dict(body=b"{}", headers="not json", error="bad headers"),
        dict(body=b"{}", headers="{}", error="E" * 1_000_000),
        dict(body=b"lx-sealed:" + b"\xff" * 40, headers="{}", error="a sealed body no key opens"),
    ]
    with Session(engine) as session, session.begin():
        for i, row in enumerate(rows):
            session.add(
                ParkedMessage(consumer="c", queue="q", message_id=f"m{i}", attempts=1, **row)
            )
    shown = listing(base)
    assert len(shown) == 5
    assert all(len(json.dumps(p)) < 60_000 for p in shown)
    assert shown[0]["body_bytes"] == 2 * 1024 * 1024
    assert "_not_shown" in shown[1]["headers"] and "_not_shown" in shown[2]["headers"]
    assert len(shown[3]["error"]) < 17_000


def test_discard_needs_the_office_and_a_reason_and_stays_on_record(probe_service, caplog):
    _, amqp_uri, base = probe_service
    probe.FAULTY.add("bad")
    publish(amqp_uri, note("bad"), "bad-1")
    [parked] = wait_for(lambda: listing(base), timeout=20)
    url = f"{base}/admin/parked/{parked['id']}/discard"

    station = auth_headers(role="station_admin", stations=["gwm"])
    assert requests.post(url, json={"reason": "x"}, headers=station).status_code == 403
    assert requests.post(url, json={"reason": "x"}).status_code == 401
    for body in ({}, {"reason": "  "}, {"reason": 5}, {"reason": "长" * 501}):
        r = requests.post(url, json=body, headers=OFFICE)
        assert r.status_code == 400, body
        assert list(r.json()["error"]["fields"]) == ["reason"]
    for raw, status in ((b"[" * DEEP, 400), (b"not json", 400), (b"x" * 20_000, 413)):
        r = requests.post(url, data=raw, headers={**OFFICE, "Content-Type": "application/json"})
        assert r.status_code == status and "_body" in r.json()["error"]["fields"], raw[:10]
    assert listing(base) == [parked]  # nothing refused changed it

    with caplog.at_level(logging.WARNING, logger="services.kernel.inbox"):
        r = requests.post(url, json={"reason": "测试消息，无需处理 / a test"}, headers=OFFICE)
    assert r.status_code == 200
    done = r.json()["discarded"]
    assert done["discarded_by"] == "li-office"
    assert done["discard_reason"] == "测试消息，无需处理 / a test"
    assert done["discarded_at"] is not None
    assert any("discarded by li-office" in m for m in caplog.messages)

    assert listing(base) == []
    assert requests.get(f"{base}/health", timeout=5).json()["parked"] == 0
    [kept] = listing(base, all_=True)
    assert kept["discard_reason"] == done["discard_reason"]
    # a second discard answers the first; a discarded message is not replayed
    again = requests.post(url, json={"reason": "again"}, headers=OFFICE).json()["discarded"]
    assert again["discard_reason"] == done["discard_reason"]
    r = requests.post(f"{base}/admin/parked/{parked['id']}/replay", headers=OFFICE)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    missing = requests.post(
        f"{base}/admin/parked/999999/discard", json={"reason": "x"}, headers=OFFICE
    )
    assert missing.status_code == 404


def test_a_replayed_message_cannot_be_discarded(probe_service):
    _, amqp_uri, base = probe_service
    probe.FAULTY.add("later")
    publish(amqp_uri, note("later"), "later-1")
    [parked] = wait_for(lambda: listing(base), timeout=20)
    probe.FAULTY.clear()
    assert requests.post(f"{base}/admin/parked/{parked['id']}/replay", headers=OFFICE).ok
    wait_for(lambda: probe.CALLS["later"] == 4)
    r = requests.post(
        f"{base}/admin/parked/{parked['id']}/discard", json={"reason": "x"}, headers=OFFICE
    )
    assert r.status_code == 409


def test_a_reused_message_id_with_another_body_is_parked_not_dropped(probe_service, engine):
    _, amqp_uri, base = probe_service
    publish(amqp_uri, note("first"), "same-id")
    wait_for(lambda: probe.CALLS["first"] == 1)
    publish(amqp_uri, note("first"), "same-id")  # the same message again: a duplicate
    publish(amqp_uri, note("second"), "same-id")  # another message under its id: a conflict
    publish(amqp_uri, note("second"), "same-id")  # … delivered twice: parked once
    publish(amqp_uri, note("after"), "after-1")
    wait_for(lambda: probe.CALLS["after"] == 1)
    [conflict] = wait_for(lambda: listing(base), timeout=10)
    time.sleep(0.5)
    assert len(listing(base)) == 1
    assert probe.CALLS["first"] == 1 and probe.CALLS["second"] == 0
    assert conflict["kind"] == "conflict" and conflict["message_id"] == "same-id"
    assert conflict["attempts"] == 0
    assert "another body" in conflict["error"] and "另一条内容不同" in conflict["error"]
    assert json.loads(conflict["body"]) == {"text": "second"}
    with Session(engine) as session:
        assert probe.notes(session) == ["after", "first"]

    # Replayed, it goes under an id of its own (its body's hash) and is handled, once.
    r = requests.post(f"{base}/admin/parked/{conflict['id']}/replay", headers=OFFICE)
    assert r.status_code == 200
    wait_for(lambda: probe.CALLS["second"] == 1)
    with Session(engine) as session:
        wait_for(lambda: "second" in probe.notes(Session(engine)))
        ids = set(session.scalars(select(ProcessedMessage.message_id)))
    assert "sha256:" + __import__("hashlib").sha256(note("second")).hexdigest() in ids
    assert listing(base) == []


def test_a_record_older_than_the_hash_still_deduplicates(probe_service, engine):
    """A message handled before the body hash was kept (body_hash NULL) is a duplicate."""
    _, amqp_uri, _ = probe_service
    with Session(engine) as session, session.begin():
        session.add(
            ProcessedMessage(consumer=probe.PROBE_QUEUE, message_id="old-1", processed_at=utcnow())
        )
    publish(amqp_uri, note("old"), "old-1")
    publish(amqp_uri, note("next"), "next-1")
    wait_for(lambda: probe.CALLS["next"] == 1)
    time.sleep(0.3)
    assert probe.CALLS["old"] == 0


def test_parked_as_dict_survives_a_redact_that_raises():
    row = ParkedMessage(
        id=7,
        consumer="c",
        queue="q",
        routing_key="",
        body=b"lx-sealed:garbage",
        headers="{}",
        attempts=1,
        error="e",
        parked_at=utcnow(),
    )
    shown = parked_as_dict(row, redact=lambda body: 1 / 0)
    assert shown["body"].startswith("(cannot be shown")


def test_the_kernel_migration_adds_its_columns_and_keeps_old_records(db_url):
    cfg = alembic_config("intake", db_url)
    command.upgrade(cfg, "kernel0001")
    engine = make_engine(db_url)
    try:
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO kernel_processed (consumer, message_id, processed_at)"
                    " VALUES ('c', 'm1', '2026-11-20 08:00:00+00:00')"
                )
            )
            c.execute(
                text(
                    "INSERT INTO kernel_parked (consumer, queue, exchange, routing_key, headers,"
                    " body, attempts, error, parked_at)"
                    " VALUES ('c', 'q', '', '', '{}', :b, 3, 'boom', '2026-11-20 08:00:00+00:00')"
                ),
                {"b": b"{}"},
            )
        upgrade("intake", db_url)
        upgrade("intake", db_url)  # at head: nothing to do
        columns = {c["name"] for c in inspect(engine).get_columns("kernel_parked")}
        assert {"kind", "body_hash", "discarded_at", "discarded_by", "discard_reason"} <= columns
        assert "body_hash" in {c["name"] for c in inspect(engine).get_columns("kernel_processed")}
        with engine.connect() as c:
            assert c.execute(text("SELECT kind, discarded_at FROM kernel_parked")).one() == (
                "failed",
                None,
            )
            assert c.scalar(text("SELECT body_hash FROM kernel_processed")) is None
    finally:
        engine.dispose()
