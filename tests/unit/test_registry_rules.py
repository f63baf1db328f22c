"""Registry rules: field-level errors, revisions, one event per real change, idempotent demo."""

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, select

from services.kernel.models import OutboxMessage
from services.registry import demo, members, records


def events(session):
    return session.scalars(select(OutboxMessage.routing_key).order_by(OutboxMessage.id)).all()


def test_demo_loads_once_and_reloading_changes_nothing(session_of):
    s = session_of("registry")
    first = demo.load(s)
    s.commit()
    assert first == len(demo.SECTORS) + len(demo.STATIONS) + len(demo.MEMBERS)
    count = s.scalar(select(func.count()).select_from(OutboxMessage))
    assert demo.load(s) == 0
    s.commit()
    assert s.scalar(select(func.count()).select_from(OutboxMessage)) == count


def test_a_real_change_bumps_the_revision_and_announces_the_whole_record(session_of):
    s = session_of("registry")
    with s.begin():
        demo.load(s)
    with s.begin():
        row, changed = members.save_member(
            s,
            {
                "code": "m002",
                "name": "李红梅",
                "level": "provincial",
                "sector": "jiaoyu",
                "district": "城关区",
                "stations": [{"station": "gwm"}, {"station": "jql"}],
            },
        )
    assert changed and row.revision == 2
    assert events(s)[-1] == "registry.member_saved"
    assert records.member_payload(row)["stations"] == [
        {"station": "gwm", "role": "member"},
        {"station": "jql", "role": "member"},
    ]


def test_bad_member_names_every_bad_field_and_writes_nothing(session_of):
    s = session_of("registry")
    with s.begin():
        demo.load(s)
    before = s.scalar(select(func.count()).select_from(OutboxMessage))
    with pytest.raises(ValidationError) as err:
        members.save_member(
            s,
            {
                "code": "Bad Code",
                "name": "",
                "level": "village",
                "sector": "jiaoyu",
                "district": "北京",
            },
        )
    assert set(err.value.messages) == {"code", "name", "level", "district"}
    s.rollback()
    with pytest.raises(ValidationError) as err:
        members.save_member(
            s,
            {
                "code": "m100",
                "name": "某",
                "level": "county",
                "sector": "nope",
                "district": "城关区",
                "stations": [{"station": "nowhere"}],
            },
        )
    assert "未知界别" in err.value.messages["sector"][0]
    assert "nowhere" in err.value.messages["stations"][0]
    s.rollback()
    assert s.scalar(select(func.count()).select_from(OutboxMessage)) == before
