"""社情民意 reports drafted from cases, and the office's review

Revision ID: b2d1e6f3a8c5
Revises: a1c0f5e2d7b4
Create Date: 2026-11-30 05:00:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'b2d1e6f3a8c5'
down_revision = 'a1c0f5e2d7b4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reports: filled in this session


def downgrade() -> None:
    pass
