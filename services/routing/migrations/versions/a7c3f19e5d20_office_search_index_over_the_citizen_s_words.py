"""office search: an index over the citizen's words (SQLite FTS5 trigram, PostgreSQL pg_trgm)

The office's case list (services/routing/office.py) searches the words of a case (description
and place, masked by intake) through ``services/routing/search.py``:

- SQLite: an FTS5 table ``case_search`` (trigram tokenizer) holding each case's number and words,
  kept by triggers on ``cases`` in the same transaction as the case's row. A migration that
  rebuilds ``cases`` on SQLite (batch mode "recreate") drops these triggers: it must create them
  again (``create_sqlite_triggers`` below) — tests/unit/test_office_search.py fails otherwise.
- PostgreSQL: the pg_trgm extension and a GIN index on the same words (an expression index on
  ``cases``: nothing else to keep).

And an index on ``cases.received_at``: the list's default order (newest first) and the short
queries' "newest 5,000" read it instead of sorting every case.

Revision ID: a7c3f19e5d20
Revises: b5e9d0c3a7f1
Create Date: 2026-11-30 02:00:00
"""
from alembic import op


revision = 'a7c3f19e5d20'
down_revision = 'b5e9d0c3a7f1'
branch_labels = None
depends_on = None

WORDS = "coalesce(description, '') || ' ' || coalesce(place, '')"
NEW_WORDS = "coalesce(new.description, '') || ' ' || coalesce(new.place, '')"


def create_sqlite_triggers() -> None:
    op.execute(
        "CREATE TRIGGER case_search_insert AFTER INSERT ON cases BEGIN "
        "INSERT INTO case_search (tracking_number, words) "
        f"VALUES (new.tracking_number, {NEW_WORDS}); END"
    )
    op.execute(
        "CREATE TRIGGER case_search_update AFTER UPDATE OF description, place ON cases BEGIN "
        "DELETE FROM case_search WHERE tracking_number = old.tracking_number; "
        "INSERT INTO case_search (tracking_number, words) "
        f"VALUES (new.tracking_number, {NEW_WORDS}); END"
    )
    op.execute(
        "CREATE TRIGGER case_search_delete AFTER DELETE ON cases BEGIN "
        "DELETE FROM case_search WHERE tracking_number = old.tracking_number; END"
    )


def upgrade() -> None:
    op.create_index('ix_cases_received_at', 'cases', ['received_at'])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE case_search USING fts5("
            "tracking_number UNINDEXED, words, tokenize = 'trigram')"
        )
        op.execute(
            f"INSERT INTO case_search (tracking_number, words) SELECT tracking_number, {WORDS} "
            "FROM cases"
        )
        create_sqlite_triggers()
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            f"CREATE INDEX ix_cases_words_trgm ON cases USING gin (({WORDS}) gin_trgm_ops)"
        )


def downgrade() -> None:
    op.drop_index('ix_cases_received_at', table_name='cases')
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS case_search_{name}")
        op.execute("DROP TABLE IF EXISTS case_search")
    else:
        op.execute("DROP INDEX IF EXISTS ix_cases_words_trgm")
