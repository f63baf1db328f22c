"""intake's copy of the stations keeps their coordinates (WGS-84, null until placed)

Revision ID: 9e2f4b6c1d85
Revises: a3f6c2d8e41b
Create Date: 2026-11-30 02:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '9e2f4b6c1d85'
down_revision = 'a3f6c2d8e41b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: the registry announces coordinates with a station's next revision.
    with op.batch_alter_table('known_stations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lng', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('known_stations', schema=None) as batch_op:
        batch_op.drop_column('lng')
        batch_op.drop_column('lat')
