"""the poster's data on the member's QR page: members' level and sector, sectors, duty days

Revision ID: c4e8a1f09b32
Revises: b7d41c2e9a10
Create Date: 2026-11-29 23:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'c4e8a1f09b32'
down_revision = 'b7d41c2e9a10'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('known_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('level', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('sector', sa.String(length=40), nullable=True))
    op.create_table(
        'known_sectors',
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('code'),
    )
    op.create_table(
        'known_duty_days',
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('slot', sa.String(length=10), nullable=False),
        sa.Column('station_code', sa.String(length=40), nullable=True),
        sa.Column('studio_code', sa.String(length=40), nullable=True),
        sa.Column('members', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('code'),
    )
    with op.batch_alter_table('known_duty_days', schema=None) as batch_op:
        batch_op.create_index('ix_known_duty_days_day', ['day'], unique=False)
    # the copies learn level, sector and duty days from the registry's next announcements
    # (registry.member_saved, registry.sector_saved, registry.roster_saved); until then the
    # member's page shows what it knows


def downgrade() -> None:
    with op.batch_alter_table('known_duty_days', schema=None) as batch_op:
        batch_op.drop_index('ix_known_duty_days_day')
    op.drop_table('known_duty_days')
    op.drop_table('known_sectors')
    with op.batch_alter_table('known_members', schema=None) as batch_op:
        batch_op.drop_column('sector')
        batch_op.drop_column('level')
