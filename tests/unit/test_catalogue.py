"""The dispatch catalogue is announced once per content, and intake's copy follows it."""

import json

from sqlalchemy import select

from services.intake import known as intake_known
from services.kernel.events import new_event, parse_event
from services.kernel.models import OutboxMessage
from services.routing import catalogue


def test_routing_announces_a_catalogue_content_once(session_of):
    s = session_of("routing")
    assert catalogue.publish(s) is True
    assert catalogue.publish(s) is False
    s.commit()
    [event] = s.scalars(select(OutboxMessage)).all()
    payload = json.loads(event.body)["payload"]
    assert payload["digest"] == catalogue.published_form()["digest"]
    assert catalogue.sectors_for("health") == ["yiyao"]


def test_intake_copy_replaces_the_catalogue_whole(session_of):
    s = session_of("intake")

    def announce(categories):
        intake_known.apply_event(
            s,
            parse_event(
                new_event(
                    "routing.catalogue_published",
                    {"version": 1, "digest": "x", "categories": categories},
                    "routing",
                )
            ),
        )
        s.flush()

    announce(
        [
            {"code": "a", "name": "甲", "name_en": "A", "sectors": []},
            {"code": "b", "name": "乙", "name_en": "B", "sectors": []},
        ]
    )
    assert [c["code"] for c in intake_known.categories(s)] == ["a", "b"]
    announce(
        [
            {"code": "c", "name": "丙", "name_en": "C", "sectors": []},
            {"code": "a", "name": "甲", "name_en": "A", "sectors": []},
        ]
    )
    assert [c["code"] for c in intake_known.categories(s)] == ["c", "a"]
