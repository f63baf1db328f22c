"""Back-dating is operator-only (services/kernel/backdating.py): a replay deployment's setting
and the office's credential; a time never before what it follows, never in the future."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.intake import intake
from services.intake.models import Issue, Submission
from services.kernel import auth, backdating
from services.kernel.http import ApiError
from services.kernel.messaging import Delivery
from services.kernel.models import OutboxMessage
from services.routing import access, actions
from services.routing.settings import RoutingSettings
from tests.unit.test_routing_rules import T0, issue

ON = {"security": {"backdating": "true", "secret_key": "k" * 40}}
OFF = {"security": {"secret_key": "k" * 40}}
OFFICE = auth.Principal("operator", "office")
MEMBER = auth.Principal("doc", "member", member="doc")
IN_2024 = datetime(2024, 3, 5, 2, tzinfo=UTC)


def test_the_setting_is_off_unless_set():
    assert not backdating.enabled(OFF) and not backdating.enabled({})
    assert not backdating.enabled({"security": {"backdating": "false"}})
    assert backdating.enabled(ON) and backdating.may(ON, OFFICE)
    assert not backdating.may(ON, MEMBER) and not backdating.may(OFF, OFFICE)
    assert RoutingSettings.from_config(ON).backdating
    assert not RoutingSettings.from_config(OFF).backdating


# -- routing: an action's ``at`` ---------------------------------------------------------------


def _events(s):
    rows = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    return [json.loads(e.body) for e in rows]


@pytest.fixture
def s(session_of):
    from tests.unit.test_routing_rules import member

    s = session_of("routing")
    member(s, "doc", "yiyao")
    return s


def act(s, action, at, who=OFFICE, backdating_on=True, **kw):
    settings = RoutingSettings(backdating=backdating_on)
    scope = access.Scope(who)
    return actions.act(s, "LX1", action, who.account, settings=settings, scope=scope, at=at, **kw)


def field_error(call) -> dict:
    with pytest.raises(ApiError) as err:
        call()
    assert err.value.status == 400
    return err.value.fields


def test_an_office_action_dated_in_the_past_is_dated_so_in_its_event(s):
    issue(s, "LX1", received=IN_2024)
    act(s, "respond", IN_2024 + timedelta(hours=3), note="已联系")
    case = act(s, "resolve", IN_2024 + timedelta(days=1), note="已办结")
    assert case.resolved_at == IN_2024 + timedelta(days=1)
    resolved = _events(s)[-1]
    assert resolved["type"] == "routing.issue_resolved"
    assert resolved["occurred_at"].startswith("2024-03-06")
    assert resolved["payload"]["at"].startswith("2024-03-06")


def test_without_the_setting_or_from_a_member_a_past_at_is_a_400_on_at(s):
    issue(s, "LX1", received=IN_2024)
    later = IN_2024 + timedelta(hours=1)
    off = field_error(lambda: act(s, "respond", later, backdating_on=False, note="x"))
    assert "at" in off
    assert "at" in field_error(lambda: act(s, "respond", later, who=MEMBER, note="x"))
    assert s.get(actions.Case, "LX1").responded_at is None


def test_never_before_the_case_or_its_last_step_never_in_the_future(s):
    issue(s, "LX1", received=IN_2024)
    before = IN_2024 - timedelta(minutes=1)
    assert "at" in field_error(lambda: act(s, "respond", before, note="x"))
    future = datetime.now(UTC) + timedelta(hours=1)
    assert "at" in field_error(lambda: act(s, "respond", future, note="x"))
    act(s, "respond", IN_2024 + timedelta(days=2), note="已联系")
    # the resolution may not come before the answer it follows
    assert "at" in field_error(lambda: act(s, "resolve", IN_2024 + timedelta(days=1), note="x"))
    # a transfer or merge is never back-dated
    assert "at" in field_error(lambda: act(s, "transfer", T0, note="x", to_station="gwm"))


# -- intake: a queued submission's ``submitted_at`` ---------------------------------------------

SUB = {
    "submission_id": "replay-12345678",
    "station": "gwm",
    "category": "health",
    "description": "2024年情景问题",
    "channel": "amqp",
    "submitted_at": IN_2024.isoformat(),
}


def receive(session, config, token=None, body=SUB):
    headers = {} if token is None else {backdating.OPERATOR_HEADER: token}
    delivery = Delivery(queue="station.gwm", body=json.dumps(body).encode(), headers=headers)
    with session.begin():
        return intake.receive(session, delivery, config=config)


def test_an_operator_message_is_received_at_its_submitted_at(session_of):
    s = session_of("intake")
    result = receive(s, ON, auth.issue_token(OFFICE, ON))
    assert result["status"] == "accepted"
    assert result["tracking_number"].startswith("LX20240305")
    row = s.scalar(select(Issue))
    assert row.received_at == IN_2024 and row.backdated_by == "operator"
    [event] = [json.loads(e.body) for e in s.scalars(select(OutboxMessage))]
    assert event["payload"]["received_at"].startswith("2024-03-05")
    assert event["occurred_at"].startswith("2024-03-05")


@pytest.mark.parametrize(
    "config, who",
    [(OFF, OFFICE), (ON, MEMBER), (ON, None)],
    ids=["setting off", "a member's token", "a forged token"],
)
def test_back_dating_that_may_not_is_rejected_on_submitted_at(session_of, config, who):
    s = session_of("intake")
    token = auth.issue_token(who, ON) if who else "forged.token"
    result = receive(s, config, token)
    assert result["status"] == "rejected" and "submitted_at" in result["errors"]
    assert s.scalar(select(Issue)) is None
    assert s.scalar(select(Submission)).status == "rejected"


def test_without_the_header_submitted_at_is_kept_and_the_issue_received_now(session_of):
    s = session_of("intake")
    result = receive(s, ON)
    row = s.scalar(select(Issue))
    assert result["status"] == "accepted" and row.backdated_by is None
    assert row.submitted_at == IN_2024
    assert datetime.now(UTC) - row.received_at < timedelta(minutes=1)
