"""Notices reach members through real channels: a real SMTP server on loopback receives the
e-mails; the HTTP gateway adapter retries against a local server that fails first, and the
notice is delivered once, with every attempt recorded. Quiet hours and digests are honoured."""

import json
import mailbox
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import sessionmaker

from services.kernel.db import make_engine
from services.kernel.migrations import upgrade
from services.routing import notify
from services.routing.models import Notice
from services.routing.settings import NotifySettings
from tests import notice_servers
from tests.conftest import free_port


@pytest.fixture
def smtp_server(tmp_path):
    box = tmp_path / "mbox"
    with notice_servers.started(notice_servers.smtp_server(box)) as (port,):
        yield port, box


@pytest.fixture
def gateway(tmp_path):
    log = tmp_path / "gateway.log"
    with notice_servers.started(notice_servers.gateway(tmp_path, log, 2)) as (url,):
        yield url, log


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path}/routing.db"
    upgrade("routing", url)
    engine = make_engine(url)
    factory = sessionmaker(engine)

    @contextmanager
    def transaction():
        with factory.begin() as session:
            yield session

    yield transaction
    engine.dispose()


def test_email_notices_reach_a_real_smtp_server_once(db, smtp_server):
    port, box = smtp_server
    settings = NotifySettings(smtp_host="127.0.0.1", smtp_port=port)
    with db() as s:
        notify.save_setting(s, "m003", {"channel": "email", "address": "m003@example.cn"})
        notify.queue_notice(s, "m003", "assigned", "LX1", "a1")
        notify.queue_notice(s, "m003", "assigned", "LX1", "a1")  # the same cause again
        notify.queue_notice(s, "m003", "overdue", "LX1", "due1")
    outcome = notify.deliver_due(db, settings)
    assert (outcome.sent, outcome.failed) == (2, 0)
    assert notify.deliver_due(db, settings).sent == 0  # nothing twice
    messages = list(mailbox.Maildir(str(box)))
    assert sorted(m["To"] for m in messages) == ["m003@example.cn"] * 2
    bodies = sorted(m.get_payload(decode=True).decode() for m in messages)
    assert "LX1" in bodies[0] and "已超期" in bodies[0] + bodies[1]


def test_the_gateway_is_retried_until_it_answers_and_attempts_are_recorded(db, gateway):
    url, log = gateway
    settings = NotifySettings(gateway_url=url, retry_s=(1, 1, 1))
    with db() as s:
        notify.save_setting(s, "m005", {"channel": "sms", "address": "13800001234"})
        notify.queue_notice(s, "m005", "assigned", "LX2", "a7")
    now = datetime.now(UTC)
    assert notify.deliver_due(db, settings, now).retried == 1
    assert notify.deliver_due(db, settings, now).sent == 0  # not due again yet
    assert notify.deliver_due(db, settings, now + timedelta(seconds=2)).retried == 1
    assert notify.deliver_due(db, settings, now + timedelta(seconds=4)).sent == 1
    with db() as s:
        notice = s.query(Notice).one()
        assert (notice.status, notice.attempts, notice.channel) == ("sent", 3, "sms")
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c["ok"] for c in calls] == [False, False, True]
    assert {c["key"] for c in calls} == {"assigned:LX2:m005:a7"}  # one key: idempotent retries
    assert calls[0]["to"] == "13800001234" and "LX2" in calls[0]["text"]


def test_a_gateway_that_never_answers_ends_failed_with_its_error(db):
    settings = NotifySettings(
        gateway_url=f"http://127.0.0.1:{free_port()}/x", retry_s=(1,), timeout_s=1
    )
    with db() as s:
        notify.save_setting(s, "m006", {"channel": "wechat", "address": "wx-m006"})
        notify.queue_notice(s, "m006", "due_soon", "LX3", "d")
    now = datetime.now(UTC)
    notify.deliver_due(db, settings, now)
    assert notify.deliver_due(db, settings, now + timedelta(seconds=2)).failed == 1
    with db() as s:
        [failed] = notify.list_notices(s, status="failed")
        assert failed["attempts"] == 2 and "ConnectionError" in failed["last_error"]


def test_quiet_hours_defer_and_the_digest_gathers(db, smtp_server):
    port, box = smtp_server
    settings = NotifySettings(smtp_host="127.0.0.1", smtp_port=port, digest_hour=8)
    night = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # 23:00 in Beijing
    with db() as s:
        notify.save_setting(
            s,
            "m1",
            {
                "channel": "email",
                "address": "m1@example.cn",
                "quiet_from": "22:00",
                "quiet_to": "07:30",
            },
        )
        notify.save_setting(
            s, "m2", {"channel": "email", "address": "m2@example.cn", "digest": True}
        )
        notify.queue_notice(s, "m1", "assigned", "LX4", "a1")
        notify.queue_notice(s, "m2", "assigned", "LX5", "a2")
        notify.queue_notice(s, "m2", "assigned", "LX6", "a3")
        for n in s.query(Notice):
            n.next_attempt_at = night
    out = notify.deliver_due(db, settings, night)
    assert (out.deferred, out.digested, out.sent) == (1, 2, 0)
    morning = datetime(2026, 11, 28, 0, 5, tzinfo=UTC)  # 08:05 in Beijing
    with db() as s:
        assert notify.make_digests(s, settings, morning) == 1
        assert notify.make_digests(s, settings, morning) == 0  # one digest a day
    assert notify.deliver_due(db, settings, morning).sent == 2  # m1's, and m2's digest
    texts = {m["To"]: m.get_payload(decode=True).decode() for m in mailbox.Maildir(str(box))}
    assert "LX4" in texts["m1@example.cn"]
    assert "2 条" in texts["m2@example.cn"] and "LX5" in texts["m2@example.cn"]


def test_settings_are_validated_field_by_field(db):
    with db() as s, pytest.raises(Exception) as err:
        notify.save_setting(
            s, "m1", {"channel": "email", "address": "not-an-address", "quiet_from": "25:00"}
        )
    assert "address" in err.value.messages or "quiet_from" in err.value.messages


def test_a_busy_hour_of_notices_is_dealt_with_in_one_round(db, smtp_server):
    """600 notices due at once, most for members who set no channel: one round skips those and
    sends the rest (it used to look at 100 a round, 20 a second, less than a busy day makes)."""
    port, box = smtp_server
    settings = NotifySettings(smtp_host="127.0.0.1", smtp_port=port)
    with db() as s:
        notify.save_setting(s, "m003", {"channel": "email", "address": "m003@example.cn"})
        for i in range(597):
            notify.queue_notice(s, f"m{i % 40 + 100}", "assigned", f"LX{i}", f"a{i}")
        for i in range(3):
            notify.queue_notice(s, "m003", "assigned", f"LY{i}", f"b{i}")
    outcome = notify.deliver_due(db, settings)
    assert (outcome.skipped, outcome.sent, outcome.failed) == (597, 3, 0)
    with db() as s:
        statuses = {n.status for n in s.query(Notice).filter(Notice.member_code != "m003")}
    assert statuses == {"skipped"}
    assert len(list(mailbox.Maildir(str(box)))) == 3
