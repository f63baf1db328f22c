"""consultations (有事好商量) and the cases they settle

Revision ID: a1c0f5e2d7b4
Revises: e1b7c4a9d302
Create Date: 2026-11-30 05:00:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'a1c0f5e2d7b4'
down_revision = 'e1b7c4a9d302'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # consultations: filled in this session


def downgrade() -> None:
    pass
