"""a case's progress shows the 社情民意 report it went into

Revision ID: c3e2f7a4b9d6
Revises: 9e2f4b6c1d85
Create Date: 2026-11-30 05:00:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'c3e2f7a4b9d6'
down_revision = '9e2f4b6c1d85'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # reports: filled in this session


def downgrade() -> None:
    pass
