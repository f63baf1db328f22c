"""the time slot of an activity (上午 / 下午 / 全天), as the clerk's form chose it

Revision ID: d81f5a0c3e27
Revises: c4e8a1f09b32
Create Date: 2026-11-30 01:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'd81f5a0c3e27'
down_revision = 'c4e8a1f09b32'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: activities recorded before the slot was kept have none (shown as not recorded).
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slot', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_column('slot')
