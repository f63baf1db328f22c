"""consultations (有事好商量) and the cases they settle

Revision ID: a1c0f5e2d7b4
Revises: e1b7c4a9d302
Create Date: 2026-11-30 05:00:00
"""

from alembic import op
import sqlalchemy as sa
import services.kernel.models


revision = "a1c0f5e2d7b4"
down_revision = "e1b7c4a9d302"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "consultations",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("station_code", sa.String(length=40), nullable=True),
        sa.Column("studio_code", sa.String(length=40), nullable=True),
        sa.Column("district", sa.String(length=40), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("units_invited", sa.JSON(), nullable=False),
        sa.Column("units_present", sa.JSON(), nullable=False),
        sa.Column("agreement", sa.Text(), nullable=False),
        sa.Column("follow_up_owner", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("recorded_at", services.kernel.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consultations_station_code"), ["station_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consultations_studio_code"), ["studio_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_consultations_day"), ["day"], unique=False)

    op.create_table(
        "consultation_members",
        sa.Column("consultation_id", BIG_ID, nullable=False),
        sa.Column("member_code", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultations.id"]),
        sa.PrimaryKeyConstraint("consultation_id", "member_code"),
    )
    with op.batch_alter_table("consultation_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consultation_members_member_code"), ["member_code"], unique=False
        )

    op.create_table(
        "consultation_cases",
        sa.Column("consultation_id", BIG_ID, nullable=False),
        sa.Column("tracking_number", sa.String(length=32), nullable=False),
        sa.Column("settles", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultations.id"]),
        sa.PrimaryKeyConstraint("consultation_id", "tracking_number"),
    )
    with op.batch_alter_table("consultation_cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consultation_cases_tracking_number"), ["tracking_number"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("consultation_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consultation_cases_tracking_number"))
    op.drop_table("consultation_cases")
    with op.batch_alter_table("consultation_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consultation_members_member_code"))
    op.drop_table("consultation_members")
    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consultations_day"))
        batch_op.drop_index(batch_op.f("ix_consultations_studio_code"))
        batch_op.drop_index(batch_op.f("ix_consultations_station_code"))
    op.drop_table("consultations")
