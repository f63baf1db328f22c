"""the kernel's record of sessions ended early: kernel_sessions_ended

An account deactivated, or its role, scope or password changed, ends its sessions at once in
every service (services/kernel/sessions.py), not when its tokens expire.

Revision ID: kernel0003
Revises: kernel0002
Create Date: 2026-11-30 02:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = "kernel0003"
down_revision = "kernel0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # only when missing, like every kernel revision: a database restamped with a retired
    # revision replays the kernel branch over tables it has
    if "kernel_sessions_ended" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "kernel_sessions_ended",
        sa.Column("login", sa.String(length=100), nullable=False),
        sa.Column("ended_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("login"),
    )


def downgrade() -> None:
    op.drop_table("kernel_sessions_ended")
