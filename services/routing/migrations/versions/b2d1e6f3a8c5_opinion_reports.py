"""社情民意 reports drafted from cases, and the office's review

Revision ID: b2d1e6f3a8c5
Revises: a1c0f5e2d7b4
Create Date: 2026-11-30 05:00:00
"""
from alembic import op
import sqlalchemy as sa
import services.kernel.models


revision = 'b2d1e6f3a8c5'
down_revision = 'a1c0f5e2d7b4'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = services.kernel.models.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'opinion_reports',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('member_code', sa.String(length=40), nullable=False),
        sa.Column('sector', sa.String(length=40), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('reviewed_by', sa.String(length=60), nullable=True),
        sa.Column('created_at', WHEN, nullable=False),
        sa.Column('updated_at', WHEN, nullable=False),
        sa.Column('submitted_at', WHEN, nullable=True),
        sa.Column('reviewed_at', WHEN, nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('opinion_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opinion_reports_member_code'), ['member_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_opinion_reports_sector'), ['sector'], unique=False)
        batch_op.create_index(batch_op.f('ix_opinion_reports_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_opinion_reports_submitted_at'), ['submitted_at'], unique=False)
    op.create_table(
        'opinion_report_cases',
        sa.Column('report_id', BIG_ID, nullable=False),
        sa.Column('tracking_number', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['report_id'], ['opinion_reports.id']),
        sa.PrimaryKeyConstraint('report_id', 'tracking_number'),
    )
    with op.batch_alter_table('opinion_report_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opinion_report_cases_tracking_number'), ['tracking_number'], unique=False)


def downgrade() -> None:
    op.drop_table('opinion_report_cases')
    op.drop_table('opinion_reports')
