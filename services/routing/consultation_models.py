"""Routing's tables of grassroots consultations (有事好商量 / 基层协商): the record, the members
present and the cases taken to it (``consultations.py`` keeps the rules).

Kept beside ``models.py`` on the same ``Base`` (one metadata, one migration chain: revision
a1c0f5e2d7b4), in a module of their own so the consultation work is one place to read.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.models import BigId, UtcDateTime, utcnow
from services.routing.models import Base


class Consultation(Base):
    """A consultation (协商) convened by a station or a studio (exactly one of the two) on a
    date, with the units invited and present (lists of names), the agreement reached (议定事项)
    and who follows it up."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(200))
    station_code: Mapped[str | None] = mapped_column(String(40), index=True)
    studio_code: Mapped[str | None] = mapped_column(String(40), index=True)
    district: Mapped[str | None] = mapped_column(String(40))
    day: Mapped[date] = mapped_column(Date, index=True)
    units_invited: Mapped[list] = mapped_column(JSON)
    units_present: Mapped[list] = mapped_column(JSON)
    agreement: Mapped[str] = mapped_column(Text)
    follow_up_owner: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(60))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConsultationMember(Base):
    """A member present at a consultation."""

    __tablename__ = "consultation_members"

    consultation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consultations.id"), primary_key=True
    )
    member_code: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class ConsultationCase(Base):
    """A case taken to a consultation; ``settles``: the consultation resolved it."""

    __tablename__ = "consultation_cases"

    consultation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("consultations.id"), primary_key=True
    )
    tracking_number: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    settles: Mapped[bool] = mapped_column(Boolean)
