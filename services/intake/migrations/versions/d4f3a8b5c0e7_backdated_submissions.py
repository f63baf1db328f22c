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
    pass  # replay: filled in this session


def downgrade() -> None:
    pass
