"""stations and studios keep their coordinates (lat/lng, WGS-84) for the dashboard's map

Revision ID: d5f1a3c9b207
Revises: c7e2a9d4f813
Create Date: 2026-11-30 02:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'd5f1a3c9b207'
down_revision = 'c7e2a9d4f813'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows start unknown (NULL): the registry's next station/studio events, or a
    # rebuild from the stored events, fill them in.
    for table in ('station_dims', 'studio_dims'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
            batch_op.add_column(sa.Column('lng', sa.Float(), nullable=True))


def downgrade() -> None:
    for table in ('station_dims', 'studio_dims'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('lng')
            batch_op.drop_column('lat')
