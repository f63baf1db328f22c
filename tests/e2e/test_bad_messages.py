"""Bad AMQP messages on a running stack (issue #20, items 6 and 7), real broker and databases.

A body nested 5,000 levels or of 2 MB sent to a station queue is stored as a rejected submission
with its reason, not retried and parked. No parked message, however poisoned, breaks
``/admin/parked`` of any service; the office discards one with a reason that stays on record.
A second, different submission sent under the message id of an earlier one is parked as a
conflict (visible, replayable), never silently dropped; the same message again is a duplicate.
"""

import json
import time
import uuid

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel import sealed
from services.kernel.db import make_engine
from services.kernel.models import ParkedMessage
from tests.conftest import auth_headers
from tests.e2e.conftest import get, wait_submission
from tools.client import SubmissionClient

SERVICES = ("registry", "intake", "routing", "reporting")
DEEP = 5000


def rejected_with(stack, marker: str, timeout=30):
    """The rejected submissions whose reason mentions ``marker``."""

    def found():
        _, body = get(stack, "intake", "/submissions", status="rejected", limit=1000)
        return [
            s for s in body["submissions"] if marker in json.dumps(s["errors"], ensure_ascii=False)
        ]

    return stack.wait_for(found, timeout=timeout, what=f"a submission rejected for {marker}")


def parked(stack, service, all_=False):
    r = requests.get(
        stack.url(service, "/admin/parked"),
        params={"all": 1} if all_ else {},
        headers=stack.headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["parked"]


def test_deep_and_huge_bodies_are_rejected_with_a_reason_not_parked(stack):
    bodies = {
        "array": b"[" * DEEP + b"]" * DEEP,
        "object": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        "object-in-submission": (
            b'{"submission_id": "deep-1", "station": "gwm", "channel": "amqp", "extra": '
            + b'{"a":' * DEEP
            + b"1"
            + b"}" * DEEP
            + b"}"
        ),
    }
    huge = json.dumps(
        {"station": "gwm", "category": "hazard", "description": "大" * (700 * 1024)},
        ensure_ascii=False,
    ).encode()
    assert len(huge) > 2 * 1024 * 1024
    with SubmissionClient(stack.amqp_uri) as client:
        for name, body in bodies.items():
            client.publish_raw("gwm", body, message_id=f"deep-{name}-{uuid.uuid4().hex[:6]}")
        client.publish_raw("gwm", huge, message_id=f"huge-{uuid.uuid4().hex[:6]}")
        sid = client.submit("gwm", category="hazard", description="路灯不亮，深夜很危险")

    deep = rejected_with(stack, "嵌套")
    big = rejected_with(stack, "过大")
    stack.wait_for(lambda: len(rejected_with(stack, "嵌套")) >= 3, timeout=30, what="3 deep ones")
    deep = rejected_with(stack, "嵌套")
    for s in deep + big:
        assert s["station"] == "gwm" and s["status"] == "rejected"
        assert list(s["errors"]) == ["_body"]
        assert all(" / " in m for m in s["errors"]["_body"])  # Chinese / English
    assert any("nested" in m for s in deep for m in s["errors"]["_body"])
    assert any("large" in m for s in big for m in s["errors"]["_body"])
    # … and the messages behind them flow
    [accepted] = wait_submission(stack, sid)
    assert accepted["status"] == "accepted"
    time.sleep(1)  # a retry would have parked it by now (the stack's delays are short)
    assert parked(stack, "intake") == []


def _poison(stack, service, seal: bool) -> list[int]:
    """Park, straight into ``service``'s store, what no handler should ever have to show."""
    ring = sealed.Keyring(sealed.keys_of(stack.config()))
    deep = b"[" * DEEP + b"]" * DEEP
    contact = '{"contact": {"name": "张三丰", "phone": "13912345678"}, "a":'.encode()
    deep_obj = contact + b'{"a":' * DEEP
    bodies = [deep, deep_obj + b"1" + b"}" * (DEEP + 1), b"x" * (2 * 1024 * 1024)]
    engine = make_engine(stack.db_urls[service])
    try:
        with Session(engine) as session, session.begin():
            rows = [
                ParkedMessage(
                    consumer="station.gwm" if seal else f"{service}.events",
                    queue="station.gwm" if seal else f"{service}.events",
                    routing_key="station.gwm",
                    message_id=f"poison-{uuid.uuid4().hex[:8]}",
                    content_type="application/json",
                    headers='{"h":' * DEEP + "1" + "}" * DEEP,
                    body=ring.seal_body(body) if seal else body,
                    attempts=5,
                    error="RecursionError: maximum recursion depth exceeded\n" * 20_000,
                )
                for body in bodies
            ]
            session.add_all(rows)
            session.flush()
            return [r.id for r in rows]
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
def test_poisoned_parked_messages_never_break_the_list_and_are_discarded_on_record(stack, service):
    ids = _poison(stack, service, seal=service == "intake")
    shown = {p["id"]: p for p in parked(stack, service)}
    assert set(ids) <= set(shown)
    for i in ids:
        assert len(json.dumps(shown[i], ensure_ascii=False)) < 60_000
    if service == "intake":  # sealed: described, never shown raw
        assert not any("13912345678" in json.dumps(shown[i], ensure_ascii=False) for i in ids)
        assert "not shown" in shown[ids[0]]["body"] and "nested" in shown[ids[0]]["body"]
        assert "too large" in shown[ids[2]]["body"]

    url = stack.url(service, f"/admin/parked/{ids[0]}/discard")
    station = auth_headers(stack.config(), role="station_admin", stations=["gwm"])
    assert requests.post(url, json={"reason": "x"}, headers=station, timeout=10).status_code == 403
    r = requests.post(url, json={}, headers=stack.headers, timeout=10)
    assert r.status_code == 400 and "reason" in r.json()["error"]["fields"]
    for i in ids:
        r = requests.post(
            stack.url(service, f"/admin/parked/{i}/discard"),
            json={"reason": "探测留下的毒消息 / poison left by a probe"},
            headers=stack.headers,
            timeout=10,
        )
        assert r.status_code == 200, r.text
    assert not set(ids) & {p["id"] for p in parked(stack, service)}
    kept = {p["id"]: p for p in parked(stack, service, all_=True)}
    for i in ids:
        assert kept[i]["discarded_by"] == "test-office"
        assert kept[i]["discard_reason"] == "探测留下的毒消息 / poison left by a probe"
        assert kept[i]["discarded_at"]
    log = (stack.log_dir / f"{service}.log").read_text()
    assert f"parked message {ids[0]} " in log and "discarded by test-office" in log


def test_a_reused_message_id_with_another_body_leaves_a_visible_record(stack):
    first, other = str(uuid.uuid4()), str(uuid.uuid4())
    with SubmissionClient(stack.amqp_uri) as client:
        client.submit(
            "jnl", category="sanitation", description="垃圾三天没清运", submission_id=first
        )
    [accepted] = wait_submission(stack, first)
    body = {
        "submission_id": other,
        "station": "jnl",
        "channel": "amqp",
        "category": "hazard",
        "description": "井盖缺失，有人掉进去",
        "contact": {"name": "李四光", "phone": "13800001111"},
    }
    raw = json.dumps(body, ensure_ascii=False).encode()
    again = json.dumps(
        {
            "submission_id": first,
            "station": "jnl",
            "channel": "amqp",
            "category": "sanitation",
            "description": "垃圾三天没清运",
        },
        ensure_ascii=False,
    ).encode()
    with SubmissionClient(stack.amqp_uri) as client:
        client.publish_raw("jnl", raw, message_id=first)  # another submission, a used id
        client.publish_raw("jnl", raw, message_id=first)  # … redelivered: still one record
        client.publish_raw("jnl", again, message_id=first)  # the first one again: a duplicate
        marker = client.submit("jnl", category="hazard", description="之后的一件")
    wait_submission(stack, marker)

    def conflicts():
        return [p for p in parked(stack, "intake") if p["kind"] == "conflict"]

    [conflict] = stack.wait_for(conflicts, timeout=20, what="the conflict parked")
    time.sleep(1)
    assert len(conflicts()) == 1
    assert conflict["message_id"] == first and conflict["queue"] == "station.jnl"
    assert "另一条内容不同" in conflict["error"] and "another body" in conflict["error"]
    shown = json.loads(conflict["body"])  # intake's bodies are sealed: listed masked
    assert shown["submission_id"] == other and shown["description"] == body["description"]
    assert "13800001111" not in conflict["body"] and "李四光" not in conflict["body"]
    _, found = get(stack, "intake", "/submissions", submission_id=first)
    assert [s["status"] for s in found["submissions"]] == ["accepted"]  # no second row
    _, found = get(stack, "intake", "/submissions", submission_id=other)
    assert found["submissions"] == []  # not handled (yet)
    log = (stack.log_dir / "intake.log").read_text()
    assert f"message id {first} on station.jnl reused with another body" in log

    # The office replays it: it is handled under an id of its own and becomes an issue.
    r = requests.post(
        stack.url("intake", f"/admin/parked/{conflict['id']}/replay"),
        headers=stack.headers,
        timeout=10,
    )
    assert r.status_code == 200
    [second] = wait_submission(stack, other)
    assert (
        second["status"] == "accepted" and second["tracking_number"] != accepted["tracking_number"]
    )
    assert conflicts() == []


def test_the_same_message_twice_is_still_a_duplicate(stack):
    sid = str(uuid.uuid4())
    with SubmissionClient(stack.amqp_uri) as client:
        client.submit("sp", category="hazard", description="桥栏杆松动", submission_id=sid)
        client.submit("sp", category="hazard", description="桥栏杆松动", submission_id=sid)
        marker = client.submit("sp", category="hazard", description="之后的一件")
    wait_submission(stack, marker)
    time.sleep(0.5)
    _, found = get(stack, "intake", "/submissions", submission_id=sid)
    assert [s["status"] for s in found["submissions"]] == ["accepted"]
    engine = make_engine(stack.db_urls["intake"])
    try:
        with Session(engine) as session:
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(ParkedMessage)
                    .where(ParkedMessage.message_id == sid)
                )
                == 0
            )
    finally:
        engine.dispose()
