"""a case's progress shows the 社情民意 report it went into

Revision ID: c3e2f7a4b9d6
Revises: 9e2f4b6c1d85
Create Date: 2026-11-30 05:00:00
"""
from alembic import op
import sqlalchemy as sa
import services.kernel.models


revision = 'c3e2f7a4b9d6'
down_revision = '9e2f4b6c1d85'
branch_labels = None
depends_on = None

WHEN = services.kernel.models.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'case_reports',
        sa.Column('tracking_number', sa.String(length=32), nullable=False),
        sa.Column('report_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('submitted_at', WHEN, nullable=True),
        sa.Column('outcome', sa.String(length=20), nullable=True),
        sa.Column('reviewed_at', WHEN, nullable=True),
        sa.PrimaryKeyConstraint('tracking_number', 'report_id'),
    )


def downgrade() -> None:
    op.drop_table('case_reports')
