"""leaders (领导对口联系), the stations each is linked to, and their visits

Revision ID: a7d6e1f8b3c0
Revises: 4c1d7e2a9b63
Create Date: 2026-11-30 05:00:00
"""
from alembic import op
import sqlalchemy as sa
import services.kernel.models


revision = 'a7d6e1f8b3c0'
down_revision = '4c1d7e2a9b63'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('leaders',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=40), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('leader_stations',
    sa.Column('leader_code', sa.String(length=40), nullable=False),
    sa.Column('station_code', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['leader_code'], ['leaders.code'], ),
    sa.ForeignKeyConstraint(['station_code'], ['stations.code'], ),
    sa.PrimaryKeyConstraint('leader_code', 'station_code')
    )
    with op.batch_alter_table('leader_stations', schema=None) as batch_op:
        batch_op.create_index('ix_leader_stations_station_code', ['station_code'], unique=False)
    op.create_table('leader_visits',
    sa.Column('visit_id', sa.String(length=40), nullable=False),
    sa.Column('leader_code', sa.String(length=40), nullable=False),
    sa.Column('station_code', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('purpose', sa.String(length=500), nullable=False),
    sa.Column('others', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('recorded_at', services.kernel.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['leader_code'], ['leaders.code'], ),
    sa.ForeignKeyConstraint(['station_code'], ['stations.code'], ),
    sa.PrimaryKeyConstraint('visit_id')
    )
    with op.batch_alter_table('leader_visits', schema=None) as batch_op:
        batch_op.create_index('ix_leader_visits_leader_day', ['leader_code', 'day'], unique=False)
        batch_op.create_index('ix_leader_visits_station_day', ['station_code', 'day'], unique=False)
    op.create_table('leader_visit_members',
    sa.Column('visit_id', sa.String(length=40), nullable=False),
    sa.Column('member_code', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['member_code'], ['members.code'], ),
    sa.ForeignKeyConstraint(['visit_id'], ['leader_visits.visit_id'], ),
    sa.PrimaryKeyConstraint('visit_id', 'member_code')
    )
    with op.batch_alter_table('leader_visit_members', schema=None) as batch_op:
        batch_op.create_index('ix_leader_visit_members_member_code', ['member_code'], unique=False)


def downgrade() -> None:
    op.drop_table('leader_visit_members')
    op.drop_table('leader_visits')
    op.drop_table('leader_stations')
    op.drop_table('leaders')
