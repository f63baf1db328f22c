"""the kernel's tables: a hash of each handled message's body; parked kinds and discards

``kernel_processed.body_hash`` tells a redelivery (same id, same body: a duplicate) from another
message sent under a handled id (same id, another body: a conflict, parked). ``kernel_parked``
gets ``kind`` (``failed`` or ``conflict``), ``body_hash``, and who discarded a message, when and
why. Every column is added only when missing (a database upgraded along the kernel branch, then
restamped with a retired revision, has them already).

Revision ID: kernel0002
Revises: kernel0001
Create Date: 2026-11-29 22:40:00
"""

from alembic import op
import sqlalchemy as sa
import services.kernel.models


revision = "kernel0002"
down_revision = "kernel0001"
branch_labels = None
depends_on = None


def _columns():
    return [
        ("kernel_processed", sa.Column("body_hash", sa.String(length=64), nullable=True)),
        (
            "kernel_parked",
            sa.Column("kind", sa.String(length=20), server_default="failed", nullable=False),
        ),
        ("kernel_parked", sa.Column("body_hash", sa.String(length=64), nullable=True)),
        (
            "kernel_parked",
            sa.Column("discarded_at", services.kernel.models.UtcDateTime(), nullable=True),
        ),
        ("kernel_parked", sa.Column("discarded_by", sa.String(length=100), nullable=True)),
        ("kernel_parked", sa.Column("discard_reason", sa.Text(), nullable=True)),
    ]


def _has(table: str, column: str) -> bool:
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    for table, column in _columns():
        if not _has(table, column.name):
            op.add_column(table, column)


def downgrade() -> None:
    for table, column in reversed(_columns()):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column.name)
