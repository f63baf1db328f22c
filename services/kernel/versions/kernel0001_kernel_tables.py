"""the kernel's own tables: outbox, processed messages, parked messages

The kernel's tables are one migration branch (``kernel``) shared by every service, beside the
service's own branch, instead of a copy in each service's first revision. A database made before
the branch existed already has them (its first revision made them): each is created only when
missing.

Revision ID: kernel0001
Revises:
Create Date: 2026-11-29 20:40:00
"""
from alembic import op
import sqlalchemy as sa
import services.kernel.models


revision = 'kernel0001'
down_revision = None
branch_labels = ('kernel',)
depends_on = None


def _missing(name: str) -> bool:
    return name not in sa.inspect(op.get_bind()).get_table_names()


def _id():
    return sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False)


def upgrade() -> None:
    if _missing('kernel_outbox'):
        op.create_table('kernel_outbox',
        _id(),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('exchange', sa.String(length=100), nullable=False),
        sa.Column('routing_key', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', services.kernel.models.UtcDateTime(), nullable=False),
        sa.Column('sent_at', services.kernel.models.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_id')
        )
        op.create_index('ix_kernel_outbox_sent_at', 'kernel_outbox', ['sent_at'], unique=False)
    if _missing('kernel_parked'):
        op.create_table('kernel_parked',
        _id(),
        sa.Column('consumer', sa.String(length=200), nullable=False),
        sa.Column('queue', sa.String(length=200), nullable=False),
        sa.Column('exchange', sa.String(length=100), nullable=False),
        sa.Column('routing_key', sa.String(length=200), nullable=False),
        sa.Column('message_id', sa.String(length=100), nullable=True),
        sa.Column('content_type', sa.String(length=100), nullable=True),
        sa.Column('headers', sa.Text(), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('parked_at', services.kernel.models.UtcDateTime(), nullable=False),
        sa.Column('replayed_at', services.kernel.models.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id')
        )
        op.create_index('ix_kernel_parked_consumer', 'kernel_parked', ['consumer'], unique=False)
    if _missing('kernel_processed'):
        op.create_table('kernel_processed',
        sa.Column('consumer', sa.String(length=200), nullable=False),
        sa.Column('message_id', sa.String(length=100), nullable=False),
        sa.Column('processed_at', services.kernel.models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('consumer', 'message_id')
        )
        op.create_index('ix_kernel_processed_processed_at', 'kernel_processed', ['processed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_kernel_processed_processed_at', table_name='kernel_processed')
    op.drop_table('kernel_processed')
    op.drop_index('ix_kernel_parked_consumer', table_name='kernel_parked')
    op.drop_table('kernel_parked')
    op.drop_index('ix_kernel_outbox_sent_at', table_name='kernel_outbox')
    op.drop_table('kernel_outbox')
