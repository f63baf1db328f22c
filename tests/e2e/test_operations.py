"""What an operator sees: readiness, Prometheus figures that move, logs that name the case."""

import json

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import wait_case, wait_submission
from tools.client import SubmissionClient

SERVICES = ("registry", "intake", "routing", "reporting")


def scrape(stack, service) -> dict:
    text = requests.get(stack.url(service, "/metrics"), timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def test_every_service_is_ready_and_exposes_metrics(stack):
    for service in SERVICES:
        r = requests.get(stack.url(service, "/ready"), timeout=10)
        assert r.status_code == 200 and r.json()["ready"] is True
        samples = scrape(stack, service)
        assert value(samples, "lianxin_outbox_backlog", service=service) >= 0
        assert ("lianxin_parked_waiting", (("service", service),)) in samples


def test_figures_move_when_messages_flow_and_logs_carry_the_tracking_number(stack):
    before = scrape(stack, "intake")
    handled = (
        "lianxin_messages_handled_total",
        dict(service="intake", queue="station.ytl", outcome="ok"),
    )
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit("ytl", category="utilities", description="暖气不热")
    [submission] = wait_submission(stack, sid)
    number = submission["tracking_number"]
    wait_case(stack, number)

    after = scrape(stack, "intake")
    assert value(after, handled[0], **handled[1]) == value(before, handled[0], **handled[1]) + 1
    count = value(after, "lianxin_handler_seconds_count", service="intake", queue="station.ytl")
    assert count >= 1
    depths = {dict(labels)["queue"] for (name, labels) in after if name == "lianxin_queue_depth"}
    assert {"station.gwm", "station.ytl", "intake.events"} <= depths

    routing = scrape(stack, "routing")
    assert (
        value(
            routing,
            "lianxin_messages_handled_total",
            service="routing",
            queue="routing.events",
            outcome="ok",
        )
        >= 1
    )

    lines = [
        json.loads(line)
        for line in (stack.log_dir / "routing.log").read_text().splitlines()
        if line.startswith("{")
    ]
    mine = [line for line in lines if line.get("tracking_number") == number]
    assert mine and all(line["service"] == "routing" and line["message_id"] for line in mine)


def test_the_services_reconcile_once_the_flow_settles(stack):
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit("jnl", category="hazard", description="路灯杆倾斜")
        client.publish_raw("jnl", b"not json at all")
    [submission] = wait_submission(stack, sid)
    wait_case(stack, submission["tracking_number"])

    def settled():
        body = requests.get(
            stack.url("reporting", "/reconciliation"), headers=stack.headers, timeout=15
        ).json()
        return (
            body
            if body["holds"] and body["in_flight"] == {"to_routing": 0, "to_reporting": 0}
            else None
        )

    body = stack.wait_for(settled, timeout=30, what="the services to agree")
    subs = body["submissions"]
    assert subs["received"] == subs["accepted"] + subs["duplicates"] + subs["rejected"]
    assert subs["rejected"] >= 1
    assert body["cases"]["total"] == subs["accepted"] == body["reporting"]["issues"]
    page = requests.get(stack.url("reporting", "/dashboard"), headers=stack.headers, timeout=15)
    assert page.status_code == 200 and "统计看板" in page.text and "对账不平" not in page.text


def test_an_event_of_an_unknown_type_is_kept_reported_and_never_lost(stack):
    """A newer sender's event nobody counts yet, published as the relay publishes (confirmed,
    message id = event id), twice: stored once, shown by reconciliation and the dashboard."""
    import pika

    from services.kernel.events import new_event

    envelope = new_event("hotline.call_logged", {"call": "12345", "minutes": 4}, "hotline")
    before = requests.get(stack.url("reporting", "/health"), timeout=10).json()["events"]
    connection = pika.BlockingConnection(pika.URLParameters(stack.amqp_uri))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for _ in range(2):  # the same event twice: kept once
            channel.basic_publish(
                "lianxin.events",
                envelope["type"],
                json.dumps(envelope).encode(),
                pika.BasicProperties(
                    message_id=envelope["event_id"],
                    content_type="application/json",
                    delivery_mode=2,
                ),
                mandatory=True,
            )
    finally:
        connection.close()

    def reported():
        body = requests.get(
            stack.url("reporting", "/reconciliation"), headers=stack.headers, timeout=15
        ).json()
        seen = body["unknown_events"]["by_type"].get("hotline.call_logged")
        return body if seen else None

    body = stack.wait_for(reported, timeout=30, what="the unknown event in reconciliation")
    assert body["unknown_events"]["by_type"]["hotline.call_logged"] == 1
    health = requests.get(stack.url("reporting", "/health"), timeout=10).json()
    assert health["events"] >= before + 1 and health["parked"] == 0
    page = requests.get(
        stack.url("reporting", "/dashboard"), headers=stack.headers, timeout=15
    ).text
    assert "未知类型的事件" in page and "hotline.call_logged" in page
