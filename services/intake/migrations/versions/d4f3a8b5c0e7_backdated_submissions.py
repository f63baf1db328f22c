"""operator back-dated submissions (the 2024 replay)

Revision ID: d4f3a8b5c0e7
Revises: c3e2f7a4b9d6
Create Date: 2026-11-30 05:00:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'd4f3a8b5c0e7'
down_revision = 'c3e2f7a4b9d6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # who back-dated an issue (the office account of an operator's replay); None: received as
    # it came (services/kernel/backdating.py)
    with op.batch_alter_table("issues") as batch:
        batch.add_column(sa.Column("backdated_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("backdated_by")
