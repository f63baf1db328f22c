"""Each service's Alembic migrations build its tables and the kernel's, on both databases."""

import pytest
from sqlalchemy import inspect

from services.kernel.config import SERVICES
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


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_build_every_table_and_rerun_harmlessly(service, db_url):
    upgrade(service, db_url)
    upgrade(service, db_url)  # at head already: nothing to do, nothing breaks
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) == OWN_TABLES[service] | KERNEL_TABLES
    finally:
        engine.dispose()
