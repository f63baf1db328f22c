"""facts of visits, consultations, reports and who served

Revision ID: e5a4b9c6d1f8
Revises: d5f1a3c9b207
Create Date: 2026-11-30 05:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'e5a4b9c6d1f8'
down_revision = 'd5f1a3c9b207'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty at first: a rebuild from the stored events fills them (and the figures) in.
    op.create_table(
        'leader_dims',
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('title', sa.String(length=100), nullable=False),
        sa.Column('stations', sa.Text(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('code'),
    )
    op.create_table(
        'sector_dims',
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('code'),
    )
    op.create_table(
        'practice_facts',
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('record_id', sa.String(length=64), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=True),
        sa.Column('state', sa.Text(), nullable=False),
        sa.Column('counted', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'record_id'),
    )


def downgrade() -> None:
    op.drop_table('practice_facts')
    op.drop_table('sector_dims')
    op.drop_table('leader_dims')
