"""leaders (领导对口联系), the stations each is linked to, and their visits

Revision ID: a7d6e1f8b3c0
Revises: 4c1d7e2a9b63
Create Date: 2026-11-30 05:00:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'a7d6e1f8b3c0'
down_revision = '4c1d7e2a9b63'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # leaders: filled in this session


def downgrade() -> None:
    pass
