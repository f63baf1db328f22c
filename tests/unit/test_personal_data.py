"""Intake's personal-data rules without a broker: masks, sealing and key rotation, the migration
that seals existing rows, who may see a contact whole and the audit log, the throttles and the
client address (real SQLite and PostgreSQL)."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.orm import Session
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.intake import personal, throttle
from services.intake.models import ContactView, Issue, IssueStep, Submission
from services.kernel import auth, masking, sealed
from services.kernel.config import ROOT
from services.kernel.db import make_engine
from services.kernel.http import ApiError
from services.kernel.migrations import alembic_config, upgrade

PHONE = "13812341234"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_masks_keep_only_what_a_list_needs():
    assert masking.mask_phone("13812341234") == "138****1234"
    assert masking.mask_phone("+86 138-1234-1234") == "861******1234"
    assert masking.mask_phone("12345") == "***45"
    assert masking.mask_name("张三丰") == "张*"
    assert masking.mask_name("Li Wei") == "L*"
    assert masking.mask_name(None) is None and masking.mask_phone("") == ""
    assert masking.mask_address("bai@example.cn") == "b***@example.cn"
    assert masking.mask_address("13812341234") == "138****1234"  # a notice by SMS


@pytest.mark.parametrize(
    "typed, shown",
    [
        ("我的电话13912345678", "我的电话139****5678"),
        ("电话：139-1234-5678，请回电", "电话：139****5678，请回电"),
        ("手机 +86 139 1234 5678", "手机 861******5678"),
        ("座机0931-8123456", "座机093****3456"),
        ("打8123456找王师傅", "打*****56找王师傅"),
        ("tel13912345678", "tel139****5678"),
        ("１３９１２３４５６７８", "１３９****５６７８"),  # full-width, as Chinese keyboards type
        ("身份证620102199001011234", "身份证620*************34"),
        ("身份证号62010219900101123X。", "身份证号620*************3X。"),
    ],
)
def test_numbers_typed_into_free_text_are_masked(typed, shown):
    masked = masking.mask_text(typed)
    assert masked == shown
    assert masking.mask_text(masked) == masked  # masking again changes nothing


def test_free_text_keeps_what_is_no_ones_number():
    for text in (
        "楼道灯坏了 3 号楼 2 单元",
        "2026-11-29 下午",
        "LX20261127000042 的后续",
        "共 120 户",
    ):
        assert masking.mask_text(text) == text
    assert masking.mask_text(None) is None and masking.mask_text("") == ""


def test_the_issue_received_event_carries_the_words_masked_and_no_contact():
    from types import SimpleNamespace

    from services.intake.schemas import IssueReceivedSchema

    issue = SimpleNamespace(
        tracking_number="LX20261129000001",
        station_code="gwm",
        channel="qr",
        category="health",
        member_code=None,
        submitted_at=NOW,
        received_at=NOW,
        same_as=None,
        description="楼道灯坏了，我的电话13912345678",
        place="广武门 3 号，身份证620102199001011234",
        contact_name="王小明",
        contact_phone=PHONE,
    )
    payload = IssueReceivedSchema().dump(issue)
    assert payload["description"] == "楼道灯坏了，我的电话139****5678"
    assert payload["place"] == "广武门 3 号，身份证620*************34"
    text = json.dumps(payload, ensure_ascii=False)
    assert "13912345678" not in text and "620102199001011234" not in text
    assert PHONE not in text and "王小明" not in text


def test_a_rotated_key_ring_still_opens_old_values_and_reseals_them_under_the_new_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = sealed.Keyring([old]).seal(PHONE.encode())
    assert PHONE.encode() not in token
    ring = sealed.Keyring([new, old])  # LIANXIN_PII_KEY="new,old" during the rotation
    assert ring.open(token) == PHONE.encode()
    resealed = ring.reseal(token)
    assert sealed.Keyring([new]).open(resealed) == PHONE.encode()
    with pytest.raises(InvalidToken):
        sealed.Keyring([old]).open(resealed)  # the old key can be dropped now
    assert sealed.keys_of({"security": {"pii_key": f"{new}, {old}"}}) == [new, old]


def test_a_parked_body_is_sealed_and_listed_with_the_contact_masked():
    body = json.dumps(
        {"description": "x", "contact": {"name": "王小明", "phone": PHONE}}, ensure_ascii=False
    ).encode()
    stored = sealed.current().seal_body(body)
    assert PHONE.encode() not in stored and sealed.is_sealed_body(stored)
    assert sealed.current().open_body(stored) == body
    shown = personal.redact_message(body)
    assert PHONE not in shown and "138****1234" in shown and "王*" in shown


@pytest.fixture
def session(db_url):
    upgrade("intake", db_url)
    engine = make_engine(db_url)
    with Session(engine) as s:
        yield s
    engine.dispose()


def raw_text(session) -> str:
    """Every stored value of intake's personal-data tables, as the database holds it."""
    out = []
    for table in ("issues", "submissions", "kernel_parked"):
        for row in session.execute(sa.text(f"SELECT * FROM {table}")):
            for v in row:
                out.append(
                    bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v)
                )
    return "\n".join(out)


def test_the_migration_seals_what_was_stored_in_the_clear(db_url):
    cfg = alembic_config("intake", db_url)
    make_engine(db_url).dispose()
    command.upgrade(cfg, "1730a2d7868b")  # the schema before personal data was sealed
    command.upgrade(cfg, "kernel@head")  # the kernel's tables (kernel_parked): their own branch
    engine = make_engine(db_url)
    body = json.dumps({"contact": {"name": "王小明", "phone": PHONE}}, ensure_ascii=False).encode()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO issues (tracking_number, lookup_code, submission_id, station_code,"
                " channel, category, description, contact_name, contact_phone, submitted_at,"
                " received_at) VALUES ('LX1', '123456', 's-1', 'gwm', 'qr', 'health', 'd',"
                " '王小明', :phone, :now, :now)"
            ),
            {"phone": PHONE, "now": NOW.replace(tzinfo=None)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO submissions (submission_id, queue, status, raw_body, received_at)"
                " VALUES ('s-1', 'station.gwm', 'accepted', :b, :now)"
            ),
            {"b": body, "now": NOW.replace(tzinfo=None)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO kernel_parked (consumer, queue, exchange, routing_key, headers, body,"
                " attempts, error, parked_at) VALUES ('station.gwm', 'station.gwm', '', '',"
                " '{}', :b, 3, 'boom', :now)"
            ),
            {"b": body, "now": NOW.replace(tzinfo=None)},
        )
    command.upgrade(cfg, "heads")
    with Session(engine) as s:
        assert PHONE not in raw_text(s) and "王小明" not in raw_text(s)
        issue = s.scalar(sa.select(Issue))
        assert (issue.contact_name, issue.contact_phone) == ("王小明", PHONE)
        assert s.scalar(sa.select(Submission)).raw_body == body
    command.downgrade(cfg, "1730a2d7868b")  # and back, for a rollback
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT contact_phone FROM issues")) == PHONE
    engine.dispose()


def add_issue(session, number="LX20261127000001", station="gwm", phone=PHONE, name="王小明"):
    issue = Issue(
        tracking_number=number,
        lookup_code="123456",
        submission_id=f"sub-{number}",
        station_code=station,
        channel="qr",
        category="health",
        description="楼道灯坏了",
        contact_name=name,
        contact_phone=phone,
        submitted_at=NOW,
        received_at=NOW,
    )
    session.add(issue)
    session.flush()
    return issue


def step(session, number, kind, member=None, minutes=0):
    session.add(
        IssueStep(
            tracking_number=number,
            step=kind,
            member_code=member,
            occurred_at=NOW + timedelta(minutes=minutes),
        )
    )
    session.flush()


OFFICE = auth.Principal("office1", "office")
GWM_ADMIN = auth.Principal("gwm-admin", "station_admin", stations=frozenset({"gwm"}))
JNL_ADMIN = auth.Principal("jnl-admin", "station_admin", stations=frozenset({"jnl"}))
M003 = auth.Principal("m003", "member", member="m003")
M007 = auth.Principal("m007", "member", member="m007")
STUDIO = auth.Principal("studio", "studio_admin", studios=frozenset({"st1"}))


def test_only_those_who_must_call_back_see_the_contact_and_each_view_is_logged(session):
    number = add_issue(session).tracking_number
    step(session, number, "routing.issue_assigned", "m003", 1)
    assert personal.assigned_member(session, number) == "m003"

    for who in (OFFICE, GWM_ADMIN, M003):
        shown = personal.reveal(session, who, number, "10.0.0.9", "回访")
        assert shown["contact"] == {"name": "王小明", "phone": PHONE}
    for who in (JNL_ADMIN, M007, STUDIO):
        with pytest.raises(ApiError) as err:
            personal.reveal(session, who, number, "10.0.0.9")
        assert err.value.status == 403
    with pytest.raises(ApiError) as err:
        personal.reveal(session, OFFICE, "LX-none", "10.0.0.9")
    assert err.value.status == 404

    # transferred to m007: now m007 may, m003 no longer
    step(session, number, "routing.issue_transferred", "m007", 2)
    personal.reveal(session, M007, number, "10.0.0.8")
    with pytest.raises(ApiError):
        personal.reveal(session, M003, number, "10.0.0.8")

    log = personal.audit_log(session, number=number)
    assert [(v["account"], v["role"]) for v in log] == [
        ("m007", "member"),
        ("m003", "member"),
        ("gwm-admin", "station_admin"),
        ("office1", "office"),
    ]
    assert all(v["fields"] == ["name", "phone"] for v in log)
    assert log[-1]["reason"] == "回访" and log[-1]["address"] == "10.0.0.9"
    assert session.scalar(sa.select(sa.func.count()).select_from(ContactView)) == 4
    # the listing shows only the mask
    assert personal.masked_contact(session.get(Issue, 1)) == {"name": "王*", "phone": "138****1234"}


def test_rotation_reseals_every_row_under_the_new_key(session):
    old, new = sealed.DEV_PII_KEY, Fernet.generate_key().decode()
    sealed.configure({"security": {"pii_key": old}})
    try:
        add_issue(session)
        session.add(Submission(queue="station.gwm", status="accepted", raw_body=b'{"a": 1}'))
        session.commit()
        sealed.configure({"security": {"pii_key": f"{new},{old}"}})
        counts = personal.rotate(session)
        session.commit()
        assert counts["issues"] == 1 and counts["submissions"] == 1
        sealed.configure({"security": {"pii_key": new}})  # the old key is gone
        session.expire_all()
        assert session.scalar(sa.select(Issue)).contact_phone == PHONE
        assert session.scalar(sa.select(Submission)).raw_body == b'{"a": 1}'
    finally:
        sealed.configure({})


def test_lookups_are_slowed_per_number_and_per_address_with_growing_waits(session):
    assert throttle.lookup_wait(4, NOW, 5, NOW) == 0
    assert throttle.lookup_wait(5, NOW, 5, NOW) == 60
    assert throttle.lookup_wait(7, NOW, 5, NOW) == 240
    assert throttle.lookup_wait(30, NOW, 5, NOW) == 3600  # capped
    assert throttle.lookup_wait(5, NOW, 5, NOW + timedelta(seconds=61)) == 0

    for i in range(5):
        throttle.check_lookup(session, "LX1", f"10.0.0.{i}", NOW)
        throttle.lookup_failed(session, "LX1", f"10.0.0.{i}", NOW)
    with pytest.raises(throttle.Slowed) as slowed:
        throttle.check_lookup(session, "LX1", "10.9.9.9", NOW)  # any address: the number waits
    assert slowed.value.retry_after == 60
    throttle.check_lookup(session, "LX2", "10.9.9.9", NOW)  # another number is not held up
    for i in range(10):  # one address trying many numbers
        throttle.lookup_failed(session, f"LX-guess-{i}", "10.6.6.6", NOW)
    with pytest.raises(throttle.Slowed):
        throttle.check_lookup(session, "LX-guess-new", "10.6.6.6", NOW)
    assert throttle.prune(session, NOW + timedelta(days=2)) > 0


def test_a_flood_from_one_address_neither_passes_nor_uses_up_the_code(session):
    limits = {"limit_window_s": 600, "limit_per_address": 3, "limit_per_code": 5}
    limits["limit_per_api_key"] = 5
    for _ in range(3):
        throttle.admit_submission(session, "qr", "10.6.6.6", "station/gwm", limits, NOW)
    for _ in range(20):
        with pytest.raises(throttle.Slowed) as slowed:
            throttle.admit_submission(session, "qr", "10.6.6.6", "station/gwm", limits, NOW)
    assert slowed.value.retry_after == 600
    # two citizens elsewhere still get through: the slowed flood did not count against the code
    throttle.admit_submission(session, "qr", "10.1.1.1", "station/gwm", limits, NOW)
    throttle.admit_submission(session, "qr", "10.1.1.2", "station/gwm", limits, NOW)
    with pytest.raises(throttle.Slowed):  # the code's own allowance (5) is used up now
        throttle.admit_submission(session, "qr", "10.1.1.3", "station/gwm", limits, NOW)
    later = NOW + timedelta(seconds=601)
    throttle.admit_submission(session, "qr", "10.6.6.6", "station/gwm", limits, later)


def request_from(remote, forwarded=None) -> Request:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return Request(
        EnvironBuilder(headers=headers, environ_base={"REMOTE_ADDR": remote}).get_environ()
    )


def test_the_client_address_believes_only_the_trusted_proxy():
    config = {"security": {"trusted_proxies": "10.0.0.2, 192.168.0.0/24"}}
    assert auth.client_address(request_from("203.0.113.5", "1.2.3.4"), config) == "203.0.113.5"
    assert auth.client_address(request_from("10.0.0.2", "198.51.100.7"), config) == ("198.51.100.7")
    # a client's own X-Forwarded-For entry in front of the proxy's is ignored
    chain = "6.6.6.6, 198.51.100.7, 192.168.0.4"
    assert auth.client_address(request_from("10.0.0.2", chain), config) == "198.51.100.7"
    assert auth.client_address(request_from("10.0.0.2", "not-an-ip"), config) == "10.0.0.2"
    assert auth.client_address(request_from("10.0.0.2", "1.2.3.4"), {}) == "10.0.0.2"
    by_name = {"security": {"trusted_proxies": "localhost"}}
    assert auth.client_address(request_from("127.0.0.1", "1.2.3.4"), by_name) == "1.2.3.4"


def test_production_intake_refuses_the_default_pii_key_and_the_demo_open311_key():
    env = {k: v for k, v in os.environ.items() if k not in ("LIANXIN_PII_KEY",)}
    env["LIANXIN_CONFIG"] = str(ROOT / "deploy/config/compose.yaml")  # environment: production
    env["LIANXIN_SECRET_KEY"] = "s" * 48
    env["INTAKE_OPEN311_API_KEYS"] = "lianxin-demo-key"
    run = subprocess.run(
        [sys.executable, "-m", "services.kernel.runner", "intake"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "security.pii_key" in run.stderr and "open311_api_keys" in run.stderr


def test_routing_keeps_the_words_masked_and_takes_old_events_without_them():
    from services.routing.opening import new_case

    event = {
        "tracking_number": "LX20261129000001",
        "station": "gwm",
        "channel": "qr",
        "category": "health",
        "member": None,
        "received_at": NOW.isoformat(),
    }
    old = new_case(event)  # an event from before the words travelled
    assert old.description is None and old.place is None and old.response_due
    # a sender that did not mask (an old or foreign producer): routing masks on the way in
    case = new_case({**event, "description": "我的电话13912345678", "place": None})
    assert case.description == "我的电话139****5678" and case.place is None
