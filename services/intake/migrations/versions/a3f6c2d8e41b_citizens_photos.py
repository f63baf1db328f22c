"""citizens' photos: re-encoded (no EXIF), sealed, kept under the submission id

Revision ID: a3f6c2d8e41b
Revises: e5a4c7d21b90
Create Date: 2026-11-30 02:00:00
"""
from alembic import op
import sqlalchemy as sa
import services.kernel.models


revision = 'a3f6c2d8e41b'
down_revision = 'e5a4c7d21b90'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('photos',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('submission_id', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('thumb', sa.LargeBinary(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('stored_at', services.kernel.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('submission_id', 'position')
    )
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photos_submission_id'), ['submission_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photos_submission_id'))
    op.drop_table('photos')
