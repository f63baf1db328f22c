"""studio and sector names in routing's copy of the registry (the office list's pickers)

Revision ID: e1b7c4a9d302
Revises: a7c3f19e5d20
Create Date: 2026-11-30 02:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'e1b7c4a9d302'
down_revision = 'a7c3f19e5d20'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # null for a studio announced before: the pickers show its code until it is saved again
    with op.batch_alter_table('studio_copies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=200), nullable=True))
    op.create_table(
        'sector_copies',
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('code'),
    )


def downgrade() -> None:
    op.drop_table('sector_copies')
    with op.batch_alter_table('studio_copies', schema=None) as batch_op:
        batch_op.drop_column('name')
