"""coordinates of stations and studios (WGS-84 lat/lng, null until placed)

Revision ID: 4c1d7e2a9b63
Revises: b676bb87f1e5
Create Date: 2026-11-30 02:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '4c1d7e2a9b63'
down_revision = 'b676bb87f1e5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: rows saved before coordinates were kept are not placed yet.
    for table in ('stations', 'studios'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
            batch_op.add_column(sa.Column('lng', sa.Float(), nullable=True))


def downgrade() -> None:
    for table in ('stations', 'studios'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('lng')
            batch_op.drop_column('lat')
