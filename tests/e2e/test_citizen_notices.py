"""Notices to citizens (issue 17), through the real services, broker, SMS gateway and SMTP server:
a citizen who ticked "办理有结果时通知我" on the phone form gets exactly one SMS (and one e-mail)
when the member answers, when the case is closed and when it is reopened; a citizen who did not
tick gets nothing; a routing event delivered again sends nothing twice; a gateway that fails is
tried again. The notice names the tracking number and the status page, never the member.

Screenshots (390 px wide) go to /tmp/shots/notices/.
"""

import json
import mailbox
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from kombu import Connection, Exchange, Producer
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from services.kernel.db import make_engine
from tests import notice_servers
from tests.conftest import auth_headers, create_vhost, delete_vhost
from tests.e2e.conftest import (
    Citizen,
    after_click,
    demo_copied,
    fits_the_phone,
    free_ports,
    prepared_databases,
    stack_env,
    wait_case,
)
from tools.stack import Stack

SHOTS = Path("/tmp/shots/notices")
PHONE_A, PHONE_B = "13912345678", "13800000001"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request):
    return request.param


@pytest.fixture(scope="module")
def channels(tmp_path_factory, backend):
    """An SMS gateway that fails its first request (503), and a real SMTP server (aiosmtpd):
    new ones for each stack."""
    tmp = tmp_path_factory.mktemp(f"channels-{backend}")
    log, box = tmp / "gateway.log", tmp / "mbox"
    servers = (notice_servers.gateway(tmp, log, 1), notice_servers.smtp_server(box))
    with notice_servers.started(*servers) as (url, smtp_port):
        yield {"gateway": url, "smtp_port": smtp_port}, log, box


@pytest.fixture(scope="module")
def nstack(tmp_path_factory, pg_databases, channels, backend):
    """The whole system sending through the gateway and SMTP server above: retries a second
    apart, no quiet hours (the test may run at any hour)."""
    urls_of, log, box = channels
    tmp = tmp_path_factory.mktemp(f"notice-stack-{backend}")
    vhost, amqp_uri = create_vhost()
    urls = prepared_databases(tmp, backend, pg_databases)
    env = {
        **stack_env(amqp_uri, urls, free_ports(4)),
        "NOTIFY_GATEWAY_URL": urls_of["gateway"],
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(urls_of["smtp_port"]),
        "NOTIFY_RETRY_S": "[1, 1, 1]",
        "INTAKE_NOTICE_QUIET_HOURS": "none",
    }
    stack = Stack(env=env, log_dir=tmp / "log")
    stack.db_urls, stack.amqp_uri, stack.backend = urls, amqp_uri, backend
    stack.headers = auth_headers(stack.config())
    stack.start()
    try:
        stack.wait_for(lambda: demo_copied(stack), timeout=60, what="intake's demo copies")
        yield stack
    finally:
        stack.stop()
        delete_vhost(vhost)


def act(stack, number, action, member, **body):
    r = requests.post(
        stack.url("routing", f"/cases/{number}/actions/{action}"),
        json=body,
        headers=auth_headers(stack.config(), "member", member=member),
        timeout=10,
    )
    assert r.ok, r.text
    return r.json()


def gateway_log(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def delivered(log: Path, to: str) -> list[dict]:
    """What the gateway accepted for ``to`` (a refused attempt is not a delivery)."""
    return [e for e in gateway_log(log) if e["ok"] and e["to"] == to]


def kinds(entries) -> list[str]:
    return sorted(e["key"].split(":")[0] for e in entries)


def mails(box: Path, to: str) -> list:
    if not (box / "new").exists() and not (box / "cur").exists():
        return []
    return [m for m in mailbox.Maildir(str(box)) if m["To"] == to]


def replay(stack, event_type: str, number: str) -> str:
    """Publish again, byte for byte and under its own id, the event routing sent for ``number``
    (from routing's outbox): what a redelivery after a lost ack looks like."""
    engine = make_engine(stack.db_urls["routing"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT event_id, routing_key, body FROM kernel_outbox WHERE routing_key = :t"
                ),
                {"t": event_type},
            ).all()
    finally:
        engine.dispose()
    event_id, key, body = next(
        r for r in rows if json.loads(r.body)["payload"].get("tracking_number") == number
    )
    with Connection(stack.amqp_uri) as conn:
        Producer(conn.channel()).publish(
            body.encode("utf-8"),
            exchange=Exchange("lianxin.events", "topic", durable=True),
            routing_key=key,
            message_id=event_id,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
        )
    return event_id


def intake_notices(stack, number: str) -> list[dict]:
    """The office's list of the notices to the citizen of ``number`` (``GET /admin/notices``)."""
    r = requests.get(
        stack.url("intake", "/admin/notices"),
        params={"number": number},
        headers=stack.headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert PHONE_A not in r.text and "@example.cn" not in r.text  # never the address
    return r.json()["notices"]


def shot(phone, name: str, around: str = "notify") -> None:
    """A screenshot of the phone's screen with the element ``around`` in its middle."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone.execute_script(
        "document.getElementById(arguments[0]).scrollIntoView({block: 'center'})", around
    )
    phone.save_screenshot(str(SHOTS / f"{name}.png"))


def test_a_citizen_who_ticked_is_told_once_per_step_and_one_who_did_not_never(
    nstack, channels, phone
):
    stack, (_, log, box) = nstack, channels

    # Citizen A on a phone: phone number, consent, the notice tick and an e-mail for notices.
    phone.get(stack.url("intake", "/q/station/gwm"))
    notify = phone.find_element(By.ID, "notify")
    assert (
        "办理有结果时短信通知我" in phone.find_element(By.CSS_SELECTOR, "label:has(#notify)").text
    )
    assert not notify.is_selected()  # never ticked for the citizen
    Select(phone.find_element(By.ID, "category")).select_by_value("health")
    phone.find_element(By.ID, "description").send_keys("小区门口路灯坏了一个月，晚上看不清路")
    phone.find_element(By.ID, "phone").send_keys(PHONE_A)
    phone.find_element(By.ID, "consent").click()
    notify.click()
    phone.find_element(By.ID, "email").send_keys("citizen-a@example.cn")
    assert fits_the_phone(phone)
    shot(phone, f"form-ticked-{stack.backend}")
    phone.find_element(By.ID, "submit").click()
    if phone.find_elements(By.ID, "new-problem"):  # "是否与以下问题相同?" — a new problem
        phone.find_element(By.ID, "new-problem").click()
    number_a = after_click(phone, "tracking-number").text
    code_a = phone.find_element(By.ID, "lookup-code").text
    # the receipt says how the citizen will be told (not the addresses themselves)
    told = phone.find_element(By.ID, "notify-chosen").text
    assert "通过短信和电子邮件通知您" in told and PHONE_A not in told, told

    # Citizen B leaves a phone for the member to call back, but does not tick the notices.
    page = Citizen(stack).post(
        "/q/station/gwm",
        category="health",
        description="卫生站周末不开门，老人看病不方便，希望周末能安排值班",
        phone=PHONE_B,
        consent="1",
        same_as="",
    )
    assert page.status_code == 200, page.text
    assert 'id="tracking-number"' in page.text
    assert 'id="notify-chosen"' not in page.text  # no tick: no promise of a notice

    member = wait_case(stack, number_a)["member"]
    b_number = page.text.split('id="tracking-number">')[1].split("<")[0]
    member_b = wait_case(stack, b_number)["member"]

    # The member answers: one SMS and one e-mail to A (the gateway refused the first try:
    # the notice is tried again and delivered once).
    act(stack, number_a, "respond", member, note="已联系供电所，本周内更换灯泡")
    act(stack, b_number, "respond", member_b, note="已与卫生站协商")
    stack.wait_for(lambda: delivered(log, PHONE_A), timeout=30, what="the answer's SMS")
    first = gateway_log(log)[0]
    assert not first["ok"] and first["to"] == PHONE_A  # the refused attempt…
    retried = [e for e in gateway_log(log) if e["key"] == first["key"]]
    assert [e["ok"] for e in retried] == [False, True]  # …tried again, delivered once
    sms = delivered(log, PHONE_A)[0]
    assert sms["channel"] == "sms"
    assert sms["text"].startswith("【连心】您反映的问题（受理编号 " + number_a)
    assert stack.url("intake", f"/status?number={number_a}") in sms["text"]
    assert "张志强" not in sms["text"] and member not in sms["text"]
    assert "Lianxin" in sms["text"]  # English after the Chinese

    # Closed, then 不满意 on the status page reopens it: one notice each.
    act(stack, number_a, "resolve", member, note="路灯已更换")
    act(stack, b_number, "resolve", member_b, note="周六已开诊")
    stack.wait_for(lambda: len(delivered(log, PHONE_A)) == 2, timeout=30, what="closed SMS")
    phone.get(stack.url("intake", f"/status?number={number_a}&code={code_a}"))
    phone.find_element(By.CSS_SELECTOR, '#rate-form input[value="unsatisfied"]').click()
    phone.find_element(By.ID, "rate-submit").click()
    after_click(phone, "action-message")
    stack.wait_for(lambda: len(delivered(log, PHONE_A)) == 3, timeout=30, what="reopened SMS")
    assert kinds(delivered(log, PHONE_A)) == ["answered", "closed", "reopened"]
    texts = {e["key"].split(":")[0]: e["text"] for e in delivered(log, PHONE_A)}
    assert "已办结" in texts["closed"] and "已重新办理" in texts["reopened"]

    # routing's answer delivered to intake again (byte for byte, same id): nothing sent twice.
    # The member answers again afterwards, on the same queue: once that notice is out, the
    # replay before it was handled too.
    replayed = replay(stack, "routing.issue_responded", number_a)
    act(stack, number_a, "respond", member, note="灯泡已订货，周五安装")

    def answers():  # the event id each answer's SMS was sent for
        return [e["key"].split(":")[3] for e in delivered(log, PHONE_A) if "answered" in e["key"]]

    stack.wait_for(lambda: len(answers()) == 2, timeout=30, what="the second answer's SMS")
    assert answers()[0] == replayed and answers()[1] != replayed
    assert kinds(delivered(log, PHONE_A)) == ["answered", "answered", "closed", "reopened"]
    assert len({e["key"] for e in delivered(log, PHONE_A)}) == 4

    # The same notices by e-mail, each once; citizen B (no tick) got nothing at all.
    stack.wait_for(lambda: len(mails(box, "citizen-a@example.cn")) == 4, timeout=30, what="mail")
    subjects = {m["Message-ID"] for m in mails(box, "citizen-a@example.cn")}
    assert len(subjects) == 4
    body = mails(box, "citizen-a@example.cn")[0].get_payload(decode=True).decode()
    assert "【连心】" in body and "受理编号" in body
    assert [e for e in gateway_log(log) if e["to"] == PHONE_B] == []
    assert intake_notices(stack, b_number) == []
    rows = intake_notices(stack, number_a)
    assert all(r["status"] == "sent" for r in rows) and len(rows) == 8
    assert sorted(r["attempts"] for r in rows if r["channel"] == "sms") == [1, 1, 1, 2]


def test_the_form_refuses_a_tick_with_nowhere_to_send_and_an_e_mail_without_the_tick(nstack, phone):
    stack = nstack
    page = Citizen(stack).post(
        "/q/station/gwm", category="health", description="路面坑洼", notify="1", same_as=""
    )
    assert page.status_code == 400
    assert "请填写电话或邮箱，才能通知您" in page.text
    page = Citizen(stack).post(
        "/q/station/gwm",
        category="health",
        description="路面坑洼",
        email="someone@example.cn",
        same_as="",
    )
    assert page.status_code == 400 and "留下邮箱须勾选通知" in page.text
    page = Citizen(stack).post(
        "/q/station/gwm",
        category="health",
        description="路面坑洼",
        email="not-an-address",
        notify="1",
        same_as="",
    )
    assert page.status_code == 400 and "邮箱格式不正确" in page.text
    assert 'value="not-an-address"' in page.text  # what was written is kept

    # The same refusal on the phone, beside the field, in English on the English page.
    phone.get(stack.url("intake", "/q/station/gwm?lang=en"))
    Select(phone.find_element(By.ID, "category")).select_by_value("health")
    phone.find_element(By.ID, "description").send_keys("Broken street light")
    phone.find_element(By.ID, "notify").click()
    phone.find_element(By.ID, "submit").click()
    found = WebDriverWait(phone, 20).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '.error[data-field="notify"]')
    )
    assert "give a phone or an e-mail" in found[0].text
    assert phone.find_element(By.ID, "notify").is_selected()  # the tick is kept
    assert fits_the_phone(phone)
    shot(phone, f"form-error-en-{stack.backend}")


def open311_post(stack, **fields):
    form = {
        "api_key": "lianxin-demo-key",
        "service_code": "health",
        "attribute[station]": "gwm",
        "address_string": "广武门街道",
        **fields,
    }
    return requests.post(stack.url("intake", "/open311/v2/requests.json"), data=form, timeout=30)


def test_an_open311_client_asks_for_e_mail_notices_with_email_and_attribute_notify(
    nstack, channels
):
    stack, (_, log, box) = nstack, channels
    refused = open311_post(stack, description="井盖松动", **{"attribute[notify]": "true"})
    assert refused.status_code == 400 and "attribute[notify]" in refused.text
    bad = open311_post(
        stack, description="井盖松动", email="x@example.cn", **{"attribute[notify]": "maybe"}
    )
    assert bad.status_code == 400 and "true 或 false" in bad.text

    asked = open311_post(
        stack,
        description="小区井盖松动，夜里有人踩空",
        email="open311-c@example.cn",
        phone="13700000003",
        **{"attribute[notify]": "true"},
    )
    silent = open311_post(
        stack, description="小区路口积水，下雨天过不去", email="open311-d@example.cn"
    )
    numbers = []
    for answer in (asked, silent):
        assert answer.status_code == 201, answer.text
        numbers.append(answer.json()[0]["service_request_id"])
    for number in numbers:
        act(stack, number, "respond", wait_case(stack, number)["member"], note="已安排维修")

    # e-mail only (Open311 asks no SMS consent), once; the client that did not ask: nothing
    stack.wait_for(lambda: mails(box, "open311-c@example.cn"), timeout=30, what="the e-mail")
    [mail] = mails(box, "open311-c@example.cn")
    assert numbers[0] in mail.get_payload(decode=True).decode()
    assert [e for e in gateway_log(log) if e["to"] == "13700000003"] == []
    assert [n["channel"] for n in intake_notices(stack, numbers[0])] == ["email"]
    assert intake_notices(stack, numbers[1]) == [] and mails(box, "open311-d@example.cn") == []
