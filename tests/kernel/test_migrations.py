"""Each service's Alembic migrations build its tables and the kernel's, on both databases."""

import pytest
from sqlalchemy import inspect

from services.kernel import config as lx_config
from services.kernel.db import make_engine
from services.kernel.migrations import RETIRED, upgrade

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
        "leaders",  # leader liaison 领导对口联系 (services/registry/leaders.py)
        "leader_stations",
        "leader_visits",
        "leader_visit_members",
    },
    "intake": {
        "known_stations",
        "known_categories",
        "known_members",
        "known_studios",
        "known_sectors",
        "known_duty_days",
        "submissions",
        "issues",
        "issue_steps",
        "activities",
        "contact_views",
        "throttle_hits",
        "copy_revisions",
        "notice_consents",  # notices to citizens (services/intake/notices.py)
        "citizen_notices",
        "photos",  # citizens' photos (services/intake/photos.py)
        "case_reports",  # the 社情民意 reports a case went into (services/intake/case_reports.py)
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
        "sector_copies",
        "studio_membership_copies",
        "roster_copies",
        "notification_settings",
        "notices",
        "member_loads",
        "copy_revisions",
        "opinion_reports",  # 社情民意 reports (services/routing/opinion_reports.py)
        "opinion_report_cases",
        "consultations",  # 有事好商量 (services/routing/consultations.py)
        "consultation_members",
        "consultation_cases",
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
        "leader_dims",  # the practice (issue 21): leaders, and visits, consultations, reports
        "practice_facts",
        "sector_dims",
    },
}
KERNEL_TABLES = {
    "kernel_outbox",
    "kernel_processed",
    "kernel_parked",
    "kernel_sessions_ended",
    "alembic_version",
}
# routing's text search on SQLite: an FTS5 table and its shadow tables (PostgreSQL: an index)
SEARCH_TABLES = {
    f"case_search{s}" for s in ("", "_config", "_content", "_data", "_docsize", "_idx")
}


def tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - SEARCH_TABLES


@pytest.mark.parametrize("service", lx_config.service_names(lx_config.load()))
def test_migrations_build_every_table_and_rerun_harmlessly(service, db_url):
    upgrade(service, db_url)
    upgrade(service, db_url)  # at head already: nothing to do, nothing breaks
    engine = make_engine(db_url)
    try:
        assert tables(engine) == OWN_TABLES[service] | KERNEL_TABLES
    finally:
        engine.dispose()


def test_member_loads_are_counted_from_the_cases_already_there(db_url):
    """Upgrading a routing database that already has cases fills member_loads as the live
    listener would have kept it."""
    from alembic import command
    from sqlalchemy import text

    from services.kernel.migrations import alembic_config

    command.upgrade(alembic_config("routing", db_url), "914901408a52")  # the one before
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


@pytest.mark.parametrize(
    "service, retired",
    [
        (svc, old)
        for old, svc in zip(RETIRED, ("intake", "registry", "routing", "reporting"), strict=True)
    ],
)
def test_a_database_stamped_with_a_retired_revision_upgrades(service, retired, db_url):
    """A database made before the kernel branch (its kernel tables from the service's first
    revision, stamped with the since-retired index revision) upgrades to both heads, keeps its
    rows, and ends with exactly the tables of a fresh one."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from services.kernel.migrations import alembic_config

    cfg = alembic_config(service, db_url)
    command.upgrade(cfg, RETIRED[retired])  # the schema the retired revision left …
    command.upgrade(cfg, "kernel@head")  # … with the kernel tables its first revision made
    engine = make_engine(db_url)
    try:
        with engine.begin() as c:  # … stamped as it was: the retired revision alone
            c.execute(text("DELETE FROM alembic_version"))
            c.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": retired})
            c.execute(
                text(
                    "INSERT INTO kernel_processed (consumer, message_id, processed_at)"
                    " VALUES ('c', 'm1', '2026-11-20 08:00:00+00:00')"
                )
            )
        upgrade(service, db_url)
        with engine.connect() as c:
            assert c.scalar(text("SELECT count(*) FROM kernel_processed")) == 1
            stamped = set(c.scalars(text("SELECT version_num FROM alembic_version")))
        script = ScriptDirectory.from_config(cfg)
        applied = {r.revision for r in script.iterate_revisions(tuple(stamped), "base")}
        assert retired not in stamped
        assert set(script.get_heads()) | {"kernel0001"} <= applied  # at every head
        assert tables(engine) == OWN_TABLES[service] | KERNEL_TABLES
    finally:
        engine.dispose()
