"""Each service's Alembic migrations build its tables and the kernel's, on both databases."""

import pytest
from sqlalchemy import inspect

from services.kernel import config as lx_config
from services.kernel.db import make_engine
from services.kernel.migrations import upgrade

OWN_TABLES = {
    "registry": {
        "sectors",
        "stations",
        "members",
        "memberships",
        "studios",
        "studio_sectors",
        "studio_memberships",
        "roster_days",
        "roster_duties",
        "accounts",
        "sign_in_failures",
    },
    "intake": {
        "known_stations",
        "known_categories",
        "known_members",
        "known_studios",
        "submissions",
        "issues",
        "issue_steps",
        "activities",
        "contact_views",
        "throttle_hits",
        "copy_revisions",
    },
    "routing": {
        "member_copies",
        "membership_copies",
        "cases",
        "assignments",
        "published_catalogues",
        "case_events",
        "station_copies",
        "studio_copies",
        "studio_membership_copies",
        "roster_copies",
        "notification_settings",
        "notices",
        "member_loads",
        "copy_revisions",
    },
    "reporting": {
        "event_store",
        "monthly_figures",
        "monthly_rollups",
        "case_facts",
        "station_dims",
        "member_dims",
        "studio_dims",
        "activity_facts",
    },
}
KERNEL_TABLES = {"kernel_outbox", "kernel_processed", "kernel_parked", "alembic_version"}


@pytest.mark.parametrize("service", lx_config.service_names(lx_config.load()))
def test_migrations_build_every_table_and_rerun_harmlessly(service, db_url):
    upgrade(service, db_url)
    upgrade(service, db_url)  # at head already: nothing to do, nothing breaks
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) == OWN_TABLES[service] | KERNEL_TABLES
    finally:
        engine.dispose()


def test_member_loads_are_counted_from_the_cases_already_there(db_url):
    """Upgrading a routing database that already has cases fills member_loads as the live
    listener would have kept it."""
    from alembic import command
    from sqlalchemy import text

    from services.kernel.migrations import alembic_config

    command.upgrade(alembic_config("routing", db_url), "8e4777c954e4")  # the one before
    engine = make_engine(db_url)
    try:
        with engine.begin() as c:
            for number, member, status in [
                ("LX1", "doc", "assigned"),
                ("LX2", "doc", "accepted"),
                ("LX3", "doc", "resolved"),
                ("LX4", "nurse", "closed"),
                ("LX5", None, "waiting"),
            ]:
                c.execute(
                    text(
                        "INSERT INTO cases (tracking_number, station_code, category, status,"
                        " member_code, received_at, colour, handoffs, reopens, version)"
                        " VALUES (:n, 'gwm', 'health', :s, :m, :at, 'green', 0, 0, 1)"
                    ),
                    {"n": number, "s": status, "m": member, "at": "2026-11-20 08:00:00+00:00"},
                )
            for number, member, at in [
                ("LX1", "doc", "2026-11-20 08:00:00+00:00"),
                ("LX3", "doc", "2026-11-22 09:30:00+00:00"),
                ("LX4", "nurse", "2026-11-21 10:00:00+00:00"),
            ]:
                c.execute(
                    text(
                        "INSERT INTO assignments (tracking_number, member_code, rule, reason,"
                        " assigned_at) VALUES (:n, :m, 'sector', 'test', :at)"
                    ),
                    {"n": number, "m": member, "at": at},
                )
        upgrade("routing", db_url)
        with engine.connect() as c:
            rows = {
                m: (n, str(at)[:16])
                for m, n, at in c.execute(
                    text("SELECT member_code, open_cases, last_assigned_at FROM member_loads")
                )
            }
        assert rows == {"doc": (2, "2026-11-22 09:30"), "nurse": (0, "2026-11-21 10:00")}
    finally:
        engine.dispose()
