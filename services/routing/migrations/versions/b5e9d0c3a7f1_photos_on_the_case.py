"""photos on the case: how many the citizen attached (intake.issue_received's photos)

Revision ID: b5e9d0c3a7f1
Revises: c4d1e2a7b9f0
Create Date: 2026-11-30 02:05:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'b5e9d0c3a7f1'
down_revision = 'c4d1e2a7b9f0'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('photos', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('photos')
