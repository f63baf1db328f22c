"""reporting replicas: what partitioning needs in the database

Revision ID: f6b5cad7e2a9
Revises: e5a4b9c6d1f8
Create Date: 2026-11-30 05:00:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'f6b5cad7e2a9'
down_revision = 'e5a4b9c6d1f8'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # partitions: filled in this session


def downgrade() -> None:
    pass
