"""notices to citizens: the consent ticked on the form, the notices written with routing's events

Revision ID: e5a4c7d21b90
Revises: d81f5a0c3e27
Create Date: 2026-11-30 02:05:00
"""
from alembic import op
import sqlalchemy as sa
import services.kernel.models


revision = 'e5a4c7d21b90'
down_revision = 'd81f5a0c3e27'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notice_consents',
        sa.Column('submission_id', sa.String(length=64), nullable=False),
        sa.Column('sms', sa.Boolean(), nullable=False),
        sa.Column('email', sa.Text(), nullable=True),  # sealed (services.kernel.sealed)
        sa.Column('given_at', services.kernel.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('submission_id'),
    )
    op.create_table(
        'citizen_notices',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('tracking_number', sa.String(length=32), nullable=False),
        sa.Column('submission_id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', services.kernel.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', services.kernel.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column('sent_at', services.kernel.models.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    with op.batch_alter_table('citizen_notices', schema=None) as batch_op:
        batch_op.create_index('ix_citizen_notices_status_next', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_citizen_notices_tracking_number', ['tracking_number'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('citizen_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_citizen_notices_tracking_number')
        batch_op.drop_index('ix_citizen_notices_status_next')
    op.drop_table('citizen_notices')
    op.drop_table('notice_consents')
