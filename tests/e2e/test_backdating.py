"""Back-dating is operator-only (docs/security.md, "Back-dating"): on an ordinary stack, the
office's own session may not date an action in the past."""

from datetime import UTC, datetime, timedelta

import requests


def test_an_ordinary_stack_refuses_a_back_dated_action(stack):
    """Without the operator's setting (every stack but the replay's), ``at`` is a 400 on
    ``at``: the office's own session is not enough."""
    from tests.e2e.conftest import wait_case, wait_submission
    from tools.client import SubmissionClient

    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit("gwm", category="health", description="上门问诊")
    number = wait_submission(stack, sid)[0]["tracking_number"]
    case = wait_case(stack, number)
    earlier = datetime.now(UTC) - timedelta(minutes=5)
    r = requests.post(
        stack.url("routing", f"/cases/{number}/actions/respond"),
        json={"note": "已联系", "at": earlier.isoformat()},
        headers=stack.headers,
        timeout=10,
    )
    assert r.status_code == 400 and "at" in r.json()["error"]["fields"], r.text
    r = requests.get(stack.url("routing", f"/cases/{number}"), headers=stack.headers, timeout=10)
    assert r.json()["status"] == case["status"]


def test_an_ordinary_stack_rejects_a_back_dated_submission(stack):
    """A queued submission carrying the office's token in ``lianxin-operator`` is rejected on
    ``submitted_at`` (never received now in silence) when the setting is off."""
    import json
    import uuid

    import pika

    from services.kernel import auth, backdating
    from tests.e2e.conftest import wait_submission

    token = auth.issue_token(auth.Principal("operator", "office"), stack.config())
    sid = f"replay-{uuid.uuid4().hex[:12]}"
    body = {
        "submission_id": sid,
        "station": "gwm",
        "category": "health",
        "description": "2024年的问题",
        "submitted_at": "2024-03-05T10:00:00+08:00",
    }
    with pika.BlockingConnection(pika.URLParameters(stack.amqp_uri)) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            exchange="lianxin.intake",
            routing_key="station.gwm",
            body=json.dumps(body).encode(),
            properties=pika.BasicProperties(
                content_type="application/json",
                message_id=sid,
                headers={backdating.OPERATOR_HEADER: token},
            ),
        )
    [submission] = wait_submission(stack, sid)
    assert submission["status"] == "rejected" and submission["tracking_number"] is None
    assert "submitted_at" in json.dumps(submission, ensure_ascii=False), submission
