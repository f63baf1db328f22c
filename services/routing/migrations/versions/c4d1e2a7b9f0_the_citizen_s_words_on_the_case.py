"""the citizen's words on the case: description and place, as intake masked them

Revision ID: c4d1e2a7b9f0
Revises: ebc954323278
Create Date: 2026-11-29 23:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'c4d1e2a7b9f0'
down_revision = 'ebc954323278'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('place', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('place')
        batch_op.drop_column('description')
