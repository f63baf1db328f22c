"""known members' studios: who may record an activity at a studio (issue 20)

Revision ID: b7d41c2e9a10
Revises: e683d30c03ac
Create Date: 2026-11-29 22:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d41c2e9a10'
down_revision = 'e683d30c03ac'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('known_members', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('studios', sa.Text(), nullable=False, server_default='[]')
        )
    # the copy learns a member's studios from the member's next announcement; until then a
    # member may record activities at its stations only (access.activity)


def downgrade() -> None:
    with op.batch_alter_table('known_members', schema=None) as batch_op:
        batch_op.drop_column('studios')
