"""A registry that holds data from before studios and rosters upgrades with its rows intact."""

from datetime import date

from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.kernel.db import make_engine
from services.kernel.migrations import alembic_config, upgrade
from services.registry import registry, roster

BEFORE_STUDIOS = "009f4cd732f1"


def test_existing_rows_get_defaults_and_work_with_the_new_rules(db_url):
    command.upgrade(alembic_config("registry", db_url), BEFORE_STUDIOS)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO sectors VALUES ('yiyao', '医药卫生', 1)"))
            conn.execute(
                text(
                    "INSERT INTO stations VALUES ('gwm', '广武门街道委员工作站', '城关区', 'street', true, 1)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO members VALUES "
                    "('m003', '张志强', 'county', 'yiyao', '城关区', true, 3)"
                )
            )
            conn.execute(text("INSERT INTO memberships VALUES ('m003', 'gwm', 'member')"))
        upgrade("registry", db_url)
        with Session(engine) as s:
            member = registry.get(s, "members", "m003")
            assert (member.phone, member.expertise, member.term, member.revision) == ("", [], "", 3)
            assert registry.get(s, "stations", "gwm").street == ""
            row, changed = registry.update(s, "members", "m003", {"expertise": ["义诊"]})
            assert changed and row.revision == 4
            roster.save_roster(s, {"date": "2026-12-02", "station": "gwm", "members": ["m003"]})
            s.commit()
            assert [m["code"] for m in roster.on_duty(s, "gwm", date(2026, 12, 2))] == ["m003"]
    finally:
        engine.dispose()
