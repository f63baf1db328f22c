"""an issue closed unresolved is counted once in its cohort: case_facts.closed_unresolved

Revision ID: c7e2a9d4f813
Revises: 4b903ba0b554
Create Date: 2026-11-30 02:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'c7e2a9d4f813'
down_revision = '4b903ba0b554'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows start unmarked: a rebuild (docs/runbook.md) marks them from the events.
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('closed_unresolved', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.drop_column('closed_unresolved')
