"""Two registry processes writing one record at once (issue 23): on PostgreSQL the second change
waits for the first (a row lock), then builds on its values and revision, so the copies that keep
the newest revision see both changes, never two different records under one revision."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from services.kernel.migrations import upgrade
from services.kernel.models import OutboxMessage
from services.registry import demo
from services.registry.members import save_member
from services.registry.models import Member


def record(name: str) -> dict:
    return {
        "code": "m003",
        "name": name,
        "level": "county",
        "sector": "yiyao",
        "district": "城关区",
        "stations": [{"station": "gwm", "role": "member"}],
    }


def test_a_second_writer_waits_and_takes_the_next_revision(pg_databases):
    url = pg_databases.create()
    upgrade("registry", url)
    demo.load_into(url, "small")
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            start = s.get(Member, "m003").revision
        first, second = Session(engine), Session(engine)
        first.begin()
        second.begin()
        stale = second.get(Member, "m003")  # the second process read it before the first saved
        assert save_member(first, record("张志强（一）"))[1]
        first.commit()
        assert save_member(second, record("张志强（二）"))[1]  # its read is older than that
        second.commit()
        assert stale.name == "张志强（二）"
        with Session(engine) as s:
            row = s.get(Member, "m003")
            assert (row.name, row.revision) == ("张志强（二）", start + 2)
            sent = [
                json.loads(b)["payload"]
                for b in s.scalars(select(OutboxMessage.body).order_by(OutboxMessage.id))
            ]
        announced = [(p["name"], p["revision"]) for p in sent if p.get("code") == "m003"]
        assert announced[-2:] == [("张志强（一）", start + 1), ("张志强（二）", start + 2)]
        first.close()
        second.close()
    finally:
        engine.dispose()
