"""facts of visits, consultations, reports and who served

Revision ID: e5a4b9c6d1f8
Revises: d5f1a3c9b207
Create Date: 2026-11-30 05:00:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'e5a4b9c6d1f8'
down_revision = 'd5f1a3c9b207'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # figures: filled in this session


def downgrade() -> None:
    pass
