"""Notices to citizens, the rules: only with the tick, one per cause whatever is replayed, the
form's checks, quiet hours and failures recorded (times given, never waited for)."""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from services.intake import known, notices, personal
from services.intake.models import CitizenNotice, Issue, NoticeConsent
from services.kernel import sealed
from services.kernel.delivery import DeliverySettings, Outcome
from services.kernel.events import new_event
from tests.unit.test_intake_rules import GOOD, deliver, knows_member

STATUS = "https://lianxin.example.cn/intake/status"


def issue(session, sid, phone="13912345678", tick=True, email=None):
    """An issue from the QR channel, with the notice tick (or not) kept as the form keeps it."""
    form = {"phone": phone or "", "notify": "1" if tick else "", "email": email or ""}
    with session.begin():
        notices.record_consent(session, sid, form)
    contact = {"name": "王芳", "phone": phone} if phone else None
    body = {**GOOD, "submission_id": sid, **({"contact": contact} if contact else {})}
    result = deliver(session, body)
    assert result["status"] == "accepted", result
    return result


def number_of(session, sid):
    with session.begin():
        return session.scalar(select(Issue.tracking_number).where(Issue.submission_id == sid))


def routing(kind, number, **payload):
    return new_event(f"routing.{kind}", {"tracking_number": number, **payload}, "routing")


def rows(session):
    """The notices as they are now (a new transaction: what other sessions committed)."""
    session.rollback()
    return session.scalars(select(CitizenNotice).order_by(CitizenNotice.id)).all()


def test_a_ticked_issue_gets_one_notice_per_cause_and_an_unticked_none(session_of):
    s = session_of("intake")
    knows_member(s)
    issue(s, "sub-ticked-0001", email="a@example.cn")
    issue(s, "sub-silent-0002", tick=False)
    ticked, silent = number_of(s, "sub-ticked-0001"), number_of(s, "sub-silent-0002")
    answered = routing("issue_responded", ticked, member="m003", answer="已联系")
    with s.begin():
        assert notices.on_event(s, answered, STATUS) == 2  # SMS and e-mail
        assert notices.on_event(s, answered, STATUS) == 0  # the same event again: nothing
        assert notices.on_event(s, routing("issue_responded", silent), STATUS) == 0
        satisfied = {"rating": "satisfied", "from_status": "resolved", "to_status": "resolved"}
        assert notices.on_event(s, routing("issue_rated", ticked, **satisfied), STATUS) == 0
        reopened = {"rating": "unsatisfied", "reopened": True}
        assert notices.on_event(s, routing("issue_rated", ticked, **reopened), STATUS) == 2
        assert notices.on_event(s, routing("issue_closed_unresolved", ticked), STATUS) == 2
        assert notices.on_event(s, routing("issue_accepted", ticked), STATUS) == 0
    found = rows(s)
    assert [(n.kind, n.channel) for n in found] == [
        ("answered", "sms"),
        ("answered", "email"),
        ("reopened", "sms"),
        ("reopened", "email"),
        ("closed", "sms"),
        ("closed", "email"),
    ]
    assert {n.tracking_number for n in found} == {ticked}
    text = found[0].text
    assert text.startswith(f"【连心】您反映的问题（受理编号 {ticked}）委员已答复")
    assert f"{STATUS}?number={ticked}" in text and "m003" not in text and "已联系" not in text
    assert "13912345678" not in text  # the address is read when sending, never stored


def test_a_tick_without_a_phone_sends_by_e_mail_only(session_of):
    s = session_of("intake")
    knows_member(s)
    issue(s, "sub-mail-only-03", phone=None, email="b@example.cn")
    number = number_of(s, "sub-mail-only-03")
    with s.begin():
        assert notices.on_event(s, routing("issue_resolved", number), STATUS) == 1
    assert [(n.kind, n.channel) for n in rows(s)] == [("closed", "email")]


def test_the_forms_checks():
    assert notices.form_errors({}) == {}
    assert notices.form_errors({"notify": "1", "phone": "13912345678"}) == {}
    assert notices.form_errors({"notify": "1", "email": "a@example.cn"}) == {}
    assert "notify" in notices.form_errors({"notify": "1"})
    assert "notify" in notices.form_errors({"email": "a@example.cn"})
    assert "email" in notices.form_errors({"notify": "1", "email": "not-an-address"})
    assert "email" in notices.form_errors({"notify": "1", "email": "a@" + "x" * 200 + ".cn"})


def test_open311_asks_for_notices_with_email_and_attribute_notify():
    flag = notices.OPEN311_FLAG
    assert notices.open311_problems({}) == []
    assert notices.open311_consent({"email": "a@example.cn"}) is None  # no flag: not kept
    assert notices.open311_problems({flag: "false", "email": "a@example.cn"}) == []
    asked = {flag: "true", "email": "a@example.cn", "phone": "13912345678"}
    assert notices.open311_problems(asked) == []
    assert notices.open311_consent(asked) == {"notify": "1", "email": "a@example.cn"}  # no SMS
    assert notices.open311_problems({flag: "true"})[0].startswith(f"{flag}: 须同时提供 email")
    assert notices.open311_problems({flag: "maybe"})[0].startswith(f"{flag}: 须为 true 或 false")
    assert notices.open311_problems({flag: "1", "email": "nope"})[0].startswith("email:")


def test_quiet_hours_defer_and_a_failing_channel_is_retried_then_failed(session_of):
    s = session_of("intake")
    knows_member(s)
    issue(s, "sub-quiet-00004")
    number = number_of(s, "sub-quiet-00004")
    with s.begin():
        notices.on_event(s, routing("issue_responded", number), STATUS)
    factory = sessionmaker(s.get_bind())

    @contextmanager
    def transaction():
        with factory.begin() as session:
            yield session

    # no gateway configured: every attempt fails and is recorded
    settings = DeliverySettings(retry_s=(60,))
    quiet = ("21:00", "08:00")
    night = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 23:30 in Beijing
    out = notices.deliver_due(transaction, settings, quiet, now=night)
    assert (out.deferred, out.sent, out.retried) == (1, 0, 0)
    (notice,) = rows(s)
    assert notice.attempts == 0
    assert notice.next_attempt_at == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 08:00 Beijing
    morning = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    out = notices.deliver_due(transaction, settings, quiet, now=morning)
    assert (out.retried, out.failed) == (1, 0)
    assert rows(s)[0].last_error == "RuntimeError: no SMS/WeChat gateway configured"
    later = datetime(2026, 12, 1, 0, 7, tzinfo=UTC)  # after the 60 s back-off
    out = notices.deliver_due(transaction, settings, quiet, now=later)
    assert out.failed == 1
    (notice,) = rows(s)
    assert (notice.status, notice.attempts) == ("failed", 2)
    assert notices.list_notices(s, number)[0]["status"] == "failed"


def test_the_e_mail_for_notices_is_sealed_and_resealed_by_a_key_rotation(session_of):
    s = session_of("intake")
    old, new = sealed.DEV_PII_KEY, Fernet.generate_key().decode()
    sealed.configure({"security": {"pii_key": old}})
    try:
        with s.begin():
            notices.record_consent(s, "sub-sealed-0005", {"notify": "1", "email": "c@example.cn"})
        with s.begin():
            stored = s.execute(text("SELECT email FROM notice_consents")).scalar()
        assert "c@example.cn" not in stored  # sealed at rest
        sealed.configure({"security": {"pii_key": f"{new},{old}"}})
        with s.begin():
            assert personal.rotate(s)["notice_emails"] == 1
        sealed.configure({"security": {"pii_key": new}})  # the old key is gone
        s.expire_all()
        with s.begin():
            assert s.get(NoticeConsent, "sub-sealed-0005").email == "c@example.cn"
    finally:
        sealed.configure({})


def test_a_citizen_whose_issue_was_merged_is_told_of_the_main_case_under_their_own_number(
    session_of,
):
    s = session_of("intake")
    knows_member(s)
    issue(s, "sub-main-000006", tick=False)
    issue(s, "sub-follower-07", phone="13700000007")
    main, follower = number_of(s, "sub-main-000006"), number_of(s, "sub-follower-07")
    merged = routing("issue_merged", follower, into=main, member="m003")
    with s.begin():
        known.apply_event(s, merged)
        assert notices.on_event(s, routing("issue_resolved", main), STATUS) == 1
    (notice,) = rows(s)
    assert (notice.tracking_number, notice.kind) == (follower, "closed")
    assert f"受理编号 {follower}" in notice.text and main not in notice.text


def test_a_notice_is_taken_by_one_intake_process_only(session_of):
    s = session_of("intake")
    knows_member(s)
    issue(s, "sub-claimed-0008")
    number = number_of(s, "sub-claimed-0008")
    with s.begin():
        notices.on_event(s, routing("issue_responded", number), STATUS)
    now = datetime.now(UTC) + timedelta(seconds=1)
    with s.begin():  # one process's round takes it…
        taken = notices._due(s, now, 10, None, Outcome())
    with s.begin():  # …another's, at the same moment, finds it leased
        again = notices._due(s, now, 10, None, Outcome())
    assert [t[1:3] for t in taken] == [("sms", "13912345678")] and again == []
    lease_over = now + timedelta(seconds=notices.LEASE_S)
    with s.begin():  # a process that died while sending: sent again once the lease is over
        assert len(notices._due(s, lease_over, 10, None, Outcome())) == 1
